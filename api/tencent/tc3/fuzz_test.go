package tc3_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/api/tencent/tc3"
	"github.com/attestkms/attestkms/internal/httpsig"
)

// FuzzParseAuthorization: no panic; whatever parses re-serialises to a value
// that parses to the same thing, and that serialisation is a fixed point; a
// failed parse returns nothing partial.
func FuzzParseAuthorization(f *testing.F) {
	f.Add(goodAuth)
	for _, h := range malformedAuthorizations {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := tc3.ParseAuthorization(h)
		if err != nil {
			if a != nil || !errors.Is(err, httpsig.ErrMalformed) {
				t.Fatalf("failed parse: %v, %v", a, err)
			}
			return
		}
		s := a.String()
		b, err := tc3.ParseAuthorization(s)
		if err != nil {
			t.Fatalf("re-serialised %q does not parse: %v", s, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed %+v into %+v", a, b)
		}
		if b.String() != s {
			t.Fatalf("String is not a fixed point: %q, %q", s, b.String())
		}
		if len(a.Signature) != 32 || !slices.Contains(a.SignedHeaders, "host") || !slices.Contains(a.SignedHeaders, "content-type") || len(h) > 2048 {
			t.Fatalf("accepted out of bounds: %q", h)
		}
	})
}

// signedWire is a signed KMS request on the wire (the SDK's bytes: see
// TestSignMatchesSDK), with X-TC-Action signed too so that the fuzzer can
// find what a signed extra header protects.
var signedWire = sync.OnceValues(func() ([]byte, []byte) {
	wire := func(extra ...string) []byte {
		r, _ := http.NewRequest("POST", "https://kms.tencentcloudapi.com/", strings.NewReader(testBody))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-TC-Action", "Encrypt")
		r.Header.Set("X-TC-Version", "2019-01-18")
		r.Header.Set("X-TC-Region", "ap-guangzhou")
		if err := tc3.Sign(r, []byte(testBody), testID, []byte(testSecret), "kms", testTime, extra...); err != nil {
			panic(err)
		}
		var b bytes.Buffer
		if err := r.Write(&b); err != nil {
			panic(err)
		}
		return b.Bytes()
	}
	return wire(), wire("x-tc-action")
})

func parseWire(wire []byte) (*http.Request, []byte, error) {
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(wire)))
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(r.Body)
	return r, body, err
}

// meaning is what a signature must protect: the method, path, query, body,
// the timestamp and every signed header, each value in canonical form
// (trimmed, lower case), since TC3 signs no more than that.
type meaning struct {
	Method, Path, Query, Body, Timestamp string
	Headers                              map[string]string
}

func meaningOf(r *http.Request, body []byte, names []string) meaning {
	m := meaning{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Body: string(body),
		Timestamp: strings.Join(r.Header.Values("X-TC-Timestamp"), ","), Headers: map[string]string{}}
	for _, n := range names {
		var vs []string
		if n == "host" {
			vs = []string{r.Host}
		}
		for k, kv := range r.Header {
			if strings.EqualFold(k, n) {
				vs = append(vs, kv...)
			}
		}
		for i := range vs {
			vs[i] = strings.ToLower(strings.Trim(vs[i], " \t"))
		}
		m.Headers[n] = strings.Join(vs, "\x00")
	}
	return m
}

