package tencent_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/attestkms/attestkms/internal/testserver"
	"github.com/attestkms/attestkms/recipient"
)

// These tests drive the whole server (internal/testserver: kms and api.New
// on loopback) with the official Tencent Cloud SDK for Go, unchanged: its KMS
// client, pointed at http://127.0.0.1:PORT.

var ctx = context.Background()

// newClient is the SDK's KMS client for srv: plain HTTP to the loopback
// endpoint (HttpProfile.Scheme "http", Endpoint host:port), no retries (the
// SDK's defaults: NetworkFailureMaxRetries and RateLimitExceededMaxRetries
// 0, region breaker off).
func newClient(t testing.TB, srv *testserver.Server, region string) *tckms.Client {
	t.Helper()
	c, err := tckms.NewClient(common.NewCredential(srv.AccessKey, srv.Secret), region, clientProfile(srv))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func clientProfile(srv *testserver.Server) *profile.ClientProfile {
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Scheme = "http"
	cpf.HttpProfile.Endpoint = strings.TrimPrefix(srv.URL, "http://")
	cpf.HttpProfile.ReqTimeout = 30
	cpf.NetworkFailureMaxRetries = 0
	cpf.RateLimitExceededMaxRetries = 0
	cpf.DisableRegionBreaker = true
	return cpf
}

func s(v string) *string { return &v }
func u(v uint64) *uint64 { return &v }
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// wantCode checks that err is the SDK's typed error with Tencent's code, a
// message and a request id.
func wantCode(t *testing.T, err error, code string) *tcerr.TencentCloudSDKError {
	t.Helper()
	var se *tcerr.TencentCloudSDKError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T); want a TencentCloudSDKError %s", err, err, code)
	}
	if se.Code != code {
		t.Fatalf("err = %v; want code %s", err, code)
	}
	if se.Message == "" || se.RequestId == "" || (code != "InternalError" && strings.Contains(se.Message, "internal error")) {
		t.Fatalf("%s without a useful message or request id: %v", code, err)
	}
	return se
}

// tick waits for the next second. Two state changes with the same body in
// one second carry the same TC3 signature, and the second is refused as a
// replay (see the package doc); tests that change a key twice quickly wait.
func tick() {
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second).Sub(now) + 10*time.Millisecond)
}

func createKey(t *testing.T, c *tckms.Client, alias string) string {
	t.Helper()
	r := tckms.NewCreateKeyRequest()
	r.Alias = s(alias)
	out, err := c.CreateKey(r)
	if err != nil {
		t.Fatal(err)
	}
	return *out.Response.KeyId
}

func describe(t *testing.T, c *tckms.Client, id string) *tckms.KeyMetadata {
	t.Helper()
	r := tckms.NewDescribeKeyRequest()
	r.KeyId = s(id)
	out, err := c.DescribeKey(r)
	if err != nil {
		t.Fatal(err)
	}
	return out.Response.KeyMetadata
}

func keyIDReq[R any](r *R, set func(*R, *string), id string) *R { set(r, s(id)); return r }

