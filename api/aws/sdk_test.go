package aws_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"

	"github.com/attestkms/attestkms/internal/testserver"
)

var ctx = context.Background()

// secrets collects every secret a test sees, to grep the audit log for.
type secrets [][]byte

func (s *secrets) add(b ...[]byte) {
	for _, x := range b {
		if len(x) > 0 {
			*s = append(*s, bytes.Clone(x))
		}
	}
}

func newClient(t testing.TB, srv *testserver.Server, region string) *awskms.Client {
	t.Helper()
	return awskms.New(awskms.Options{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.Secret, ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
	})
}

// wantAPIError checks that err is the typed SDK error T (or, for codes the
// SDK has no type for, an API error with that code).
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("err = %v; want %s", err, code)
	}
	if strings.Contains(ae.ErrorMessage(), "internal error") || ae.ErrorMessage() == "" {
		t.Fatalf("%s has no useful message: %q", code, ae.ErrorMessage())
	}
}

func wantTyped[T error](t *testing.T, err error) {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("err = %v (%T); want %T", err, err, target)
	}
}

func TestSDKKeyManagement(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Region: "eu-central-1"})
	c := newClient(t, srv, "eu-central-1")

	ck, err := c.CreateKey(ctx, &awskms.CreateKeyInput{
		Description: aws.String("orders"),
		Tags:        []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("payments")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	md := ck.KeyMetadata
	wantARN := "arn:aws:kms:eu-central-1:" + srv.Account.AccountID + ":key/" + *md.KeyId
	if *md.Arn != wantARN || *md.AWSAccountId != srv.Account.AccountID || md.KeySpec != types.KeySpecSymmetricDefault ||
		md.KeyUsage != types.KeyUsageTypeEncryptDecrypt || md.KeyState != types.KeyStateEnabled || !md.Enabled ||
		*md.Description != "orders" || md.Origin != types.OriginTypeAwsKms || md.KeyManager != types.KeyManagerTypeCustomer ||
		len(md.EncryptionAlgorithms) != 1 || md.CreationDate == nil || md.CreationDate.IsZero() {
		t.Fatalf("CreateKey metadata: %+v", md)
	}
	id := *md.KeyId

	d, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(wantARN)})
	if err != nil || *d.KeyMetadata.KeyId != id || !d.KeyMetadata.CreationDate.Equal(*md.CreationDate) {
		t.Fatalf("DescribeKey: %+v, %v", d, err)
	}
	_, err = c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("00000000-0000-4000-8000-000000000000")})
	wantTyped[*types.NotFoundException](t, err)

	if _, err := c.UpdateKeyDescription(ctx, &awskms.UpdateKeyDescriptionInput{KeyId: &id, Description: aws.String("orders v2")}); err != nil {
		t.Fatal(err)
	}

	// Aliases.
	if _, err := c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/orders"), TargetKeyId: &id}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/orders"), TargetKeyId: &id})
	wantTyped[*types.AlreadyExistsException](t, err)
	_, err = c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/aws/x"), TargetKeyId: &id})
	wantTyped[*types.InvalidAliasNameException](t, err)
	d, err = c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/orders")})
	if err != nil || *d.KeyMetadata.KeyId != id || *d.KeyMetadata.Description != "orders v2" {
		t.Fatalf("DescribeKey by alias: %v", err)
	}
	k2, _ := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if _, err := c.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String("alias/orders"), TargetKeyId: k2.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	la, err := c.ListAliases(ctx, &awskms.ListAliasesInput{KeyId: k2.KeyMetadata.KeyId})
	if err != nil || len(la.Aliases) != 1 || *la.Aliases[0].AliasName != "alias/orders" ||
		*la.Aliases[0].AliasArn != "arn:aws:kms:eu-central-1:"+srv.Account.AccountID+":alias/orders" {
		t.Fatalf("ListAliases: %+v, %v", la, err)
	}
	if _, err := c.DeleteAlias(ctx, &awskms.DeleteAliasInput{AliasName: aws.String("alias/orders")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteAlias(ctx, &awskms.DeleteAliasInput{AliasName: aws.String("alias/orders")})
	wantTyped[*types.NotFoundException](t, err)

	// ListKeys pages with the SDK's own paginator.
	for i := 0; i < 4; i++ {
		c.CreateKey(ctx, &awskms.CreateKeyInput{})
	}
	p := awskms.NewListKeysPaginator(c, &awskms.ListKeysInput{Limit: aws.Int32(2)})
	seen, pages := map[string]bool{}, 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, k := range out.Keys {
			if seen[*k.KeyId] || !strings.HasSuffix(*k.KeyArn, *k.KeyId) {
				t.Fatalf("bad or repeated key %v", *k.KeyId)
			}
			seen[*k.KeyId] = true
		}
	}
	if len(seen) != 6 || pages != 3 {
		t.Fatalf("paginated %d keys over %d pages; want 6 over 3", len(seen), pages)
	}
	_, err = c.ListKeys(ctx, &awskms.ListKeysInput{Marker: aws.String("%%%")})
	wantTyped[*types.InvalidMarkerException](t, err)

	// State.
	if _, err := c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: &id}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: &id, Plaintext: []byte("x")})
	wantTyped[*types.DisabledException](t, err)
	if _, err := c.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: &id}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: &id, PendingWindowInDays: aws.Int32(5)})
	wantCode(t, err, "ValidationException")
	sd, err := c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: &id, PendingWindowInDays: aws.Int32(7)})
	if err != nil || sd.KeyState != types.KeyStatePendingDeletion || *sd.PendingWindowInDays != 7 || sd.DeletionDate.Sub(*md.CreationDate).Hours() < 7*24-1 {
		t.Fatalf("ScheduleKeyDeletion: %+v, %v", sd, err)
	}
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: &id, Plaintext: []byte("x")})
	wantTyped[*types.KMSInvalidStateException](t, err)
	d, _ = c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: &id})
	if d.KeyMetadata.KeyState != types.KeyStatePendingDeletion || d.KeyMetadata.DeletionDate == nil || *d.KeyMetadata.PendingDeletionWindowInDays != 7 {
		t.Fatalf("pending deletion metadata: %+v", d.KeyMetadata)
	}
	if _, err := c.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: &id}); err != nil {
		t.Fatal(err)
	}
	d, _ = c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: &id})
	if d.KeyMetadata.KeyState != types.KeyStateDisabled {
		t.Fatalf("after CancelKeyDeletion: %s", d.KeyMetadata.KeyState)
	}
	c.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: &id})

	// Tags.
	if _, err := c.TagResource(ctx, &awskms.TagResourceInput{KeyId: &id, Tags: []types.Tag{{TagKey: aws.String("env"), TagValue: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.TagResource(ctx, &awskms.TagResourceInput{KeyId: &id, Tags: []types.Tag{{TagKey: aws.String("aws:x"), TagValue: aws.String("y")}}})
	wantTyped[*types.TagException](t, err)
	if _, err := c.UntagResource(ctx, &awskms.UntagResourceInput{KeyId: &id, TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	lt, err := c.ListResourceTags(ctx, &awskms.ListResourceTagsInput{KeyId: &id})
	if err != nil || len(lt.Tags) != 1 || *lt.Tags[0].TagKey != "env" || *lt.Tags[0].TagValue != "prod" || lt.Truncated {
		t.Fatalf("ListResourceTags: %+v, %v", lt, err)
	}

	// Policy: stored and returned as given.
	gp, err := c.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: &id})
	if err != nil || !strings.Contains(*gp.Policy, "arn:aws:iam::"+srv.Account.AccountID+":root") || *gp.PolicyName != "default" {
		t.Fatalf("GetKeyPolicy: %+v, %v", gp, err)
	}
	pol := `{"Version":"2012-10-17","Statement":[{"Sid":"x","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}`
	if _, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: &id, Policy: &pol, PolicyName: aws.String("default")}); err != nil {
		t.Fatal(err)
	}
	if gp, _ = c.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: &id, PolicyName: aws.String("default")}); *gp.Policy != pol {
		t.Fatalf("policy changed: %q", *gp.Policy)
	}
	_, err = c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: &id, Policy: aws.String("not json")})
	wantTyped[*types.MalformedPolicyDocumentException](t, err)
	lp, err := c.ListKeyPolicies(ctx, &awskms.ListKeyPoliciesInput{KeyId: &id})
	if err != nil || len(lp.PolicyNames) != 1 || lp.PolicyNames[0] != "default" {
		t.Fatalf("ListKeyPolicies: %+v, %v", lp, err)
	}

	// Rotation.
	enc1, _ := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: &id, Plaintext: []byte("before")})
	if _, err := c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: &id, RotationPeriodInDays: aws.Int32(180)}); err != nil {
		t.Fatal(err)
	}
	rs, err := c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: &id})
	if err != nil || !rs.KeyRotationEnabled || *rs.RotationPeriodInDays != 180 || rs.NextRotationDate == nil {
		t.Fatalf("GetKeyRotationStatus: %+v, %v", rs, err)
	}
	if _, err := c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: &id}); err != nil {
		t.Fatal(err)
	}
	enc2, _ := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: &id, Plaintext: []byte("after")})
	for want, blob := range map[string][]byte{"before": enc1.CiphertextBlob, "after": enc2.CiphertextBlob} {
		d, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob})
		if err != nil || string(d.Plaintext) != want {
			t.Fatalf("decrypt %s after rotation: %v", want, err)
		}
	}
	lr, err := c.ListKeyRotations(ctx, &awskms.ListKeyRotationsInput{KeyId: &id})
	if err != nil || len(lr.Rotations) != 1 || lr.Rotations[0].RotationType != types.RotationTypeOnDemand || *lr.Rotations[0].KeyId != wantARN {
		t.Fatalf("ListKeyRotations: %+v, %v", lr, err)
	}
	if _, err := c.DisableKeyRotation(ctx, &awskms.DisableKeyRotationInput{KeyId: &id}); err != nil {
		t.Fatal(err)
	}
	if rs, _ = c.GetKeyRotationStatus(ctx, &awskms.GetKeyRotationStatusInput{KeyId: &id}); rs.KeyRotationEnabled {
		t.Fatal("rotation still enabled")
	}
	ek, _ := c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeKeyAgreement})
	_, err = c.EnableKeyRotation(ctx, &awskms.EnableKeyRotationInput{KeyId: ek.KeyMetadata.KeyId})
	wantTyped[*types.UnsupportedOperationException](t, err)
}

