package huawei_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/def"
	hwkms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/attestkms/attestkms/answer"
	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/enclave"
)

// sentRequest is a Huawei client's transport that keeps the body of the
// last request the SDK sent: what an answer's signature binds.
type sentRequest struct {
	mu   sync.Mutex
	body []byte
}

func (s *sentRequest) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.body = b
		s.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (s *sentRequest) last() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.body
}

// recordingClient is a Huawei SDK client of e's server whose requests rec
// keeps.
func (e *gateEnv) recordingClient(t *testing.T) (*hwkms.KmsClient, *sentRequest) {
	t.Helper()
	rec := &sentRequest{}
	auth, err := basic.NewCredentialsBuilder().WithAk(e.srv.AccessKey).WithSk(e.srv.Secret).WithProjectId(e.srv.Account.ProjectID).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := hwkms.KmsClientBuilder().WithEndpoints([]string{e.srv.URL}).WithCredential(auth).
		WithHttpConfig(config.DefaultHttpConfig().WithHttpRoundTripper(rec).WithTimeout(30 * time.Second)).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	return hwkms.NewKmsClient(hc), rec
}

// hwRecipient is the recipient member, with attestkms's public_key.
type hwRecipient struct {
	AttestationDocument    string `json:"attestation_document"`
	KeyEncryptionAlgorithm string `json:"key_encryption_algorithm"`
	PublicKey              string `json:"public_key,omitempty"`
}

func recipientFor(k *enclave.Key, doc []byte) *hwRecipient {
	r := &hwRecipient{AttestationDocument: base64.StdEncoding.EncodeToString(doc), KeyEncryptionAlgorithm: k.Algorithm()}
	if pub := k.RecipientPublicKey(); pub != nil {
		r.PublicKey = base64.StdEncoding.EncodeToString(pub)
	}
	return r
}

// The SDK's request bodies with the recipient member, and its answer (which
// has ciphertext_recipient already) with attestkms_answer_signature.
type (
	ecPairBody struct {
		model.CreateEcDatakeyPairRequestBody
		Recipient *hwRecipient `json:"recipient,omitempty"`
	}
	rsaPairBody struct {
		model.CreateRsaDatakeyPairRequestBody
		Recipient *hwRecipient `json:"recipient,omitempty"`
	}
	pairAnswer struct {
		model.CreateEcDatakeyPairResponse
		Sig *struct {
			KeyID     string `json:"key_id"`
			PublicKey string `json:"public_key"`
			Signature string `json:"signature"`
			KeyARN    string `json:"key_arn"`
		} `json:"attestkms_answer_signature,omitempty"`
	}
)

// sdkCall sends body with the SDK's request definition reqDef through the
// SDK's own client, which serializes, signs, sends and decodes it into R
// (e2e/hpke_dialects_test.go huaweiRecipientCall).
func sdkCall[R, B any](c *hwkms.KmsClient, reqDef func() *def.HttpRequestDef, body *B) (*R, error) {
	d := reqDef()
	d.Response = new(R)
	out, err := c.HcClient.Sync(&struct {
		Body *B `json:"body,omitempty"`
	}{body}, d)
	if err != nil {
		return nil, err
	}
	return out.(*R), nil
}

// pairOp is one of the two operations: its name, a spec of it, and a call
// of it through the SDK with a recipient (nil: none) and the other members
// in the SDK's own body.
type pairOp struct {
	name, spec string
	call       func(c *hwkms.KmsClient, keyID string, aad *string, plain *bool, r *hwRecipient) (*pairAnswer, error)
}

func ecSpec(s string) model.CreateEcDatakeyPairRequestBodyKeySpec {
	var v model.CreateEcDatakeyPairRequestBodyKeySpec
	if err := v.UnmarshalJSON([]byte(`"` + s + `"`)); err != nil {
		panic(err)
	}
	return v
}

func rsaSpec(s string) model.CreateRsaDatakeyPairRequestBodyKeySpec {
	var v model.CreateRsaDatakeyPairRequestBodyKeySpec
	if err := v.UnmarshalJSON([]byte(`"` + s + `"`)); err != nil {
		panic(err)
	}
	return v
}

func ecPair(spec string) pairOp {
	return pairOp{"create-ec-datakey-pair", spec, func(c *hwkms.KmsClient, keyID string, aad *string, plain *bool, r *hwRecipient) (*pairAnswer, error) {
		return sdkCall[pairAnswer](c, hwkms.GenReqDefForCreateEcDatakeyPair, &ecPairBody{model.CreateEcDatakeyPairRequestBody{
			KeyId: keyID, KeySpec: ecSpec(spec), AdditionalAuthenticatedData: aad, WithPlainText: plain, Sequence: seq()}, r})
	}}
}

