package sigv4_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/attestkms/attestkms/api/aws/sigv4"
	"github.com/attestkms/attestkms/internal/httpsig"
	signer "github.com/attestkms/attestkms/internal/sigv4"
)

// The oracle is the AWS SDK for Go v2's own signer and KMS client: what they
// send must verify, and Sign must produce their Authorization byte for byte.

const (
	testAKID   = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testBody   = `{"KeyId":"alias/app","Plaintext":"aGVsbG8="}`
)

var testTime = time.Date(2024, 3, 14, 15, 9, 26, 0, time.UTC)

func testLookup(id string) ([]byte, bool) {
	if id == testAKID {
		return []byte(testSecret), true
	}
	return nil, false
}

func testVerifier() *sigv4.Verifier {
	return &sigv4.Verifier{Service: "kms", Lookup: testLookup}
}

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

func payloadHash(body string) string {
	h := sha256.Sum256([]byte(body))
	return hex.EncodeToString(h[:])
}

func sdkSign(t testing.TB, r *http.Request, body, akid, secret, region string, at time.Time) {
	t.Helper()
	creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, payloadHash(body), "kms", region, at); err != nil {
		t.Fatal(err)
	}
}

func ourSign(t testing.TB, r *http.Request, body, region string, at time.Time) {
	t.Helper()
	if err := signer.Sign(r, []byte(body), testAKID, []byte(testSecret), region, "kms", at); err != nil {
		t.Fatal(err)
	}
}

// receive sends r over a byte pipe and parses it as net/http's server does,
// so Host, Content-Length and the path arrive the way a handler sees them.
func receive(t testing.TB, r *http.Request) (*http.Request, []byte) {
	t.Helper()
	var wire bytes.Buffer
	if err := r.Write(&wire); err != nil {
		t.Fatal(err)
	}
	got, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		t.Fatalf("server side parse: %v\n%s", err, wire.String())
	}
	body, err := io.ReadAll(got.Body)
	if err != nil {
		t.Fatal(err)
	}
	return got, body
}

func mustVerify(t testing.TB, r *http.Request, body []byte, now time.Time) *sigv4.Result {
	t.Helper()
	res, err := testVerifier().Verify(r, body, now)
	if err != nil {
		t.Fatalf("verify: %v\n%s %s\n%v", err, r.Method, r.URL, r.Header)
	}
	if res.BodySHA256 != sha256.Sum256(body) {
		t.Fatalf("BodySHA256 %x is not the body's SHA-256", res.BodySHA256)
	}
	return res
}

var regions = []string{"us-east-1", "eu-west-3", "ap-southeast-5", "us-gov-west-1", "cn-north-1", "il-central-1"}

func TestSDKSignedVerifies(t *testing.T) {
	for _, region := range regions {
		t.Run(region, func(t *testing.T) {
			r := kmsRequest(t, "https://kms."+region+".amazonaws.com/", "Encrypt", testBody)
			sdkSign(t, r, testBody, testAKID, testSecret, region, testTime)
			sent := r.Header.Get("Authorization")
			srv, body := receive(t, r)
			res := mustVerify(t, srv, body, testTime.Add(3*time.Minute))
			if res.AccessKeyID != testAKID || res.Region != region || !res.SignedAt.Equal(testTime) {
				t.Errorf("result %+v", res)
			}
			if !strings.HasSuffix(sent, "Signature="+hex.EncodeToString(res.Signature)) || len(res.Signature) != 32 {
				t.Errorf("result signature %x is not the one sent in %s", res.Signature, sent)
			}
			// What the SDK signs: everything but the user agent.
			if !strings.Contains(sent, "SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-target,") {
				t.Errorf("unexpected signed headers in %s", sent)
			}
		})
	}
}

