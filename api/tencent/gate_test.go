package tencent_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
)

// The attestation gate through Tencent's SDK. Tencent's dialect has no key
// policy operations: the key's policy is put through the AWS dialect (one
// store, one account), as an administrator would.

// gateWire is the Tencent client's transport: it keeps the last answer, so
// that a test checks the wire and not only what the SDK made of it.
type gateWire struct {
	base http.RoundTripper
	mu   sync.Mutex
	body []byte
}

func (w *gateWire) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := w.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	w.mu.Lock()
	w.body = b
	w.mu.Unlock()
	return resp, nil
}

func (w *gateWire) last() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body
}

// wantTencentGate checks an answer refused by the attestation gate: the
// SDK's typed UnauthorizedOperation saying why, no Plaintext in what the SDK
// returned, and on the wire {"Response":{"Error":{…},"RequestId":…}} and
// nothing else.
func wantTencentGate(t *testing.T, w *gateWire, resp any, err error) {
	t.Helper()
	se := wantCode(t, err, "UnauthorizedOperation")
	for _, p := range []string{"is attestation-bound", "Recipient"} {
		if !strings.Contains(se.Message, p) {
			t.Errorf("UnauthorizedOperation does not say %q: %s", p, se.Message)
		}
	}
	if v := reflect.ValueOf(resp); v.IsValid() && !v.IsNil() {
		if r := v.Elem().FieldByName("Response"); r.IsValid() && !r.IsNil() {
			for _, f := range []string{"Plaintext", "CiphertextBlob"} {
				if fv := r.Elem().FieldByName(f); fv.IsValid() && !fv.IsNil() {
					t.Errorf("the SDK's response carries %s beside the error", f)
				}
			}
		}
	}
	var m struct{ Response map[string]json.RawMessage }
	if err := json.Unmarshal(w.last(), &m); err != nil || len(m.Response) != 2 || m.Response["Error"] == nil || m.Response["RequestId"] == nil {
		t.Errorf("the answer is %s; want Response with Error and RequestId only", w.last())
	}
}

// TestGateTencentBoundKey: a key whose policy is attestation-bound but
// allows the account kms:* (forced on with BypassPolicyLockoutSafetyCheck)
// gives a caller without a Recipient no data key and no plaintext through
// Tencent's GenerateDataKey and Decrypt — nor to an EncryptionPublicKey of
// the caller's choosing, which proves nothing about who holds its private
// key. Encrypt works; a Recipient gets its secrets wrapped.
func TestGateTencentBoundKey(t *testing.T) {
	e := newAttestedEnv(t)
	w := &gateWire{base: http.DefaultTransport}
	c := newClient(t, e.srv, "ap-guangzhou")
	c.WithHttpTransport(w)
	id := createKey(t, c, "bound")

	acct := e.srv.Account.AccountID
	root := "arn:aws:iam::" + acct + ":root"
	pol := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"everything","Effect":"Allow","Principal":{"AWS":"` + root + `"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"` + root + `"},"Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + hex.EncodeToString(e.pcrs[0]) + `"}}}]}`
	aw := awskms.New(awskms.Options{
		Region: e.srv.Region, Credentials: credentials.NewStaticCredentialsProvider(e.srv.AccessKey, e.srv.Secret, ""),
		BaseEndpoint: aws.String(e.srv.URL), RetryMaxAttempts: 1,
	})
	if _, err := aw.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: aws.String(id), Policy: aws.String(pol)}); err == nil {
		t.Fatal("the open bound policy was not refused")
	}
	if _, err := aw.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: aws.String(id), Policy: aws.String(pol), BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatal(err)
	}

	// Encrypt is not gated.
	secret := []byte("the database password")
	er := tckms.NewEncryptRequest()
	er.KeyId, er.Plaintext = s(id), s(base64.StdEncoding.EncodeToString(secret))
	enc, err := c.Encrypt(er)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	blob := *enc.Response.CiphertextBlob

	// In the clear: refused. (Each request its own body: TC3 signs the
	// second, and two equal bodies in one second would be one signature.)
	g := tckms.NewGenerateDataKeyRequest()
	g.KeyId, g.KeySpec = s(id), s("AES_256")
	gout, err := c.GenerateDataKey(g)
	wantTencentGate(t, w, gout, err)
	d := tckms.NewDecryptRequest()
	d.CiphertextBlob = s(blob)
	dout, err := c.Decrypt(d)
	wantTencentGate(t, w, dout, err)

	// To the caller's own public key: refused.
	attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubPEM := pemPublic(t, &attacker.PublicKey)
	g = tckms.NewGenerateDataKeyRequest()
	g.KeyId, g.NumberOfBytes, g.EncryptionPublicKey, g.EncryptionAlgorithm = s(id), u(32), s(pubPEM), s("RSAES_OAEP_SHA_256")
	gout, err = c.GenerateDataKey(g)
	wantTencentGate(t, w, gout, err)
	d = tckms.NewDecryptRequest()
	d.CiphertextBlob, d.EncryptionPublicKey, d.EncryptionAlgorithm = s(blob), s(pubPEM), s("RSAES_OAEP_SHA_256")
	dout, err = c.Decrypt(d)
	wantTencentGate(t, w, dout, err)

	// The attested enclave: its secrets, wrapped to its key.
	out, err := commonCall(t, e.srv, "GenerateDataKey", map[string]any{"KeyId": id, "KeySpec": "AES_256", "Recipient": e.recipient(t, nitrotest.Document{})})
	if err != nil {
		t.Fatalf("GenerateDataKey with a Recipient: %v", err)
	}
	dk := unwrapOAEP(t, e.priv, out["Plaintext"])
	if len(dk) != 32 {
		t.Fatalf("%d-byte data key", len(dk))
	}
	back, err := commonCall(t, e.srv, "Decrypt", map[string]any{"CiphertextBlob": out["CiphertextBlob"], "Recipient": e.recipient(t, nitrotest.Document{})})
	if err != nil || !bytes.Equal(unwrapOAEP(t, e.priv, back["Plaintext"]), dk) {
		t.Fatalf("Decrypt of the data key with a Recipient: %v", err)
	}
	back, err = commonCall(t, e.srv, "Decrypt", map[string]any{"CiphertextBlob": blob, "Recipient": e.recipient(t, nitrotest.Document{})})
	if err != nil || !bytes.Equal(unwrapOAEP(t, e.priv, back["Plaintext"]), secret) {
		t.Fatalf("Decrypt of the Encrypt blob with a Recipient: %v", err)
	}
	// … and the data key the enclave got is closed to everyone else.
	d = tckms.NewDecryptRequest()
	d.CiphertextBlob = s(out["CiphertextBlob"].(string))
	dout, err = c.Decrypt(d)
	wantTencentGate(t, w, dout, err)
}
