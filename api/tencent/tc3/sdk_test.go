package tc3_test

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/attestkms/attestkms/api/tencent/tc3"
)

// The oracle is the Tencent Cloud SDK for Go itself: what its KMS client
// sends must verify, and Sign must produce its Authorization byte for byte.

const (
	testID     = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
	testSecret = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLEKEY"
	testBody   = `{"KeyId":"93866e69-9755-11ef-8e65-52540089bc41","Plaintext":"aGVsbG8="}`
)

func testLookup(id string) ([]byte, bool) {
	if id == testID {
		return []byte(testSecret), true
	}
	return nil, false
}

func testVerifier() *tc3.Verifier { return &tc3.Verifier{Service: "kms", Lookup: testLookup} }

// capture is an http.RoundTripper that keeps the SDK's request and answers
// every call with an empty success.
type capture struct {
	req  *http.Request
	body []byte
}

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	c.body, _ = io.ReadAll(r.Body)
	c.req = r
	return &http.Response{
		StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    io.NopCloser(strings.NewReader(`{"Response":{"RequestId":"00000000-0000-4000-8000-000000000000"}}`)),
		Request: r,
	}, nil
}

// sdkClient is the SDK's KMS client sending to endpoint through c.
func sdkClient(t testing.TB, endpoint, region string, c *capture) *tckms.Client {
	t.Helper()
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = endpoint
	client, err := tckms.NewClient(common.NewCredential(testID, testSecret), region, cpf)
	if err != nil {
		t.Fatal(err)
	}
	client.WithHttpTransport(c)
	return client
}

func str(s string) *string { return &s }

// sdkEncrypt has the SDK send an Encrypt request to endpoint and returns it
// as the server receives it, with its body.
func sdkEncrypt(t testing.TB, endpoint, body string) (*http.Request, []byte) {
	t.Helper()
	c := &capture{}
	req := tckms.NewEncryptRequest()
	if err := req.FromJsonString(body); err != nil {
		t.Fatal(err)
	}
	if _, err := sdkClient(t, endpoint, "ap-guangzhou", c).Encrypt(req); err != nil {
		t.Fatal(err)
	}
	return receive(t, c.req, c.body)
}

// receive writes a client request to the wire and reads it back as a server
// does.
func receive(t testing.TB, r *http.Request, body []byte) (*http.Request, []byte) {
	t.Helper()
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	var wire bytes.Buffer
	if err := r.Write(&wire); err != nil {
		t.Fatal(err)
	}
	srv, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(srv.Body)
	if err != nil {
		t.Fatal(err)
	}
	return srv, got
}

func timestampOf(t testing.TB, r *http.Request) time.Time {
	t.Helper()
	n, err := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Unix(n, 0)
}

// TestSDKRequestShape pins what the analysis of the SDK's signer rests on:
// it signs content-type;host only, sends the action, version, region and
// timestamp as headers, and posts JSON to "/".
func TestSDKRequestShape(t *testing.T) {
	r, body := sdkEncrypt(t, "kms.tencentcloudapi.com", testBody)
	a, err := tc3.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(a.SignedHeaders, ";") != "content-type;host" {
		t.Fatalf("the SDK signs %v; the package doc says content-type;host", a.SignedHeaders)
	}
	for h, want := range map[string]string{
		"X-TC-Action": "Encrypt", "X-TC-Version": "2019-01-18", "X-TC-Region": "ap-guangzhou",
		"Content-Type": "application/json",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s: %q; want %q", h, got, want)
		}
	}
	if r.Method != "POST" || r.URL.Path != "/" || r.URL.RawQuery != "" || r.Host != "kms.tencentcloudapi.com" || a.Service != "kms" {
		t.Fatalf("request %s %s host %s service %s", r.Method, r.URL, r.Host, a.Service)
	}
	if string(body) != testBody {
		t.Fatalf("body %s", body)
	}
	if r.Header.Get("X-TC-Nonce") != "" || r.Header.Get("X-TC-Token") != "" {
		t.Fatal("the SDK sent a nonce or a token")
	}
}

