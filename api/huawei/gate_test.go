package huawei_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	hwkms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/internal/testserver"
	"github.com/attestkms/attestkms/recipient"
)

// The attestation gate through Huawei's SDK. Huawei's dialect has no key
// policy operations, so a key is made attestation-bound through the AWS
// dialect (one store, one account: crossdialect_test.go); the attacks are
// then Huawei's own operations, which must release nothing a caller without
// a verified recipient could read.

// gateEnv is a server that trusts both a test Nitro CA and a test Qingtian
// CA, an enclave key that both CAs' documents carry, and clients for both
// dialects.
type gateEnv struct {
	srv      *testserver.Server
	nitroCA  *nitrotest.CA
	qingCA   *nitrotest.CA
	priv     *rsa.PrivateKey
	der      []byte
	pcrs     map[int][]byte
	aws      *awskms.Client
	hw       *hwkms.KmsClient
	wire     *gateWire
	acct     string
	adminArn string
}

func newGateEnv(t *testing.T) *gateEnv {
	t.Helper()
	e := &gateEnv{}
	var vs []attest.Verifier
	for _, f := range []attest.Format{attest.FormatNitro, attest.FormatQingtian} {
		ca, err := nitrotest.NewTestCA(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := nitro.New(nitro.Options{Format: f, Roots: ca.Roots()})
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
		if f == attest.FormatNitro {
			e.nitroCA = ca
		} else {
			e.qingCA = ca
		}
	}
	e.srv = testserver.Start(t, testserver.Options{Attestation: &attest.Set{COSE: vs}})
	e.priv, _ = rsa.GenerateKey(rand.Reader, 2048)
	e.der, _ = x509.MarshalPKIXPublicKey(&e.priv.PublicKey)
	e.pcrs = map[int][]byte{}
	for i := 0; i < 16; i++ {
		e.pcrs[i] = make([]byte, 48)
	}
	e.pcrs[0] = bytes.Repeat([]byte{0x42}, 48)
	e.acct = e.srv.Account.AccountID
	e.adminArn = "arn:aws:iam::" + e.acct + ":root"
	e.aws = awskms.New(awskms.Options{
		Region: e.srv.Region, Credentials: credentials.NewStaticCredentialsProvider(e.srv.AccessKey, e.srv.Secret, ""),
		BaseEndpoint: aws.String(e.srv.URL), RetryMaxAttempts: 1,
	})
	e.wire = &gateWire{base: http.DefaultTransport}
	auth, err := basic.NewCredentialsBuilder().WithAk(e.srv.AccessKey).WithSk(e.srv.Secret).WithProjectId(e.srv.Account.ProjectID).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := hwkms.KmsClientBuilder().WithEndpoints([]string{e.srv.URL}).WithCredential(auth).
		WithHttpConfig(config.DefaultHttpConfig().WithHttpRoundTripper(e.wire).WithTimeout(30 * time.Second)).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	e.hw = hwkms.NewKmsClient(hc)
	return e
}

func (e *gateEnv) pcr0() string { return hex.EncodeToString(e.pcrs[0]) }

// doc is a document of ca's format for the enclave.
func (e *gateEnv) doc(t *testing.T, ca *nitrotest.CA) []byte {
	t.Helper()
	b, err := ca.Sign(nitrotest.Document{Timestamp: time.Now(), PCRs: e.pcrs, PublicKey: e.der, ModuleID: "gate-test-enclave"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recipientJSON is the recipient member of a hand-made request.
func (e *gateEnv) recipientJSON(t *testing.T, ca *nitrotest.CA) string {
	return fmt.Sprintf(`{"attestation_document":%q,"key_encryption_algorithm":"RSAES_OAEP_SHA_256"}`, base64.StdEncoding.EncodeToString(e.doc(t, ca)))
}

// recipient is the SDK's own Recipient model (derive-shared-secret has one).
func (e *gateEnv) recipient(t *testing.T, ca *nitrotest.CA) *model.Recipient {
	doc, alg := base64.StdEncoding.EncodeToString(e.doc(t, ca)), "RSAES_OAEP_SHA_256"
	return &model.Recipient{AttestationDocument: &doc, KeyEncryptionAlgorithm: &alg}
}

func (e *gateEnv) unwrap(t *testing.T, b64 string) []byte {
	t.Helper()
	ct, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("ciphertext_recipient is not base64: %q", b64)
	}
	pt, err := recipient.UnwrapCMS(e.priv, ct)
	if err != nil {
		t.Fatalf("ciphertext_recipient does not unwrap with the enclave's key: %v", err)
	}
	return pt
}

// awsKey makes a key through the AWS dialect with policy, bypassing the
// safety check when told.
func (e *gateEnv) awsKey(t *testing.T, spec types.KeySpec, usage types.KeyUsageType, policy string, bypass bool) string {
	t.Helper()
	k, err := e.aws.CreateKey(context.Background(), &awskms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Policy: aws.String(policy), BypassPolicyLockoutSafetyCheck: bypass})
	if err != nil {
		t.Fatalf("CreateKey through AWS: %v", err)
	}
	return *k.KeyMetadata.KeyId
}

const gateAdminActions = `"kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","kms:Encrypt"`

// openBoundPolicy allows the account every action, and the secret actions
// once more to a Qingtian enclave: attestation-bound, and so open that
// policy evaluation alone would release every secret without evidence.
func (e *gateEnv) openBoundPolicy() string {
	return `{"Version":"2012-10-17","Statement":[
	 {"Sid":"everything","Effect":"Allow","Principal":{"AWS":"` + e.adminArn + `"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"qingtian","Effect":"Allow","Principal":{"AWS":"` + e.adminArn + `"},"Action":["kms:Decrypt","kms:GenerateDataKey","kms:DeriveSharedSecret"],"Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation/PCR0":"` + e.pcr0() + `"}}}]}`
}

// enclavePolicy is a safe enclave-only policy: administration for the
// account, the secret actions only under condition.
func (e *gateEnv) enclavePolicy(condition string) string {
	return `{"Version":"2012-10-17","Statement":[
	 {"Sid":"manage","Effect":"Allow","Principal":{"AWS":"` + e.adminArn + `"},"Action":[` + gateAdminActions + `],"Resource":"*"},
	 {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"` + e.adminArn + `"},"Action":["kms:GenerateDataKey","kms:Decrypt","kms:DeriveSharedSecret"],"Resource":"*",
	  "Condition":{"StringEquals":` + condition + `}}]}`
}

// gateWire is the Huawei client's transport: it keeps the last answer, so
// that a test checks the wire and not only what the SDK made of it.
type gateWire struct {
	base   http.RoundTripper
	mu     sync.Mutex
	body   []byte
	status int
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
	w.body, w.status = b, resp.StatusCode
	w.mu.Unlock()
	return resp, nil
}

func (w *gateWire) last() ([]byte, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body, w.status
}

// secretMembers are the members of Huawei's answers that carry a secret or
// a ciphertext of one.
var secretMembers = []string{"plain_text", "plain_text_base64", "data_key", "datakey_dgst", "shared_secret", "ciphertext_recipient", "cipher_text", "random_data", "private_key_plain_text", "private_key_cipher_text"}

// wantHuaweiGate checks an answer refused by the attestation gate: the SDK's
// typed error KMS.0306 (403, Huawei's "no permission to access the key") saying
// why, no secret in the SDK's response, and on the wire Huawei's error shape
// and nothing else.
func (e *gateEnv) wantHuaweiGate(t *testing.T, resp any, err error) {
	t.Helper()
	se := wantCode(t, err, "KMS.0306", 403)
	for _, p := range []string{"is attestation-bound", "Recipient"} {
		if !strings.Contains(se.ErrorMessage, p) {
			t.Errorf("KMS.0306 does not say %q: %s", p, se.ErrorMessage)
		}
	}
	if v := reflect.ValueOf(resp); v.IsValid() && !v.IsNil() {
		for _, f := range []string{"PlainText", "PlainTextBase64", "DataKey", "DatakeyDgst", "SharedSecret", "CiphertextRecipient", "CipherText", "PrivateKeyPlainText", "PrivateKeyCipherText"} {
			if fv := v.Elem().FieldByName(f); fv.IsValid() && !fv.IsNil() {
				t.Errorf("the SDK's response carries %s beside the error", f)
			}
		}
	}
	body, status := e.wire.last()
	wantHuaweiErrorBody(t, body, status, "KMS.0306")
}

// wantHuaweiErrorBody checks that body is Huawei's error shape with code and
// carries none of secretMembers.
func wantHuaweiErrorBody(t *testing.T, body []byte, status int, code string) {
	t.Helper()
	var m struct {
		Error *struct {
			Code string `json:"error_code"`
			Msg  string `json:"error_msg"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.Error == nil || m.Error.Code != code || m.Error.Msg == "" || status < 400 {
		t.Errorf("the answer is %d %s; want Huawei's error shape with %s", status, body, code)
	}
	for _, s := range secretMembers {
		if bytes.Contains(body, []byte(`"`+s+`"`)) {
			t.Errorf("the refusal carries %s: %s", s, body)
		}
	}
}

// TestGateHuaweiBoundKey: on an attestation-bound key whose policy allows
// everything (forced on with BypassPolicyLockoutSafetyCheck), no Huawei
// operation gives a caller without a recipient a data key, a plaintext or a
// shared secret: create-datakey, decrypt-datakey, decrypt-data (which takes
// no recipient at all) and derive-shared-secret are refused;
// create-datakey-without-plaintext, encrypt-data and encrypt-datakey work;
// with a Qingtian recipient the secrets come wrapped to the enclave.
func TestGateHuaweiBoundKey(t *testing.T) {
	e := newGateEnv(t)
	ctx := context.Background()
	_, err := e.aws.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(e.openBoundPolicy())})
	if err == nil || !strings.Contains(err.Error(), "MalformedPolicyDocumentException") {
		t.Fatalf("the open bound policy was not refused: %v", err)
	}
	sym := e.awsKey(t, "", "", e.openBoundPolicy(), true)
	ka := e.awsKey(t, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement, e.openBoundPolicy(), true)

	// Not gated: ciphertexts under the key.
	text := "the database password"
	ed, err := e.hw.EncryptData(&model.EncryptDataRequest{Body: &model.EncryptDataRequestBody{KeyId: sym, PlainText: text}})
	if err != nil {
		t.Fatalf("encrypt-data: %v", err)
	}
	wp, err := e.hw.CreateDatakeyWithoutPlaintext(&model.CreateDatakeyWithoutPlaintextRequest{Body: &model.CreateDatakeyRequestBody{KeyId: sym}})
	if err != nil || wp.CipherText == nil {
		t.Fatalf("create-datakey-without-plaintext: %v", err)
	}
	if body, _ := e.wire.last(); bytes.Contains(body, []byte("plain_text")) {
		t.Fatalf("create-datakey-without-plaintext answered %s", body)
	}
	own := strings.Repeat("ab", 32)
	sum := sha256.Sum256(bytes.Repeat([]byte{0xab}, 32))
	edk, err := e.hw.EncryptDatakey(&model.EncryptDatakeyRequest{Body: &model.EncryptDatakeyRequestBody{KeyId: sym, PlainText: own + hex.EncodeToString(sum[:]), DatakeyPlainLength: "32"}})
	if err != nil || edk.CipherText == nil {
		t.Fatalf("encrypt-datakey: %v", err)
	}
	pub := publicKey(t, e.hw, ka)

	// Gated: every way to a plaintext.
	cd, err := e.hw.CreateDatakey(&model.CreateDatakeyRequest{Body: &model.CreateDatakeyRequestBody{KeyId: sym}})
	e.wantHuaweiGate(t, cd, err)
	for _, ct := range []string{*wp.CipherText, *edk.CipherText} {
		dd, err := e.hw.DecryptDatakey(&model.DecryptDatakeyRequest{Body: &model.DecryptDatakeyRequestBody{KeyId: sym, CipherText: ct, DatakeyCipherLength: "32", Sequence: seq()}})
		e.wantHuaweiGate(t, dd, err)
	}
	for _, keyID := range []*string{nil, &sym} {
		d, err := e.hw.DecryptData(&model.DecryptDataRequest{Body: &model.DecryptDataRequestBody{CipherText: *ed.CipherText, KeyId: keyID, Sequence: seq()}})
		e.wantHuaweiGate(t, d, err)
	}
	spki, want := stdCurve(ecdh.P256())(t, pub)
	ds, err := e.hw.DeriveSharedSecret(deriveReq(ka, base64.StdEncoding.EncodeToString(spki)))
	e.wantHuaweiGate(t, ds, err)

	// decrypt-data has no recipient: one slipped in is not a way around.
	r := raw{op: "decrypt-data", body: fmt.Sprintf(`{"cipher_text":%q,"recipient":%s}`, *ed.CipherText, e.recipientJSON(t, e.qingCA))}.do(t, e.srv)
	if r.status < 400 || r.status >= 500 {
		t.Fatalf("decrypt-data with a recipient member: %d %s", r.status, r.body)
	}
	wantHuaweiErrorBody(t, r.body, r.status, r.code)

	// The Qingtian enclave: its secrets, wrapped to it.
	r = raw{op: "create-datakey", body: fmt.Sprintf(`{"key_id":%q,"recipient":%s}`, sym, e.recipientJSON(t, e.qingCA))}.do(t, e.srv)
	if r.status != 200 || field(t, r.body, "plain_text") != "" || field(t, r.body, "cipher_text") == "" {
		t.Fatalf("create-datakey with a recipient: %d %s", r.status, r.body)
	}
	dk := e.unwrap(t, field(t, r.body, "ciphertext_recipient"))
	r = raw{op: "decrypt-datakey", body: fmt.Sprintf(`{"key_id":%q,"cipher_text":%q,"datakey_cipher_length":"32","recipient":%s}`, sym, field(t, r.body, "cipher_text"), e.recipientJSON(t, e.qingCA))}.do(t, e.srv)
	if r.status != 200 || field(t, r.body, "data_key") != "" || !bytes.Equal(e.unwrap(t, field(t, r.body, "ciphertext_recipient")), dk) {
		t.Fatalf("decrypt-datakey with a recipient: %d %s", r.status, r.body)
	}
	r = raw{op: "decrypt-datakey", body: fmt.Sprintf(`{"key_id":%q,"cipher_text":%q,"datakey_cipher_length":"32","recipient":%s}`, sym, *edk.CipherText, e.recipientJSON(t, e.qingCA))}.do(t, e.srv)
	if r.status != 200 || hex.EncodeToString(e.unwrap(t, field(t, r.body, "ciphertext_recipient"))) != own {
		t.Fatalf("decrypt-datakey of encrypt-datakey's ciphertext with a recipient: %d %s", r.status, r.body)
	}
	req := deriveReq(ka, base64.StdEncoding.EncodeToString(spki))
	req.Body.Recipient = e.recipient(t, e.qingCA)
	ds, err = e.hw.DeriveSharedSecret(req)
	if err != nil || ds.SharedSecret != nil || ds.CiphertextRecipient == nil {
		t.Fatalf("derive-shared-secret with a recipient: %v", err)
	}
	if !bytes.Equal(e.unwrap(t, *ds.CiphertextRecipient), want) {
		t.Fatal("the wrapped shared secret is not the peer's ECDH")
	}
}

// TestGateHuaweiVendorKeys: one vendor's evidence never satisfies another
// vendor's condition keys. A Qingtian document with the very PCR0 a Nitro
// key's policy names (kms:RecipientAttestation:PCR0, :ImageSha384) is
// refused by it, and admitted by the key whose policy names Huawei's
// kms:RecipientAttestation/PCR0; a Nitro document with that PCR0 is refused
// by the Huawei key. Format names each vendor outright.
func TestGateHuaweiVendorKeys(t *testing.T) {
	e := newGateEnv(t)
	pcr0 := e.pcr0()
	keys := []struct {
		name, condition string
		admits          *nitrotest.CA
	}{
		{"Nitro PCR0", `{"kms:RecipientAttestation:PCR0":"` + pcr0 + `"}`, e.nitroCA},
		{"Nitro ImageSha384", `{"kms:RecipientAttestation:ImageSha384":"` + pcr0 + `"}`, e.nitroCA},
		{"Huawei PCR0", `{"kms:RecipientAttestation/PCR0":"` + pcr0 + `"}`, e.qingCA},
		{"Huawei PCR0 and format", `{"kms:RecipientAttestation/PCR0":"` + pcr0 + `","kms:RecipientAttestation:Format":"qingtian"}`, e.qingCA},
		{"format nitro", `{"kms:RecipientAttestation:Format":"nitro"}`, e.nitroCA},
		{"format qingtian", `{"kms:RecipientAttestation:Format":"qingtian"}`, e.qingCA},
	}
	docs := []struct {
		name string
		ca   *nitrotest.CA
	}{{"a Qingtian document", e.qingCA}, {"a Nitro document", e.nitroCA}}
	for _, k := range keys {
		// Format alone names a vendor, not a workload: the safety check
		// refuses it (docs/policy.md), so these keys bypass it. What is
		// tested is which evidence each condition admits.
		bypass := !strings.Contains(k.condition, "PCR0") && !strings.Contains(k.condition, "ImageSha384")
		sym := e.awsKey(t, "", "", e.enclavePolicy(k.condition), bypass)
		ka := e.awsKey(t, types.KeySpecEccNistP256, types.KeyUsageTypeKeyAgreement, e.enclavePolicy(k.condition), bypass)
		spki, want := stdCurve(ecdh.P256())(t, publicKey(t, e.hw, ka))
		for _, d := range docs {
			name := k.name + " key, " + d.name
			admitted := d.ca == k.admits

			// create-datakey, the recipient extension.
			r := raw{op: "create-datakey", body: fmt.Sprintf(`{"key_id":%q,"recipient":%s}`, sym, e.recipientJSON(t, d.ca))}.do(t, e.srv)
			if admitted {
				if r.status != 200 || field(t, r.body, "plain_text") != "" || len(e.unwrap(t, field(t, r.body, "ciphertext_recipient"))) != 32 {
					t.Errorf("%s: create-datakey %d %s; want the data key wrapped to the enclave", name, r.status, r.body)
				}
			} else {
				if r.status != 403 || r.code != "KMS.0306" {
					t.Errorf("%s: create-datakey %d %s; want 403 KMS.0306", name, r.status, r.body)
				} else {
					wantHuaweiErrorBody(t, r.body, r.status, "KMS.0306")
				}
			}

			// derive-shared-secret, through the SDK's own Recipient.
			req := deriveReq(ka, base64.StdEncoding.EncodeToString(spki))
			req.Body.Recipient = e.recipient(t, d.ca)
			ds, err := e.hw.DeriveSharedSecret(req)
			if admitted {
				if err != nil || ds.SharedSecret != nil || ds.CiphertextRecipient == nil || !bytes.Equal(e.unwrap(t, *ds.CiphertextRecipient), want) {
					t.Errorf("%s: derive-shared-secret: %v", name, err)
				}
				continue
			}
			se := wantCode(t, err, "KMS.0306", 403)
			if strings.Contains(se.ErrorMessage, "attestation-bound") {
				t.Errorf("%s: refused by the gate, yet it carries a verified recipient: %s", name, se.ErrorMessage)
			}
			body, status := e.wire.last()
			wantHuaweiErrorBody(t, body, status, "KMS.0306")
		}
	}
}
