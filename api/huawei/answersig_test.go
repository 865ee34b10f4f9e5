package huawei_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/answer"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
)

// TestAnswerSignature: an answer with ciphertext_recipient carries
// attestkms_answer_signature, in this dialect's casing, which verifies
// under the service key over the request's document and the answer's
// fields (the AWS names, as docs/answers.md maps them: key_arn is the
// KeyId, cipher_text hex-decoded the CiphertextBlob).
func TestAnswerSignature(t *testing.T) {
	e := newAttestedEnv(t)
	c := newClient(t, e.srv)
	id := createKey(t, c, "data", "", "")
	var pins []string
	for _, k := range e.srv.Service.ServiceKeys() {
		pins = append(pins, k.ID)
	}
	sigOf := func(body []byte) (*answer.Signature, string) {
		t.Helper()
		var out struct {
			Sig *struct {
				KeyID     string `json:"key_id"`
				PublicKey string `json:"public_key"`
				Signature string `json:"signature"`
				KeyARN    string `json:"key_arn"`
			} `json:"attestkms_answer_signature"`
		}
		if err := json.Unmarshal(body, &out); err != nil || out.Sig == nil {
			t.Fatalf("no attestkms_answer_signature (%v): %s", err, body)
		}
		pub, _ := base64.StdEncoding.DecodeString(out.Sig.PublicKey)
		sig, _ := base64.StdEncoding.DecodeString(out.Sig.Signature)
		return &answer.Signature{KeyID: out.Sig.KeyID, PublicKey: pub, Signature: sig}, out.Sig.KeyARN
	}
	cfrOf := func(body []byte) []byte {
		b, err := base64.StdEncoding.DecodeString(field(t, body, "ciphertext_recipient"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	doc := e.doc(t, nitrotest.Document{})
	rj := fmt.Sprintf(`{"attestation_document":%q,"key_encryption_algorithm":"RSAES_OAEP_SHA_256"}`, base64.StdEncoding.EncodeToString(doc))
	body := fmt.Sprintf(`{"key_id":%q,"datakey_length":"256","recipient":%s}`, id, rj)
	r := raw{op: "create-datakey", body: body}.do(t, e.srv)
	if r.status != 200 {
		t.Fatalf("create-datakey: %d %s", r.status, r.body)
	}
	sig, arn := sigOf(r.body)
	blob, _ := hex.DecodeString(field(t, r.body, "cipher_text"))
	fields := []answer.Field{{Name: "CiphertextForRecipient", Value: cfrOf(r.body)}, {Name: "CiphertextBlob", Value: blob}, {Name: "KeyId", Value: []byte(arn)}}
	if err := answer.Verify(pins, sig, doc, []byte(body), "GenerateDataKey", arn, fields); err != nil {
		t.Fatalf("create-datakey's signature: %v", err)
	}
	if err := answer.Verify(pins, sig, doc, []byte(strings.Replace(body, `"256"`, `"128"`, 1)), "GenerateDataKey", arn, fields); err == nil {
		t.Fatal("create-datakey's signature verifies for another request")
	}
	if want := "arn:aws:kms:" + e.srv.Region + ":" + e.srv.Account.AccountID + ":key/" + id; arn != want {
		t.Fatalf("key_arn %q, want %q", arn, want)
	}

	body = fmt.Sprintf(`{"random_data_length":"256","recipient":%s}`, rj)
	r = raw{op: "gen-random", body: body}.do(t, e.srv)
	sig, arn = sigOf(r.body)
	if err := answer.Verify(pins, sig, doc, []byte(body), "GenerateRandom", "", []answer.Field{{Name: "CiphertextForRecipient", Value: cfrOf(r.body)}}); err != nil || arn != "" {
		t.Fatalf("gen-random's signature: %v (key_arn %q)", err, arn)
	}
}
