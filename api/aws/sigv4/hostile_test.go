package sigv4_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/attestkms/attestkms/api/aws/sigv4"
	"github.com/attestkms/attestkms/internal/httpsig"
)

const testURL = "https://kms.us-east-1.amazonaws.com/"

// sdkSigned is a KMS Encrypt request signed by the SDK, as the server
// receives it; prepare may change the request before signing.
func sdkSigned(t testing.TB, prepare func(r *http.Request)) (*http.Request, []byte) {
	t.Helper()
	r := kmsRequest(t, testURL, "Encrypt", testBody)
	if prepare != nil {
		prepare(r)
	}
	sdkSign(t, r, testBody, testAKID, testSecret, "us-east-1", testTime)
	return receive(t, r)
}

func sdkSignWith(t testing.TB, r *http.Request, payload, akid, secret, service string) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, payload, service, "us-east-1", testTime); err != nil {
		t.Fatal(err)
	}
}

// checkErr asserts err is of kind want, Verify's contract for errors, and
// that the message is lower-case and holds no secret.
func checkErr(t *testing.T, res *sigv4.Result, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v; want %v", err, want)
	}
	if res != nil {
		t.Fatalf("result %+v beside error %v", res, err)
	}
	msg := err.Error()
	if r := []rune(msg); unicode.IsUpper(r[0]) || strings.HasSuffix(msg, ".") {
		t.Errorf("message %q: want lower-case, no final period", msg)
	}
	if strings.Contains(msg, testSecret) {
		t.Errorf("message %q holds the secret", msg)
	}
}