// TestSignMatchesSDK signs the same requests with Sign and with the SDK: the
// Authorization headers must be identical and both must verify.
func TestSignMatchesSDK(t *testing.T) {
	for _, tc := range []struct {
		name, method, url, target, body, region string
		header                                  http.Header
	}{
		{name: "encrypt", url: "https://kms.us-east-1.amazonaws.com/", target: "Encrypt", body: testBody, region: "us-east-1"},
		{name: "regions-eu", url: "https://kms.eu-central-1.amazonaws.com/", target: "Decrypt", body: `{"CiphertextBlob":"AAAA"}`, region: "eu-central-1"},
		{name: "regions-gov", url: "https://kms.us-gov-west-1.amazonaws.com/", target: "ListKeys", body: `{}`, region: "us-gov-west-1"},
		{name: "regions-cn", url: "https://kms.cn-north-1.amazonaws.com.cn/", target: "ListKeys", body: `{}`, region: "cn-north-1"},
		{name: "local-port", url: "http://127.0.0.1:8443/", target: "GenerateDataKey", body: `{"KeyId":"k","KeySpec":"AES_256"}`, region: "us-east-1"},
		{name: "default-port", url: "https://kms.example:443/", target: "ListKeys", body: `{}`, region: "us-east-1"},
		{name: "ipv6", url: "http://[::1]:8080/", target: "ListKeys", body: `{}`, region: "us-east-1"},
		{name: "empty-body", url: "https://kms.example/", target: "ListKeys", region: "us-east-1"},
		{name: "get-no-path", method: "GET", url: "https://kms.example", region: "us-east-1"},
		{name: "special-path", method: "GET", url: "https://kms.example/a%20b/c%2Fd/%C3%A9t%C3%A9/x+y/~u_v.w-z/!$&'()*,;=:@", region: "eu-west-1"},
		{name: "unicode-path", method: "GET", url: "https://kms.example/documents and settings/é€/", region: "eu-west-1"},
		{name: "dot-segments", method: "GET", url: "https://kms.example/a/./b/../c//d", region: "eu-west-1"},
		{name: "query", method: "GET", url: "https://kms.example/keys?b=2&a=1&c=x%20y&d=a%2Fb&e=&f=%7E&g=x+y&A=upper&a-b=1&a.b=2", region: "ap-northeast-1"},
		{name: "query-sorted-after-encoding", method: "GET", url: "https://kms.example/?x=a%2Fb&y=a-b&a%2Fb=1&a-b=2", region: "ap-northeast-1"},
		{name: "spaces-and-multi", url: "https://kms.example/", target: "Encrypt", body: testBody, region: "us-east-1", header: http.Header{
			"X-Custom":  {"  a   b  c ", "second\tvalue", "  third"},
			"X-Empty":   {""},
			"X-Tab":     {"\t tabbed \t"},
			"X-Amz-Foo": {"bar"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "POST"
			}
			build := func() *http.Request {
				r := kmsRequest(t, tc.url, tc.target, tc.body)
				r.Method = method
				for k, vs := range tc.header {
					r.Header[k] = append([]string(nil), vs...)
				}
				return r
			}
			ours, theirs := build(), build()
			ourSign(t, ours, tc.body, tc.region, testTime)
			// Sign adds X-Amz-Content-Sha256 and signs it; give the SDK the same.
			theirs.Header.Set("X-Amz-Content-Sha256", payloadHash(tc.body))
			sdkSign(t, theirs, tc.body, testAKID, testSecret, tc.region, testTime)

			if o, s := ours.Header.Get("Authorization"), theirs.Header.Get("Authorization"); o != s {
				t.Fatalf("authorization differs\n ours: %s\n  sdk: %s", o, s)
			}
			if ours.Host != theirs.Host || ours.URL.RawQuery != theirs.URL.RawQuery || ours.Header.Get("X-Amz-Date") != theirs.Header.Get("X-Amz-Date") {
				t.Fatalf("request differs: host %q/%q query %q/%q", ours.Host, theirs.Host, ours.URL.RawQuery, theirs.URL.RawQuery)
			}
			for _, r := range []*http.Request{ours, theirs} {
				srv, body := receive(t, r)
				mustVerify(t, srv, body, testTime)
			}
		})
	}
}

// TestKMSClient runs the real KMS client against a server that verifies.
func TestKMSClient(t *testing.T) {
	var mu sync.Mutex
	var results []*sigv4.Result
	var failures []error
	now := time.Now() // the client signs with the wall clock
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res, err := testVerifier().Verify(r, body, now)
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if err != nil {
			failures = append(failures, err)
			w.WriteHeader(400)
			io.WriteString(w, `{"__type":"InvalidSignatureException","message":"no"}`)
			return
		}
		results = append(results, res)
		io.WriteString(w, `{"KeyId":"arn:aws:kms:us-east-1:111122223333:key/k","CiphertextBlob":"AAAA","EncryptionAlgorithm":"SYMMETRIC_DEFAULT","Keys":[]}`)
	}))
	defer srv.Close()

	for _, region := range []string{"us-east-1", "eu-north-1", "ap-south-2"} {
		for _, secret := range []string{testSecret, testSecret + "x"} {
			client := awskms.New(awskms.Options{
				Region:           region,
				Credentials:      credentials.NewStaticCredentialsProvider(testAKID, secret, ""),
				BaseEndpoint:     aws.String(srv.URL),
				HTTPClient:       srv.Client(),
				RetryMaxAttempts: 1,
			})
			_, err1 := client.Encrypt(context.Background(), &awskms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("hello")})
			_, err2 := client.ListKeys(context.Background(), &awskms.ListKeysInput{})
			if good := secret == testSecret; good != (err1 == nil) || good != (err2 == nil) {
				t.Fatalf("region %s, good secret %v: encrypt %v, list keys %v", region, good, err1, err2)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(results) != 6 || len(failures) != 6 {
		t.Fatalf("%d verified, %d refused; want 6 and 6", len(results), len(failures))
	}
	for _, err := range failures {
		if !errors.Is(err, httpsig.ErrSignature) {
			t.Errorf("wrong secret: %v; want ErrSignature", err)
		}
	}
}
