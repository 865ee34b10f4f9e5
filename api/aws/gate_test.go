package aws_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/internal/testserver"
	"github.com/attestkms/attestkms/recipient"
)

// The attestation gate as an outsider meets it through the AWS SDK: a key
// whose policy names a kms:RecipientAttestation condition gives no caller
// without a verified Recipient a plaintext secret of it, whatever its policy
// allows; CreateKey and PutKeyPolicy refuse the policies that would, unless
// bypassed (and the bypass is audited); condition keys the server does not
// evaluate are refused; aws:SecureTransport and aws:SourceIp are what the
// connection says, never what a header claims.

// gateAdminActions are the administrative actions a safe enclave-only policy
// lists instead of NotAction.
const gateAdminActions = `"kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","kms:Encrypt"`

// gateOldPolicy is the README's old enclave-only policy: its "manage"
// statement allows everything but Decrypt and GenerateDataKey, so
// GenerateDataKeyPair, DeriveSharedSecret and ReEncrypt too, without evidence.
func gateOldPolicy(acct, pcr0 string) string {
	return `{"Version":"2012-10-17","Statement":[
	 {"Sid":"manage","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"NotAction":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*"},
	 {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + pcr0 + `"}}}]}`
}

// gateSafePolicy is the README's safe enclave-only policy, with more
// statements appended (each a JSON object).
func gateSafePolicy(acct, pcr0 string, more ...string) string {
	extra := ""
	for _, m := range more {
		extra += ",\n" + m
	}
	return `{"Version":"2012-10-17","Statement":[
	 {"Sid":"manage","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":[` + gateAdminActions + `],"Resource":"*"},
	 {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + pcr0 + `"}}}` + extra + `]}`
}

// gateWire is the SDK client's transport: it adds headers after the SDK
// signed the request (as a man in the middle or a spoofing client would),
// and keeps the last answer's body and request id, so that a test sees what
// went over the wire and not only what the SDK made of it.
type gateWire struct {
	base  http.RoundTripper
	extra http.Header

	mu     sync.Mutex
	body   []byte
	reqID  string
	status int
}

func (w *gateWire) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range w.extra {
		r.Header[k] = v
	}
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
	w.body, w.reqID, w.status = b, resp.Header.Get("X-Amzn-RequestId"), resp.StatusCode
	w.mu.Unlock()
	return resp, nil
}

func (w *gateWire) last() ([]byte, string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body, w.reqID, w.status
}

// gateClient is the SDK's client for srv over wire; tr is the transport
// under it (nil: the default).
func gateClient(t *testing.T, srv *testserver.Server, tr http.RoundTripper, extra http.Header) (*awskms.Client, *gateWire) {
	t.Helper()
	if tr == nil {
		tr = http.DefaultTransport
	}
	w := &gateWire{base: tr, extra: extra}
	return awskms.New(awskms.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.Secret, ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Transport: w},
	}), w
}

// wantRefused checks an answer that must release nothing: the SDK's error
// with the code and every phrase in its message, no output, and on the wire
// AWS's error shape and nothing else (no Plaintext, CiphertextBlob, …).
func wantRefused(t *testing.T, w *gateWire, out any, err error, code string, phrases ...string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("err = %v; want %s", err, code)
	}
	for _, p := range phrases {
		if !strings.Contains(ae.ErrorMessage(), p) {
			t.Errorf("%s does not say %q: %s", code, p, ae.ErrorMessage())
		}
	}
	if v := reflect.ValueOf(out); v.IsValid() && !v.IsNil() {
		t.Errorf("the SDK returned an output beside %s: %+v", code, out)
	}
	body, _, status := w.last()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("the answer is not JSON: %q", body)
	}
	if status != http.StatusBadRequest || m["__type"] != code || len(m) != 2 || m["message"] == nil {
		t.Errorf("the answer is %d %s; want 400 with __type %s and message only", status, body, code)
	}
}

