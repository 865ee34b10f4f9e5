package sdkhmac_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/api/huawei/sdkhmac"
	"github.com/attestkms/attestkms/internal/httpsig"
)

// signedKMSRequest is sdkCases[0] (a create-datakey) signed by the SDK's
// signer at testTime and received by a server.
func signedKMSRequest(t testing.TB) (*http.Request, []byte) {
	hr, _ := sdkCases[0].sdkSign(t, testAK, testSecret, testTime)
	return overWire(t, hr)
}

// TestHostile mutates an SDK-signed request one way at a time; each
// mutation is refused with its kind, or accepted only if what the signature
// covers is unchanged.
func TestHostile(t *testing.T) {
	type mutation func(r *http.Request, body *[]byte, now *time.Time, v *sdkhmac.Verifier)
	cases := []struct {
		name string
		mut  mutation
		want error // nil: accepted
	}{
		{"unchanged", func(*http.Request, *[]byte, *time.Time, *sdkhmac.Verifier) {}, nil},
		{"unsigned content-type changed", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			r.Header.Set("Content-Type", "text/plain")
		}, nil},
		{"unsigned header added", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) { r.Header.Set("X-Extra", "1") }, nil},
		{"skew 14 minutes", func(_ *http.Request, _ *[]byte, now *time.Time, _ *sdkhmac.Verifier) {
			*now = testTime.Add(14 * time.Minute)
		}, nil},
		{"skew -14 minutes", func(_ *http.Request, _ *[]byte, now *time.Time, _ *sdkhmac.Verifier) {
			*now = testTime.Add(-14 * time.Minute)
		}, nil},
		{"content sha256 is the body's", func(r *http.Request, body *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			s := sha256.Sum256(*body)
			r.Header.Set("X-Sdk-Content-Sha256", hex.EncodeToString(s[:]))
		}, nil},

		{"wrong secret", func(_ *http.Request, _ *[]byte, _ *time.Time, v *sdkhmac.Verifier) {
			v.Lookup = func(string) ([]byte, bool) { return []byte(testSecret + "x"), true }
		}, httpsig.ErrSignature},
		{"unknown access key", func(_ *http.Request, _ *[]byte, _ *time.Time, v *sdkhmac.Verifier) {
			v.Lookup = func(string) ([]byte, bool) { return nil, false }
		}, httpsig.ErrSignature},
		{"body changed", func(_ *http.Request, body *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			*body = []byte(strings.Replace(string(*body), "512", "8192", 1))
		}, httpsig.ErrSignature},
		{"body emptied", func(_ *http.Request, body *[]byte, _ *time.Time, _ *sdkhmac.Verifier) { *body = nil }, httpsig.ErrSignature},
		{"other project", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			r.URL.Path = strings.Replace(r.URL.Path, testProject, strings.Repeat("0", 32), 1)
		}, httpsig.ErrSignature},
		{"other operation", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			r.URL.Path = strings.Replace(r.URL.Path, "create-datakey", "schedule-key-deletion", 1)
		}, httpsig.ErrSignature},
		{"trailing slash", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) { r.URL.Path += "/" }, nil},
		{"method", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) { r.Method = "PUT" }, httpsig.ErrSignature},
		{"method not a token", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) { r.Method = "PO ST" }, httpsig.ErrMalformed},
		{"query added", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) { r.URL.RawQuery = "a=b" }, httpsig.ErrSignature},
		{"query unparseable", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) { r.URL.RawQuery = "a=%zz" }, httpsig.ErrMalformed},
		{"signed header changed", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			r.Header.Set("X-Project-Id", strings.Repeat("0", 32))
		}, httpsig.ErrSignature},
		{"signed header removed", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) { r.Header.Del("User-Agent") }, httpsig.ErrMalformed},
		{"signed header twice", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			r.Header.Add("X-Project-Id", testProject)
		}, httpsig.ErrMalformed},
		{"signed header with line feed", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			r.Header.Set("User-Agent", "a\nx-sdk-date:20240314T150926Z")
		}, httpsig.ErrMalformed},
		{"date a second later", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			r.Header.Set("X-Sdk-Date", testTime.Add(time.Second).Format(sdkhmac.DateFormat))
		}, httpsig.ErrSignature},
		{"date malformed", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			r.Header.Set("X-Sdk-Date", "2024-03-14T15:09:26Z")
		}, httpsig.ErrMalformed},
		{"date one-digit hour", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			r.Header.Set("X-Sdk-Date", "20240314T5926Z")
		}, httpsig.ErrMalformed},
		{"date twice", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			r.Header.Add("X-Sdk-Date", r.Header.Get("X-Sdk-Date"))
		}, httpsig.ErrMalformed},
		{"date missing", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) { r.Header.Del("X-Sdk-Date") }, httpsig.ErrMalformed},
		{"stale 16 minutes", func(_ *http.Request, _ *[]byte, now *time.Time, _ *sdkhmac.Verifier) {
			*now = testTime.Add(16 * time.Minute)
		}, httpsig.ErrExpired},
		{"future 16 minutes", func(_ *http.Request, _ *[]byte, now *time.Time, _ *sdkhmac.Verifier) {
			*now = testTime.Add(-16 * time.Minute)
		}, httpsig.ErrExpired},
		{"unsigned payload", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			r.Header.Set("X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD")
		}, httpsig.ErrMalformed},
		{"content sha256 of another body", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			s := sha256.Sum256([]byte("{}"))
			r.Header.Set("X-Sdk-Content-Sha256", hex.EncodeToString(s[:]))
		}, httpsig.ErrSignature},
		{"security token", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			r.Header.Set("X-Security-Token", "token")
		}, httpsig.ErrMalformed},
		{"two authorizations", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			r.Header.Add("Authorization", r.Header.Get("Authorization"))
		}, httpsig.ErrMalformed},
		{"no authorization", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) { r.Header.Del("Authorization") }, httpsig.ErrMissing},
		{"signature flipped", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			h := r.Header.Get("Authorization")
			last := h[len(h)-1]
			flip := map[byte]byte{'0': '1'}[last]
			if flip == 0 {
				flip = '0'
			}
			r.Header.Set("Authorization", h[:len(h)-1]+string(flip))
		}, httpsig.ErrSignature},
		{"host signed but not valid", func(r *http.Request, _ *[]byte, _ *time.Time, _ *sdkhmac.Verifier) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=", "SignedHeaders=host;", 1))
			r.Host = "a b"
		}, httpsig.ErrMalformed},
		{"nil lookup", func(_ *http.Request, _ *[]byte, _ *time.Time, v *sdkhmac.Verifier) { v.Lookup = nil }, httpsig.ErrConfig},
		{"negative skew", func(_ *http.Request, _ *[]byte, _ *time.Time, v *sdkhmac.Verifier) { v.MaxSkew = -1 }, httpsig.ErrConfig},
		{"zero clock", func(_ *http.Request, _ *[]byte, now *time.Time, _ *sdkhmac.Verifier) { *now = time.Time{} }, httpsig.ErrConfig},
	}
	for _, tc := range cases {
		r, body := signedKMSRequest(t)
		now, v := testTime, testVerifier()
		tc.mut(r, &body, &now, v)
		header, u := r.Header.Clone(), *r.URL
		res, err := v.Verify(r, body, now)
		if !reflect.DeepEqual(header, r.Header) || u != *r.URL {
			t.Errorf("%s: Verify modified the request", tc.name)
		}
		switch {
		case tc.want == nil && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != nil && (!errors.Is(err, tc.want) || res != nil):
			t.Errorf("%s: %v, %v; want %v", tc.name, res, err, tc.want)
		}
	}
}

// TestUnknownKeySameAnswer: an unknown access key and a wrong secret are the
// same error, and the unknown key still costs a lookup and an HMAC (the
// lookup is made only after every cheap check passed).
func TestUnknownKeySameAnswer(t *testing.T) {
	r, body := signedKMSRequest(t)
	lookups := 0
	unknown := &sdkhmac.Verifier{Lookup: func(string) ([]byte, bool) { lookups++; return nil, false }}
	wrong := &sdkhmac.Verifier{Lookup: func(string) ([]byte, bool) {
		lookups++
		return []byte("another secret of forty characters long!"), true
	}}
	_, e1 := unknown.Verify(r, body, testTime)
	_, e2 := wrong.Verify(r, body, testTime)
	if e1 != httpsig.ErrSignature || e2 != httpsig.ErrSignature || e1.Error() != e2.Error() || lookups != 2 {
		t.Fatalf("unknown key: %v; wrong secret: %v; %d lookups", e1, e2, lookups)
	}
	// A malformed request never reaches the lookup.
	r.Header.Del("X-Sdk-Date")
	unknown.Verify(r, body, testTime)
	if lookups != 2 {
		t.Fatal("a malformed request reached the secret lookup")
	}
}