func TestSDKCrypto(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	c := newClient(t, srv, "us-east-1")
	var seen secrets
	ck, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	arn := *ck.KeyMetadata.Arn
	ec := map[string]string{"tenant": "acme"}

	pt := []byte("the plaintext secret 0123456789")
	seen.add(pt)
	enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: &id, Plaintext: pt, EncryptionContext: ec})
	if err != nil || *enc.KeyId != arn || enc.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Fatalf("Encrypt: %+v, %v", enc, err)
	}
	dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	if err != nil || !bytes.Equal(dec.Plaintext, pt) || *dec.KeyId != arn {
		t.Fatalf("Decrypt: %v", err)
	}
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"tenant": "evil"}})
	wantTyped[*types.InvalidCiphertextException](t, err)
	flipped := bytes.Clone(enc.CiphertextBlob)
	flipped[len(flipped)/2] ^= 0x80
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: flipped, EncryptionContext: ec})
	wantTyped[*types.InvalidCiphertextException](t, err)
	other, _ := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: other.KeyMetadata.KeyId})
	wantTyped[*types.IncorrectKeyException](t, err)
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: &id, Plaintext: pt, DryRun: aws.Bool(true)})
	wantTyped[*types.DryRunOperationException](t, err)

	re, err := c.ReEncrypt(ctx, &awskms.ReEncryptInput{
		CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec,
		DestinationKeyId: other.KeyMetadata.KeyId, DestinationEncryptionContext: map[string]string{"x": "y"},
	})
	if err != nil || *re.SourceKeyId != arn || *re.KeyId != *other.KeyMetadata.Arn {
		t.Fatalf("ReEncrypt: %+v, %v", re, err)
	}
	dec, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: map[string]string{"x": "y"}})
	if err != nil || !bytes.Equal(dec.Plaintext, pt) {
		t.Fatalf("Decrypt of ReEncrypt: %v", err)
	}

	for _, in := range []*awskms.GenerateDataKeyInput{
		{KeyId: &id, KeySpec: types.DataKeySpecAes256, EncryptionContext: ec},
		{KeyId: aws.String(arn), KeySpec: types.DataKeySpecAes128},
		{KeyId: &id, NumberOfBytes: aws.Int32(64)},
	} {
		dk, err := c.GenerateDataKey(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		seen.add(dk.Plaintext)
		want := map[types.DataKeySpec]int{types.DataKeySpecAes256: 32, types.DataKeySpecAes128: 16, "": 64}[in.KeySpec]
		if len(dk.Plaintext) != want || *dk.KeyId != arn {
			t.Fatalf("GenerateDataKey %v: %d bytes", in.KeySpec, len(dk.Plaintext))
		}
		dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: in.EncryptionContext})
		if err != nil || !bytes.Equal(dec.Plaintext, dk.Plaintext) {
			t.Fatalf("data key does not decrypt to itself: %v", err)
		}
	}
	_, err = c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: &id, NumberOfBytes: aws.Int32(2000)})
	wantCode(t, err, "ValidationException")
	wp, err := c.GenerateDataKeyWithoutPlaintext(ctx, &awskms.GenerateDataKeyWithoutPlaintextInput{KeyId: &id, KeySpec: types.DataKeySpecAes256})
	if err != nil || len(wp.CiphertextBlob) == 0 {
		t.Fatal(err)
	}
	dec, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: wp.CiphertextBlob})
	if err != nil || len(dec.Plaintext) != 32 {
		t.Fatal(err)
	}
	seen.add(dec.Plaintext)

	for _, spec := range []types.DataKeyPairSpec{types.DataKeyPairSpecRsa2048, types.DataKeyPairSpecEccNistP256, types.DataKeyPairSpecEccNistP384, types.DataKeyPairSpecEccNistP521, types.DataKeyPairSpecEccSecgP256k1} {
		kp, err := c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: &id, KeyPairSpec: spec})
		if err != nil {
			t.Fatal(spec, err)
		}
		seen.add(kp.PrivateKeyPlaintext)
		if kp.KeyPairSpec != spec || *kp.KeyId != arn {
			t.Fatalf("%s: %+v", spec, kp)
		}
		if spec != types.DataKeyPairSpecEccSecgP256k1 {
			if _, err := x509.ParsePKCS8PrivateKey(kp.PrivateKeyPlaintext); err != nil {
				t.Fatalf("%s: PrivateKeyPlaintext is not PKCS#8: %v", spec, err)
			}
			if _, err := x509.ParsePKIXPublicKey(kp.PublicKey); err != nil {
				t.Fatalf("%s: PublicKey is not SPKI: %v", spec, err)
			}
		}
		dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: kp.PrivateKeyCiphertextBlob})
		if err != nil || !bytes.Equal(dec.Plaintext, kp.PrivateKeyPlaintext) {
			t.Fatalf("%s: private key blob: %v", spec, err)
		}
	}
	kpw, err := c.GenerateDataKeyPairWithoutPlaintext(ctx, &awskms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: &id, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
	if err != nil || len(kpw.PublicKey) == 0 || len(kpw.PrivateKeyCiphertextBlob) == 0 {
		t.Fatal(err)
	}

	r, err := c.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(48)})
	if err != nil || len(r.Plaintext) != 48 {
		t.Fatal(err)
	}
	seen.add(r.Plaintext)
	_, err = c.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(1025)})
	wantCode(t, err, "ValidationException")

	// DeriveSharedSecret equals the peer's own ECDH with the key from GetPublicKey.
	for _, tc := range []struct {
		spec  types.KeySpec
		curve ecdh.Curve // nil: secp256k1
	}{{types.KeySpecEccNistP256, ecdh.P256()}, {types.KeySpecEccNistP384, ecdh.P384()}, {types.KeySpecEccNistP521, ecdh.P521()}, {types.KeySpecEccSecgP256k1, nil}} {
		k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: tc.spec, KeyUsage: types.KeyUsageTypeKeyAgreement})
		if err != nil {
			t.Fatal(tc.spec, err)
		}
		if k.KeyMetadata.KeySpec != tc.spec || len(k.KeyMetadata.KeyAgreementAlgorithms) != 1 {
			t.Fatalf("%s metadata: %+v", tc.spec, k.KeyMetadata)
		}
		gp, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: k.KeyMetadata.KeyId})
		if err != nil || gp.KeyUsage != types.KeyUsageTypeKeyAgreement || gp.KeySpec != tc.spec {
			t.Fatalf("GetPublicKey: %+v, %v", gp, err)
		}
		peerSPKI, want := peerECDH(t, tc.curve, gp.PublicKey)
		ds, err := c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{
			KeyId: k.KeyMetadata.KeyId, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peerSPKI,
		})
		if err != nil {
			t.Fatal(tc.spec, err)
		}
		seen.add(ds.SharedSecret)
		if !bytes.Equal(ds.SharedSecret, want) || *ds.KeyId != *k.KeyMetadata.Arn || ds.KeyAgreementAlgorithm != types.KeyAgreementAlgorithmSpecEcdh {
			t.Fatalf("%s: shared secret differs from the peer's ECDH", tc.spec)
		}
		// Wrong curve, garbage: an error and no secret.
		wrong, _ := ecdh.X25519().GenerateKey(rand.Reader)
		wrongSPKI, _ := x509.MarshalPKIXPublicKey(wrong.PublicKey())
		for _, bad := range [][]byte{wrongSPKI, []byte("garbage"), peerSPKI[:len(peerSPKI)-1]} {
			ds, err := c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: k.KeyMetadata.KeyId, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: bad})
			if ds != nil {
				t.Fatal("an answer for a bad public key")
			}
			wantCode(t, err, "InvalidPublicKeyException")
		}
		_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")})
		wantTyped[*types.InvalidKeyUsageException](t, err)
	}
	_, err = c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: &id})
	wantTyped[*types.UnsupportedOperationException](t, err)
	_, err = c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: &id, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: []byte("x")})
	if err == nil {
		t.Fatal("DeriveSharedSecret with a symmetric key succeeded")
	}

	// The audit log holds a line per request and none of the secrets.
	checkAuditLog(t, srv, seen)
}