// wantGate checks a refusal by the attestation gate.
func wantGate(t *testing.T, w *gateWire, out any, err error, action string) {
	t.Helper()
	wantRefused(t, w, out, err, "AccessDeniedException", "is attestation-bound", "Recipient", action)
}

// gateAuditLine returns the audit log's line for request id.
func gateAuditLine(t *testing.T, srv *testserver.Server, id string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(srv.DataDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("audit line is not JSON: %q", line)
		}
		if m["request_id"] == id {
			return m
		}
	}
	t.Fatalf("no audit line for request %s", id)
	return nil
}

// bypassed reads an audit line's bypassed_checks.
func bypassed(line map[string]any) []string {
	var out []string
	l, _ := line["bypassed_checks"].([]any)
	for _, c := range l {
		s, _ := c.(string)
		out = append(out, s)
	}
	return out
}

func (e *attestedEnv) pcr0() string { return hex.EncodeToString(e.pcrs[0]) }

func (e *attestedEnv) recipientInfo(t *testing.T, d nitrotest.Document) *types.RecipientInfo {
	return &types.RecipientInfo{AttestationDocument: e.doc(t, d), KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256}
}

func (e *attestedEnv) unwrap(t *testing.T, cfr []byte) []byte {
	t.Helper()
	pt, err := recipient.UnwrapCMS(e.priv, cfr)
	if err != nil {
		t.Fatalf("CiphertextForRecipient does not unwrap with the enclave's key: %v", err)
	}
	return pt
}

// TestGateOldREADMEPolicyRefused: the README's old enclave-only policy lets
// any principal of the account take a data key pair, derive a shared secret
// or re-encrypt to a key of its own without evidence. CreateKey and
// PutKeyPolicy refuse it, naming the statement and NotAction, and change
// nothing.
func TestGateOldREADMEPolicyRefused(t *testing.T) {
	e := newAttestedEnv(t)
	c, w := gateClient(t, e.srv, nil, nil)
	acct := e.srv.Account.AccountID
	old := gateOldPolicy(acct, e.pcr0())

	keys := keyCount(t, e.srv)
	out, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(old)})
	wantRefused(t, w, out, err, "MalformedPolicyDocumentException", `statement 0 (Sid "manage")`, "NotAction", "without a verified Recipient")
	if n := keyCount(t, e.srv); n != keys {
		t.Fatalf("a refused CreateKey made a key: %d keys, was %d", n, keys)
	}

	safe := gateSafePolicy(acct, e.pcr0())
	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(safe)})
	if err != nil {
		t.Fatalf("the safe enclave-only policy: %v", err)
	}
	def, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []*string{k.KeyMetadata.KeyId, def.KeyMetadata.KeyId} {
		before, err := c.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: id})
		if err != nil {
			t.Fatal(err)
		}
		pout, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(old)})
		wantRefused(t, w, pout, err, "MalformedPolicyDocumentException", `statement 0 (Sid "manage")`, "NotAction")
		after, err := c.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: id})
		if err != nil || *after.Policy != *before.Policy {
			t.Fatalf("a refused PutKeyPolicy changed the policy: %v", err)
		}
	}
	// The key under the safe policy still works for what it allows.
	if _, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
}