// TestSignMatchesSDK: for the SDK's own request and second, Sign writes the
// SDK's Authorization byte for byte, and Verify accepts what the SDK sent.
func TestSignMatchesSDK(t *testing.T) {
	for _, tc := range []struct{ endpoint, body string }{
		{"kms.tencentcloudapi.com", testBody},
		{"kms.ap-shanghai.tencentcloudapi.com", `{"KeyId":"alias/app","Plaintext":"` + strings.Repeat("QUJD", 1000) + `"}`},
		{"127.0.0.1:8080", `{"KeyId":"x","Plaintext":"eA==","EncryptionContext":"{\"a\":\"b\"}"}`},
		{"[::1]:443", `{}`},
	} {
		r, body := sdkEncrypt(t, tc.endpoint, tc.body)
		at := timestampOf(t, r)
		sdkAuth := r.Header.Get("Authorization")

		res, err := testVerifier().Verify(r, body, at.Add(time.Second))
		if err != nil {
			t.Fatalf("%s: the SDK's request does not verify: %v", tc.endpoint, err)
		}
		if res.AccessKeyID != testID || !res.SignedAt.Equal(at) || len(res.Signature) != 32 || res.Signs("x-tc-action") {
			t.Fatalf("%s: result %+v", tc.endpoint, res)
		}

		// The same request signed by Sign.
		ours, err := http.NewRequest("POST", "https://"+tc.endpoint+"/", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		ours.Header.Set("Content-Type", "application/json")
		ours.Header.Set("X-TC-Action", "Encrypt")
		if err := tc3.Sign(ours, []byte(tc.body), testID, []byte(testSecret), "kms", at); err != nil {
			t.Fatal(err)
		}
		if got := ours.Header.Get("Authorization"); got != sdkAuth {
			t.Fatalf("%s:\n ours %s\n  sdk %s", tc.endpoint, got, sdkAuth)
		}
		if ours.Header.Get("X-TC-Timestamp") != r.Header.Get("X-TC-Timestamp") {
			t.Fatalf("timestamp %s; sdk %s", ours.Header.Get("X-TC-Timestamp"), r.Header.Get("X-TC-Timestamp"))
		}
		// And a transcription of the SDK's algorithm agrees at a fixed time.
		if want := sdkAlgorithm(tc.endpoint, tc.body, at); want != sdkAuth {
			t.Fatalf("transcription %s; sdk %s", want, sdkAuth)
		}
	}
}

// sdkAlgorithm is a line-for-line transcription of the SDK's
// sendWithSignatureV3 for a POST (common v1.3.210 client.go), as a second
// oracle that, unlike the SDK, takes the time as an argument.
func sdkAlgorithm(host, payload string, at time.Time) string {
	sha256hex := func(s string) string { b := sha256.Sum256([]byte(s)); return hex.EncodeToString(b[:]) }
	hmacsha256 := func(s, key string) string {
		h := hmac.New(sha256.New, []byte(key))
		h.Write([]byte(s))
		return string(h.Sum(nil))
	}
	canonicalHeaders := fmt.Sprintf("content-type:%s\nhost:%s\n", "application/json", host)
	canonicalRequest := fmt.Sprintf("%s\n%s\n%s\n%s\n%s\n%s", "POST", "/", "", canonicalHeaders, "content-type;host", sha256hex(payload))
	requestTimestamp := strconv.FormatInt(at.Unix(), 10)
	date := time.Unix(at.Unix(), 0).UTC().Format("2006-01-02")
	credentialScope := fmt.Sprintf("%s/%s/tc3_request", date, "kms")
	string2sign := fmt.Sprintf("%s\n%s\n%s\n%s", "TC3-HMAC-SHA256", requestTimestamp, credentialScope, sha256hex(canonicalRequest))
	secretDate := hmacsha256(date, "TC3"+testSecret)
	secretService := hmacsha256("kms", secretDate)
	secretKey := hmacsha256("tc3_request", secretService)
	signature := hex.EncodeToString([]byte(hmacsha256(string2sign, secretKey)))
	return fmt.Sprintf("%s Credential=%s/%s, SignedHeaders=%s, Signature=%s", "TC3-HMAC-SHA256", testID, credentialScope, "content-type;host", signature)
}

// TestKnownAnswer fixes one vector, computed by the transcription, so a
// change in canonicalisation shows even without the SDK.
func TestKnownAnswer(t *testing.T) {
	at := time.Date(2024, 3, 14, 23, 59, 59, 0, time.UTC)
	r, _ := http.NewRequest("POST", "https://kms.tencentcloudapi.com/", strings.NewReader(testBody))
	r.Header.Set("Content-Type", "application/json")
	if err := tc3.Sign(r, []byte(testBody), testID, []byte(testSecret), "kms", at); err != nil {
		t.Fatal(err)
	}
	want := sdkAlgorithm("kms.tencentcloudapi.com", testBody, at)
	if got := r.Header.Get("Authorization"); got != want || !strings.Contains(got, "/2024-03-14/kms/tc3_request") {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if r.Header.Get("X-TC-Timestamp") != "1710460799" {
		t.Fatalf("timestamp %s", r.Header.Get("X-TC-Timestamp"))
	}
}

// TestSignedAction: a client that signs x-tc-action as Tencent's
// documentation shows (value lower-cased) is verified, and its action is
// then covered: changing it breaks the signature.
func TestSignedAction(t *testing.T) {
	at := time.Unix(1710460799, 0)
	r, _ := http.NewRequest("POST", "https://kms.tencentcloudapi.com/", strings.NewReader(testBody))
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	r.Header.Set("X-TC-Action", "Encrypt")
	if err := tc3.Sign(r, []byte(testBody), testID, []byte(testSecret), "kms", at, "x-tc-action"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Header.Get("Authorization"), "SignedHeaders=content-type;host;x-tc-action,") {
		t.Fatal(r.Header.Get("Authorization"))
	}
	srv, body := receive(t, r, []byte(testBody))
	res, err := testVerifier().Verify(srv, body, at)
	if err != nil || !res.Signs("x-tc-action") {
		t.Fatalf("%+v %v", res, err)
	}
	// Tencent's rule lower-cases values: the documented canonical form of
	// this request is x-tc-action:encrypt.
	srv.Header.Set("X-TC-Action", "ENCRYPT")
	if _, err := testVerifier().Verify(srv, body, at); err != nil {
		t.Fatalf("case of a signed value: %v", err)
	}
	srv.Header.Set("X-TC-Action", "Decrypt")
	if _, err := testVerifier().Verify(srv, body, at); err == nil {
		t.Fatal("a changed signed action verified")
	}
}

func TestEveryActionVerifies(t *testing.T) {
	c := &capture{}
	client := sdkClient(t, "127.0.0.1:9999", "ap-beijing", c)
	calls := map[string]func() error{
		"CreateKey": func() error {
			_, err := client.CreateKey(&tckms.CreateKeyRequest{BaseRequest: tckms.NewCreateKeyRequest().BaseRequest, Alias: str("app")})
			return err
		},
		"GenerateDataKey": func() error {
			r := tckms.NewGenerateDataKeyRequest()
			r.KeyId, r.KeySpec, r.EncryptionPublicKey = str("k"), str("AES_256"), str("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n")
			_, err := client.GenerateDataKey(r)
			return err
		},
		"ListKeys": func() error { _, err := client.ListKeys(tckms.NewListKeysRequest()); return err },
	}
	for action, call := range calls {
		if err := call(); err != nil {
			t.Fatal(action, err)
		}
		r, body := receive(t, c.req, c.body)
		if r.Header.Get("X-TC-Action") != action {
			t.Fatalf("action %s", r.Header.Get("X-TC-Action"))
		}
		if _, err := testVerifier().Verify(r, body, timestampOf(t, r)); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
	}
}
