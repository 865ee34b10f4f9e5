package tencent_test

import (
	"encoding/base64"
	"testing"

	"github.com/attestkms/attestkms/answer"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
)

// TestAnswerSignature: through the SDK's common client, an answer to a
// request with a Recipient carries AttestKMSAnswerSignature, which verifies
// under the service key over the request's document and the answer's
// fields: Plaintext (the wrap) is the CiphertextForRecipient, KeyArn the
// KeyId (docs/answers.md).
func TestAnswerSignature(t *testing.T) {
	e := newAttestedEnv(t)
	c := newClient(t, e.srv, "ap-guangzhou")
	id := createKey(t, c, "enclave")
	var pins []string
	for _, k := range e.srv.Service.ServiceKeys() {
		pins = append(pins, k.ID)
	}
	dec := func(v any) []byte {
		s, _ := v.(string)
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("not base64: %q", s)
		}
		return b
	}
	sigOf := func(out map[string]any) (*answer.Signature, string) {
		m, ok := out["AttestKMSAnswerSignature"].(map[string]any)
		if !ok {
			t.Fatalf("no AttestKMSAnswerSignature: %v", out)
		}
		kid, _ := m["KeyId"].(string)
		arn, _ := m["KeyArn"].(string)
		return &answer.Signature{KeyID: kid, PublicKey: dec(m["PublicKey"]), Signature: dec(m["Signature"])}, arn
	}
	rcpt := e.recipient(t, nitrotest.Document{})
	doc := dec(rcpt["AttestationDocument"])
	out, err := commonCall(t, e.srv, "GenerateDataKey", map[string]any{"KeyId": id, "KeySpec": "AES_256", "Recipient": rcpt})
	if err != nil {
		t.Fatal(err)
	}
	sig, arn := sigOf(out)
	fields := []answer.Field{{Name: "CiphertextForRecipient", Value: dec(out["Plaintext"])}, {Name: "CiphertextBlob", Value: dec(out["CiphertextBlob"])}, {Name: "KeyId", Value: []byte(arn)}}
	if err := answer.Verify(pins, sig, doc, "GenerateDataKey", arn, fields); err != nil {
		t.Fatalf("GenerateDataKey's signature: %v", err)
	}
	dout, err := commonCall(t, e.srv, "Decrypt", map[string]any{"CiphertextBlob": out["CiphertextBlob"], "Recipient": rcpt})
	if err != nil {
		t.Fatal(err)
	}
	sig, arn = sigOf(dout)
	if err := answer.Verify(pins, sig, doc, "Decrypt", arn, []answer.Field{{Name: "CiphertextForRecipient", Value: dec(dout["Plaintext"])}, {Name: "KeyId", Value: []byte(arn)}, {Name: "EncryptionAlgorithm", Value: []byte("SYMMETRIC_DEFAULT")}}); err != nil {
		t.Fatalf("Decrypt's signature: %v", err)
	}
	// No Recipient, no member.
	plain, err := commonCall(t, e.srv, "GenerateDataKey", map[string]any{"KeyId": id, "KeySpec": "AES_256"})
	if _, has := plain["AttestKMSAnswerSignature"]; err != nil || has {
		t.Fatalf("a plaintext answer: %v, %v", err, plain)
	}
}