// TestGateBypassedPolicyReleasesNothing: an administrator forces the old
// policy on with BypassPolicyLockoutSafetyCheck. The audit line says which
// check was bypassed, and the gate still holds: without a Recipient no
// Decrypt, no data key, no data key pair, no ReEncrypt to a key the attacker
// controls — while Encrypt and the WithoutPlaintext operations work, and the
// attested enclave gets its secrets wrapped to it.
func TestGateBypassedPolicyReleasesNothing(t *testing.T) {
	e := newAttestedEnv(t)
	c, w := gateClient(t, e.srv, nil, nil)
	acct := e.srv.Account.AccountID
	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(gateSafePolicy(acct, e.pcr0()))})
	if err != nil {
		t.Fatal(err)
	}
	id := k.KeyMetadata.KeyId
	mine, err := c.CreateKey(ctx, &awskms.CreateKeyInput{}) // the attacker's, default policy
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("the database password")
	enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: id, Plaintext: secret})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(gateOldPolicy(acct, e.pcr0())), BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatalf("bypassed PutKeyPolicy: %v", err)
	}
	_, reqID, _ := w.last()
	line := gateAuditLine(t, e.srv, reqID)
	if line["operation"] != "PutKeyPolicy" || line["outcome"] != "ok" || !slices.Equal(bypassed(line), []string{"attestation-safety"}) {
		t.Fatalf("the bypass's audit line: %v; want bypassed_checks [attestation-safety]", line)
	}

	dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantGate(t, w, dec, err, "kms:Decrypt")
	gdk, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: id, KeySpec: types.DataKeySpecAes256})
	wantGate(t, w, gdk, err, "kms:GenerateDataKey")
	for _, spec := range []types.DataKeyPairSpec{types.DataKeyPairSpecEccNistP256, types.DataKeyPairSpecRsa2048} {
		kp, err := c.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: id, KeyPairSpec: spec})
		wantGate(t, w, kp, err, "kms:GenerateDataKeyPair")
	}
	re, err := c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: mine.KeyMetadata.KeyId})
	wantGate(t, w, re, err, "kms:ReEncryptFrom")
	_, reqID, _ = w.last()
	if line := gateAuditLine(t, e.srv, reqID); line["outcome"] != "error" || line["error_code"] != "AccessDeniedException" {
		t.Fatalf("the refused ReEncrypt's audit line: %v", line)
	}

	// Not gated: nothing of the key comes out in plaintext.
	if _, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: id, Plaintext: []byte("more")}); err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	wp, err := c.GenerateDataKeyWithoutPlaintext(ctx, &awskms.GenerateDataKeyWithoutPlaintextInput{KeyId: id, KeySpec: types.DataKeySpecAes256})
	if err != nil || len(wp.CiphertextBlob) == 0 {
		t.Fatalf("GenerateDataKeyWithoutPlaintext: %v", err)
	}
	if body, _, _ := w.last(); bytes.Contains(body, []byte("Plaintext")) {
		t.Fatalf("GenerateDataKeyWithoutPlaintext answered %s", body)
	}
	pp, err := c.GenerateDataKeyPairWithoutPlaintext(ctx, &awskms.GenerateDataKeyPairWithoutPlaintextInput{KeyId: id, KeyPairSpec: types.DataKeyPairSpecEccNistP256})
	if err != nil || len(pp.PrivateKeyCiphertextBlob) == 0 {
		t.Fatalf("GenerateDataKeyPairWithoutPlaintext: %v", err)
	}
	// … and those blobs open for nobody without evidence either.
	dec, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: wp.CiphertextBlob})
	wantGate(t, w, dec, err, "kms:Decrypt")
	dec, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: pp.PrivateKeyCiphertextBlob})
	wantGate(t, w, dec, err, "kms:Decrypt")

	// Another enclave's image: the policy refuses it (no gate needed).
	dec, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob,
		Recipient: e.recipientInfo(t, nitrotest.Document{PCRs: map[int][]byte{0: bytes.Repeat([]byte{0x43}, 48)}})})
	wantRefused(t, w, dec, err, "AccessDeniedException", "kms:Decrypt")

	// The attested enclave: its secrets, wrapped to it, never in plaintext.
	g, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: id, KeySpec: types.DataKeySpecAes256, Recipient: e.recipientInfo(t, nitrotest.Document{})})
	if err != nil || g.Plaintext != nil || len(g.CiphertextBlob) == 0 {
		t.Fatalf("GenerateDataKey with a Recipient: %v", err)
	}
	dk := e.unwrap(t, g.CiphertextForRecipient)
	d, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: g.CiphertextBlob, Recipient: e.recipientInfo(t, nitrotest.Document{})})
	if err != nil || d.Plaintext != nil || !bytes.Equal(e.unwrap(t, d.CiphertextForRecipient), dk) {
		t.Fatalf("Decrypt of the data key with a Recipient: %v", err)
	}
	d, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, Recipient: e.recipientInfo(t, nitrotest.Document{})})
	if err != nil || d.Plaintext != nil || !bytes.Equal(e.unwrap(t, d.CiphertextForRecipient), secret) {
		t.Fatalf("Decrypt of the Encrypt blob with a Recipient: %v", err)
	}
}

