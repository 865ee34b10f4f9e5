package sigv4_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/attestkms/attestkms/internal/sigv4"
)

// The oracle is the AWS SDK for Go v2's own signer: for what Sign accepts,
// its Authorization must be the SDK's byte for byte. (api/aws/sigv4 holds
// Sign to the verifier: what it signs, Verify accepts.)

const (
	testURL    = "https://kms.us-east-1.amazonaws.com/"
	testAKID   = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testBody   = `{"KeyId":"alias/app","Plaintext":"aGVsbG8="}`
)

var testTime = time.Date(2024, 3, 14, 15, 9, 26, 0, time.UTC)

// kmsRequest is a request as the KMS client builds it before signing.
func kmsRequest(t testing.TB, url, target, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target != "" {
		r.Header.Set("X-Amz-Target", "TrentService."+target)
	}
	r.Header.Set("Amz-Sdk-Invocation-Id", "0b7a4f5e-6c1d-4e2a-9a43-3f1c2d4b5e6f")
	r.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	r.Header.Set("User-Agent", "aws-sdk-go-v2/1.47.7 ua/2.1 os/linux lang/go#1.26 md/GOOS#linux api/kms#1.40.0 m/E")
	return r
}

func payloadHash(body []byte) string {
	h := sha256.Sum256(body)
	return hex.EncodeToString(h[:])
}

