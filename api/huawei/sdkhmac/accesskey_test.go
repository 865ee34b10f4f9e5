package sdkhmac_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/api/huawei/sdkhmac"
)

// TestAccessKeyID: the access key id a request claims, read before its
// body (api/internal/pipeline asks it of a request from a source whose
// budget for failures is spent): the signed request's, and "" for a request
// whose Authorization header is absent, doubled, too long or not
// SDK-HMAC's.
func TestAccessKeyID(t *testing.T) {
	signed := func() *http.Request {
		body := []byte(`{}`)
		r := httptest.NewRequest(http.MethodPost, "/v1.0/p/kms/list-keys", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		if err := sdkhmac.Sign(r, body, "HWEXAMPLEAK", []byte("secret"), time.Now()); err != nil {
			t.Fatal(err)
		}
		return r
	}
	var v sdkhmac.Verifier
	if got := v.AccessKeyID(signed()); got != "HWEXAMPLEAK" {
		t.Fatalf("a signed request's access key id: %q", got)
	}
	for name, spoil := range map[string]func(r *http.Request){
		"no header": func(r *http.Request) { r.Header.Del("Authorization") },
		"two":       func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) },
		"too long": func(r *http.Request) {
			r.Header.Set("Authorization", r.Header.Get("Authorization")+strings.Repeat(" ", 4096))
		},
		"sigv4's": func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SDK-HMAC-SHA256", "AWS4-HMAC-SHA256", 1))
		},
	} {
		r := signed()
		spoil(r)
		if got := v.AccessKeyID(r); got != "" {
			t.Errorf("%s: %q; want none", name, got)
		}
	}
}