// peerECDH makes a peer key pair on curve (nil: secp256k1) and returns its
// SPKI and the shared secret it computes itself with kmsSPKI.
func peerECDH(t *testing.T, curve ecdh.Curve, kmsSPKI []byte) ([]byte, []byte) {
	t.Helper()
	if curve != nil {
		peer, _ := curve.GenerateKey(rand.Reader)
		spki, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
		pub, err := x509.ParsePKIXPublicKey(kmsSPKI)
		if err != nil {
			t.Fatal(err)
		}
		type ecdhable interface {
			ECDH() (*ecdh.PublicKey, error)
		}
		kp, err := pub.(ecdhable).ECDH()
		if err != nil {
			t.Fatal(err)
		}
		secret, err := peer.ECDH(kp)
		if err != nil {
			t.Fatal(err)
		}
		return spki, secret
	}
	// secp256k1: crypto/x509 cannot parse it; the SPKI is the fixed 23-byte
	// prefix (ecPublicKey, secp256k1) and the 65-byte uncompressed point.
	prefix, _ := hex.DecodeString("3056301006072a8648ce3d020106052b8104000a034200")
	if len(kmsSPKI) != len(prefix)+65 || !bytes.Equal(kmsSPKI[:len(prefix)], prefix) {
		t.Fatalf("secp256k1 SPKI %x", kmsSPKI)
	}
	kmsPub, err := secp256k1.ParsePubKey(kmsSPKI[len(prefix):])
	if err != nil {
		t.Fatal(err)
	}
	peer, _ := secp256k1.GeneratePrivateKey()
	spki := append(bytes.Clone(prefix), peer.PubKey().SerializeUncompressed()...)
	return spki, secp256k1.GenerateSharedSecret(peer, kmsPub)
}