func rsaPair(spec string) pairOp {
	return pairOp{"create-rsa-datakey-pair", spec, func(c *hwkms.KmsClient, keyID string, aad *string, plain *bool, r *hwRecipient) (*pairAnswer, error) {
		return sdkCall[pairAnswer](c, hwkms.GenReqDefForCreateRsaDatakeyPair, &rsaPairBody{model.CreateRsaDatakeyPairRequestBody{
			KeyId: keyID, KeySpec: rsaSpec(spec), AdditionalAuthenticatedData: aad, WithPlainText: plain, Sequence: seq()}, r})
	}}
}

var pairOps = []pairOp{
	ecPair("ECC_NIST_P256"), ecPair("ECC_NIST_P384"), ecPair("ECC_NIST_P521"), ecPair("ECC_SECG_P256K1"),
	rsaPair("RSA_2048"), rsaPair("RSA_3072"), rsaPair("RSA_4096"),
}

func b64(t *testing.T, what string, s *string) []byte {
	t.Helper()
	if s == nil {
		t.Fatalf("%s is absent", what)
	}
	b, err := base64.StdEncoding.DecodeString(*s)
	if err != nil {
		t.Fatalf("%s is not base64: %q", what, *s)
	}
	return b
}

// checkPair: priv (DER PKCS #8) is the private key of pub (DER
// SubjectPublicKeyInfo). Go parses neither for secp256k1: its public key's
// encoding is checked by kms's tests, and here only that both are given.
func checkPair(t *testing.T, spec string, pub, priv []byte) {
	t.Helper()
	if spec == "ECC_SECG_P256K1" {
		if len(pub) == 0 || len(priv) == 0 {
			t.Fatal("an empty secp256k1 key")
		}
		return
	}
	k, err := x509.ParsePKCS8PrivateKey(priv)
	if err != nil {
		t.Fatalf("private key: %v", err)
	}
	want, err := x509.MarshalPKIXPublicKey(k.(crypto.Signer).Public())
	if err != nil || !bytes.Equal(want, pub) {
		t.Fatalf("public_key is not the private key's (%v)", err)
	}
}

// openCiphertext: private_key_cipher_text decrypts, with the request's
// additional_authenticated_data, to priv through Huawei's decrypt-data and
// the AWS dialect's Decrypt (the same encryption context), and not
// without it.
func (e *gateEnv) openCiphertext(t *testing.T, ct *string, aad string, priv []byte) {
	t.Helper()
	d, err := e.hw.DecryptData(&model.DecryptDataRequest{Body: &model.DecryptDataRequestBody{CipherText: *ct, AdditionalAuthenticatedData: &aad, Sequence: seq()}})
	if err != nil || !bytes.Equal(b64(t, "plain_text_base64", d.PlainTextBase64), priv) {
		t.Fatalf("decrypt-data of private_key_cipher_text: %v", err)
	}
	a, err := e.aws.Decrypt(context.Background(), &awskms.DecryptInput{CiphertextBlob: b64(t, "private_key_cipher_text", ct), EncryptionContext: map[string]string{"additional_authenticated_data": aad}})
	if err != nil || !bytes.Equal(a.Plaintext, priv) {
		t.Fatalf("AWS Decrypt of private_key_cipher_text: %v", err)
	}
	if _, err := e.hw.DecryptData(&model.DecryptDataRequest{Body: &model.DecryptDataRequestBody{CipherText: *ct, Sequence: seq()}}); err == nil {
		t.Fatal("private_key_cipher_text decrypts without its additional_authenticated_data")
	}
}