func TestHostile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(r *http.Request) // before signing
		mutate  func(r *http.Request) // after receiving
		body    func(b []byte) []byte // after receiving
		want    error
	}{
		{name: "ok", want: nil},
		// Signed content changed in flight.
		{name: "body byte", body: func(b []byte) []byte { b[len(b)-2] ^= 1; return b }, want: httpsig.ErrSignature},
		{name: "body appended", body: func(b []byte) []byte { return append(b, ' ') }, want: httpsig.ErrSignature},
		{name: "body empty", body: func([]byte) []byte { return nil }, want: httpsig.ErrSignature},
		{name: "target value", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Target", "TrentService.ScheduleKeyDeletion") }, want: httpsig.ErrSignature},
		{name: "content type value", mutate: func(r *http.Request) { r.Header.Set("Content-Type", "application/x-amz-json-1.0") }, want: httpsig.ErrSignature},
		{name: "signed sdk header value", mutate: func(r *http.Request) { r.Header.Set("Amz-Sdk-Request", "attempt=2; max=3") }, want: httpsig.ErrSignature},
		{name: "date one second", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20240314T150927Z") }, want: httpsig.ErrSignature},
		{name: "host", mutate: func(r *http.Request) { r.Host = "kms.us-east-2.amazonaws.com" }, want: httpsig.ErrSignature},
		{name: "method", mutate: func(r *http.Request) { r.Method = "PUT" }, want: httpsig.ErrSignature},
		{name: "path", mutate: func(r *http.Request) { r.URL.Path = "/x" }, want: httpsig.ErrSignature},
		{name: "query added", mutate: func(r *http.Request) { r.URL.RawQuery = "a=b" }, want: httpsig.ErrSignature},
		{name: "content length", mutate: func(r *http.Request) { r.Header.Set("Content-Length", "1") }, want: httpsig.ErrSignature},
		{name: "access key", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testAKID, "AKIAIOSFODNN7EXAMPLF", 1))
		}, want: httpsig.ErrSignature},
		{name: "region", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/us-east-1/", "/us-east-2/", 1))
		}, want: httpsig.ErrSignature},
		{name: "signed headers dropped", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "amz-sdk-invocation-id;", "", 1))
		}, want: httpsig.ErrSignature},
		// Unsigned headers change nothing.
		{name: "user agent", mutate: func(r *http.Request) { r.Header.Set("User-Agent", "evil") }, want: nil},
		{name: "accept encoding", mutate: func(r *http.Request) { r.Header.Set("Accept-Encoding", "br") }, want: nil},
		// Headers that select meaning must be signed.
		{name: "unsigned target", prepare: func(r *http.Request) { r.Header.Del("X-Amz-Target") },
			mutate: func(r *http.Request) { r.Header.Set("X-Amz-Target", "TrentService.Decrypt") }, want: httpsig.ErrMalformed},
		{name: "unsigned target lower-case key", prepare: func(r *http.Request) { r.Header.Del("X-Amz-Target") },
			mutate: func(r *http.Request) { r.Header["x-amz-target"] = []string{"TrentService.Decrypt"} }, want: httpsig.ErrMalformed},
		{name: "unsigned content type", prepare: func(r *http.Request) { r.Header.Del("Content-Type") },
			mutate: func(r *http.Request) { r.Header.Set("Content-Type", "application/x-amz-json-1.1") }, want: httpsig.ErrMalformed},
		{name: "unsigned content sha256", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", payloadHash(testBody)) }, want: httpsig.ErrMalformed},
		{name: "unsigned security token", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "t") }, want: httpsig.ErrMalformed},
		{name: "target twice", mutate: func(r *http.Request) { r.Header.Add("X-Amz-Target", "TrentService.Decrypt") }, want: httpsig.ErrMalformed},
		{name: "target two spellings", mutate: func(r *http.Request) { r.Header["x-amz-target"] = []string{"TrentService.Decrypt"} }, want: httpsig.ErrMalformed},
		{name: "signed header missing", mutate: func(r *http.Request) { r.Header.Del("Amz-Sdk-Invocation-Id") }, want: httpsig.ErrMalformed},
		{name: "signed target missing", mutate: func(r *http.Request) { r.Header.Del("X-Amz-Target") }, want: httpsig.ErrMalformed},
		{name: "no host", mutate: func(r *http.Request) { r.Host = "" }, want: httpsig.ErrMalformed},
		// Found by FuzzVerify: an obs-folded Host line gives "host " to
		// http.ReadRequest, and the canonical form trims it.
		{name: "host trailing space", mutate: func(r *http.Request) { r.Host += " " }, want: httpsig.ErrMalformed},
		{name: "host control byte", mutate: func(r *http.Request) { r.Host += "\x00" }, want: httpsig.ErrMalformed},
		{name: "line feed in signed value", mutate: func(r *http.Request) { r.Header.Set("Amz-Sdk-Request", "attempt=1;\nmax=3") }, want: httpsig.ErrMalformed},
		{name: "method not a token", mutate: func(r *http.Request) { r.Method = "POST\n/" }, want: httpsig.ErrMalformed},
		{name: "host too long", mutate: func(r *http.Request) { r.Host = strings.Repeat("a", 301) }, want: httpsig.ErrMalformed},
		{name: "host not signed", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";host;", ";", 1))
		}, want: httpsig.ErrMalformed},
		{name: "date not signed", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";x-amz-date;", ";", 1))
		}, want: httpsig.ErrMalformed},
		{name: "authorization signed", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "amz-sdk-request;", "amz-sdk-request;authorization;", 1))
		}, want: httpsig.ErrMalformed},
		// Authentication missing or in a form we refuse.
		{name: "no authorization", mutate: func(r *http.Request) { r.Header.Del("Authorization") }, want: httpsig.ErrMissing},
		{name: "empty authorization", mutate: func(r *http.Request) { r.Header.Set("Authorization", "") }, want: httpsig.ErrMalformed},
		{name: "two authorizations", mutate: func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) }, want: httpsig.ErrMalformed},
		{name: "presigned query", mutate: func(r *http.Request) {
			r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=" + strings.Repeat("0", 64)
			r.Header.Del("Authorization")
		}, want: httpsig.ErrMalformed},
		{name: "repeated query", mutate: func(r *http.Request) { r.URL.RawQuery = "a=1&a=2" }, want: httpsig.ErrMalformed},
		{name: "bad query", mutate: func(r *http.Request) { r.URL.RawQuery = "a=%zz" }, want: httpsig.ErrMalformed},
		{name: "semicolon query", mutate: func(r *http.Request) { r.URL.RawQuery = "a=1;b=2" }, want: httpsig.ErrMalformed},
		{name: "no date", mutate: func(r *http.Request) { r.Header.Del("X-Amz-Date") }, want: httpsig.ErrMalformed},
		{name: "date only", mutate: func(r *http.Request) {
			r.Header.Del("X-Amz-Date")
			r.Header.Set("Date", testTime.Format(http.TimeFormat))
		}, want: httpsig.ErrMalformed},
		{name: "two dates", mutate: func(r *http.Request) { r.Header.Add("X-Amz-Date", "20240314T150926Z") }, want: httpsig.ErrMalformed},
		{name: "date one-digit hour", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20240314T9926Z") }, want: httpsig.ErrMalformed},
		{name: "date rfc3339", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Date", "2024-03-14T15:09:26Z") }, want: httpsig.ErrMalformed},
		{name: "date offset", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20240314T150926+0000") }, want: httpsig.ErrMalformed},
		{name: "date invalid day", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Date", "20240230T150926Z") }, want: httpsig.ErrMalformed},
		{name: "scope date next day", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20240314/", "/20240315/", 1))
		}, want: httpsig.ErrMalformed},
		{name: "scope date other day, x-amz-date to match", mutate: func(r *http.Request) {
			r.Header.Set("X-Amz-Date", "20240315T000000Z")
		}, want: httpsig.ErrMalformed},
		{name: "wrong service", prepare: func(r *http.Request) {}, mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/kms/", "/s3/", 1))
		}, want: httpsig.ErrMalformed},
		{name: "upper-case hex signature", mutate: func(r *http.Request) {
			a := r.Header.Get("Authorization")
			i := strings.Index(a, "Signature=") + len("Signature=")
			r.Header.Set("Authorization", a[:i]+strings.ToUpper(a[i:]))
		}, want: httpsig.ErrMalformed},
		{name: "duplicate credential", mutate: func(r *http.Request) {
			a := r.Header.Get("Authorization")
			cred := a[strings.Index(a, "Credential="):strings.Index(a, ",")]
			r.Header.Set("Authorization", a+", "+cred)
		}, want: httpsig.ErrMalformed},
		{name: "huge authorization", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", r.Header.Get("Authorization")+strings.Repeat(" ", 5000))
		}, want: httpsig.ErrMalformed},
		{name: "too many signed headers", prepare: func(r *http.Request) {
			for i := range 70 {
				r.Header.Set("X-Pad-"+strings.Repeat("a", i%26+1)+string(rune('a'+i/26)), "v")
			}
		}, want: httpsig.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, body := sdkSigned(t, tc.prepare)
			if tc.mutate != nil {
				tc.mutate(r)
			}
			if tc.body != nil {
				body = tc.body(body)
			}
			res, err := testVerifier().Verify(r, body, testTime)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				return
			}
			checkErr(t, res, err, tc.want)
		})
	}
}