// TestGateReEncryptFrom: ReEncrypt takes no Recipient, so from a bound key
// it would move a secret under a key the caller opens freely. A policy that
// allows kms:ReEncryptFrom without a measurement is refused; under the safe
// policy, and under one that "allows" ReEncrypt for an attested enclave, the
// ReEncrypt is denied and nothing lands under the attacker's key.
func TestGateReEncryptFrom(t *testing.T) {
	e := newAttestedEnv(t)
	c, w := gateClient(t, e.srv, nil, nil)
	acct := e.srv.Account.AccountID
	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(gateSafePolicy(acct, e.pcr0()))})
	if err != nil {
		t.Fatal(err)
	}
	id := k.KeyMetadata.KeyId
	mine, _ := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: id, Plaintext: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}

	reencrypt := `{"Sid":"rotate","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:ReEncrypt*","Resource":"*"}`
	bad := gateSafePolicy(acct, e.pcr0(), reencrypt)
	pout, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(bad)})
	wantRefused(t, w, pout, err, "MalformedPolicyDocumentException", `statement 2 (Sid "rotate")`, "kms:ReEncryptFrom", `"kms:ReEncrypt*"`)
	cout, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(bad)})
	wantRefused(t, w, cout, err, "MalformedPolicyDocumentException", "kms:ReEncryptFrom")

	re, err := c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: mine.KeyMetadata.KeyId})
	wantGate(t, w, re, err, "kms:ReEncryptFrom")

	// ReEncryptFrom conditioned on a measurement passes the safety check;
	// no ReEncrypt can carry a Recipient, so it is still never allowed.
	attested := `{"Sid":"rotate","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:ReEncrypt*","Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + e.pcr0() + `"}}}`
	if _, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(gateSafePolicy(acct, e.pcr0(), attested))}); err != nil {
		t.Fatalf("ReEncrypt for an attested enclave: %v", err)
	}
	re, err = c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: mine.KeyMetadata.KeyId})
	wantGate(t, w, re, err, "kms:ReEncryptFrom")
	re, err = c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: id})
	wantGate(t, w, re, err, "kms:ReEncryptFrom")
}

// TestGateDeriveSharedSecret: a KEY_AGREEMENT key under the old policy (its
// NotAction allows DeriveSharedSecret to anyone), forced on at creation: no
// shared secret without a Recipient; the attested enclave gets the peer's
// ECDH secret, wrapped.
func TestGateDeriveSharedSecret(t *testing.T) {
	e := newAttestedEnv(t)
	c, w := gateClient(t, e.srv, nil, nil)
	acct := e.srv.Account.AccountID
	spec := &awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeKeyAgreement, Policy: aws.String(gateOldPolicy(acct, e.pcr0()))}
	out, err := c.CreateKey(ctx, spec)
	wantRefused(t, w, out, err, "MalformedPolicyDocumentException", `statement 0 (Sid "manage")`, "kms:DeriveSharedSecret", "NotAction")
	spec.BypassPolicyLockoutSafetyCheck = true
	k, err := c.CreateKey(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	_, reqID, _ := w.last()
	if l := gateAuditLine(t, e.srv, reqID); !slices.Equal(bypassed(l), []string{"attestation-safety"}) {
		t.Fatalf("CreateKey's bypass is not audited: %v", l)
	}
	id := k.KeyMetadata.KeyId
	pub, err := c.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: id})
	if err != nil {
		t.Fatalf("GetPublicKey is not gated: %v", err)
	}
	peer, want := peerECDH(t, ecdh.P256(), pub.PublicKey)

	ds, err := c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: id, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peer})
	wantGate(t, w, ds, err, "kms:DeriveSharedSecret")

	ds, err = c.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: id, KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: peer,
		Recipient: e.recipientInfo(t, nitrotest.Document{})})
	if err != nil || ds.SharedSecret != nil {
		t.Fatalf("DeriveSharedSecret with a Recipient: %v", err)
	}
	if got := e.unwrap(t, ds.CiphertextForRecipient); !bytes.Equal(got, want) {
		t.Fatal("the wrapped shared secret is not the peer's ECDH")
	}
}

