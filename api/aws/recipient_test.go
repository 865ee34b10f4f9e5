package aws_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/internal/testserver"
	"github.com/attestkms/attestkms/recipient"
)

type attestedEnv struct {
	srv  *testserver.Server
	ca   *nitrotest.CA
	priv *rsa.PrivateKey
	der  []byte
	pcrs map[int][]byte
}

func newAttestedEnv(t *testing.T) *attestedEnv {
	t.Helper()
	ca, err := nitrotest.NewTestCA(attest.FormatNitro, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := nitro.New(nitro.Options{Roots: ca.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	srv := testserver.Start(t, testserver.Options{Attestation: &attest.Set{COSE: []attest.Verifier{v}}})
	priv, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	pcrs := map[int][]byte{}
	for i := 0; i < 16; i++ {
		pcrs[i] = make([]byte, 48)
	}
	pcrs[0] = bytes.Repeat([]byte{0x42}, 48)
	return &attestedEnv{srv: srv, ca: ca, priv: priv, der: der, pcrs: pcrs}
}

func (e *attestedEnv) doc(t *testing.T, d nitrotest.Document) []byte {
	t.Helper()
	if d.Timestamp.IsZero() {
		d.Timestamp = time.Now()
	}
	if d.PCRs == nil {
		d.PCRs = e.pcrs
	}
	if d.PublicKey == nil {
		d.PublicKey = e.der
	}
	b, err := e.ca.Sign(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRecipientThroughSDK: the SDK's own Recipient field works unchanged.
func TestRecipientThroughSDK(t *testing.T) {
	e := newAttestedEnv(t)
	c := newClient(t, e.srv, "us-east-1")
	k, _ := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	rcpt := func() *types.RecipientInfo {
		return &types.RecipientInfo{AttestationDocument: e.doc(t, nitrotest.Document{}), KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256}
	}
	gdk, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: k.KeyMetadata.KeyId, KeySpec: types.DataKeySpecAes256, Recipient: rcpt()})
	if err != nil {
		t.Fatal(err)
	}
	if gdk.Plaintext != nil || len(gdk.CiphertextForRecipient) == 0 || len(gdk.CiphertextBlob) == 0 {
		t.Fatalf("GenerateDataKey with Recipient: plaintext %v, cfr %d bytes", gdk.Plaintext != nil, len(gdk.CiphertextForRecipient))
	}
	dk, err := recipient.UnwrapCMS(e.priv, gdk.CiphertextForRecipient)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, Recipient: rcpt()})
	if err != nil || dec.Plaintext != nil {
		t.Fatalf("Decrypt with Recipient: %v", err)
	}
	if got, _ := recipient.UnwrapCMS(e.priv, dec.CiphertextForRecipient); !bytes.Equal(got, dk) {
		t.Fatal("Decrypt's CiphertextForRecipient is not the data key")
	}
	r, err := c.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: awsInt32(32), Recipient: rcpt()})
	if err != nil || r.Plaintext != nil || len(r.CiphertextForRecipient) == 0 {
		t.Fatalf("GenerateRandom with Recipient: %v", err)
	}
	kp, err := c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: k.KeyMetadata.KeyId, KeyPairSpec: types.DataKeyPairSpecEccNistP256, Recipient: rcpt()})
	if err != nil || kp.PrivateKeyPlaintext != nil || len(kp.PublicKey) == 0 || len(kp.PrivateKeyCiphertextBlob) == 0 {
		t.Fatalf("GenerateDataKeyPair with Recipient: %v", err)
	}
	ka, _ := c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeKeyAgreement})
	peer, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	peerDER, _ := x509.MarshalPKIXPublicKey(&peer.PublicKey)
	ds, err := c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: ka.KeyMetadata.KeyId, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peerDER, Recipient: rcpt()})
	if err != nil || ds.SharedSecret != nil || len(ds.CiphertextForRecipient) == 0 {
		t.Fatalf("DeriveSharedSecret with Recipient: %v", err)
	}
}

func awsInt32(n int32) *int32 { return &n }