func TestSignRefuses(t *testing.T) {
	for name, f := range map[string]func() error{
		"bad region": func() error {
			return sigv4.Sign(kmsRequest(t, testURL, "Encrypt", ""), nil, testAKID, []byte(testSecret), "US East", "kms", testTime)
		},
		"bad akid": func() error {
			return sigv4.Sign(kmsRequest(t, testURL, "Encrypt", ""), nil, "AKIA/X", []byte(testSecret), "us-east-1", "kms", testTime)
		},
		"empty secret": func() error {
			return sigv4.Sign(kmsRequest(t, testURL, "Encrypt", ""), nil, testAKID, nil, "us-east-1", "kms", testTime)
		},
		"zero time": func() error {
			return sigv4.Sign(kmsRequest(t, testURL, "Encrypt", ""), nil, testAKID, []byte(testSecret), "us-east-1", "kms", time.Time{})
		},
		"target twice": func() error {
			r := kmsRequest(t, testURL, "Encrypt", "")
			r.Header.Add("X-Amz-Target", "TrentService.Decrypt")
			return sigv4.Sign(r, nil, testAKID, []byte(testSecret), "us-east-1", "kms", testTime)
		},
		"two spellings": func() error {
			r := kmsRequest(t, testURL, "Encrypt", "")
			r.Header["x-amz-target"] = []string{"TrentService.Decrypt"}
			return sigv4.Sign(r, nil, testAKID, []byte(testSecret), "us-east-1", "kms", testTime)
		},
		"line feed": func() error {
			r := kmsRequest(t, testURL, "Encrypt", "")
			r.Header.Set("X-Foo", "a\nb")
			return sigv4.Sign(r, nil, testAKID, []byte(testSecret), "us-east-1", "kms", testTime)
		},
		"too many headers": func() error {
			r := kmsRequest(t, testURL, "Encrypt", "")
			for i := range 60 {
				r.Header.Set("X-Pad-"+string(rune('a'+i/26))+string(rune('a'+i%26)), "v")
			}
			return sigv4.Sign(r, nil, testAKID, []byte(testSecret), "us-east-1", "kms", testTime)
		},
		"ipv6 zone": func() error { // net/http would send the host without it
			return sigv4.Sign(kmsRequest(t, "https://[fe80::1%25en0]:8443/", "Encrypt", ""), nil, testAKID, []byte(testSecret), "us-east-1", "kms", testTime)
		},
		"repeated query": func() error {
			return sigv4.Sign(kmsRequest(t, testURL+"?a=1&a=2", "Encrypt", ""), nil, testAKID, []byte(testSecret), "us-east-1", "kms", testTime)
		},
	} {
		if err := f(); !errors.Is(err, sigv4.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A refused request is left as it was.
	r := kmsRequest(t, "https://kms.example:443/?a=1&a=2", "Encrypt", "")
	before, host := r.Header.Clone(), r.Host
	if err := sigv4.Sign(r, nil, testAKID, []byte(testSecret), "us-east-1", "kms", testTime); err == nil ||
		!reflect.DeepEqual(before, r.Header) || r.Host != host || r.URL.RawQuery != "a=1&a=2" {
		t.Fatalf("refused Sign changed the request: %v", err)
	}
	r = kmsRequest(t, "https://kms.example:443/", "Encrypt", "")
	r.Header.Set("X-Foo", "a\x00")
	before, host = r.Header.Clone(), r.Host
	if err := sigv4.Sign(r, nil, testAKID, []byte(testSecret), "us-east-1", "kms", testTime); err == nil ||
		!reflect.DeepEqual(before, r.Header) || r.Host != host {
		t.Fatalf("refused Sign changed the request: %v", err)
	}
	// The signature in Sign's output is hex of 32 bytes, like the SDK's, in
	// the SDK's header form.
	r = kmsRequest(t, testURL, "Encrypt", testBody)
	if err := sigv4.Sign(r, []byte(testBody), testAKID, []byte(testSecret), "us-east-1", "kms", testTime); err != nil {
		t.Fatal(err)
	}
	if h := r.Header.Get("Authorization"); !authorizationRE.MatchString(h) {
		t.Fatalf("authorization %q", h)
	}
}

var authorizationRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240314/us-east-1/kms/aws4_request, ` +
	`SignedHeaders=[a-z0-9-]+(;[a-z0-9-]+)*, Signature=[0-9a-f]{64}$`)

// FuzzSign: Sign either refuses with ErrMalformed and leaves the request as
// it was, or writes the Authorization the AWS SDK's signer writes for the
// same request, byte for byte.
func FuzzSign(f *testing.F) {
	f.Add("POST", "/", "", "X-Amz-Target", "TrentService.Encrypt", []byte(testBody))
	f.Add("GET", "/a%20b/c%2Fd/é", "b=2&a=1&c=x%20y", "X-Custom", "  a   b ", []byte(nil))
	f.Add("PUT", "/~x", "k=%7E&e=", "Content-Type", "application/x-amz-json-1.1; charset=utf-8", []byte("{}"))
	f.Add("GET", "/", "a=1&a=2", "X-Foo", "a\nb", []byte(nil))
	f.Fuzz(func(t *testing.T, method, path, query, name, value string, body []byte) {
		build := func() *http.Request {
			r, err := http.NewRequest(method, "https://kms.example"+path, bytes.NewReader(body))
			if err != nil {
				return nil
			}
			r.URL.RawQuery = query
			r.Header.Set("X-Amz-Target", "TrentService.Encrypt")
			if name != "" {
				r.Header.Set(name, value)
			}
			return r
		}
		ours, theirs := build(), build()
		if ours == nil {
			return
		}
		header, host, u := ours.Header.Clone(), ours.Host, *ours.URL
		if err := sigv4.Sign(ours, body, testAKID, []byte(testSecret), "us-east-1", "kms", testTime); err != nil {
			if !errors.Is(err, sigv4.ErrMalformed) {
				t.Fatalf("unclassified: %v", err)
			}
			if !reflect.DeepEqual(header, ours.Header) || host != ours.Host || u != *ours.URL {
				t.Fatal("a refused Sign changed the request")
			}
			return
		}
		theirs.Header.Set("X-Amz-Content-Sha256", payloadHash(body))
		creds := aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, theirs, payloadHash(body), "kms", "us-east-1", testTime); err != nil {
			t.Fatalf("the SDK refuses what Sign signed: %v", err)
		}
		if o, s := ours.Header.Get("Authorization"), theirs.Header.Get("Authorization"); o != s {
			t.Fatalf("authorization differs\n ours: %s\n  sdk: %s", o, s)
		}
	})
}