// transportPolicy is the default policy and one Deny of kms:Decrypt.
func transportPolicy(acct, denyCondition string) string {
	return `{"Version":"2012-10-17","Statement":[
	 {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"guard","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":` + denyCondition + `}]}`
}

// spoofed are the headers a client sends to pass for another address or for
// TLS behind a proxy; attestkms trusts no proxy header.
var spoofed = http.Header{
	"X-Forwarded-For":   {"10.1.2.3"},
	"X-Real-Ip":         {"10.1.2.3"},
	"X-Forwarded-Proto": {"https"},
	"X-Forwarded-Ssl":   {"on"},
	"Forwarded":         {"for=10.1.2.3;proto=https"},
}

// TestGateSecureTransport: "Deny Decrypt unless aws:SecureTransport" holds
// over plain HTTP, even with headers that claim TLS, and lets the same
// request through over TLS.
func TestGateSecureTransport(t *testing.T) {
	pol := transportPolicy // (acct, condition)
	cond := `{"Bool":{"aws:SecureTransport":"false"}}`

	plain := testserver.Start(t, testserver.Options{})
	for _, extra := range []http.Header{nil, spoofed} {
		c, w := gateClient(t, plain, nil, extra)
		k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pol(plain.Account.AccountID, cond))})
		if err != nil {
			t.Fatal(err)
		}
		enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("secret")})
		if err != nil {
			t.Fatal(err)
		}
		dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
		wantRefused(t, w, dec, err, "AccessDeniedException", "explicit deny")
	}

	secure := testserver.Start(t, testserver.Options{TLS: true})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(secure.CAPEM) {
		t.Fatal("bad CAPEM")
	}
	c, _ := gateClient(t, secure, &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, nil)
	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pol(secure.Account.AccountID, cond))})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "secret" {
		t.Fatalf("Decrypt over TLS: %v", err)
	}
}

// TestGateSourceIP: aws:SourceIp is the direct peer (loopback here), never a
// forwarded-for header.
func TestGateSourceIP(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	acct := srv.Account.AccountID
	cases := []struct {
		name, cond string
		denied     bool
	}{
		{"deny outside 10/8", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, true},
		{"deny loopback", `{"IpAddress":{"aws:SourceIp":["127.0.0.0/8","::1/128"]}}`, true},
		{"deny 10/8", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, false},
	}
	for _, tc := range cases {
		for _, extra := range []http.Header{nil, spoofed} {
			c, w := gateClient(t, srv, nil, extra)
			k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(transportPolicy(acct, tc.cond))})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("secret")})
			if err != nil {
				t.Fatal(err)
			}
			dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
			if tc.denied {
				wantRefused(t, w, dec, err, "AccessDeniedException", "explicit deny")
			} else if err != nil || string(dec.Plaintext) != "secret" {
				t.Errorf("%s (spoofed headers %v): %v", tc.name, extra != nil, err)
			}
			_, reqID, _ := w.last()
			if ip := gateAuditLine(t, srv, reqID)["source_ip"]; ip != "127.0.0.1" {
				t.Errorf("%s: the audit line's source_ip is %v; want the peer 127.0.0.1", tc.name, ip)
			}
		}
	}
}

