package tencent_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/internal/testserver"
	"github.com/attestkms/attestkms/kms"
)

// The Recipient extension, driven with the SDK's common-request client (the
// typed requests have no Recipient member): documents from a Nitro test CA,
// an enclave RSA key, and Plaintext that only that key opens.

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

func (e *attestedEnv) recipient(t *testing.T, d nitrotest.Document) map[string]any {
	return map[string]any{
		"AttestationDocument":    base64.StdEncoding.EncodeToString(e.doc(t, d)),
		"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
	}
}

// commonCall sends action with params through the SDK's common client and
// returns the Response object, or the SDK's error.
func commonCall(t *testing.T, srv *testserver.Server, action string, params map[string]any) (map[string]any, error) {
	t.Helper()
	client := common.NewCommonClient(common.NewCredential(srv.AccessKey, srv.Secret), "ap-guangzhou", clientProfile(srv))
	req := tchttp.NewCommonRequest("kms", "2019-01-18", action)
	if err := req.SetActionParameters(params); err != nil {
		t.Fatal(err)
	}
	resp := tchttp.NewCommonResponse()
	if err := client.Send(req, resp); err != nil {
		return nil, err
	}
	var out struct{ Response map[string]any }
	if err := json.Unmarshal(resp.GetBody(), &out); err != nil {
		t.Fatal(err)
	}
	return out.Response, nil
}

func unwrapOAEP(t *testing.T, priv *rsa.PrivateKey, b64 any) []byte {
	t.Helper()
	ct, err := base64.StdEncoding.DecodeString(b64.(string))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := rsa.DecryptOAEP(sha256.New(), nil, priv, ct, nil)
	if err != nil {
		t.Fatalf("Plaintext does not unwrap with the enclave key: %v", err)
	}
	return pt
}

