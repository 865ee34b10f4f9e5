package enclave

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type fixedAttestor []byte

func (d fixedAttestor) Attest(_, _, _ []byte) ([]byte, error) { return d, nil }

// hostile starts a server that answers every request with status and body.
func hostile(t *testing.T, status int, body string) *Session {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	k, err := NewKey(2048)
	if err != nil {
		t.Fatal(err)
	}
	return &Session{
		Client:   &Client{Endpoint: srv.URL, AccessKeyID: "AKIATEST", SecretAccessKey: "secret"},
		Attestor: fixedAttestor("doc"),
		Key:      k,
	}
}

// TestHostileAnswers: what a host between the enclave and attestkms may
// answer is refused with an error, never taken as a secret.
func TestHostileAnswers(t *testing.T) {
	ctx := context.Background()

	// A plaintext where the wrapped secret should be is not a secret.
	s := hostile(t, 200, `{"Plaintext":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","CiphertextBlob":"AQ==","KeyId":"k"}`)
	if dk, err := s.GenerateDataKey(ctx, "k", "AES_256", 0, nil); !errors.Is(err, errNoCiphertext) || dk != nil {
		t.Fatalf("GenerateDataKey without CiphertextForRecipient: %v, %v", dk, err)
	}
	if pt, err := s.Decrypt(ctx, []byte{1}, "", nil); !errors.Is(err, errNoCiphertext) || pt != nil {
		t.Fatalf("Decrypt without CiphertextForRecipient: %v, %v", pt, err)
	}

	// A CiphertextForRecipient that is not CMS to our key.
	s = hostile(t, 200, `{"CiphertextForRecipient":"MIAGCSqGSIb3DQEHA6CAMIACAQIxggE="}`)
	if b, err := s.GenerateRandom(ctx, 32); err == nil || b != nil {
		t.Fatalf("GenerateRandom with a broken CiphertextForRecipient: %x, %v", b, err)
	}

	// An endless answer is cut off at maxAnswer and refused.
	s = hostile(t, 200, `{"CiphertextForRecipient":"`+strings.Repeat("A", maxAnswer)+`"}`)
	if _, err := s.GenerateRandom(ctx, 32); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("GenerateRandom with an oversized answer: %v", err)
	}

	// An error answer that is not JSON still yields an APIError.
	s = hostile(t, 400, "<html>bad gateway</html>")
	var ae *APIError
	if _, err := s.GenerateRandom(ctx, 32); !errors.As(err, &ae) || ae.Status != 400 || ae.Type != "Bad Request" {
		t.Fatalf("GenerateRandom with an HTML error: %v", err)
	}
}
