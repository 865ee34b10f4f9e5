package aws_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"

	awsv2 "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/attestkms/attestkms/answer"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/recipient"
)

// recorder keeps the body of every request the SDK sends and of every
// answer it receives.
type recorder struct {
	mu       sync.Mutex
	bodies   [][]byte
	requests [][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var sent []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		sent = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	r.mu.Lock()
	r.requests = append(r.requests, sent)
	r.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	r.mu.Lock()
	r.bodies = append(r.bodies, b)
	r.mu.Unlock()
	return resp, nil
}

func (r *recorder) last() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[len(r.bodies)-1]
}

// lastRequest is the body of the last request, as the SDK sent it.
func (r *recorder) lastRequest() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests[len(r.requests)-1]
}

// TestAnswerSignatureThroughSDK: through the official SDK, an answer to a
// request with a Recipient carries AttestKMSAnswerSignature, which the SDK
// ignores (it still decodes the answer: the data key unwraps), and which
// verifies under the service key over the request's document, the request's
// body as the SDK sent it, and the answer's fields as the SDK decoded them.
func TestAnswerSignatureThroughSDK(t *testing.T) {
	e := newAttestedEnv(t)
	rec := &recorder{}
	c := awskms.New(awskms.Options{
		Region:           e.srv.Region,
		Credentials:      credentials.NewStaticCredentialsProvider(e.srv.AccessKey, e.srv.Secret, ""),
		BaseEndpoint:     awsv2.String(e.srv.URL),
		RetryMaxAttempts: 1,
		HTTPClient:       &http.Client{Transport: rec},
	})
	var pins []string
	for _, k := range e.srv.Service.ServiceKeys() {
		pins = append(pins, k.ID)
	}
	sigOf := func() *answer.Signature {
		t.Helper()
		var out struct {
			AttestKMSAnswerSignature *struct{ KeyId, PublicKey, Signature string }
		}
		if err := json.Unmarshal(rec.last(), &out); err != nil {
			t.Fatal(err)
		}
		s := out.AttestKMSAnswerSignature
		if s == nil {
			return nil
		}
		pub, err1 := base64.StdEncoding.DecodeString(s.PublicKey)
		sig, err2 := base64.StdEncoding.DecodeString(s.Signature)
		if err1 != nil || err2 != nil {
			t.Fatalf("member not base64: %v, %v", err1, err2)
		}
		return &answer.Signature{KeyID: s.KeyId, PublicKey: pub, Signature: sig}
	}
	k, _ := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	doc := e.doc(t, nitrotest.Document{})
	rcpt := &types.RecipientInfo{AttestationDocument: doc, KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256}

	gdk, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: k.KeyMetadata.KeyId, KeySpec: types.DataKeySpecAes256, Recipient: rcpt})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recipient.UnwrapCMS(e.priv, gdk.CiphertextForRecipient); err != nil {
		t.Fatalf("the SDK's decoded answer does not unwrap: %v", err)
	}
	fields := []answer.Field{{Name: "CiphertextForRecipient", Value: gdk.CiphertextForRecipient}, {Name: "CiphertextBlob", Value: gdk.CiphertextBlob}, {Name: "KeyId", Value: []byte(*gdk.KeyId)}}
	sig, req := sigOf(), rec.lastRequest()
	if err := answer.Verify(pins, sig, doc, req, "GenerateDataKey", *gdk.KeyId, fields); err != nil {
		t.Fatalf("GenerateDataKey's signature: %v", err)
	}
	if err := answer.Verify(pins, sig, e.doc(t, nitrotest.Document{}), req, "GenerateDataKey", *gdk.KeyId, fields); err == nil {
		t.Fatal("the signature verifies for another document")
	}
	if err := answer.Verify(pins, sig, doc, bytes.Replace(req, []byte("AES_256"), []byte("AES_128"), 1), "GenerateDataKey", *gdk.KeyId, fields); err == nil {
		t.Fatal("the signature verifies for another request")
	}

	r, err := c.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: awsInt32(32), Recipient: rcpt})
	if err != nil {
		t.Fatal(err)
	}
	if err := answer.Verify(pins, sigOf(), doc, rec.lastRequest(), "GenerateRandom", "", []answer.Field{{Name: "CiphertextForRecipient", Value: r.CiphertextForRecipient}}); err != nil {
		t.Fatalf("GenerateRandom's signature: %v", err)
	}

	dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, Recipient: rcpt})
	if err != nil {
		t.Fatal(err)
	}
	if err := answer.Verify(pins, sigOf(), doc, rec.lastRequest(), "Decrypt", *dec.KeyId, []answer.Field{{Name: "CiphertextForRecipient", Value: dec.CiphertextForRecipient}, {Name: "KeyId", Value: []byte(*dec.KeyId)}, {Name: "EncryptionAlgorithm", Value: []byte(dec.EncryptionAlgorithm)}}); err != nil {
		t.Fatalf("Decrypt's signature: %v", err)
	}

	// Without a Recipient, no member.
	if _, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: k.KeyMetadata.KeyId, KeySpec: types.DataKeySpecAes256}); err != nil {
		t.Fatal(err)
	}
	if sigOf() != nil {
		t.Fatal("a plaintext answer carries a signature")
	}
}
