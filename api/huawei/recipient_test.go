package huawei_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/internal/testserver"
	"github.com/attestkms/attestkms/recipient"
)

// attestedEnv is a server that trusts a test QingTian CA, and an enclave
// whose RSA key that CA's documents carry.
type attestedEnv struct {
	srv  *testserver.Server
	ca   *nitrotest.CA
	priv *rsa.PrivateKey
	der  []byte
	pcrs map[int][]byte
}

func newAttestedEnv(t testing.TB) *attestedEnv {
	t.Helper()
	ca, err := nitrotest.NewTestCA(attest.FormatQingtian, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := nitro.New(nitro.Options{Format: attest.FormatQingtian, Roots: ca.Roots()})
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

func (e *attestedEnv) doc(t testing.TB, d nitrotest.Document) []byte {
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
	if d.ModuleID == "" {
		d.ModuleID = "qingtian-test-enclave"
	}
	b, err := e.ca.Sign(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recipientJSON is the recipient member, as Huawei's API reference documents it.
func (e *attestedEnv) recipientJSON(t testing.TB, d nitrotest.Document) string {
	return fmt.Sprintf(`{"attestation_document":%q,"key_encryption_algorithm":"RSAES_OAEP_SHA_256"}`, base64.StdEncoding.EncodeToString(e.doc(t, d)))
}

func (e *attestedEnv) unwrap(t testing.TB, b64 string) []byte {
	t.Helper()
	ct, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("ciphertext_recipient is not base64: %q", b64)
	}
	pt, err := recipient.UnwrapCMS(e.priv, ct)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

// TestRecipientDeriveSharedSecret: derive-shared-secret with a recipient, as
// seed 000 documents it, through the SDK's own Recipient model: no
// shared_secret, and a ciphertext_recipient that unwraps to the secret a
// derive without recipient gives for the same peer, which is the peer's own
// ECDH.
func TestRecipientDeriveSharedSecret(t *testing.T) {
	e := newAttestedEnv(t)
	c := newClient(t, e.srv)
	for _, cv := range agreementCurves {
		t.Run(cv.spec, func(t *testing.T) {
			id := createAgreementKey(t, c, "r-"+strings.ToLower(cv.spec), cv.spec)
			spki, want := cv.peer(t, publicKey(t, c, id))
			pub := base64.StdEncoding.EncodeToString(spki)
			doc := base64.StdEncoding.EncodeToString(e.doc(t, nitrotest.Document{}))
			alg := "RSAES_OAEP_SHA_256"
			req := deriveReq(id, pub)
			req.Body.Recipient = &model.Recipient{AttestationDocument: &doc, KeyEncryptionAlgorithm: &alg}
			r, err := c.DeriveSharedSecret(req)
			if err != nil {
				t.Fatal(err)
			}
			if r.SharedSecret != nil || r.CiphertextRecipient == nil || *r.KeyId != id {
				t.Fatalf("derive-shared-secret with recipient: %s", r)
			}
			plain, err := c.DeriveSharedSecret(deriveReq(id, pub))
			if err != nil {
				t.Fatal(err)
			}
			direct, _ := base64.StdEncoding.DecodeString(*plain.SharedSecret)
			if got := e.unwrap(t, *r.CiphertextRecipient); !bytes.Equal(got, direct) || !bytes.Equal(got, want) {
				t.Fatal("ciphertext_recipient does not unwrap to the shared secret")
			}
			// key_encryption_algorithm may be left out: it has one value.
			req = deriveReq(id, pub)
			req.Body.Recipient = &model.Recipient{AttestationDocument: &doc}
			r, err = c.DeriveSharedSecret(req)
			if err != nil || !bytes.Equal(e.unwrap(t, *r.CiphertextRecipient), want) {
				t.Fatalf("recipient without key_encryption_algorithm: %v", err)
			}
		})
	}
	log, _ := os.ReadFile(filepath.Join(e.srv.DataDir, "audit.log"))
	if !bytes.Contains(log, []byte(`"format":"qingtian"`)) {
		t.Fatal("the audit log does not record the attestation")
	}
}

// TestRecipientExtension: create-datakey, decrypt-datakey and gen-random
// take a recipient too (an attestkms extension; the SDK's models for them
// have no recipient field, so these requests are made by hand and signed
// with the SDK's signer).
func TestRecipientExtension(t *testing.T) {
	e := newAttestedEnv(t)
	c := newClient(t, e.srv)
	id := createKey(t, c, "data", "", "")

	r := raw{op: "create-datakey", body: fmt.Sprintf(`{"key_id":%q,"datakey_length":"512","recipient":%s}`, id, e.recipientJSON(t, nitrotest.Document{}))}.do(t, e.srv)
	if r.status != 200 || field(t, r.body, "plain_text") != "" || field(t, r.body, "cipher_text") == "" || field(t, r.body, "key_id") != id {
		t.Fatalf("create-datakey with recipient: %d %s", r.status, r.body)
	}
	dk := e.unwrap(t, field(t, r.body, "ciphertext_recipient"))
	if len(dk) != 64 {
		t.Fatalf("wrapped data key has %d bytes", len(dk))
	}
	ct := field(t, r.body, "cipher_text")

	// decrypt-datakey of that ciphertext: in the clear through the SDK, and
	// wrapped with a recipient; both the same key.
	dr, err := c.DecryptDatakey(&model.DecryptDatakeyRequest{Body: &model.DecryptDatakeyRequestBody{KeyId: id, CipherText: ct, DatakeyCipherLength: "64"}})
	if err != nil || *dr.DataKey != hex.EncodeToString(dk) {
		t.Fatalf("decrypt-datakey: %v", err)
	}
	r = raw{op: "decrypt-datakey", body: fmt.Sprintf(`{"key_id":%q,"cipher_text":%q,"datakey_cipher_length":"64","recipient":%s}`, id, ct, e.recipientJSON(t, nitrotest.Document{}))}.do(t, e.srv)
	if r.status != 200 || field(t, r.body, "data_key") != "" || !bytes.Equal(e.unwrap(t, field(t, r.body, "ciphertext_recipient")), dk) {
		t.Fatalf("decrypt-datakey with recipient: %d %s", r.status, r.body)
	}

	r = raw{op: "gen-random", body: fmt.Sprintf(`{"random_data_length":"256","recipient":%s}`, e.recipientJSON(t, nitrotest.Document{}))}.do(t, e.srv)
	if r.status != 200 || field(t, r.body, "random_data") != "" || len(e.unwrap(t, field(t, r.body, "ciphertext_recipient"))) != 32 {
		t.Fatalf("gen-random with recipient: %d %s", r.status, r.body)
	}
}

// TestHostileDocuments: every refused document is a 4xx in Huawei's shape
// that says what failed, carries no secret, and changes nothing.
func TestHostileDocuments(t *testing.T) {
	e := newAttestedEnv(t)
	c := newClient(t, e.srv)
	id := createKey(t, c, "data", "", "")
	agree := createKey(t, c, "agree", "EC_P256", "KEY_AGREEMENT")
	spki, _ := agreementCurves[0].peer(t, publicKey(t, c, agree))
	now := time.Now()
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	der1024, _ := x509.MarshalPKIXPublicKey(&rsa1024.PublicKey)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	derEC, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	nitroCA, err := nitrotest.NewTestCA(attest.FormatNitro, nil) // a Nitro root this server does not trust
	if err != nil {
		t.Fatal(err)
	}
	nitroDoc, err := nitroCA.Sign(nitrotest.Document{Timestamp: now, PCRs: e.pcrs, PublicKey: e.der})
	if err != nil {
		t.Fatal(err)
	}
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
		{"another format's root", "untrusted certificate chain", nitroDoc},
		{"leaf impostor", "untrusted certificate chain", e.doc(t, nitrotest.Document{LeafImpostor: true})},
		{"expired leaf", "expired", e.doc(t, nitrotest.Document{ExpiredLeaf: true})},
		{"stale timestamp", "expired or stale", e.doc(t, nitrotest.Document{Timestamp: now.Add(-6 * time.Minute)})},
		{"RSA-1024", "unacceptable enclave key", e.doc(t, nitrotest.Document{PublicKey: der1024})},
		{"EC key", "EC P-256 key, which cannot receive a secret with RSAES_OAEP_SHA_256; use HPKE_P256_SHA256_AES256GCM", e.doc(t, nitrotest.Document{PublicKey: derEC})},
		{"unknown field", "malformed", e.doc(t, nitrotest.Document{UnknownField: true})},
		{"garbage", "malformed", []byte("this is not an attestation document")},
		{"nesting 10,000 deep", "malformed", deep},
		{"debug enclave", "debug mode", e.doc(t, nitrotest.Document{PCRs: map[int][]byte{0: make([]byte, 48)}})},
	}
	for _, tc := range cases {
		rcpt := fmt.Sprintf(`{"attestation_document":%q,"key_encryption_algorithm":"RSAES_OAEP_SHA_256"}`, base64.StdEncoding.EncodeToString(tc.doc))
		for _, q := range []raw{
			{op: "derive-shared-secret", body: fmt.Sprintf(`{"key_id":%q,"key_agreement_algorithm":"ECDH","public_key":%q,"recipient":%s}`, agree, base64.StdEncoding.EncodeToString(spki), rcpt)},
			{op: "create-datakey", body: fmt.Sprintf(`{"key_id":%q,"recipient":%s}`, id, rcpt)},
			{op: "gen-random", body: fmt.Sprintf(`{"random_data_length":"256","recipient":%s}`, rcpt)},
		} {
			r := q.do(t, e.srv)
			if r.status != 400 || r.code != "KMS.0308" || !strings.Contains(r.msg, tc.want) {
				t.Errorf("%s, %s: %d %s %q; want 400 KMS.0308 saying %q", tc.name, q.op, r.status, r.code, r.msg, tc.want)
			}
			for _, secret := range []string{"shared_secret", "plain_text", "random_data", "ciphertext_recipient", "cipher_text"} {
				if bytes.Contains(r.body, []byte(secret)) {
					t.Errorf("%s, %s: the answer carries %s: %s", tc.name, q.op, secret, r.body)
				}
			}
		}
	}
	// 20 KiB fits the body limit but not the document bound.
	big := base64.StdEncoding.EncodeToString(append([]byte{0x84}, make([]byte, 20<<10)...))
	r := raw{op: "create-datakey", body: fmt.Sprintf(`{"key_id":%q,"recipient":{"attestation_document":%q}}`, id, big)}.do(t, e.srv)
	if r.status != 400 || r.code != "KMS.0308" || !strings.Contains(r.msg, "malformed") {
		t.Errorf("20 KiB document: %d %s", r.status, r.body)
	}

	// The audit log records the refusals with their code; the keys are untouched.
	log, _ := os.ReadFile(filepath.Join(e.srv.DataDir, "audit.log"))
	if n := bytes.Count(log, []byte(`"operation":"DeriveSharedSecret","key_arn`)); n < len(cases) {
		t.Errorf("%d refused derive-shared-secrets audited; want %d", n, len(cases))
	}
	if !bytes.Contains(log, []byte(`"error_code":"KMS.0308","message":"Recipient: the attestation document was refused`)) {
		t.Error("refused documents are not audited with their reason")
	}
	for _, k := range []string{id, agree} {
		if d := describe(t, c, k); *d.KeyState != "2" {
			t.Fatalf("hostile documents changed key %s: %s", k, d)
		}
	}
}