// TestUnknownKeyLooksLikeWrongSignature: an unknown access key and a wrong
// signature must be indistinguishable by error, message and kind.
func TestUnknownKeyLooksLikeWrongSignature(t *testing.T) {
	var errs []error
	for _, cred := range [][2]string{
		{"AKIAUNKNOWNUNKNOWN00", testSecret}, // unknown key, right secret
		{"AKIAUNKNOWNUNKNOWN00", "other"},    // unknown key, any secret
		{testAKID, testSecret + "x"},         // known key, wrong secret
	} {
		r := kmsRequest(t, testURL, "Encrypt", testBody)
		sdkSign(t, r, testBody, cred[0], cred[1], "us-east-1", testTime)
		srv, body := receive(t, r)
		res, err := testVerifier().Verify(srv, body, testTime)
		checkErr(t, res, err, httpsig.ErrSignature)
		errs = append(errs, err)
	}
	for _, err := range errs[1:] {
		if err != errs[0] || err.Error() != errs[0].Error() {
			t.Errorf("%q differs from %q", err, errs[0])
		}
	}

	// The unknown key still costs a secret lookup and the whole HMAC chain.
	calls := 0
	v := &sigv4.Verifier{Service: "kms", Lookup: func(id string) ([]byte, bool) { calls++; return nil, false }}
	r, body := sdkSigned(t, nil)
	if _, err := v.Verify(r, body, testTime); !errors.Is(err, httpsig.ErrSignature) || calls != 1 {
		t.Fatalf("unknown key: %v after %d lookups", err, calls)
	}
}

// TestFlippedSignatureDigit flips each hex digit of a good signature in turn.
func TestFlippedSignatureDigit(t *testing.T) {
	r, body := sdkSigned(t, nil)
	good := r.Header.Get("Authorization")
	i := strings.Index(good, "Signature=") + len("Signature=")
	for j := i; j < len(good); j++ {
		b := []byte(good)
		if b[j] == '0' {
			b[j] = 'f'
		} else {
			b[j] = '0'
		}
		r.Header.Set("Authorization", string(b))
		res, err := testVerifier().Verify(r, body, testTime)
		checkErr(t, res, err, httpsig.ErrSignature)
		if strings.Contains(err.Error(), good[i:]) {
			t.Fatalf("message %q holds the expected signature", err)
		}
	}
}