// TestGateUnknownConditionKeys: a condition on a key the server never puts
// in a request would decide silently — a misspelt measurement would never be
// required, a Deny on aws:SourceVpc never apply. Such policies are refused,
// naming the key, and change nothing.
func TestGateUnknownConditionKeys(t *testing.T) {
	e := newAttestedEnv(t)
	c, w := gateClient(t, e.srv, nil, nil)
	acct := e.srv.Account.AccountID
	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(gateSafePolicy(acct, e.pcr0()))})
	if err != nil {
		t.Fatal(err)
	}
	id := k.KeyMetadata.KeyId
	before, _ := c.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: id})
	safe := gateSafePolicy(acct, e.pcr0())
	cases := []struct{ key, policy string }{
		{"kms:RecipientAttestaton:ImageSha384", strings.Replace(safe, "kms:RecipientAttestation:ImageSha384", "kms:RecipientAttestaton:ImageSha384", 1)},
		{"kms:RecipientAttestation:ImageSha256", strings.Replace(safe, "kms:RecipientAttestation:ImageSha384", "kms:RecipientAttestation:ImageSha256", 1)},
		{"kms:RecipientAttestation:PCR32", strings.Replace(safe, "kms:RecipientAttestation:ImageSha384", "kms:RecipientAttestation:PCR32", 1)},
		{"kms:RecipientAttestation/ImageSha384", strings.Replace(safe, "kms:RecipientAttestation:ImageSha384", "kms:RecipientAttestation/ImageSha384", 1)},
		{"aws:SourceVpc", gateSafePolicy(acct, e.pcr0(),
			`{"Sid":"vpc","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"aws:SourceVpc":"vpc-1a2b3c4d"}}}`)},
		{"aws:SourceVpce", transportPolicy(acct, `{"StringNotEquals":{"aws:SourceVpce":"vpce-1a2b3c4d"}}`)},
		{"kms:ViaService", transportPolicy(acct, `{"StringNotEquals":{"kms:ViaService":"ec2.us-east-1.amazonaws.com"}}`)},
	}
	for _, tc := range cases {
		out, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(tc.policy)})
		wantRefused(t, w, out, err, "MalformedPolicyDocumentException", tc.key)
		cout, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(tc.policy)})
		wantRefused(t, w, cout, err, "MalformedPolicyDocumentException", tc.key)
		// BypassPolicyLockoutSafetyCheck skips safety checks, not parsing.
		out, err = c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(tc.policy), BypassPolicyLockoutSafetyCheck: true})
		wantRefused(t, w, out, err, "MalformedPolicyDocumentException", tc.key)
	}
	after, _ := c.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: id})
	if *after.Policy != *before.Policy {
		t.Fatal("a refused policy was stored")
	}
}

