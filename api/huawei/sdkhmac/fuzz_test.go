package sdkhmac_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/api/huawei/sdkhmac"
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
		a, err := sdkhmac.ParseAuthorization(h)
		if err != nil {
			if a != nil || !errors.Is(err, httpsig.ErrMalformed) {
				t.Fatalf("failed parse: %v, %v", a, err)
			}
			return
		}
		s := a.String()
		b, err := sdkhmac.ParseAuthorization(s)
		if err != nil {
			t.Fatalf("re-serialised %q does not parse: %v", s, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed %+v into %+v", a, b)
		}
		if b.String() != s {
			t.Fatalf("String is not a fixed point: %q, %q", s, b.String())
		}
		if len(a.Signature) != 32 || !slices.Contains(a.SignedHeaders, "x-sdk-date") || len(h) > 4096 {
			t.Fatalf("accepted out of bounds: %q", h)
		}
	})
}

// signedWire is an SDK-signed KMS request on the wire, made once.
var signedWire = sync.OnceValue(func() []byte {
	hr, _ := sdkCases[0].sdkSign(&testing.T{}, testAK, testSecret, testTime)
	var b bytes.Buffer
	if err := hr.Write(&b); err != nil {
		panic(err)
	}
	return b.Bytes()
})

func parseWire(wire []byte) (*http.Request, []byte, error) {
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(wire)))
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(r.Body)
	return r, body, err
}

// meaning is what a signature must protect: everything of the request but
// its unsigned headers, each signed value trimmed, the path as the scheme
// signs it (a trailing "/" added), the query as parsed, since the scheme
// signs no more than that.
type meaning struct {
	Method, Host, Path string
	Query              url.Values
	Body               string
	Headers            map[string][]string
}

func meaningOf(r *http.Request, body []byte, names []string) meaning {
	q, _ := url.ParseQuery(r.URL.RawQuery)
	for _, vs := range q {
		slices.Sort(vs)
	}
	path := r.URL.Path
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	m := meaning{Method: r.Method, Path: path, Query: q, Body: string(body), Headers: map[string][]string{}}
	for _, n := range append(names, "x-sdk-content-sha256", "x-security-token") {
		if n == "host" {
			m.Host = r.Host
			continue
		}
		var vs []string
		for k, kv := range r.Header {
			if strings.EqualFold(k, n) {
				for _, v := range kv {
					vs = append(vs, strings.TrimSpace(v))
				}
			}
		}
		m.Headers[n] = vs
	}
	return m
}

// FuzzVerify mutates an SDK-signed request (its wire bytes, one header, the
// body, host, method, path, query, the clock) and asserts that Verify
// refuses unless what the signature covers is unchanged, classifies every
// refusal, and never modifies the request.
func FuzzVerify(f *testing.F) {
	f.Add(uint8(0), "", []byte(nil), int64(0))                      // unchanged
	f.Add(uint8(1), "X-Project-Id", []byte("0000"), int64(0))       // set a signed header
	f.Add(uint8(1), "Content-Type", []byte("text/plain"), int64(0)) // unsigned: fine
	f.Add(uint8(2), "User-Agent", []byte("x"), int64(0))            // add a value
	f.Add(uint8(3), "X-Sdk-Date", []byte(nil), int64(0))            // delete
	f.Add(uint8(4), "", []byte(`{"key_id":"x","datakey_length":"8"}`), int64(0))
	f.Add(uint8(5), "", []byte("kms.cn-north-4.myhuaweicloud.com:443"), int64(0)) // host
	f.Add(uint8(6), "PUT", []byte(nil), int64(0))                                 // method
	f.Add(uint8(7), "", []byte("/v1.0/"+testProject+"/kms/create-datakey/"), int64(0))
	f.Add(uint8(8), "", []byte("a=b"), int64(0)) // query
	f.Add(uint8(9), "", []byte(goodAuth), int64(0))
	f.Add(uint8(10), "", []byte("x"), int64(900))                                 // clock
	f.Add(uint8(11), "", []byte("T"), int64(40))                                  // wire overwrite
	f.Add(uint8(11+12), "", []byte("X-Security-Token: t\r\n"), int64(20))         // wire insert
	f.Add(uint8(11+24), "", []byte(nil), int64(100))                              // wire delete
	f.Add(uint8(1), "X-Sdk-Content-Sha256", []byte("UNSIGNED-PAYLOAD"), int64(0)) // unsigned payload
	f.Fuzz(func(t *testing.T, op uint8, name string, value []byte, n int64) {
		wire := signedWire()
		orig, origBody, err := parseWire(wire)
		if err != nil {
			t.Fatal(err)
		}
		a, err := sdkhmac.ParseAuthorization(orig.Header.Get("Authorization"))
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
			now = testTime.Add(time.Duration(n%7200) * time.Second)
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
		if d := now.Sub(testTime); d > 15*time.Minute || d < -15*time.Minute {
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
	f.Add("POST", "/v1.0/"+testProject+"/kms/create-key", "", "X-Project-Id", testProject, []byte(`{"key_alias":"a"}`))
	f.Add("GET", "/a%20b/c%2Fd/é", "b=2&a=1&c=x%20y&a=0", "X-Custom", "  a   b ", []byte(nil))
	f.Add("PUT", "/~x", "k=%7E&e=", "Content-Type", "application/json; charset=utf-8", []byte("{}"))
	f.Fuzz(func(t *testing.T, method, path, query, name, value string, body []byte) {
		r, err := http.NewRequest(method, "https://kms.example"+path, bytes.NewReader(body))
		if err != nil {
			return
		}
		r.URL.RawQuery = query
		r.Header.Set("X-Project-Id", testProject)
		if name != "" {
			r.Header.Set(name, value)
		}
		if err := sdkhmac.Sign(r, body, testAK, []byte(testSecret), testTime); err != nil {
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
			t.Fatalf("signed request refused: %v\n%s", err, wire.Bytes())
		}
	})
}