func TestSDKKeyManagement(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	c := newClient(t, srv, "ap-guangzhou")

	// CreateKey.
	cr := tckms.NewCreateKeyRequest()
	cr.Alias, cr.Description, cr.KeyUsage, cr.Type = s("orders"), s("order data"), s("ENCRYPT_DECRYPT"), u(1)
	cr.Tags = []*tckms.Tag{{TagKey: s("team"), TagValue: s("payments")}}
	before := time.Now().Unix()
	ck, err := c.CreateKey(cr)
	if err != nil {
		t.Fatal(err)
	}
	k := ck.Response
	if len(*k.KeyId) != 36 || *k.Alias != "orders" || *k.Description != "order data" || *k.KeyState != "Enabled" ||
		*k.KeyUsage != "ENCRYPT_DECRYPT" || *k.CreateTime < uint64(before) || *k.CreateTime > uint64(time.Now().Unix()) ||
		k.TagCode == nil || *k.TagCode != 0 || deref(k.RequestId) == "" {
		t.Fatalf("CreateKey: %s", ck.ToJsonString())
	}
	id := *k.KeyId

	// The alias is a kms alias: alias/orders, usable as a KeyId.
	md := describe(t, c, "alias/orders")
	if *md.KeyId != id || *md.Alias != "orders" || *md.KeyState != "Enabled" || *md.CreateTime != *k.CreateTime ||
		*md.Description != "order data" || *md.KeyUsage != "ENCRYPT_DECRYPT" || *md.Type != 2 || *md.Owner != "user" ||
		*md.Origin != "TENCENT_KMS" || *md.KeyRotationEnabled || md.DeletionDate != nil ||
		fmt.Sprint(*md.CreatorUin) != srv.Account.AccountID || *md.ResourceId != "creatorUin/"+srv.Account.AccountID+"/"+id {
		t.Fatalf("DescribeKey: %+v", md)
	}

	// Creation refusals.
	for _, tc := range []struct {
		mutate func(r *tckms.CreateKeyRequest)
		code   string
	}{
		{func(r *tckms.CreateKeyRequest) { r.Alias = nil }, "MissingParameter"},
		{func(r *tckms.CreateKeyRequest) { r.Alias = s("orders") }, "InvalidParameterValue.AliasAlreadyExists"},
		{func(r *tckms.CreateKeyRequest) { r.Alias = s("-x") }, "InvalidParameterValue.InvalidAlias"},
		{func(r *tckms.CreateKeyRequest) { r.Alias = s(strings.Repeat("a", 61)) }, "InvalidParameterValue.InvalidAlias"},
		{func(r *tckms.CreateKeyRequest) { r.Alias = s("a/b") }, "InvalidParameterValue.InvalidAlias"},
		{func(r *tckms.CreateKeyRequest) { r.Alias = s("kms-cos") }, "InvalidParameterValue.InvalidAlias"},
		{func(r *tckms.CreateKeyRequest) { r.KeyUsage = s("ASYMMETRIC_DECRYPT_RSA_2048") }, "UnsupportedOperation"},
		{func(r *tckms.CreateKeyRequest) { r.KeyUsage = s("ASYMMETRIC_SIGN_VERIFY_SM2") }, "UnsupportedOperation"},
		{func(r *tckms.CreateKeyRequest) { r.KeyUsage = s("KEY_AGREEMENT") }, "InvalidParameterValue.InvalidKeyUsage"},
		{func(r *tckms.CreateKeyRequest) { r.Type = u(2) }, "UnsupportedOperation"},
		{func(r *tckms.CreateKeyRequest) { r.Type = u(3) }, "InvalidParameterValue.InvalidType"},
		{func(r *tckms.CreateKeyRequest) { r.HsmClusterId = s("cluster-1") }, "InvalidParameterValue.InvalidHsmClusterId"},
		{func(r *tckms.CreateKeyRequest) { r.Description = s(strings.Repeat("d", 1025)) }, "InvalidParameterValue"},
		{func(r *tckms.CreateKeyRequest) { r.Tags = []*tckms.Tag{{TagValue: s("v")}} }, "MissingParameter"},
		{func(r *tckms.CreateKeyRequest) { r.Tags = []*tckms.Tag{{TagKey: s("aws:x"), TagValue: s("v")}} }, "InvalidParameterValue"},
	} {
		r := tckms.NewCreateKeyRequest()
		r.Alias = s("fresh")
		tc.mutate(r)
		_, err := c.CreateKey(r)
		wantCode(t, err, tc.code)
	}

	// ListKeys pages by Offset and Limit, and counts every key.
	var ids []string
	ids = append(ids, id)
	for i := 0; i < 4; i++ {
		ids = append(ids, createKey(t, c, fmt.Sprintf("k%d", i)))
	}
	seen := map[string]bool{}
	for off := uint64(0); off < 6; off += 2 {
		r := tckms.NewListKeysRequest()
		r.Offset, r.Limit = u(off), u(2)
		out, err := c.ListKeys(r)
		if err != nil {
			t.Fatal(err)
		}
		if *out.Response.TotalCount != 5 || len(out.Response.Keys) != min(2, 5-int(off)) {
			t.Fatalf("ListKeys offset %d: %s", off, out.ToJsonString())
		}
		for _, k := range out.Response.Keys {
			if seen[*k.KeyId] {
				t.Fatalf("key %s listed twice", *k.KeyId)
			}
			seen[*k.KeyId] = true
		}
	}
	if len(seen) != 5 {
		t.Fatalf("listed %d keys of 5", len(seen))
	}
	lk, err := c.ListKeys(tckms.NewListKeysRequest())
	if err != nil || len(lk.Response.Keys) != 5 || *lk.Response.TotalCount != 5 {
		t.Fatalf("ListKeys with defaults: %v", err)
	}
	r := tckms.NewListKeysRequest()
	r.Role = u(1)
	if lk, err := c.ListKeys(r); err != nil || len(lk.Response.Keys) != 0 || *lk.Response.TotalCount != 0 {
		t.Fatalf("ListKeys of cloud-product keys: %v", err)
	}
	for _, bad := range []*tckms.ListKeysRequest{{Limit: u(0)}, {Limit: u(201)}, {Role: u(2)}} {
		bad.BaseRequest = tckms.NewListKeysRequest().BaseRequest
		_, err := c.ListKeys(bad)
		wantCode(t, err, "InvalidParameterValue")
	}

	// State: disable, refused use, enable.
	if _, err := c.DisableKey(keyIDReq(tckms.NewDisableKeyRequest(), func(r *tckms.DisableKeyRequest, v *string) { r.KeyId = v }, id)); err != nil {
		t.Fatal(err)
	}
	if st := *describe(t, c, id).KeyState; st != "Disabled" {
		t.Fatalf("after DisableKey: %s", st)
	}
	enc := tckms.NewEncryptRequest()
	enc.KeyId, enc.Plaintext = s(id), s("eA==")
	_, err = c.Encrypt(enc)
	wantCode(t, err, "ResourceUnavailable.CmkDisabled")
	tick()
	if _, err := c.EnableKey(keyIDReq(tckms.NewEnableKeyRequest(), func(r *tckms.EnableKeyRequest, v *string) { r.KeyId = v }, id)); err != nil {
		t.Fatal(err)
	}

	// ScheduleKeyDeletion: 7-30 days, required.
	sk := tckms.NewScheduleKeyDeletionRequest()
	sk.KeyId = s(id)
	_, err = c.ScheduleKeyDeletion(sk)
	wantCode(t, err, "MissingParameter")
	for _, d := range []uint64{6, 31} {
		sk.PendingWindowInDays = u(d)
		_, err = c.ScheduleKeyDeletion(sk)
		wantCode(t, err, "InvalidParameter.InvalidPendingWindowInDays")
	}
	sk.PendingWindowInDays = u(7)
	sd, err := c.ScheduleKeyDeletion(sk)
	if err != nil {
		t.Fatal(err)
	}
	if *sd.Response.KeyId != id || *sd.Response.DeletionDate < uint64(time.Now().Add(7*24*time.Hour-time.Minute).Unix()) {
		t.Fatalf("ScheduleKeyDeletion: %s", sd.ToJsonString())
	}
	md = describe(t, c, id)
	if *md.KeyState != "PendingDelete" || md.DeletionDate == nil || *md.DeletionDate != *sd.Response.DeletionDate {
		t.Fatalf("pending deletion metadata: %+v", md)
	}
	_, err = c.Encrypt(enc)
	wantCode(t, err, "ResourceUnavailable.CmkStateNotSupport")
	tick()
	_, err = c.EnableKey(keyIDReq(tckms.NewEnableKeyRequest(), func(r *tckms.EnableKeyRequest, v *string) { r.KeyId = v }, id))
	wantCode(t, err, "ResourceUnavailable.CmkStateNotSupport")
	tick()
	ckd, err := c.CancelKeyDeletion(keyIDReq(tckms.NewCancelKeyDeletionRequest(), func(r *tckms.CancelKeyDeletionRequest, v *string) { r.KeyId = v }, id))
	if err != nil || *ckd.Response.KeyId != id {
		t.Fatalf("CancelKeyDeletion: %v", err)
	}
	if st := *describe(t, c, id).KeyState; st != "Disabled" {
		t.Fatalf("after CancelKeyDeletion: %s", st)
	}
	tick()
	_, err = c.CancelKeyDeletion(keyIDReq(tckms.NewCancelKeyDeletionRequest(), func(r *tckms.CancelKeyDeletionRequest, v *string) { r.KeyId = v }, id))
	wantCode(t, err, "ResourceUnavailable.CmkStateNotSupport")

	// Keys that do not exist, and KeyIds that are not key ids.
	for kid, code := range map[string]string{
		"00000000-0000-4000-8000-000000000000": "ResourceUnavailable.CmkNotFound",
		"alias/nothing":                        "ResourceUnavailable.CmkNotFound",
		"not-a-key":                            "InvalidParameterValue.InvalidKeyId",
		"":                                     "MissingParameter",
	} {
		r := tckms.NewDescribeKeyRequest()
		if kid != "" {
			r.KeyId = s(kid)
		}
		_, err := c.DescribeKey(r)
		wantCode(t, err, code)
		_, err = c.EnableKey(keyIDReq(tckms.NewEnableKeyRequest(), func(r *tckms.EnableKeyRequest, v *string) { r.KeyId = v }, kid))
		if kid == "" {
			wantCode(t, err, "MissingParameter")
		} else {
			wantCode(t, err, code)
		}
	}

	// GetPublicKey of a symmetric key: it has none.
	_, err = c.GetPublicKey(keyIDReq(tckms.NewGetPublicKeyRequest(), func(r *tckms.GetPublicKeyRequest, v *string) { r.KeyId = v }, ids[1]))
	wantCode(t, err, "UnsupportedOperation")
}