// FuzzVerify mutates a signed request (one header, the body, host, method,
// path, query, the clock, or the wire bytes) and asserts that Verify refuses
// unless what the signature covers is unchanged, classifies every refusal,
// and never modifies the request.
func FuzzVerify(f *testing.F) {
	f.Add(uint8(0), "", []byte(nil), int64(0))                              // unchanged
	f.Add(uint8(1), "X-TC-Action", []byte("ScheduleKeyDeletion"), int64(1)) // set a header
	f.Add(uint8(1), "X-TC-Region", []byte("ap-shanghai"), int64(0))         // unsigned: fine
	f.Add(uint8(2), "Content-Type", []byte("text/plain"), int64(0))         // add a value
	f.Add(uint8(3), "X-TC-Timestamp", []byte(nil), int64(0))                // delete
	f.Add(uint8(4), "", []byte(`{"KeyId":"alias/app","Plaintext":"aGVsbG9="}`), int64(0))
	f.Add(uint8(5), "", []byte("KMS.TencentCloudAPI.com"), int64(0))         // host, other case
	f.Add(uint8(6), "GET", []byte(nil), int64(0))                            // method
	f.Add(uint8(7), "", []byte("/%2F"), int64(0))                            // path
	f.Add(uint8(8), "", []byte("a=b"), int64(0))                             // query
	f.Add(uint8(9), "", []byte(goodAuth), int64(0))                          // authorization
	f.Add(uint8(10), "", []byte("x"), int64(300))                            // clock
	f.Add(uint8(11), "", []byte("T"), int64(40))                             // wire overwrite
	f.Add(uint8(11+12), "", []byte("X-TC-Token: t\r\n"), int64(20))          // wire insert
	f.Add(uint8(11+24), "", []byte(nil), int64(100))                         // wire delete
	f.Add(uint8(1), "X-TC-Timestamp", []byte("1710428967"), int64(1))        // same day, other second
	f.Add(uint8(1), "Content-Type", []byte(" APPLICATION/JSON\t"), int64(0)) // same canonical value
	f.Fuzz(func(t *testing.T, op uint8, name string, value []byte, n int64) {
		plain, withAction := signedWire()
		wire := plain
		if n%2 != 0 {
			wire = withAction
		}
		orig, origBody, err := parseWire(wire)
		if err != nil {
			t.Fatal(err)
		}
		a, err := tc3.ParseAuthorization(orig.Header.Get("Authorization"))
		if err != nil {
			t.Fatal(err)
		}
		want := meaningOf(orig, origBody, a.SignedHeaders)

		r, body := orig, slices.Clone(origBody)
		now := testTime
		switch op % 12 {
		case 0:
		case 1:
			r.Header.Set(name, string(value))
		case 2:
			r.Header.Add(name, string(value))
		case 3:
			r.Header.Del(name)
		case 4:
			body = value
		case 5:
			r.Host = string(value)
		case 6:
			r.Method = name
		case 7:
			r.URL.Path, r.URL.RawPath = string(value), name
		case 8:
			r.URL.RawQuery = string(value)
		case 9:
			r.Header.Set("Authorization", string(value))
		case 10:
			now = testTime.Add(time.Duration(n%1200) * time.Second)
		case 11:
			w := slices.Clone(wire)
			pos := int(uint64(n) % uint64(len(w)+1))
			switch op / 12 % 3 {
			case 0:
				w = append(w[:pos], append(value, w[min(pos+len(value), len(w)):]...)...)
			case 1:
				w = slices.Insert(w, pos, value...)
			case 2:
				w = slices.Delete(w, pos, min(pos+len(value)+1, len(w)))
			}
			if r, body, err = parseWire(w); err != nil {
				return
			}
		}

		header, host, u := r.Header.Clone(), r.Host, *r.URL
		res, err := testVerifier().Verify(r, body, now)
		if !reflect.DeepEqual(header, r.Header) || host != r.Host || u != *r.URL {
			t.Fatal("verify modified the request")
		}
		if err != nil {
			if res != nil {
				t.Fatalf("result beside error %v", err)
			}
			for _, kind := range []error{httpsig.ErrMissing, httpsig.ErrMalformed, httpsig.ErrSignature, httpsig.ErrExpired} {
				if errors.Is(err, kind) {
					return
				}
			}
			t.Fatalf("unclassified error %v", err)
		}
		if d := now.Sub(testTime); d > 5*time.Minute || d < -5*time.Minute {
			t.Fatalf("accepted at skew %v", d)
		}
		if got := meaningOf(r, body, a.SignedHeaders); !reflect.DeepEqual(got, want) {
			t.Fatalf("accepted a changed request:\n got %+v\nwant %+v", got, want)
		}
	})
}

// FuzzSignVerify: whatever Sign accepts, sent over the wire, Verify accepts;
// Sign and Verify share their canonicalisation, and this holds them to it.
func FuzzSignVerify(f *testing.F) {
	f.Add("kms.tencentcloudapi.com", "application/json", "X-TC-Action", "Encrypt", true, []byte(testBody))
	f.Add("127.0.0.1:8080", "application/json; charset=utf-8", "X-Custom", "  a   b ", false, []byte(nil))
	f.Add("[::1]:9", "Application/JSON", "X-TC-Region", "AP-Guangzhou", true, []byte("{}"))
	f.Fuzz(func(t *testing.T, host, contentType, name, value string, signExtra bool, body []byte) {
		r, err := http.NewRequest("POST", "https://kms.example/", bytes.NewReader(body))
		if err != nil {
			return
		}
		r.Host = host
		r.Header.Set("Content-Type", contentType)
		var extra []string
		if name != "" {
			r.Header.Set(name, value)
			if signExtra {
				extra = append(extra, strings.ToLower(name))
			}
		}
		if err := tc3.Sign(r, body, testID, []byte(testSecret), "kms", testTime, extra...); err != nil {
			if !errors.Is(err, httpsig.ErrMalformed) {
				t.Fatalf("unclassified: %v", err)
			}
			return
		}
		var wire bytes.Buffer
		if err := r.Write(&wire); err != nil {
			return // net/http would not send it either
		}
		srv, got, err := parseWire(wire.Bytes())
		if err != nil {
			return // nor would its server take it
		}
		if _, err := testVerifier().Verify(srv, got, testTime); err != nil {
			t.Fatalf("signed request refused: %v\n%q", err, wire.Bytes())
		}
	})
}