// TestHostileDocuments: every refused document is a 4xx in AWS's shape that
// says what failed, with no secret in the answer, and changes nothing.
func TestHostileDocuments(t *testing.T) {
	e := newAttestedEnv(t)
	c := newClient(t, e.srv, "us-east-1")
	k, _ := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	now := time.Now()
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	der1024, _ := x509.MarshalPKIXPublicKey(&rsa1024.PublicKey)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	derEC, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	deep := append(bytes.Repeat([]byte{0x81}, 10000), 0x00)
	deep[0] = 0x84

	cases := []struct {
		name, want string
		doc        []byte
	}{
		{"tampered signature", "signature", e.doc(t, nitrotest.Document{FlipSignature: true})},
		{"tampered payload", "signature", e.doc(t, nitrotest.Document{TamperPayload: true})},
		{"signed by another key", "signature", e.doc(t, nitrotest.Document{SignWithOtherKey: true})},
		{"untrusted root", "untrusted certificate chain", e.doc(t, nitrotest.Document{ForeignCA: true})},
		{"root taken from cabundle only", "untrusted certificate chain", e.doc(t, nitrotest.Document{ForeignCA: true})},
		{"leaf impostor", "untrusted certificate chain", e.doc(t, nitrotest.Document{LeafImpostor: true})},
		{"expired leaf", "expired", e.doc(t, nitrotest.Document{ExpiredLeaf: true})},
		{"stale timestamp", "expired or stale", e.doc(t, nitrotest.Document{Timestamp: now.Add(-6 * time.Minute)})},
		{"future timestamp", "expired or stale", e.doc(t, nitrotest.Document{Timestamp: now.Add(2 * time.Minute)})},
		{"RSA-1024", "unacceptable enclave key", e.doc(t, nitrotest.Document{PublicKey: der1024})},
		{"EC key", "EC P-256 key, which cannot receive a secret with RSAES_OAEP_SHA_256; use HPKE_P256_SHA256_AES256GCM", e.doc(t, nitrotest.Document{PublicKey: derEC})},
		{"missing key", "unacceptable enclave key", e.doc(t, nitrotest.Document{PublicKey: []byte{}})},
		{"wrong digest", "malformed", e.doc(t, nitrotest.Document{Digest: "SHA256"})},
		{"ES256 header", "malformed", e.doc(t, nitrotest.Document{HeaderAlg: -7})},
		{"duplicate map keys", "malformed", e.doc(t, nitrotest.Document{DuplicateKey: "nonce"})},
		{"unknown field", "malformed", e.doc(t, nitrotest.Document{UnknownField: true})},
		{"garbage", "malformed", []byte("this is not an attestation document")},
		{"nesting 10,000 deep", "malformed", deep},
		{"debug enclave", "debug mode", e.doc(t, nitrotest.Document{PCRs: map[int][]byte{0: make([]byte, 48)}})},
	}
	for _, tc := range cases {
		body := fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256","Recipient":{"AttestationDocument":%q,"KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`,
			*k.KeyMetadata.KeyId, base64.StdEncoding.EncodeToString(tc.doc))
		r := signedDo(t, e.srv, "GenerateDataKey", body)
		if r.status != 400 || r.typ != "ValidationException" || !strings.Contains(r.msg, tc.want) {
			t.Errorf("%s: %d %s %q; want 400 ValidationException saying %q", tc.name, r.status, r.typ, r.msg, tc.want)
		}
		if bytes.Contains(r.body, []byte("Plaintext")) || bytes.Contains(r.body, []byte("Ciphertext")) {
			t.Errorf("%s: the answer carries a secret: %s", tc.name, r.body)
		}
	}

	// Empty, and over 1 MiB.
	r := signedDo(t, e.srv, "GenerateDataKey", fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256","Recipient":{"AttestationDocument":"","KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`, *k.KeyMetadata.KeyId))
	if r.status != 400 || !strings.Contains(r.msg, "AttestationDocument is required") {
		t.Errorf("empty document: %d %s", r.status, r.body)
	}
	big := base64.StdEncoding.EncodeToString(make([]byte, 1<<20))
	r = signedDo(t, e.srv, "GenerateDataKey", fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256","Recipient":{"AttestationDocument":%q,"KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`, *k.KeyMetadata.KeyId, big))
	if r.status != 413 {
		t.Errorf("1 MiB document: %d %s", r.status, r.typ)
	}
	// 12 KiB of zeros fits the body limit but not the document bound.
	r = signedDo(t, e.srv, "GenerateDataKey", fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256","Recipient":{"AttestationDocument":%q,"KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`, *k.KeyMetadata.KeyId, base64.StdEncoding.EncodeToString(append([]byte{0x84}, make([]byte, 20<<10)...))))
	if r.status != 400 || !strings.Contains(r.msg, "malformed") {
		t.Errorf("20 KiB document: %d %s", r.status, r.body)
	}
	// Another algorithm is named as wrong.
	r = signedDo(t, e.srv, "GenerateDataKey", fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256","Recipient":{"AttestationDocument":%q,"KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_1"}}`, *k.KeyMetadata.KeyId, base64.StdEncoding.EncodeToString(e.doc(t, nitrotest.Document{}))))
	if r.status != 400 || !strings.Contains(r.msg, "RSAES_OAEP_SHA_256") {
		t.Errorf("wrong algorithm: %d %s", r.status, r.body)
	}

	// The audit log records the refusals; the key is untouched.
	log, _ := os.ReadFile(filepath.Join(e.srv.DataDir, "audit.log"))
	if n := bytes.Count(log, []byte(`"operation":"GenerateDataKey","key_arn`)); n < len(cases) {
		t.Errorf("%d refused GenerateDataKeys audited; want %d", n, len(cases))
	}
	d, _ := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: k.KeyMetadata.KeyId})
	if d.KeyMetadata.KeyState != types.KeyStateEnabled {
		t.Fatal("hostile documents changed the key")
	}
}