func TestSDKCrypto(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	c := newClient(t, srv, "ap-shanghai")
	var seen secrets
	id := createKey(t, c, "app")
	ec := `{"tenant":"acme","app":"orders"}`

	pt := []byte("the plaintext secret 0123456789")
	seen.add(pt)
	enc := tckms.NewEncryptRequest()
	enc.KeyId, enc.Plaintext, enc.EncryptionContext = s(id), s(base64.StdEncoding.EncodeToString(pt)), s(ec)
	eo, err := c.Encrypt(enc)
	if err != nil || *eo.Response.KeyId != id || *eo.Response.CiphertextBlob == "" {
		t.Fatalf("Encrypt: %v", err)
	}
	blob := *eo.Response.CiphertextBlob
	decrypt := func(blob, ec string) (*tckms.DecryptResponseParams, error) {
		r := tckms.NewDecryptRequest()
		r.CiphertextBlob = s(blob)
		if ec != "" {
			r.EncryptionContext = s(ec)
		}
		out, err := c.Decrypt(r)
		if err != nil {
			return nil, err
		}
		return out.Response, nil
	}
	// The context binds the pairs: another order and spacing decrypt.
	for _, same := range []string{ec, `{"app":"orders", "tenant":"acme"}`} {
		d, err := decrypt(blob, same)
		if err != nil || *d.KeyId != id || *d.Plaintext != base64.StdEncoding.EncodeToString(pt) {
			t.Fatalf("Decrypt with %s: %v", same, err)
		}
	}
	// Another context, none, or a changed blob is InvalidCiphertext.
	for _, other := range []string{`{"tenant":"evil","app":"orders"}`, `{"tenant":"acme"}`, ""} {
		_, err := decrypt(blob, other)
		wantCode(t, err, "InvalidParameterValue.InvalidCiphertext")
	}
	raw, _ := base64.StdEncoding.DecodeString(blob)
	raw[len(raw)/2] ^= 0x80
	_, err = decrypt(base64.StdEncoding.EncodeToString(raw), ec)
	wantCode(t, err, "InvalidParameterValue.InvalidCiphertext")
	_, err = decrypt("%%%", ec)
	wantCode(t, err, "InvalidParameterValue.InvalidCiphertext")
	_, err = decrypt(blob, `{"tenant":1}`)
	wantCode(t, err, "InvalidParameterValue")
	_, err = decrypt(blob, `{"tenant":"a","tenant":"b"}`)
	wantCode(t, err, "InvalidParameterValue")
	_, err = decrypt(blob, `tenant=acme`)
	wantCode(t, err, "InvalidParameterValue")

	// Encrypt's refusals.
	for _, tc := range []struct {
		pt, code string
	}{
		{"", "MissingParameter"},
		{"not base64!", "InvalidParameterValue.InvalidPlaintext"},
		{base64.StdEncoding.EncodeToString(make([]byte, 4097)), "InvalidParameterValue.InvalidPlaintext"},
	} {
		r := tckms.NewEncryptRequest()
		r.KeyId, r.Plaintext = s(id), s(tc.pt)
		_, err := c.Encrypt(r)
		wantCode(t, err, tc.code)
	}

	// GenerateDataKey: KeySpec or NumberOfBytes, and NumberOfBytes wins.
	for _, tc := range []struct {
		spec string
		n    uint64
		want int
	}{{"AES_256", 0, 32}, {"AES_128", 0, 16}, {"", 64, 64}, {"AES_256", 24, 24}, {"AES_512", 1, 1}, {"", 1024, 1024}} {
		r := tckms.NewGenerateDataKeyRequest()
		r.KeyId, r.EncryptionContext = s(id), s(ec)
		if tc.spec != "" {
			r.KeySpec = s(tc.spec)
		}
		if tc.n != 0 {
			r.NumberOfBytes = u(tc.n)
		}
		out, err := c.GenerateDataKey(r)
		if err != nil {
			t.Fatal(tc, err)
		}
		dk, _ := base64.StdEncoding.DecodeString(*out.Response.Plaintext)
		seen.add(dk)
		if len(dk) != tc.want || *out.Response.KeyId != id {
			t.Fatalf("GenerateDataKey %v: %d bytes", tc, len(dk))
		}
		d, err := decrypt(*out.Response.CiphertextBlob, ec)
		if err != nil || *d.Plaintext != *out.Response.Plaintext {
			t.Fatalf("the data key does not decrypt to itself: %v", err)
		}
	}
	for _, tc := range []struct {
		spec string
		n    uint64
		code string
	}{{"", 0, "MissingParameter"}, {"AES_512", 0, "InvalidParameterValue"}, {"", 1025, "InvalidParameterValue"}} {
		r := tckms.NewGenerateDataKeyRequest()
		r.KeyId = s(id)
		if tc.spec != "" {
			r.KeySpec = s(tc.spec)
		}
		if tc.n != 0 {
			r.NumberOfBytes = u(tc.n)
		}
		_, err := c.GenerateDataKey(r)
		wantCode(t, err, tc.code)
	}

	// GenerateRandom.
	gr := tckms.NewGenerateRandomRequest()
	gr.NumberOfBytes = u(48)
	ro, err := c.GenerateRandom(gr)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := base64.StdEncoding.DecodeString(*ro.Response.Plaintext)
	seen.add(rb)
	if len(rb) != 48 {
		t.Fatalf("GenerateRandom: %d bytes", len(rb))
	}
	for _, n := range []uint64{0, 1025} {
		gr.NumberOfBytes = u(n)
		_, err := c.GenerateRandom(gr)
		wantCode(t, err, "InvalidParameterValue")
	}
	_, err = c.GenerateRandom(tckms.NewGenerateRandomRequest())
	wantCode(t, err, "MissingParameter")

	checkAuditLog(t, srv, seen)
}