// TestDatakeyPairs: through the SDK's own CreateEcDatakeyPair and
// CreateRsaDatakeyPair, each key spec: the answer names the key and spec,
// private_key_plain_text (base64 DER PKCS #8) is the private key of
// public_key (base64 DER SubjectPublicKeyInfo), and private_key_cipher_text
// decrypts to it through decrypt-data and the AWS dialect with the
// additional_authenticated_data bound. with_plain_text false answers no
// private key, only its ciphertext.
func TestDatakeyPairs(t *testing.T) {
	e := newGateEnv(t)
	k, err := e.aws.CreateKey(context.Background(), &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := *k.KeyMetadata.KeyId
	aad := "pair test"
	for _, op := range pairOps {
		t.Run(op.spec, func(t *testing.T) {
			var r *pairAnswer
			var err error
			switch op.name {
			case "create-ec-datakey-pair":
				var out *model.CreateEcDatakeyPairResponse
				out, err = e.hw.CreateEcDatakeyPair(&model.CreateEcDatakeyPairRequest{Body: &model.CreateEcDatakeyPairRequestBody{KeyId: id, KeySpec: ecSpec(op.spec), AdditionalAuthenticatedData: &aad}})
				if out != nil {
					r = &pairAnswer{CreateEcDatakeyPairResponse: *out}
				}
			default:
				var out *model.CreateRsaDatakeyPairResponse
				out, err = e.hw.CreateRsaDatakeyPair(&model.CreateRsaDatakeyPairRequest{Body: &model.CreateRsaDatakeyPairRequestBody{KeyId: id, KeySpec: rsaSpec(op.spec), AdditionalAuthenticatedData: &aad}})
				if out != nil {
					r = &pairAnswer{CreateEcDatakeyPairResponse: model.CreateEcDatakeyPairResponse{
						KeyId: out.KeyId, PublicKey: out.PublicKey, PrivateKeyCipherText: out.PrivateKeyCipherText, PrivateKeyPlainText: out.PrivateKeyPlainText,
						WrappedPrivateKey: out.WrappedPrivateKey, CiphertextRecipient: out.CiphertextRecipient}}
					if out.KeySpec != nil {
						s := ecResponseSpec(out.KeySpec.Value())
						r.KeySpec = &s
					}
				}
			}
			if err != nil {
				t.Fatalf("%s %s: %v", op.name, op.spec, err)
			}
			if *r.KeyId != id || r.KeySpec == nil || r.KeySpec.Value() != op.spec || r.CiphertextRecipient != nil || r.WrappedPrivateKey != nil {
				t.Fatalf("%s: %s", op.name, r)
			}
			pub, priv := b64(t, "public_key", r.PublicKey), b64(t, "private_key_plain_text", r.PrivateKeyPlainText)
			checkPair(t, op.spec, pub, priv)
			e.openCiphertext(t, r.PrivateKeyCipherText, aad, priv)

			no := false
			wp, err := op.call(e.hw, id, &aad, &no, nil)
			if err != nil || wp.PrivateKeyPlainText != nil || wp.CiphertextRecipient != nil || wp.PublicKey == nil || *wp.KeyId != id {
				t.Fatalf("%s with_plain_text false: %v %v", op.name, wp, err)
			}
			if body, _ := e.wire.last(); bytes.Contains(body, []byte("private_key_plain_text")) {
				t.Fatalf("with_plain_text false answered %s", body)
			}
			d, err := e.aws.Decrypt(context.Background(), &awskms.DecryptInput{CiphertextBlob: b64(t, "private_key_cipher_text", wp.PrivateKeyCipherText), EncryptionContext: map[string]string{"additional_authenticated_data": aad}})
			if err != nil {
				t.Fatal(err)
			}
			checkPair(t, op.spec, b64(t, "public_key", wp.PublicKey), d.Plaintext)
		})
	}
}

func ecResponseSpec(s string) model.CreateEcDatakeyPairResponseKeySpec {
	var v model.CreateEcDatakeyPairResponseKeySpec
	if err := v.UnmarshalJSON([]byte(`"` + s + `"`)); err != nil {
		panic(err)
	}
	return v
}

// TestDatakeyPairRecipient: with a recipient (attestkms's extension, added
// to the SDK's request body, which the SDK signs) and each algorithm, both
// operations answer no private_key_plain_text: ciphertext_recipient opens,
// as GenerateDataKeyPair's answer under the key's ARN, to the private key of
// public_key, which private_key_cipher_text also decrypts to; and
// attestkms_answer_signature verifies over the body the SDK sent (and not
// over another) with answer.Verify, the fields as docs/answers.md maps them.
func TestDatakeyPairRecipient(t *testing.T) {
	e := newGateEnv(t)
	c, rec := e.recordingClient(t)
	k, err := e.aws.CreateKey(context.Background(), &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id, arn := *k.KeyMetadata.KeyId, *k.KeyMetadata.Arn
	var pins []string
	for _, sk := range e.srv.Service.ServiceKeys() {
		pins = append(pins, sk.ID)
	}
	aad := "enclave pair"
	for _, typ := range []string{enclave.KeyTypeRSA, enclave.KeyTypeP256, enclave.KeyTypeMLKEM768X25519} {
		ek, err := enclave.NewKeyOfType(typ, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range []pairOp{ecPair("ECC_NIST_P256"), rsaPair("RSA_2048")} {
			t.Run(typ+"/"+op.name, func(t *testing.T) {
				doc, err := e.qingCA.Sign(nitrotest.Document{Timestamp: time.Now(), PCRs: e.pcrs, PublicKey: ek.PublicKeyDER(), ModuleID: "pair-test-enclave"})
				if err != nil {
					t.Fatal(err)
				}
				r, err := op.call(c, id, &aad, nil, recipientFor(ek, doc))
				if err != nil {
					t.Fatalf("%s with a recipient: %v", op.name, err)
				}
				body := rec.last()
				if !bytes.Contains(body, []byte(`"recipient"`)) {
					t.Fatalf("the SDK did not send the recipient: %s", body)
				}
				if r.PrivateKeyPlainText != nil || *r.KeyId != id || r.KeySpec.Value() != op.spec {
					t.Fatalf("%s with a recipient: %s", op.name, r)
				}
				cfr := b64(t, "ciphertext_recipient", r.CiphertextRecipient)
				priv, err := ek.Unwrap("GenerateDataKeyPair", arn, doc, cfr)
				if err != nil {
					t.Fatalf("ciphertext_recipient does not open: %v", err)
				}
				pub, blob := b64(t, "public_key", r.PublicKey), b64(t, "private_key_cipher_text", r.PrivateKeyCipherText)
				checkPair(t, op.spec, pub, priv)
				e.openCiphertext(t, r.PrivateKeyCipherText, aad, priv)

				if r.Sig == nil || r.Sig.KeyARN != arn {
					t.Fatalf("attestkms_answer_signature: %+v", r.Sig)
				}
				sig := &answer.Signature{KeyID: r.Sig.KeyID, PublicKey: b64(t, "public_key", &r.Sig.PublicKey), Signature: b64(t, "signature", &r.Sig.Signature)}
				fields := []answer.Field{{Name: "CiphertextForRecipient", Value: cfr}, {Name: "PrivateKeyCiphertextBlob", Value: blob},
					{Name: "PublicKey", Value: pub}, {Name: "KeyId", Value: []byte(arn)}, {Name: "KeyPairSpec", Value: []byte(op.spec)}}
				if err := answer.Verify(pins, sig, doc, body, "GenerateDataKeyPair", arn, fields); err != nil {
					t.Fatalf("the answer's signature: %v", err)
				}
				if err := answer.Verify(pins, sig, doc, bytes.Replace(body, []byte(aad), []byte("enclave pain"), 1), "GenerateDataKeyPair", arn, fields); err == nil {
					t.Fatal("the signature verifies over another request")
				}
				fields[4].Value = []byte("ECC_NIST_P384")
				if err := answer.Verify(pins, sig, doc, body, "GenerateDataKeyPair", arn, fields); err == nil {
					t.Fatal("the signature verifies for another key spec")
				}
			})
		}
	}
}

// pairRefusalMembers are the members a refusal of a key pair must not carry.
var pairRefusalMembers = []string{"private_key_plain_text", "private_key_cipher_text", "ciphertext_recipient", "public_key", "attestkms_answer_signature"}

// TestDatakeyPairRefusals: each a clear error in Huawei's shape, through the
// SDK where it can say the request, by hand where it cannot (a key_spec its
// enums do not have), with no key pair in the answer and nothing audited as
// done: a disabled key, a key-agreement key, a key that does not exist, a
// key_spec of the other operation, SM2, an unknown or missing key_spec, pin,
// a recipient whose document no trusted root signed, a recipient with
// with_plain_text false.
func TestDatakeyPairRefusals(t *testing.T) {
	e := newGateEnv(t)
	ctx := context.Background()
	k, err := e.aws.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := *k.KeyMetadata.KeyId
	off, err := e.aws.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.aws.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: off.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	ka, err := e.aws.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeKeyAgreement})
	if err != nil {
		t.Fatal(err)
	}
	ek, _ := enclave.NewKeyOfType(enclave.KeyTypeP256, 0)
	forged, err := nitrotest.NewTestCA(attest.FormatQingtian, nil) // a root this server does not trust
	if err != nil {
		t.Fatal(err)
	}
	forgedDoc, err := forged.Sign(nitrotest.Document{Timestamp: time.Now(), PCRs: e.pcrs, PublicKey: ek.PublicKeyDER(), ModuleID: "pair-test-enclave"})
	if err != nil {
		t.Fatal(err)
	}
	goodDoc, err := e.qingCA.Sign(nitrotest.Document{Timestamp: time.Now(), PCRs: e.pcrs, PublicKey: ek.PublicKeyDER(), ModuleID: "pair-test-enclave"})
	if err != nil {
		t.Fatal(err)
	}
	no := false
	ec, rsaOp := ecPair("ECC_NIST_P256"), rsaPair("RSA_2048")
	sdk := []struct {
		name   string
		call   func() (*pairAnswer, error)
		code   string
		status int
		want   string
	}{
		{"a disabled key", func() (*pairAnswer, error) { return ec.call(e.hw, *off.KeyMetadata.KeyId, nil, nil, nil) }, "KMS.0209", 400, "disabled"},
		{"a disabled key (RSA)", func() (*pairAnswer, error) { return rsaOp.call(e.hw, *off.KeyMetadata.KeyId, nil, nil, nil) }, "KMS.0209", 400, "disabled"},
		{"a key-agreement key", func() (*pairAnswer, error) { return ec.call(e.hw, *ka.KeyMetadata.KeyId, nil, nil, nil) }, "KMS.0308", 400, "KEY_AGREEMENT"},
		{"a key that does not exist", func() (*pairAnswer, error) {
			return ec.call(e.hw, "0d0466b0-e727-4d9c-b35d-f84bb474a37f", nil, nil, nil)
		}, "KMS.0207", 404, "0d0466b0-e727-4d9c-b35d-f84bb474a37f"},
		{"SM2", func() (*pairAnswer, error) { return ecPair("SM2").call(e.hw, id, nil, nil, nil) }, "KMS.0308", 400, "key_spec SM2 is not supported by create-ec-datakey-pair"},
		{"a recipient with a document no trusted root signed", func() (*pairAnswer, error) {
			return ec.call(e.hw, id, nil, nil, recipientFor(ek, forgedDoc))
		}, "KMS.0308", 400, "Recipient"},
		{"a recipient and with_plain_text false", func() (*pairAnswer, error) {
			return ec.call(e.hw, id, nil, &no, recipientFor(ek, goodDoc))
		}, "KMS.0308", 400, "give one or the other"},
	}
	before := auditSuccesses(t, e)
	for _, tc := range sdk {
		r, err := tc.call()
		se := wantCode(t, err, tc.code, tc.status)
		if !strings.Contains(se.ErrorMessage, tc.want) {
			t.Errorf("%s: %s; want it to say %q", tc.name, se.ErrorMessage, tc.want)
		}
		if r != nil {
			t.Errorf("%s: an answer with the error: %s", tc.name, r)
		}
		body, status := e.wire.last()
		wantHuaweiErrorBody(t, body, status, tc.code)
		for _, m := range pairRefusalMembers {
			if bytes.Contains(body, []byte(`"`+m+`"`)) {
				t.Errorf("%s: the refusal carries %s", tc.name, m)
			}
		}
	}
	for _, tc := range []struct {
		name, op, body, code, want string
	}{
		{"an RSA spec to the EC operation", "create-ec-datakey-pair", `{"key_id":"` + id + `","key_spec":"RSA_2048"}`, "KMS.0308", "(RSA_2048 is create-rsa-datakey-pair's)"},
		{"an EC spec to the RSA operation", "create-rsa-datakey-pair", `{"key_id":"` + id + `","key_spec":"ECC_NIST_P256"}`, "KMS.0308", "use RSA_2048, RSA_3072, RSA_4096"},
		{"an unknown spec", "create-rsa-datakey-pair", `{"key_id":"` + id + `","key_spec":"RSA_1024"}`, "KMS.0308", "key_spec RSA_1024 is not supported"},
		{"no spec", "create-ec-datakey-pair", `{"key_id":"` + id + `"}`, "KMS.0204", "key_spec is required"},
		{"no key", "create-ec-datakey-pair", `{"key_spec":"ECC_NIST_P256"}`, "KMS.0204", "key_id is required"},
		{"a pin", "create-ec-datakey-pair", `{"key_id":"` + id + `","key_spec":"ECC_NIST_P256","pin":"123456"}`, "KMS.0308", "pin"},
		{"with_plain_text not a boolean", "create-ec-datakey-pair", `{"key_id":"` + id + `","key_spec":"ECC_NIST_P256","with_plain_text":"false"}`, "KMS.0308", "with_plain_text must be a boolean"},
		{"additional_authenticated_data too long", "create-rsa-datakey-pair", `{"key_id":"` + id + `","key_spec":"RSA_2048","additional_authenticated_data":"` + strings.Repeat("a", 129) + `"}`, "KMS.0308", "at most 128 bytes"},
	} {
		r := raw{op: tc.op, body: tc.body}.do(t, e.srv)
		if r.code != tc.code || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("%s: %d %s; want %s saying %q", tc.name, r.status, r.body, tc.code, tc.want)
		}
		wantHuaweiErrorBody(t, r.body, r.status, tc.code)
		for _, m := range pairRefusalMembers {
			if bytes.Contains(r.body, []byte(`"`+m+`"`)) {
				t.Errorf("%s: the refusal carries %s", tc.name, m)
			}
		}
	}
	if after := auditSuccesses(t, e); after != before {
		t.Errorf("the refusals audited %d successes", after-before)
	}
}