func TestRecipientThroughCommonRequest(t *testing.T) {
	e := newAttestedEnv(t)
	c := newClient(t, e.srv, "ap-guangzhou")
	id := createKey(t, c, "enclave")

	out, err := commonCall(t, e.srv, "GenerateDataKey", map[string]any{
		"KeyId": id, "KeySpec": "AES_256", "EncryptionContext": `{"app":"enclave"}`,
		"Recipient": e.recipient(t, nitrotest.Document{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	dk := unwrapOAEP(t, e.priv, out["Plaintext"])
	if len(dk) != 32 || out["KeyId"] != id || out["CiphertextBlob"] == "" || out["RequestId"] == "" {
		t.Fatalf("GenerateDataKey with Recipient: %v", out)
	}
	// Decrypt of the CiphertextBlob (no attestation condition on this key)
	// gives the same data key.
	d := tckms.NewDecryptRequest()
	d.CiphertextBlob, d.EncryptionContext = s(out["CiphertextBlob"].(string)), s(`{"app":"enclave"}`)
	back, err := c.Decrypt(d)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := base64.StdEncoding.DecodeString(*back.Response.Plaintext); !bytes.Equal(got, dk) {
		t.Fatal("the enclave's data key is not the one Decrypt gives")
	}
	// Decrypt with a Recipient wraps the plaintext to the enclave too.
	dout, err := commonCall(t, e.srv, "Decrypt", map[string]any{
		"CiphertextBlob": out["CiphertextBlob"], "EncryptionContext": `{"app":"enclave"}`,
		"Recipient": e.recipient(t, nitrotest.Document{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := unwrapOAEP(t, e.priv, dout["Plaintext"]); !bytes.Equal(got, dk) || dout["KeyId"] != id {
		t.Fatal("Decrypt with Recipient: another secret")
	}
	// Raw RSA-OAEP holds one block: 190 bytes under RSA-2048.
	_, err = commonCall(t, e.srv, "GenerateDataKey", map[string]any{"KeyId": id, "NumberOfBytes": 191, "Recipient": e.recipient(t, nitrotest.Document{})})
	wantCode(t, err, "InvalidParameterValue")
	big, err := commonCall(t, e.srv, "GenerateDataKey", map[string]any{"KeyId": id, "NumberOfBytes": 190, "Recipient": e.recipient(t, nitrotest.Document{})})
	if err != nil || len(unwrapOAEP(t, e.priv, big["Plaintext"])) != 190 {
		t.Fatalf("190-byte data key: %v", err)
	}
	// GenerateRandom takes a Recipient too (TestGenerateRandomRecipient):
	// the bytes in one raw RSA-OAEP ciphertext, at most one block.
	rnd, err := commonCall(t, e.srv, "GenerateRandom", map[string]any{"NumberOfBytes": 32, "Recipient": e.recipient(t, nitrotest.Document{})})
	if err != nil || len(unwrapOAEP(t, e.priv, rnd["Plaintext"])) != 32 {
		t.Fatalf("GenerateRandom with Recipient: %v", err)
	}
	_, err = commonCall(t, e.srv, "GenerateRandom", map[string]any{"NumberOfBytes": 191, "Recipient": e.recipient(t, nitrotest.Document{})})
	wantCode(t, err, "InvalidParameterValue")
}

// TestAttestationPolicy: a key whose policy conditions GenerateDataKey and
// Decrypt on the enclave image releases them only to a Recipient with that
// image: not in the clear, not to a bare EncryptionPublicKey.
func TestAttestationPolicy(t *testing.T) {
	e := newAttestedEnv(t)
	c := newClient(t, e.srv, "ap-guangzhou")
	id := createKey(t, c, "attested")
	_, principal, _ := e.srv.Service.Credentials().Lookup(e.srv.AccessKey)
	acct := e.srv.Account.AccountID
	pol := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},
	   "Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","kms:Encrypt"],"Resource":"*"},
	  {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},
	   "Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
	   "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + hex.EncodeToString(e.pcrs[0]) + `"}}}]}`
	if _, err := e.srv.Service.PutKeyPolicy(ctx, &kms.Call{RequestID: "t", Principal: principal}, &kms.PutKeyPolicyRequest{KeyID: id, Policy: pol}); err != nil {
		t.Fatal(err)
	}

	out, err := commonCall(t, e.srv, "GenerateDataKey", map[string]any{"KeyId": id, "KeySpec": "AES_256", "Recipient": e.recipient(t, nitrotest.Document{})})
	if err != nil {
		t.Fatal(err)
	}
	dk := unwrapOAEP(t, e.priv, out["Plaintext"])

	// In the clear: refused.
	g := tckms.NewGenerateDataKeyRequest()
	g.KeyId, g.KeySpec = s(id), s("AES_256")
	_, err = c.GenerateDataKey(g)
	wantCode(t, err, "UnauthorizedOperation")
	d := tckms.NewDecryptRequest()
	d.CiphertextBlob = s(out["CiphertextBlob"].(string))
	_, err = c.Decrypt(d)
	wantCode(t, err, "UnauthorizedOperation")

	// To a bare public key, even the enclave's own: refused, it proves
	// nothing about who holds the private key.
	pubPEM := pemPublic(t, &e.priv.PublicKey)
	g.EncryptionPublicKey, g.EncryptionAlgorithm = s(pubPEM), s("RSAES_OAEP_SHA_256")
	_, err = c.GenerateDataKey(g)
	if se := wantCode(t, err, "UnauthorizedOperation"); !strings.Contains(se.Message, "attest") {
		t.Fatalf("refusal does not say why: %s", se.Message)
	}
	d.EncryptionPublicKey, d.EncryptionAlgorithm = s(pubPEM), s("RSAES_OAEP_SHA_256")
	_, err = c.Decrypt(d)
	wantCode(t, err, "UnauthorizedOperation")

	// Another enclave image: refused.
	other := map[int][]byte{0: bytes.Repeat([]byte{0x43}, 48)}
	_, err = commonCall(t, e.srv, "Decrypt", map[string]any{"CiphertextBlob": out["CiphertextBlob"], "Recipient": e.recipient(t, nitrotest.Document{PCRs: other})})
	wantCode(t, err, "UnauthorizedOperation")

	// The right one: the same data key.
	dout, err := commonCall(t, e.srv, "Decrypt", map[string]any{"CiphertextBlob": out["CiphertextBlob"], "Recipient": e.recipient(t, nitrotest.Document{})})
	if err != nil || !bytes.Equal(unwrapOAEP(t, e.priv, dout["Plaintext"]), dk) {
		t.Fatalf("Decrypt by the attested enclave: %v", err)
	}
}

// TestHostileDocuments: every refused document is InvalidParameterValue in
// Tencent's shape, says what failed, carries no secret, and changes nothing.
func TestHostileDocuments(t *testing.T) {
	e := newAttestedEnv(t)
	c := newClient(t, e.srv, "ap-guangzhou")
	id := createKey(t, c, "hostile")
	now := time.Now()
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	der1024, _ := x509.MarshalPKIXPublicKey(&rsa1024.PublicKey)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	derEC, _ := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)

	enc := tckms.NewEncryptRequest()
	enc.KeyId, enc.Plaintext = s(id), s("c2VjcmV0")
	eo, err := c.Encrypt(enc)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, want string
		doc        []byte
	}{
		{"tampered signature", "signature", e.doc(t, nitrotest.Document{FlipSignature: true})},
		{"tampered payload", "signature", e.doc(t, nitrotest.Document{TamperPayload: true})},
		{"untrusted root", "untrusted certificate chain", e.doc(t, nitrotest.Document{ForeignCA: true})},
		{"expired leaf", "expired", e.doc(t, nitrotest.Document{ExpiredLeaf: true})},
		{"stale timestamp", "expired or stale", e.doc(t, nitrotest.Document{Timestamp: now.Add(-6 * time.Minute)})},
		{"RSA-1024 enclave key", "unacceptable enclave key", e.doc(t, nitrotest.Document{PublicKey: der1024})},
		{"EC enclave key", "EC P-256 key, which cannot receive a secret with RSAES_OAEP_SHA_256; use HPKE_P256_SHA256_AES256GCM", e.doc(t, nitrotest.Document{PublicKey: derEC})},
		{"unknown field", "malformed", e.doc(t, nitrotest.Document{UnknownField: true})},
		{"garbage", "malformed", []byte("this is not an attestation document")},
		{"debug enclave", "debug mode", e.doc(t, nitrotest.Document{PCRs: map[int][]byte{0: make([]byte, 48)}})},
	}
	for _, tc := range cases {
		for _, action := range []string{"GenerateDataKey", "Decrypt"} {
			params := map[string]any{"KeyId": id, "KeySpec": "AES_256"}
			if action == "Decrypt" {
				params = map[string]any{"CiphertextBlob": *eo.Response.CiphertextBlob}
			}
			params["Recipient"] = map[string]any{"AttestationDocument": base64.StdEncoding.EncodeToString(tc.doc), "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}
			out, err := commonCall(t, e.srv, action, params)
			if out != nil {
				t.Fatalf("%s %s: an answer %v", tc.name, action, out)
			}
			se := wantCode(t, err, "InvalidParameterValue")
			if !strings.Contains(se.Message, tc.want) || !strings.HasPrefix(se.Message, "Recipient") {
				t.Errorf("%s %s: %q; want it to say %q", tc.name, action, se.Message, tc.want)
			}
		}
	}
	// Another algorithm is named as wrong.
	_, err = commonCall(t, e.srv, "GenerateDataKey", map[string]any{"KeyId": id, "KeySpec": "AES_256",
		"Recipient": map[string]any{"AttestationDocument": base64.StdEncoding.EncodeToString(e.doc(t, nitrotest.Document{})), "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_1"}})
	if se := wantCode(t, err, "InvalidParameterValue"); !strings.Contains(se.Message, "RSAES_OAEP_SHA_256") {
		t.Errorf("wrong algorithm: %s", se.Message)
	}
	if st := *describe(t, c, id).KeyState; st != "Enabled" {
		t.Fatal("hostile documents changed the key")
	}
}