func TestSkew(t *testing.T) {
	r, body := sdkSigned(t, nil)
	for _, tc := range []struct {
		skew time.Duration
		want error
	}{
		{0, nil},
		{14*time.Minute + 59*time.Second, nil},
		{-14*time.Minute - 59*time.Second, nil},
		{15 * time.Minute, nil},
		{-15 * time.Minute, nil},
		{15*time.Minute + time.Second, httpsig.ErrExpired},
		{-15*time.Minute - time.Second, httpsig.ErrExpired},
		{15*time.Minute + time.Nanosecond, httpsig.ErrExpired},
		{24 * time.Hour, httpsig.ErrExpired},
		{-365 * 24 * time.Hour, httpsig.ErrExpired},
	} {
		// now = date + skew: positive skew is an old request, negative a future one.
		res, err := testVerifier().Verify(r, body, testTime.Add(tc.skew))
		if tc.want == nil {
			if err != nil {
				t.Errorf("skew %v: %v", tc.skew, err)
			}
			continue
		}
		if !errors.Is(err, tc.want) || res != nil {
			t.Errorf("skew %v: %v; want %v", tc.skew, err, tc.want)
		}
	}

	// A smaller MaxSkew is honoured, and expiry is checked before the
	// signature: a bad signature out of the window is ErrExpired.
	v := &sigv4.Verifier{Service: "kms", MaxSkew: time.Minute, Lookup: testLookup}
	if _, err := v.Verify(r, body, testTime.Add(61*time.Second)); !errors.Is(err, httpsig.ErrExpired) {
		t.Errorf("1m skew: %v", err)
	}
	if _, err := v.Verify(r, body, testTime.Add(59*time.Second)); err != nil {
		t.Errorf("1m skew: %v", err)
	}
	if _, err := v.Verify(r, append(body, 'x'), testTime.Add(time.Hour)); !errors.Is(err, httpsig.ErrExpired) {
		t.Errorf("expired and tampered: %v; want ErrExpired first", err)
	}
}

func TestWrongService(t *testing.T) {
	r := kmsRequest(t, testURL, "Encrypt", testBody)
	sdkSignWith(t, r, payloadHash(testBody), testAKID, testSecret, "s3")
	srv, body := receive(t, r)
	res, err := testVerifier().Verify(srv, body, testTime)
	checkErr(t, res, err, httpsig.ErrMalformed)
}

func TestPayloadHashHeader(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		want         error
	}{
		{"matching", payloadHash(testBody), nil},
		{"unsigned payload", "UNSIGNED-PAYLOAD", httpsig.ErrMalformed},
		{"streaming", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", httpsig.ErrMalformed},
		{"streaming events", "STREAMING-AWS4-HMAC-SHA256-EVENTS", httpsig.ErrMalformed},
		{"upper-case hash", strings.ToUpper(payloadHash(testBody)), httpsig.ErrMalformed},
		{"other body's hash", payloadHash(testBody + " "), httpsig.ErrSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The client signs with the header's value as its payload hash,
			// as an S3 client would.
			r := kmsRequest(t, testURL, "Encrypt", testBody)
			r.Header.Set("X-Amz-Content-Sha256", tc.header)
			sdkSignWith(t, r, tc.header, testAKID, testSecret, "kms")
			srv, body := receive(t, r)
			res, err := testVerifier().Verify(srv, body, testTime)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			checkErr(t, res, err, tc.want)
		})
	}

	// Our own signer sends the header; a changed body is still ErrSignature.
	r := kmsRequest(t, testURL, "Encrypt", testBody)
	ourSign(t, r, testBody, "us-east-1", testTime)
	srv, body := receive(t, r)
	body[0] = '['
	res, err := testVerifier().Verify(srv, body, testTime)
	checkErr(t, res, err, httpsig.ErrSignature)
}

func TestConfig(t *testing.T) {
	r, body := sdkSigned(t, nil)
	for name, v := range map[string]*sigv4.Verifier{
		"no service":    {Lookup: testLookup},
		"no lookup":     {Service: "kms"},
		"negative skew": {Service: "kms", MaxSkew: -time.Second, Lookup: testLookup},
	} {
		if res, err := v.Verify(r, body, testTime); !errors.Is(err, httpsig.ErrConfig) || res != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := testVerifier().Verify(r, body, time.Time{}); !errors.Is(err, httpsig.ErrConfig) {
		t.Errorf("zero clock: %v", err)
	}
	// Config is checked before anything else: no answer leaks from a
	// misconfigured verifier, not even "missing".
	r.Header.Del("Authorization")
	if _, err := (&sigv4.Verifier{Lookup: testLookup}).Verify(r, body, testTime); !errors.Is(err, httpsig.ErrConfig) {
		t.Errorf("no service, no auth: %v", err)
	}
}

// TestVerifyLeavesInputAlone: verifiers never modify their input.
func TestVerifyLeavesInputAlone(t *testing.T) {
	secret := []byte(testSecret)
	v := &sigv4.Verifier{Service: "kms", Lookup: func(string) ([]byte, bool) { return secret, true }}
	r, body := sdkSigned(t, nil)
	header, host, url, bodyCopy := r.Header.Clone(), r.Host, *r.URL, append([]byte(nil), body...)
	if _, err := v.Verify(r, body, testTime); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(header, r.Header) || host != r.Host || url != *r.URL || string(bodyCopy) != string(body) || string(secret) != testSecret {
		t.Fatal("verify modified its input")
	}
}