func checkAuditLog(t *testing.T, srv *testserver.Server, seen secrets) {
	t.Helper()
	log, err := os.ReadFile(filepath.Join(srv.DataDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Count(log, []byte("\n"))
	if lines < 20 {
		t.Fatalf("audit log has %d lines", lines)
	}
	for i, s := range seen {
		for _, enc := range []string{base64.StdEncoding.EncodeToString(s), hex.EncodeToString(s), string(s)} {
			if len(enc) >= 8 && bytes.Contains(log, []byte(enc)) {
				t.Fatalf("secret %d (%d bytes) is in the audit log", i, len(s))
			}
		}
	}
	if len(seen) < 10 {
		t.Fatalf("only %d secrets checked", len(seen))
	}
	if !bytes.Contains(log, []byte(`"operation":"DeriveSharedSecret"`)) || !bytes.Contains(log, []byte(`"access_key_id":"`+srv.AccessKey+`"`)) {
		t.Fatalf("audit log lacks operations or access keys:\n%s", log[:min(len(log), 2000)])
	}
	_ = fmt.Sprint()
}

// denyGenerateDataKey is the default key policy plus a Deny of
// kms:GenerateDataKey on arn.
func denyGenerateDataKey(acct, arn string) string {
	return `{"Version":"2012-10-17","Statement":[
	  {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:*","Resource":"*"},
	  {"Sid":"no data keys","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:GenerateDataKey","Resource":"` + arn + `"}]}`
}

// TestSDKOneRegion: a key has one ARN, in the server's region, whatever
// region a request is signed for; a Deny naming that ARN cannot be sidestepped
// by signing for another region, which the server refuses as AWS does.
func TestSDKOneRegion(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	acct := srv.Account.AccountID
	us := newClient(t, srv, "us-east-1")
	ck, err := us.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	arn := "arn:aws:kms:us-east-1:" + acct + ":key/" + id
	if *ck.KeyMetadata.Arn != arn {
		t.Fatalf("CreateKey Arn = %s; want %s", *ck.KeyMetadata.Arn, arn)
	}
	if _, err := us.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: &id, Policy: aws.String(denyGenerateDataKey(acct, arn))}); err != nil {
		t.Fatal(err)
	}
	gdk := &awskms.GenerateDataKeyInput{KeyId: &id, KeySpec: types.DataKeySpecAes256}
	out, err := us.GenerateDataKey(ctx, gdk)
	wantCode(t, err, "AccessDeniedException")
	if out != nil {
		t.Fatal("a denied GenerateDataKey answered")
	}

	eu := newClient(t, srv, "eu-west-1")
	for _, keyID := range []string{id, arn, "arn:aws:kms:eu-west-1:" + acct + ":key/" + id} {
		out, err = eu.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(keyID), KeySpec: types.DataKeySpecAes256})
		wantCode(t, err, "InvalidSignatureException")
		var ae smithy.APIError
		errors.As(err, &ae)
		if want := "Credential should be scoped to a valid region. This server's region is 'us-east-1', not 'eu-west-1'."; ae.ErrorMessage() != want {
			t.Fatalf("message %q; want %q", ae.ErrorMessage(), want)
		}
		if out != nil {
			t.Fatal("a request signed for eu-west-1 got a data key")
		}
	}
	_, err = eu.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: &id})
	wantCode(t, err, "InvalidSignatureException")
	// The refusal is counted as an authentication failure of its source
	// (kms/audit's summaries: a request that is not authenticated writes
	// no line of its own).
	srv.Service.AuditLog().Flush()
	log, _ := os.ReadFile(filepath.Join(srv.DataDir, "audit.log"))
	if !bytes.Contains(log, []byte(`"source_ip":"127.0.0.1","dialect":"aws","operation":"FailedAuthentications","outcome":"error","message":"failed authentication","count":4,`)) ||
		!bytes.Contains(log, []byte(`"reasons":{"InvalidSignatureException":4}`)) {
		t.Fatalf("the region refusal is not audited:\n%s", log)
	}

	// A bad signature or an unknown key signed for another region gets the
	// one answer of bad signatures, not the region's: it says nothing of
	// whether the key exists.
	for name, cred := range map[string][2]string{
		"wrong secret": {srv.AccessKey, strings.Repeat("x", 40)},
		"unknown key":  {"AKIAUNKNOWNUNKNOWN00", srv.Secret},
	} {
		bad := awskms.New(awskms.Options{
			Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider(cred[0], cred[1], ""),
			BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		})
		_, err := bad.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: &id})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" || strings.Contains(ae.ErrorMessage(), "region") {
			t.Fatalf("%s, signed for eu-west-1: %v", name, err)
		}
	}

	d, err := us.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: &id})
	if err != nil || *d.KeyMetadata.Arn != arn {
		t.Fatalf("DescribeKey: %v", err)
	}
	// The key ARN of another region names no key here.
	_, err = us.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("arn:aws:kms:eu-west-1:" + acct + ":key/" + id)})
	wantTyped[*types.NotFoundException](t, err)
}

// TestSDKServerRegion: a server in eu-west-1 names eu-west-1 in its ARNs
// and refuses requests signed for us-east-1.
func TestSDKServerRegion(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{Region: "eu-west-1"})
	eu := newClient(t, srv, "eu-west-1")
	ck, err := eu.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	want := "arn:aws:kms:eu-west-1:" + srv.Account.AccountID + ":key/" + *ck.KeyMetadata.KeyId
	if *ck.KeyMetadata.Arn != want {
		t.Fatalf("Arn = %s; want %s", *ck.KeyMetadata.Arn, want)
	}
	enc, err := eu.Encrypt(ctx, &awskms.EncryptInput{KeyId: ck.KeyMetadata.KeyId, Plaintext: []byte("x")})
	if err != nil || *enc.KeyId != want {
		t.Fatalf("Encrypt: %v", err)
	}
	_, err = newClient(t, srv, "us-east-1").DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: ck.KeyMetadata.KeyId})
	wantCode(t, err, "InvalidSignatureException")
	var ae smithy.APIError
	if errors.As(err, &ae); !strings.Contains(ae.ErrorMessage(), "This server's region is 'eu-west-1', not 'us-east-1'.") {
		t.Fatalf("message %q", ae.ErrorMessage())
	}
}
