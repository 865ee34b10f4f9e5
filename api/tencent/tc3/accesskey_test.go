package tc3_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/api/tencent/tc3"
)

// TestAccessKeyID: the SecretId a request claims, read before its body
// (api/internal/pipeline asks it of a request from a source whose budget
// for failures is spent): the signed request's, and "" for a request whose
// Authorization header is absent, doubled, too long or not TC3's.
func TestAccessKeyID(t *testing.T) {
	signed := func() *http.Request {
		body := []byte(`{}`)
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-TC-Action", "ListKeys")
		if err := tc3.Sign(r, body, "AKIDEXAMPLE", []byte("secret"), "kms", time.Now()); err != nil {
			t.Fatal(err)
		}
		return r
	}
	v := &tc3.Verifier{Service: "kms"}
	if got := v.AccessKeyID(signed()); got != "AKIDEXAMPLE" {
		t.Fatalf("a signed request's SecretId: %q", got)
	}
	for name, spoil := range map[string]func(r *http.Request){
		"no header": func(r *http.Request) { r.Header.Del("Authorization") },
		"two":       func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) },
		"too long": func(r *http.Request) {
			r.Header.Set("Authorization", r.Header.Get("Authorization")+strings.Repeat(" ", 2048))
		},
		"sigv4's": func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "TC3-HMAC-SHA256", "AWS4-HMAC-SHA256", 1))
		},
	} {
		r := signed()
		spoil(r)
		if got := v.AccessKeyID(r); got != "" {
			t.Errorf("%s: %q; want none", name, got)
		}
	}
}