// TestSDKEncryptionPublicKey: GenerateDataKey and Decrypt with
// EncryptionPublicKey as seed 002 lists the algorithms. Plaintext is the data
// key encrypted to the caller's key: decrypted with the private key, it is
// what Decrypt of the CiphertextBlob gives.
func TestSDKEncryptionPublicKey(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	c := newClient(t, srv, "ap-guangzhou")
	id := createKey(t, c, "wrapped")

	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaPEM := pemPublic(t, &rsaKey.PublicKey)
	rsa3072, _ := rsa.GenerateKey(rand.Reader, 3072)
	sm2Key, _ := sm2.GenerateKey(rand.Reader)
	sm2DER, err := smx509.MarshalPKIXPublicKey(&sm2Key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sm2PEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: sm2DER}))

	type unwrapFn func(ct []byte) ([]byte, error)
	// The seed's example writes the PEM on one line, spaces for newlines.
	oneLine := strings.TrimSpace(strings.ReplaceAll(sm2PEM, "\n", " "))
	cases := []struct {
		name, pem, alg string
		priv           crypto.PrivateKey
		unwrap         unwrapFn // with crypto/rsa or gmsm directly
	}{
		{"RSAES_OAEP_SHA_256", rsaPEM, "RSAES_OAEP_SHA_256", rsaKey, func(ct []byte) ([]byte, error) {
			return rsa.DecryptOAEP(sha256.New(), nil, rsaKey, ct, nil)
		}},
		{"RSAES_OAEP_SHA_1", rsaPEM, "RSAES_OAEP_SHA_1", rsaKey, func(ct []byte) ([]byte, error) {
			return rsa.DecryptOAEP(sha1.New(), nil, rsaKey, ct, nil)
		}},
		{"RSAES_PKCS1_V1_5", rsaPEM, "RSAES_PKCS1_V1_5", rsaKey, func(ct []byte) ([]byte, error) {
			return rsa.DecryptPKCS1v15(nil, rsaKey, ct)
		}},
		{"RSA-3072 OAEP", pemPublic(t, &rsa3072.PublicKey), "RSAES_OAEP_SHA_256", rsa3072, func(ct []byte) ([]byte, error) {
			return rsa.DecryptOAEP(sha256.New(), nil, rsa3072, ct, nil)
		}},
		{"SM2 (C1C3C2)", sm2PEM, "SM2", sm2Key, sm2Raw(sm2Key)},
		{"SM2 by default", sm2PEM, "", sm2Key, sm2Raw(sm2Key)},
		{"SM2 one-line PEM", oneLine, "SM2", sm2Key, sm2Raw(sm2Key)},
		{"SM2_C1C3C2_ASN1", sm2PEM, "SM2_C1C3C2_ASN1", sm2Key, func(ct []byte) ([]byte, error) {
			if ct[0] != 0x30 {
				return nil, fmt.Errorf("SM2_C1C3C2_ASN1 ciphertext is not a DER SEQUENCE")
			}
			return sm2.Decrypt(sm2Key, ct)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := tckms.NewGenerateDataKeyRequest()
			g.KeyId, g.KeySpec, g.EncryptionContext = s(id), s("AES_256"), s(`{"k":"v"}`)
			g.EncryptionPublicKey = s(tc.pem)
			if tc.alg != "" {
				g.EncryptionAlgorithm = s(tc.alg)
			}
			out, err := c.GenerateDataKey(g)
			if err != nil {
				t.Fatal(err)
			}
			wrapped, err := base64.StdEncoding.DecodeString(*out.Response.Plaintext)
			if err != nil || *out.Response.CiphertextBlob == "" {
				t.Fatalf("Plaintext %q, CiphertextBlob %q", *out.Response.Plaintext, *out.Response.CiphertextBlob)
			}
			dk, err := tc.unwrap(wrapped)
			if err != nil {
				t.Fatalf("Plaintext does not decrypt with the private key: %v", err)
			}
			if again, err := recipient.UnwrapFrom(tc.priv, tc.alg, wrapped); err != nil || !bytes.Equal(again, dk) {
				t.Fatalf("recipient.UnwrapFrom disagrees: %v", err)
			}
			d := tckms.NewDecryptRequest()
			d.CiphertextBlob, d.EncryptionContext = out.Response.CiphertextBlob, s(`{"k":"v"}`)
			back, err := c.Decrypt(d)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := base64.StdEncoding.DecodeString(*back.Response.Plaintext); len(dk) != 32 || !bytes.Equal(got, dk) {
				t.Fatal("the wrapped data key is not the one Decrypt gives")
			}
			// Decrypt with the same public key wraps the plaintext too.
			d.EncryptionPublicKey = s(tc.pem)
			if tc.alg != "" {
				d.EncryptionAlgorithm = s(tc.alg)
			}
			back, err = c.Decrypt(d)
			if err != nil {
				t.Fatal(err)
			}
			w2, _ := base64.StdEncoding.DecodeString(*back.Response.Plaintext)
			if got, err := tc.unwrap(w2); err != nil || !bytes.Equal(got, dk) {
				t.Fatalf("Decrypt's wrapped Plaintext: %v", err)
			}
		})
	}

	// Refusals: each is Tencent-shaped and releases nothing.
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	certPEM := selfSignedPEM(t, rsaKey)
	privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustPKCS8(t, rsaKey)}))
	for _, tc := range []struct {
		name, pem, alg, code string
	}{
		{"RSA-1024", pemPublic(t, &rsa1024.PublicKey), "RSAES_OAEP_SHA_256", "InvalidParameterValue"},
		{"a certificate, not a public key", certPEM, "RSAES_OAEP_SHA_256", "InvalidParameterValue"},
		{"a private key", privPEM, "RSAES_OAEP_SHA_256", "InvalidParameterValue"},
		{"not PEM", "MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAE", "SM2", "InvalidParameterValue"},
		{"RSA key, SM2 algorithm", rsaPEM, "SM2", "InvalidParameterValue"},
		{"SM2 key, RSA algorithm", sm2PEM, "RSAES_OAEP_SHA_256", "InvalidParameterValue"},
		{"unknown algorithm", rsaPEM, "RSAES_OAEP_SHA_512", "InvalidParameterValue"},
	} {
		g := tckms.NewGenerateDataKeyRequest()
		g.KeyId, g.KeySpec, g.EncryptionPublicKey, g.EncryptionAlgorithm = s(id), s("AES_256"), s(tc.pem), s(tc.alg)
		out, err := c.GenerateDataKey(g)
		if err == nil || out.Response != nil {
			t.Fatalf("%s: an answer: %v", tc.name, err)
		}
		se := wantCode(t, err, tc.code)
		t.Logf("%s: %s", tc.name, se.Message)
	}
	// A data key longer than one RSA-2048 OAEP-SHA-256 block (190 bytes).
	g := tckms.NewGenerateDataKeyRequest()
	g.KeyId, g.NumberOfBytes, g.EncryptionPublicKey, g.EncryptionAlgorithm = s(id), u(191), s(rsaPEM), s("RSAES_OAEP_SHA_256")
	_, err = c.GenerateDataKey(g)
	wantCode(t, err, "InvalidParameterValue")
	// EncryptionAlgorithm alone is refused.
	g = tckms.NewGenerateDataKeyRequest()
	g.KeyId, g.KeySpec, g.EncryptionAlgorithm = s(id), s("AES_256"), s("SM2")
	_, err = c.GenerateDataKey(g)
	wantCode(t, err, "InvalidParameter")
}

