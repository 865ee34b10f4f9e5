package sigv4_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/api/aws/sigv4"
	v4 "github.com/attestkms/attestkms/internal/sigv4"
)

// TestAccessKeyID: the access key id a request claims, read before its
// body (api/internal/pipeline asks it of a request from a source whose
// budget for failures is spent): the signed request's, and "" for a request
// whose Authorization header is absent, doubled, too long or not SigV4's,
// never a part of an unparsed header.
func TestAccessKeyID(t *testing.T) {
	signed := func() *http.Request {
		body := []byte(`{}`)
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		if err := v4.Sign(r, body, "AKIAEXAMPLEEXAMPLE12", []byte("secret"), "us-east-1", "kms", time.Now()); err != nil {
			t.Fatal(err)
		}
		return r
	}
	v := &sigv4.Verifier{Service: "kms"}
	if got := v.AccessKeyID(signed()); got != "AKIAEXAMPLEEXAMPLE12" {
		t.Fatalf("a signed request's access key id: %q", got)
	}
	for name, spoil := range map[string]func(r *http.Request){
		"no header": func(r *http.Request) { r.Header.Del("Authorization") },
		"two":       func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) },
		"too long": func(r *http.Request) {
			r.Header.Set("Authorization", r.Header.Get("Authorization")+strings.Repeat(" ", 4096))
		},
		"tc3's": func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256", "TC3-HMAC-SHA256", 1))
		},
		"truncated": func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLEEXAMPLE12")
		},
		"no headers": func(r *http.Request) { r.Header = nil },
	} {
		r := signed()
		spoil(r)
		if got := v.AccessKeyID(r); got != "" {
			t.Errorf("%s: %q; want none", name, got)
		}
	}
}