// auditSuccesses counts the audit log's lines of operations that succeeded.
func auditSuccesses(t *testing.T, e *gateEnv) int {
	t.Helper()
	log, err := os.ReadFile(filepath.Join(e.srv.DataDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range strings.Split(string(log), "\n") {
		if s == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("audit line %q: %v", s, err)
		}
		if m["outcome"] == "ok" {
			n++
		}
	}
	return n
}

// TestDatakeyPairPolicy: key policy conditions hold as for the AWS
// operation (kms:GenerateDataKeyPair, gated; kms:GenerateDataKeyPairWithoutPlaintext,
// not). On a key that gives GenerateDataKeyPair only to a Qingtian image
// (kms:RecipientAttestation/PCR0), the pair in plaintext is refused by the
// attestation gate (403 KMS.0306), with_plain_text false is served, a
// recipient of that image gets the private key wrapped, and a Nitro document
// with the same PCR0 (another vendor's key names) is refused.
func TestDatakeyPairPolicy(t *testing.T) {
	e := newGateEnv(t)
	pol := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"manage","Effect":"Allow","Principal":{"AWS":"` + e.adminArn + `"},"Action":[` + gateAdminActions + `,"kms:GenerateDataKeyPairWithoutPlaintext"],"Resource":"*"},
	 {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"` + e.adminArn + `"},"Action":"kms:GenerateDataKeyPair","Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation/PCR0":"` + e.pcr0() + `"}}}]}`
	id := e.awsKey(t, "", "", pol, false)
	arn := "arn:aws:kms:" + e.srv.Region + ":" + e.acct + ":key/" + id
	for _, op := range []pairOp{ecPair("ECC_NIST_P384"), rsaPair("RSA_3072")} {
		r, err := op.call(e.hw, id, nil, nil, nil)
		e.wantHuaweiGate(t, r, err)
		no := false
		wp, err := op.call(e.hw, id, nil, &no, nil)
		if err != nil || wp.PrivateKeyPlainText != nil || wp.PrivateKeyCipherText == nil {
			t.Fatalf("%s with_plain_text false: %v", op.name, err)
		}
		ek, _ := enclave.NewKeyOfType(enclave.KeyTypeMLKEM768X25519, 0)
		for _, d := range []struct {
			name    string
			ca      *nitrotest.CA
			allowed bool
		}{{"the Qingtian image", e.qingCA, true}, {"a Nitro document", e.nitroCA, false}} {
			doc, err := d.ca.Sign(nitrotest.Document{Timestamp: time.Now(), PCRs: e.pcrs, PublicKey: ek.PublicKeyDER(), ModuleID: "pair-test-enclave"})
			if err != nil {
				t.Fatal(err)
			}
			r, err := op.call(e.hw, id, nil, nil, recipientFor(ek, doc))
			if !d.allowed {
				se := wantCode(t, err, "KMS.0306", 403)
				if r != nil || strings.Contains(se.ErrorMessage, "attestation-bound") {
					t.Errorf("%s for %s: %v", op.name, d.name, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s for %s: %v", op.name, d.name, err)
			}
			priv, err := ek.Unwrap("GenerateDataKeyPair", arn, doc, b64(t, "ciphertext_recipient", r.CiphertextRecipient))
			if err != nil || r.PrivateKeyPlainText != nil {
				t.Fatalf("%s for %s: %v", op.name, d.name, err)
			}
			checkPair(t, op.spec, b64(t, "public_key", r.PublicKey), priv)
		}
	}
}