// TestGateWeakAttestationConditions: an Allow of Decrypt whose only
// measurement conditions hold when the request carries no evidence
// (…IfExists, ForAllValues:, a negated operator, Null: true) is an Allow
// without evidence. It is refused, naming the statement and the operator;
// forced on, the gate still refuses Decrypt and GenerateDataKey without a
// Recipient.
func TestGateWeakAttestationConditions(t *testing.T) {
	e := newAttestedEnv(t)
	c, w := gateClient(t, e.srv, nil, nil)
	acct := e.srv.Account.AccountID
	other := strings.Repeat("00", 48)
	cases := []struct{ operator, condition string }{
		{"StringEqualsIfExists", `{"StringEqualsIfExists":{"kms:RecipientAttestation:ImageSha384":"` + e.pcr0() + `"}}`},
		{"ForAllValues:StringEquals", `{"ForAllValues:StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + e.pcr0() + `"}}`},
		{"StringNotEquals", `{"StringNotEquals":{"kms:RecipientAttestation:ImageSha384":"` + other + `"}}`},
		{"Null", `{"Null":{"kms:RecipientAttestation:ImageSha384":"true"}}`},
		{"StringLikeIfExists", `{"StringLikeIfExists":{"kms:RecipientAttestation:PCR8":"*"}}`},
	}
	for _, tc := range cases {
		weak := `{"Sid":"weak","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*","Condition":` + tc.condition + `}`
		pol := gateSafePolicy(acct, e.pcr0(), weak)
		k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(gateSafePolicy(acct, e.pcr0()))})
		if err != nil {
			t.Fatal(err)
		}
		id := k.KeyMetadata.KeyId
		enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: id, Plaintext: []byte("secret")})
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(pol)})
		wantRefused(t, w, out, err, "MalformedPolicyDocumentException", `statement 2 (Sid "weak")`, tc.operator, "kms:Decrypt")

		if _, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(pol), BypassPolicyLockoutSafetyCheck: true}); err != nil {
			t.Fatalf("%s, bypassed: %v", tc.operator, err)
		}
		_, reqID, _ := w.last()
		if l := gateAuditLine(t, e.srv, reqID); !slices.Equal(bypassed(l), []string{"attestation-safety"}) {
			t.Errorf("%s: the bypass's audit line: %v", tc.operator, l)
		}
		dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
		wantGate(t, w, dec, err, "kms:Decrypt")
		gdk, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: id, KeySpec: types.DataKeySpecAes256})
		wantGate(t, w, gdk, err, "kms:GenerateDataKey")
	}

	// A policy that fails both checks — it locks the caller out of the
	// policy and lets it Decrypt without evidence — forced on: both are
	// audited, and the gate holds.
	both := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"use","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"},
	 {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:GenerateDataKey","Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + e.pcr0() + `"}}}]}`
	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := k.KeyMetadata.KeyId
	enc, _ := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: id, Plaintext: []byte("secret")})
	out, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(both)})
	wantRefused(t, w, out, err, "MalformedPolicyDocumentException")
	if _, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(both), BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatal(err)
	}
	_, reqID, _ := w.last()
	if l := gateAuditLine(t, e.srv, reqID); !slices.Equal(bypassed(l), []string{"lockout", "attestation-safety"}) {
		t.Errorf("the double bypass's audit line: %v", l)
	}
	dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantGate(t, w, dec, err, "kms:Decrypt")
}

// TestGateSafetyCheckAnyRegion: an Allow of Decrypt that names the key's ARN
// in another region (inert on this server, but live once the store moves
// there with --rename-region) or excludes only this one with NotResource is
// refused whichever ARN it names: the safety check judges the key under any
// ARN. Forced on, the request through the other region is refused before
// any policy (the server has one region), and the gate holds in this one.
func TestGateSafetyCheckAnyRegion(t *testing.T) {
	e := newAttestedEnv(t)
	c, w := gateClient(t, e.srv, nil, nil) // the server's region, us-east-1
	eu := awskms.New(c.Options(), func(o *awskms.Options) { o.Region = "eu-west-1" })
	acct := e.srv.Account.AccountID
	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(gateSafePolicy(acct, e.pcr0()))})
	if err != nil {
		t.Fatal(err)
	}
	id := *k.KeyMetadata.KeyId
	enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: &id, Plaintext: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	for _, resource := range []string{
		`"Resource":"arn:aws:kms:eu-west-1:` + acct + `:key/` + id + `"`,
		`"NotResource":"arn:aws:kms:us-east-1:` + acct + `:key/` + id + `"`,
	} {
		elsewhere := `{"Sid":"elsewhere","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:Decrypt",` + resource + `}`
		pol := gateSafePolicy(acct, e.pcr0(), elsewhere)
		out, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: &id, Policy: aws.String(pol)})
		wantRefused(t, w, out, err, "MalformedPolicyDocumentException", `statement 2 (Sid "elsewhere")`, "kms:Decrypt")
		if _, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: &id, Policy: aws.String(pol), BypassPolicyLockoutSafetyCheck: true}); err != nil {
			t.Fatal(err)
		}
		dec, err := eu.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
		if dec != nil || err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
			t.Fatalf("Decrypt signed for eu-west-1: %v %v", dec, err)
		}
		dec, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
		wantGate(t, w, dec, err, "kms:Decrypt")
	}
}