// sm2Raw unwraps the SM2 form: x1 || y1 || C3 || C2, C1 without the SEC 1
// prefix 0x04 (Tencent's "C1C3C2"; see recipient/sm2.go), which gmsm's
// decryption wants back.
func sm2Raw(priv *sm2.PrivateKey) func(ct []byte) ([]byte, error) {
	return func(ct []byte) ([]byte, error) {
		// No test of ct[0] against ASN.1's 0x30: x1's first byte is 0x30 once
		// in 256 runs (this test was flaky so). An ASN.1 ciphertext read as
		// x1 || y1 is no point on the curve, so decryption itself tells.
		if len(ct) < 64+32+1 {
			return nil, fmt.Errorf("%d bytes are not x1 || y1 || C3 || C2", len(ct))
		}
		return sm2.Decrypt(priv, append([]byte{0x04}, ct...))
	}
}

func pemPublic(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func selfSignedPEM(t testing.TB, k *rsa.PrivateKey) string {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func mustPKCS8(t testing.TB, k any) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestSameKeyAcrossDialects: a key made with the AWS SDK is used through the
// Tencent dialect, and the other way round, with the same key pair.
func TestSameKeyAcrossDialects(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	tc := newClient(t, srv, "ap-guangzhou")
	ac := awskms.New(awskms.Options{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.Secret, ""),
		BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
	})

	// Tencent key, AWS use.
	id := createKey(t, tc, "shared")
	enc := tckms.NewEncryptRequest()
	enc.KeyId, enc.Plaintext, enc.EncryptionContext = s("alias/shared"), s(base64.StdEncoding.EncodeToString([]byte("hi"))), s(`{"a":"b"}`)
	eo, err := tc.Encrypt(enc)
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := base64.StdEncoding.DecodeString(*eo.Response.CiphertextBlob)
	d, err := ac.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"a": "b"}})
	if err != nil || string(d.Plaintext) != "hi" || !strings.HasSuffix(*d.KeyId, "key/"+id) {
		t.Fatalf("AWS Decrypt of a Tencent ciphertext: %v", err)
	}
	ad, err := ac.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/shared")})
	if err != nil || *ad.KeyMetadata.KeyId != id {
		t.Fatalf("AWS DescribeKey of the Tencent alias: %v", err)
	}

	// AWS key, Tencent use.
	ak, err := ac.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("from aws")})
	if err != nil {
		t.Fatal(err)
	}
	gdk, err := ac.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: ak.KeyMetadata.KeyId, KeySpec: types.DataKeySpecAes256, EncryptionContext: map[string]string{"x": "y"}})
	if err != nil {
		t.Fatal(err)
	}
	dr := tckms.NewDecryptRequest()
	dr.CiphertextBlob, dr.EncryptionContext = s(base64.StdEncoding.EncodeToString(gdk.CiphertextBlob)), s(`{"x":"y"}`)
	do, err := tc.Decrypt(dr)
	if err != nil || *do.Response.Plaintext != base64.StdEncoding.EncodeToString(gdk.Plaintext) || *do.Response.KeyId != *ak.KeyMetadata.KeyId {
		t.Fatalf("Tencent Decrypt of an AWS data key: %v", err)
	}
	md := describe(t, tc, *ak.KeyMetadata.KeyId)
	if *md.Description != "from aws" || *md.Alias != "" {
		t.Fatalf("Tencent DescribeKey of an AWS key: %+v", md)
	}

	// GetPublicKey of a key-agreement key made through the AWS dialect.
	ek, err := ac.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeKeyAgreement})
	if err != nil {
		t.Fatal(err)
	}
	agp, _ := ac.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: ek.KeyMetadata.KeyId})
	gp := tckms.NewGetPublicKeyRequest()
	gp.KeyId = ek.KeyMetadata.KeyId
	pk, err := tc.GetPublicKey(gp)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := base64.StdEncoding.DecodeString(*pk.Response.PublicKey)
	block, _ := pem.Decode([]byte(*pk.Response.PublicKeyPem))
	if !bytes.Equal(der, agp.PublicKey) || block == nil || block.Type != "PUBLIC KEY" || !bytes.Equal(block.Bytes, der) || *pk.Response.KeyId != *ek.KeyMetadata.KeyId {
		t.Fatalf("GetPublicKey: %s", pk.ToJsonString())
	}
	if _, err := x509.ParsePKIXPublicKey(der); err != nil {
		t.Fatal(err)
	}
	// The key-agreement key cannot encrypt.
	enc.KeyId = ek.KeyMetadata.KeyId
	_, err = tc.Encrypt(enc)
	wantCode(t, err, "UnsupportedOperation")
	if st := *describe(t, tc, *ek.KeyMetadata.KeyId).KeyUsage; st != "KEY_AGREEMENT" {
		t.Fatalf("KeyUsage %s", st)
	}
}

