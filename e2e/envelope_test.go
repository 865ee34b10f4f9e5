package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/fxamacker/cbor/v2"
	sdkerr "github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	hwmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/snp"
	"github.com/attestkms/attestkms/attest/snp/snptest"
	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
	"github.com/attestkms/attestkms/internal/testserver"
	"github.com/attestkms/attestkms/recipient"
)

// envelopeEnv is a server trusting test SEV-SNP and TPM roots, and a guest's
// ephemeral key.
type envelopeEnv struct {
	srv    *testserver.Server
	c      clients
	snpCA  *snptest.CA
	tpmCA  *tpmtest.CA
	priv   *rsa.PrivateKey
	pubDER []byte
}

func newEnvelopeEnv(t *testing.T, store string) *envelopeEnv {
	t.Helper()
	snpCA, err := snptest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	tpmCA, err := tpmtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	snpRoots, err := snp.ParseRoots(snpCA.RootsPEM())
	if err != nil {
		t.Fatal(err)
	}
	sv, err := snp.New(snp.Options{Roots: snpRoots})
	if err != nil {
		t.Fatal(err)
	}
	tpmRoots, err := tpm.ParseRoots(tpmCA.RootsPEM())
	if err != nil {
		t.Fatal(err)
	}
	tv, err := tpm.New(tpm.Options{Roots: tpmRoots})
	if err != nil {
		t.Fatal(err)
	}
	set := &attest.Set{Envelopes: map[attest.Format]attest.Verifier{attest.FormatSEVSNP: sv, attest.FormatTPM2: tv}}
	srv := testserver.Start(t, testserver.Options{Store: store, Attestation: set})
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	return &envelopeEnv{srv: srv, c: threeSDKs(t, srv), snpCA: snpCA, tpmCA: tpmCA, priv: priv, pubDER: der}
}

var (
	goodMeasurement = bytes.Repeat([]byte{0x5e}, 48)
	goodPCR4        = bytes.Repeat([]byte{0x44}, 32)
	goodPCR7        = bytes.Repeat([]byte{0x77}, 32)
)

// testNonce is the nonce of the evidence the tests make, which the audit
// log must name.
var testNonce = []byte("e2e nonce 0123456789")

