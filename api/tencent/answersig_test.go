package tencent_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"

	"github.com/attestkms/attestkms/answer"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/internal/testserver"
)

// sentBody keeps the body of the last request it carries.
type sentBody struct{ body []byte }

func (s *sentBody) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		s.body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	return http.DefaultTransport.RoundTrip(req)
}

// recordedCall is commonCall, also returning the request body the SDK sent:
// what an answer's signature binds.
func recordedCall(t *testing.T, srv *testserver.Server, action string, params map[string]any) (map[string]any, []byte) {
	t.Helper()
	rec := &sentBody{}
	client := common.NewCommonClient(common.NewCredential(srv.AccessKey, srv.Secret), "ap-guangzhou", clientProfile(srv))
	client.WithHttpTransport(rec)
	req := tchttp.NewCommonRequest("kms", "2019-01-18", action)
	if err := req.SetActionParameters(params); err != nil {
		t.Fatal(err)
	}
	resp := tchttp.NewCommonResponse()
	if err := client.Send(req, resp); err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	var out struct{ Response map[string]any }
	if err := json.Unmarshal(resp.GetBody(), &out); err != nil {
		t.Fatal(err)
	}
	return out.Response, rec.body
}

// TestAnswerSignature: through the SDK's common client, an answer to a
// request with a Recipient carries AttestKMSAnswerSignature, which verifies
// under the service key over the request's document, the request's body as
// the SDK sent it, and the answer's fields: Plaintext (the wrap) is the CiphertextForRecipient, KeyArn the
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
	out, req := recordedCall(t, e.srv, "GenerateDataKey", map[string]any{"KeyId": id, "KeySpec": "AES_256", "Recipient": rcpt})
	sig, arn := sigOf(out)
	fields := []answer.Field{{Name: "CiphertextForRecipient", Value: dec(out["Plaintext"])}, {Name: "CiphertextBlob", Value: dec(out["CiphertextBlob"])}, {Name: "KeyId", Value: []byte(arn)}}
	if err := answer.Verify(pins, sig, doc, req, "GenerateDataKey", arn, fields); err != nil {
		t.Fatalf("GenerateDataKey's signature: %v", err)
	}
	if other := bytes.Replace(req, []byte("AES_256"), []byte("AES_128"), 1); bytes.Equal(other, req) {
		t.Fatalf("no KeySpec in the request %s", req)
	} else if err := answer.Verify(pins, sig, doc, other, "GenerateDataKey", arn, fields); err == nil {
		t.Fatal("the signature verifies for another request")
	}
	dout, req := recordedCall(t, e.srv, "Decrypt", map[string]any{"CiphertextBlob": out["CiphertextBlob"], "Recipient": rcpt})
	sig, arn = sigOf(dout)
	if err := answer.Verify(pins, sig, doc, req, "Decrypt", arn, []answer.Field{{Name: "CiphertextForRecipient", Value: dec(dout["Plaintext"])}, {Name: "KeyId", Value: []byte(arn)}, {Name: "EncryptionAlgorithm", Value: []byte("SYMMETRIC_DEFAULT")}}); err != nil {
		t.Fatalf("Decrypt's signature: %v", err)
	}
	rout, req := recordedCall(t, e.srv, "GenerateRandom", map[string]any{"NumberOfBytes": 32, "Recipient": rcpt})
	sig, arn = sigOf(rout)
	if err := answer.Verify(pins, sig, doc, req, "GenerateRandom", "", []answer.Field{{Name: "CiphertextForRecipient", Value: dec(rout["Plaintext"])}}); err != nil || arn != "" {
		t.Fatalf("GenerateRandom's signature: %v (KeyArn %q)", err, arn)
	}
	// No Recipient, no member.
	plain, err := commonCall(t, e.srv, "GenerateDataKey", map[string]any{"KeyId": id, "KeySpec": "AES_256"})
	if _, has := plain["AttestKMSAnswerSignature"]; err != nil || has {
		t.Fatalf("a plaintext answer: %v, %v", err, plain)
	}
}