// secrets collects every secret a test sees, to grep the audit log for.
type secrets [][]byte

func (s *secrets) add(b ...[]byte) {
	for _, x := range b {
		if len(x) > 0 {
			*s = append(*s, bytes.Clone(x))
		}
	}
}

func checkAuditLog(t *testing.T, srv *testserver.Server, seen secrets) {
	t.Helper()
	log, err := os.ReadFile(filepath.Join(srv.DataDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(log, []byte(`"dialect":"tencent"`)); n < 20 {
		t.Fatalf("audit log has %d Tencent lines", n)
	}
	for i, s := range seen {
		for _, enc := range []string{base64.StdEncoding.EncodeToString(s), hex.EncodeToString(s), string(s)} {
			if len(enc) >= 8 && bytes.Contains(log, []byte(enc)) {
				t.Fatalf("secret %d (%d bytes) is in the audit log", i, len(s))
			}
		}
	}
	if len(seen) < 5 {
		t.Fatalf("only %d secrets checked", len(seen))
	}
	for _, want := range []string{`"operation":"GenerateDataKey"`, `"access_key_id":"` + srv.AccessKey + `"`, `"error_code":"InvalidParameterValue.InvalidCiphertext"`} {
		if !bytes.Contains(log, []byte(want)) {
			t.Fatalf("audit log lacks %s", want)
		}
	}
}

// TestSDKRegionDoesNotNameARNs: X-TC-Region is required but means nothing
// to keys: a Deny on the key's one ARN (in the server's region, us-east-1)
// holds for GenerateDataKey whatever region the Tencent request names, and
// the audit log names that one ARN.
func TestSDKRegionDoesNotNameARNs(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	acct := srv.Account.AccountID
	ac := awskms.New(awskms.Options{
		Region: srv.Region, Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.Secret, ""),
		BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
	})
	ck, err := ac.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := *ck.KeyMetadata.KeyId
	arn := "arn:aws:kms:us-east-1:" + acct + ":key/" + id
	deny := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:GenerateDataKey","Resource":"` + arn + `"}]}`
	if _, err := ac.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: &id, Policy: &deny}); err != nil {
		t.Fatal(err)
	}
	// A different NumberOfBytes for each region: the same body at the same
	// second would be the same TC3 signature, X-TC-Region being unsigned.
	for i, region := range []string{"ap-guangzhou", "ap-beijing", "us-east-1", "eu-west-1"} {
		r := tckms.NewGenerateDataKeyRequest()
		r.KeyId, r.NumberOfBytes = s(id), u(uint64(16+i))
		out, err := newClient(t, srv, region).GenerateDataKey(r)
		wantCode(t, err, "UnauthorizedOperation")
		if out != nil && out.Response != nil && out.Response.Plaintext != nil {
			t.Fatalf("X-TC-Region %s: a data key was returned", region)
		}
	}
	// Encrypt is not denied, and its audit line names the one ARN.
	r := tckms.NewEncryptRequest()
	r.KeyId, r.Plaintext = s(id), s(base64.StdEncoding.EncodeToString([]byte("x")))
	if _, err := newClient(t, srv, "ap-shanghai").Encrypt(r); err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(filepath.Join(srv.DataDir, "audit.log"))
	if n := bytes.Count(log, []byte(`"dialect":"tencent","operation":"GenerateDataKey","key_arn":"`+arn+`"`)); n != 4 {
		t.Fatalf("%d Tencent GenerateDataKey audit lines name %s; want 4:\n%s", n, arn, log)
	}
	if !bytes.Contains(log, []byte(`"operation":"Encrypt","key_arn":"`+arn+`"`)) || bytes.Contains(log, []byte("ap-shanghai")) {
		t.Fatalf("the Tencent Encrypt audit line does not name %s:\n%s", arn, log)
	}
}