func (e *envelopeEnv) snpEvidence(t *testing.T, r snptest.Report) []byte {
	t.Helper()
	if r.Measurement == nil {
		r.Measurement = goodMeasurement
	}
	if r.Nonce == nil {
		r.Nonce = testNonce
	}
	b, err := e.snpCA.Evidence(e.pubDER, r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *envelopeEnv) tpmEvidence(t *testing.T, q tpmtest.Quote) []byte {
	t.Helper()
	if q.PCRs == nil {
		q.PCRs = map[int][]byte{0: make([]byte, 32), 4: goodPCR4, 7: goodPCR7}
	}
	if q.Nonce == nil {
		q.Nonce = testNonce
	}
	b, err := e.tpmCA.Evidence(e.pubDER, q)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (e *envelopeEnv) awsRecipient(doc []byte) *awstypes.RecipientInfo {
	return &awstypes.RecipientInfo{AttestationDocument: doc, KeyEncryptionAlgorithm: awstypes.KeyEncryptionMechanismRsaesOaepSha256}
}

func (e *envelopeEnv) unwrap(t *testing.T, cfr []byte) []byte {
	t.Helper()
	pt, err := recipient.UnwrapCMS(e.priv, cfr)
	if err != nil {
		t.Fatalf("CiphertextForRecipient does not unwrap with the guest's key: %v", err)
	}
	return pt
}

// attestedPolicy allows the account everything but the secret-making
// actions, and those only with the condition.
func attestedPolicy(acct, cond string) string {
	return `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","kms:Encrypt"],"Resource":"*"},
	  {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:GenerateDataKey","kms:Decrypt","kms:DeriveSharedSecret"],"Resource":"*",
	   "Condition":{"StringEqualsIgnoreCase":` + cond + `}}]}`
}

// TestEnvelopeRecipients: an SEV-SNP guest and a TPM host get data keys and
// shared secrets through the AWS, Huawei and Tencent dialects, wrapped to
// their keys, and a key policy on SnpMeasurement or TpmPCR4 and 7 admits the right
// evidence and refuses the wrong one.
func TestEnvelopeRecipients(t *testing.T) { testserver.Stores(t, testEnvelopeRecipients) }

func testEnvelopeRecipients(t *testing.T, store string) {
	e := newEnvelopeEnv(t, store)
	ctx := context.Background()
	acct := e.srv.Account.AccountID
	snpKey, err := e.c.aws.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(attestedPolicy(acct,
		`{"kms:RecipientAttestation:SnpMeasurement":"`+strings.Repeat("5e", 48)+`"}`))})
	if err != nil {
		t.Fatal(err)
	}
	tpmKey, err := e.c.aws.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(attestedPolicy(acct,
		`{"kms:RecipientAttestation:TpmPCR4":"`+strings.Repeat("44", 32)+`","kms:RecipientAttestation:TpmPCR7":"`+strings.Repeat("77", 32)+`"}`))})
	if err != nil {
		t.Fatal(err)
	}
	snpID, tpmID := *snpKey.KeyMetadata.KeyId, *tpmKey.KeyMetadata.KeyId
	var secrets [][]byte // every secret the test saw, for the audit log's check
	released := 0        // the secrets released to a Recipient

	for _, tc := range []struct {
		name, keyID string
		good, wrong []byte
		otherFormat []byte
	}{
		{"sev-snp", snpID, e.snpEvidence(t, snptest.Report{}), e.snpEvidence(t, snptest.Report{Measurement: bytes.Repeat([]byte{0x66}, 48)}), e.tpmEvidence(t, tpmtest.Quote{})},
		{"tpm2", tpmID, e.tpmEvidence(t, tpmtest.Quote{}), e.tpmEvidence(t, tpmtest.Quote{PCRs: map[int][]byte{4: goodPCR4, 7: bytes.Repeat([]byte{0x78}, 32)}}), e.snpEvidence(t, snptest.Report{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gdk, err := e.c.aws.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(tc.keyID), KeySpec: awstypes.DataKeySpecAes256, Recipient: e.awsRecipient(tc.good)})
			if err != nil {
				t.Fatal(err)
			}
			if gdk.Plaintext != nil || len(gdk.CiphertextForRecipient) == 0 {
				t.Fatal("a Recipient's data key came back in plaintext")
			}
			dataKey := e.unwrap(t, gdk.CiphertextForRecipient)
			secrets, released = append(secrets, dataKey), released+2 // and Decrypt's, below
			dec, err := e.c.aws.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, Recipient: e.awsRecipient(tc.good)})
			if err != nil {
				t.Fatal(err)
			}
			if got := e.unwrap(t, dec.CiphertextForRecipient); !bytes.Equal(got, dataKey) || len(dataKey) != 32 {
				t.Fatal("Decrypt for the recipient differs from GenerateDataKey's key")
			}
			// The wrong measurement, and evidence of the other format, are
			// refused by the policy, with nothing secret in the answer.
			for name, doc := range map[string][]byte{"wrong measurement": tc.wrong, "other format": tc.otherFormat} {
				out, err := e.c.aws.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(tc.keyID), KeySpec: awstypes.DataKeySpecAes256, Recipient: e.awsRecipient(doc)})
				var ae smithy.APIError
				if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" || out != nil {
					t.Fatalf("%s: %v; want AccessDeniedException", name, err)
				}
			}

			// Tencent: GenerateDataKey with the Recipient extension, through
			// the SDK's common client; Plaintext is raw RSA-OAEP to the key.
			resp, err := tencentCommon(e.srv, "GenerateDataKey", map[string]any{"KeyId": tc.keyID, "KeySpec": "AES_256",
				"Recipient": map[string]any{"AttestationDocument": base64.StdEncoding.EncodeToString(tc.good), "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}})
			if err != nil {
				t.Fatal(err)
			}
			ct, _ := base64.StdEncoding.DecodeString(resp["Plaintext"].(string))
			tk, err := rsa.DecryptOAEP(sha256.New(), nil, e.priv, ct, nil)
			if err != nil {
				t.Fatalf("Tencent's Plaintext does not unwrap: %v", err)
			}
			secrets, released = append(secrets, tk), released+2 // and Decrypt's, below
			blob, _ := base64.StdEncoding.DecodeString(resp["CiphertextBlob"].(string))
			back, err := e.c.aws.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, Recipient: e.awsRecipient(tc.good)})
			if err != nil || !bytes.Equal(e.unwrap(t, back.CiphertextForRecipient), tk) {
				t.Fatalf("Tencent's data key is not what Decrypt returns: %v", err)
			}
			_, err = tencentCommon(e.srv, "GenerateDataKey", map[string]any{"KeyId": tc.keyID, "KeySpec": "AES_256",
				"Recipient": map[string]any{"AttestationDocument": base64.StdEncoding.EncodeToString(tc.wrong), "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}})
			var te *tcerr.TencentCloudSDKError
			if !errors.As(err, &te) || te.Code != "UnauthorizedOperation" {
				t.Fatalf("Tencent with the wrong measurement: %v", err)
			}
		})
	}

	// DeriveSharedSecret: a P-256 key-agreement key whose policy admits
	// either format by measurement, through AWS and Huawei (the SDK's own
	// recipient model), each equal to the test's own ECDH.
	ka, err := e.c.aws.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: awstypes.KeySpecEccNistP256, KeyUsage: awstypes.KeyUsageTypeKeyAgreement,
		Policy: aws.String(`{"Version":"2012-10-17","Statement":[
		  {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","kms:Encrypt"],"Resource":"*"},
		  {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:DeriveSharedSecret","Resource":"*",
		   "Condition":{"StringEquals":{"kms:RecipientAttestation:SnpMeasurement":"` + strings.Repeat("5e", 48) + `"}}},
		  {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:DeriveSharedSecret","Resource":"*",
		   "Condition":{"StringEquals":{"kms:RecipientAttestation:TpmPCR4":"` + strings.Repeat("44", 32) + `","kms:RecipientAttestation:TpmPCR7":"` + strings.Repeat("77", 32) + `"}}}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	kaID := *ka.KeyMetadata.KeyId
	gp, err := e.c.aws.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String(kaID)})
	if err != nil {
		t.Fatal(err)
	}
	kmsPub, err := x509.ParsePKIXPublicKey(gp.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	kmsECDH, _ := kmsPub.(interface {
		ECDH() (*ecdh.PublicKey, error)
	}).ECDH()
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	want, _ := peer.ECDH(kmsECDH)
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	for name, doc := range map[string][]byte{"sev-snp": e.snpEvidence(t, snptest.Report{}), "tpm2": e.tpmEvidence(t, tpmtest.Quote{})} {
		ads, err := e.c.aws.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: aws.String(kaID),
			KeyAgreementAlgorithm: awstypes.KeyAgreementAlgorithmSpecEcdh, PublicKey: peerDER, Recipient: e.awsRecipient(doc)})
		if err != nil {
			t.Fatalf("%s: AWS DeriveSharedSecret: %v", name, err)
		}
		if ads.SharedSecret != nil || !bytes.Equal(e.unwrap(t, ads.CiphertextForRecipient), want) {
			t.Fatalf("%s: AWS DeriveSharedSecret's secret is not the ECDH of the peer and the key", name)
		}
		alg := "RSAES_OAEP_SHA_256"
		docB64 := base64.StdEncoding.EncodeToString(doc)
		hds, err := e.c.huawei.DeriveSharedSecret(&hwmodel.DeriveSharedSecretRequest{Body: &hwmodel.DeriveSharedSecretRequestBody{
			KeyId: kaID, KeyAgreementAlgorithm: hwmodel.GetDeriveSharedSecretRequestBodyKeyAgreementAlgorithmEnum().ECDH,
			PublicKey: base64.StdEncoding.EncodeToString(peerDER),
			Recipient: &hwmodel.Recipient{AttestationDocument: &docB64, KeyEncryptionAlgorithm: &alg}}})
		if err != nil {
			t.Fatalf("%s: Huawei derive-shared-secret: %v", name, err)
		}
		cr, _ := base64.StdEncoding.DecodeString(*hds.CiphertextRecipient)
		if hds.SharedSecret != nil || !bytes.Equal(e.unwrap(t, cr), want) {
			t.Fatalf("%s: Huawei's ciphertext_recipient is not the shared secret", name)
		}
		released += 2
	}
	secrets = append(secrets, want, e.priv.D.Bytes())
	checkRecipientLines(t, e.srv.DataDir, e.pubDER, released, secrets)
}

// checkRecipientLines: every audit line of a request with a verified
// Recipient names the evidence's format, its measurements, the SHA-256 of
// the enclave's key and its nonce; at least released lines are of a secret
// released (outcome ok); and no line holds any of the secrets, in any
// encoding.
func checkRecipientLines(t *testing.T, dataDir string, pubDER []byte, released int, secrets [][]byte) {
	t.Helper()
	keySum := sha256.Sum256(pubDER)
	ok := 0
	lines := gateAuditLines(t, dataDir)
	for _, line := range lines {
		a, has := line["attestation"].(map[string]any)
		if !has {
			continue
		}
		measured := a["snp_measurement"] != nil || a["tpm_pcrs"] != nil || a["pcr0"] != nil
		if a["format"] == nil || !measured || a["public_key_sha256"] != hex.EncodeToString(keySum[:]) || a["nonce"] != hex.EncodeToString(testNonce) {
			t.Fatalf("a Recipient's audit line lacks what it relied on: %v", line)
		}
		if line["outcome"] == "ok" {
			ok++
		}
	}
	if ok < released {
		t.Fatalf("%d audit lines of secrets released to a Recipient; want %d", ok, released)
	}
	log, err := os.ReadFile(filepath.Join(dataDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range secrets {
		for _, enc := range []string{base64.StdEncoding.EncodeToString(s), base64.RawURLEncoding.EncodeToString(s), hex.EncodeToString(s), string(s)} {
			if len(enc) >= 8 && bytes.Contains(log, []byte(enc)) {
				t.Fatalf("secret %d (%d bytes) is in the audit log", i, len(s))
			}
		}
	}
}

// TestHostileEnvelopes: each kind of bad evidence gets a clear 4xx naming
// what failed, and no secret.
func TestHostileEnvelopes(t *testing.T) {
	e := newEnvelopeEnv(t, testserver.Bolt)
	ctx := context.Background()
	k, err := e.c.aws.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := *k.KeyMetadata.KeyId
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherDER, _ := x509.MarshalPKIXPublicKey(&other.PublicKey)
	strangerSNP, _ := snptest.NewCA()
	strangerTPM, _ := tpmtest.NewCA()

	reencode := func(doc []byte, edit func(*envelope.Envelope)) []byte {
		env, err := envelope.Decode(doc)
		if err != nil {
			t.Fatal(err)
		}
		edit(env)
		b, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	snpGood := e.snpEvidence(t, snptest.Report{})
	tpmGood := e.tpmEvidence(t, tpmtest.Quote{})
	strangerSNPDoc, _ := strangerSNP.Evidence(e.pubDER, snptest.Report{Measurement: goodMeasurement})
	strangerTPMDoc, _ := strangerTPM.Evidence(e.pubDER, tpmtest.Quote{})
	// CBOR by hand: an envelope map with one more field than the schema has.
	withUnknown := func(doc []byte) []byte {
		var m map[string]any
		if err := cbor.Unmarshal(doc, &m); err != nil {
			t.Fatal(err)
		}
		m["extra"] = []byte{1}
		b, err := cbor.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	cases := map[string]struct {
		doc  []byte
		want string // in the message
	}{
		"snp report 1183 bytes":   {reencode(snpGood, func(v *envelope.Envelope) { v.Report = v.Report[:1183] }), "1184"},
		"snp report 1185 bytes":   {reencode(snpGood, func(v *envelope.Envelope) { v.Report = append(v.Report, 0) }), "malformed"},
		"snp another key":         {reencode(snpGood, func(v *envelope.Envelope) { v.PublicKey = otherDER }), "bind"},
		"snp nonce swapped":       {reencode(e.snpEvidence(t, snptest.Report{Nonce: []byte("a")}), func(v *envelope.Envelope) { v.Nonce = []byte("b") }), "bind"},
		"snp debug policy":        {e.snpEvidence(t, snptest.Report{Policy: 0xb0000}), "debug"},
		"snp another chip's vcek": {reencode(snpGood, func(v *envelope.Envelope) { v.VCEK = mustEnvelope(t, strangerSNPDoc).VCEK }), ""},
		"snp untrusted chain":     {strangerSNPDoc, ""},
		"snp trailing byte":       {append(bytes.Clone(snpGood), 0), "malformed"},
		"snp unknown field":       {withUnknown(snpGood), "malformed"},
		"tpm wrong extraData":     {reencode(tpmGood, func(v *envelope.Envelope) { v.PublicKey = otherDER }), "bind"},
		"tpm pcr not quoted":      {reencode(tpmGood, func(v *envelope.Envelope) { v.PCRs[7] = bytes.Repeat([]byte{0x78}, 32) }), ""},
		"tpm sha-1 bank":          {e.tpmEvidence(t, tpmtest.Quote{Bank: crypto.SHA1, PCRs: map[int][]byte{7: make([]byte, 20)}}), "SHA-1"},
		"tpm untrusted AK":        {strangerTPMDoc, ""},
		"tpm trailing byte":       {append(bytes.Clone(tpmGood), 0), "malformed"},
		"tpm unknown field":       {withUnknown(tpmGood), "malformed"},
	}
	for name, tc := range cases {
		out, err := e.c.aws.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: awstypes.DataKeySpecAes256, Recipient: e.awsRecipient(tc.doc)})
		var ae smithy.APIError
		var re interface{ HTTPStatusCode() int }
		if !errors.As(err, &ae) || out != nil {
			t.Errorf("%s: %v; want an API error and no output", name, err)
			continue
		}
		if errors.As(err, &re) && (re.HTTPStatusCode() < 400 || re.HTTPStatusCode() >= 500) {
			t.Errorf("%s: HTTP %d", name, re.HTTPStatusCode())
		}
		if ae.ErrorCode() != "ValidationException" {
			t.Errorf("%s: %s %s; want ValidationException", name, ae.ErrorCode(), ae.ErrorMessage())
		}
		if !strings.Contains(strings.ToLower(ae.ErrorMessage()), strings.ToLower(tc.want)) {
			t.Errorf("%s: %q does not say %q", name, ae.ErrorMessage(), tc.want)
		}
	}
}

// TestHostileEnvelopesOtherDialects: refused evidence gets Huawei's and
// Tencent's error shapes too, with the reason, and no secret.
func TestHostileEnvelopesOtherDialects(t *testing.T) {
	e := newEnvelopeEnv(t, testserver.Bolt)
	ctx := context.Background()
	k, err := e.c.aws.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: awstypes.KeySpecEccNistP256, KeyUsage: awstypes.KeyUsageTypeKeyAgreement})
	if err != nil {
		t.Fatal(err)
	}
	sym, err := e.c.aws.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	debug := e.snpEvidence(t, snptest.Report{Policy: snptest.DefaultPolicy | snptest.PolicyDebug})
	unbound := e.tpmEvidence(t, tpmtest.Quote{EditEnvelope: func(v *envelope.Envelope) { v.Nonce = []byte("not quoted") }})

	docB64, alg := base64.StdEncoding.EncodeToString(debug), "RSAES_OAEP_SHA_256"
	out, err := e.c.huawei.DeriveSharedSecret(&hwmodel.DeriveSharedSecretRequest{Body: &hwmodel.DeriveSharedSecretRequestBody{
		KeyId: *k.KeyMetadata.KeyId, KeyAgreementAlgorithm: hwmodel.GetDeriveSharedSecretRequestBodyKeyAgreementAlgorithmEnum().ECDH,
		PublicKey: base64.StdEncoding.EncodeToString(peerDER),
		Recipient: &hwmodel.Recipient{AttestationDocument: &docB64, KeyEncryptionAlgorithm: &alg}}})
	var se *sdkerr.ServiceResponseError
	if !errors.As(err, &se) || se.ErrorCode != "KMS.0308" || se.StatusCode < 400 || se.StatusCode >= 500 || !strings.Contains(se.ErrorMessage, "debug") {
		t.Fatalf("Huawei, a debug SNP guest: %v", err)
	}
	if out != nil && (out.SharedSecret != nil || out.CiphertextRecipient != nil) {
		t.Fatal("Huawei answered a secret with the error")
	}
	resp, err := tencentCommon(e.srv, "GenerateDataKey", map[string]any{"KeyId": *sym.KeyMetadata.KeyId, "KeySpec": "AES_256",
		"Recipient": map[string]any{"AttestationDocument": base64.StdEncoding.EncodeToString(unbound), "KeyEncryptionAlgorithm": alg}})
	var te *tcerr.TencentCloudSDKError
	if !errors.As(err, &te) || te.Code != "InvalidParameterValue" || !strings.Contains(te.Message, "bind") || resp != nil {
		t.Fatalf("Tencent, a quote that does not bind the nonce: %v %v", resp, err)
	}
}

func mustEnvelope(t *testing.T, b []byte) *envelope.Envelope {
	t.Helper()
	env, err := envelope.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// tencentCommon sends action through the Tencent SDK's common client.
func tencentCommon(srv *testserver.Server, action string, params map[string]any) (map[string]any, error) {
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = strings.TrimPrefix(srv.URL, "http://")
	cpf.HttpProfile.Scheme = "HTTP"
	client := common.NewCommonClient(common.NewCredential(srv.AccessKey, srv.Secret), "ap-guangzhou", cpf)
	req := tchttp.NewCommonRequest("kms", "2019-01-18", action)
	if err := req.SetActionParameters(params); err != nil {
		return nil, err
	}
	resp := tchttp.NewCommonResponse()
	if err := client.Send(req, resp); err != nil {
		return nil, err
	}
	var out struct{ Response map[string]any }
	if err := json.Unmarshal(resp.GetBody(), &out); err != nil {
		return nil, err
	}
	return out.Response, nil
}
