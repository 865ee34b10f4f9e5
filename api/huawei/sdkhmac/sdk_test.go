package sdkhmac_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
	kms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/attestkms/attestkms/api/huawei/sdkhmac"
)

const (
	testAK      = "AKIAIOSFODNN7EXAMPLE"
	testSecret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testProject = "d4e559b49b3b403da5279723299ed4a6"
)

var testTime = time.Date(2024, 3, 14, 15, 9, 26, 0, time.UTC)

func testVerifier() *sdkhmac.Verifier {
	return &sdkhmac.Verifier{Lookup: func(id string) ([]byte, bool) {
		if id == testAK {
			return []byte(testSecret), true
		}
		return nil, false
	}}
}

// sdkRequest is a request as the SDK's signer sees it, signed by that
// signer at testTime (X-Sdk-Date given, so the signer uses it).
type sdkRequest struct {
	method, path string
	query        map[string]any
	headers      map[string]string
	body         string
}

func (s sdkRequest) build(t testing.TB, at time.Time) *request.DefaultHttpRequest {
	t.Helper()
	b := request.NewHttpRequestBuilder().WithEndpoint("https://kms.cn-north-4.myhuaweicloud.com").WithMethod(s.method).WithPath(s.path)
	for k, v := range s.query {
		b.AddQueryParam(k, reflectValue(v))
	}
	for k, v := range s.headers {
		b.AddHeaderParam(k, v)
	}
	b.AddHeaderParam(sdkhmac.HeaderDate, at.UTC().Format(sdkhmac.DateFormat))
	if s.body != "" {
		b.WithBody("", s.body)
	}
	return b.Build()
}

// sdkSign signs with the SDK's own signer and returns the request as its
// HTTP client would send it and the body bytes.
func (s sdkRequest) sdkSign(t testing.TB, ak, sk string, at time.Time) (*http.Request, []byte) {
	t.Helper()
	req := s.build(t, at)
	extra, err := signer.Sign(req, ak, sk)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		req.AddHeaderParam(k, v)
	}
	hr, err := req.ConvertRequest()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(hr.Body)
	hr.Body = io.NopCloser(bytes.NewReader(body))
	return hr, body
}

// overWire writes r as a client would and reads it back as a server does.
func overWire(t testing.TB, r *http.Request) (*http.Request, []byte) {
	t.Helper()
	var b bytes.Buffer
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	srv, err := http.ReadRequest(bufio.NewReader(&b))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(srv.Body)
	if err != nil {
		t.Fatal(err)
	}
	return srv, body
}

var sdkCases = []sdkRequest{
	{method: "POST", path: "/v1.0/" + testProject + "/kms/create-datakey",
		headers: map[string]string{"Content-Type": "application/json;charset=UTF-8", "User-Agent": "huaweicloud-usdk-go/3.0", "X-Project-Id": testProject},
		body:    `{"key_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f","datakey_length":"512"}` + "\n"},
	{method: "GET", path: "/v1.0/" + testProject + "/kms/aliases",
		query:   map[string]any{"limit": "10", "marker": "a b+c/é", "key_id": []string{"z", "a", "m m"}},
		headers: map[string]string{"Content-Type": "application/json", "X-Project-Id": testProject, "X-Custom": "  padded  value\t"}},
	{method: "DELETE", path: "/v1.0/" + testProject + "/kms/key id/tags/ä~x.y_z-",
		headers: map[string]string{"x_underscore": "not signed", "Content-Type-Extra": "not signed", "X-B": "2", "X-A": "1"}},
	{method: "PUT", path: "", headers: map[string]string{"Accept": "*/*"}, body: "{}"},
	{method: "POST", path: "/trailing/", headers: map[string]string{"Content-Type": "application/bson"}, body: "\x00\x01"},
}

// TestSignMatchesSDK: for every case, Sign writes the Authorization the SDK's
// signer writes, byte for byte, and Verify accepts the SDK's request as a
// server receives it.
func TestSignMatchesSDK(t *testing.T) {
	for i, c := range sdkCases {
		hr, body := c.sdkSign(t, testAK, testSecret, testTime)
		want := hr.Header.Get("Authorization")
		if !strings.HasPrefix(want, "SDK-HMAC-SHA256 Access="+testAK+", SignedHeaders=") {
			t.Fatalf("case %d: the SDK wrote %q", i, want)
		}

		mine := hr.Clone(t.Context())
		mine.Header.Del("Authorization")
		mine.Header.Del(sdkhmac.HeaderDate)
		if err := sdkhmac.Sign(mine, body, testAK, []byte(testSecret), testTime); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if got := mine.Header.Get("Authorization"); got != want {
			t.Errorf("case %d %s %s:\n sdk  %s\n mine %s", i, c.method, c.path, want, got)
		}

		srv, got := overWire(t, hr)
		res, err := testVerifier().Verify(srv, got, testTime.Add(time.Minute))
		if err != nil {
			t.Errorf("case %d: the SDK's request is refused: %v", i, err)
			continue
		}
		if res.AccessKeyID != testAK || !res.SignedAt.Equal(testTime) || len(res.Signature) != 32 {
			t.Errorf("case %d: result %+v", i, res)
		}
	}
}

// captured is what an httptest server saw of the KMS client's requests.
type captured struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func (c *captured) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.reqs = append(c.reqs, r)
	c.body = append(c.body, b)
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, "{}")
}

// TestKMSClientRequests: what the official KMS client sends verifies; it
// signs exactly user-agent, x-project-id and x-sdk-date; Sign reproduces its
// Authorization from the received request.
func TestKMSClientRequests(t *testing.T) {
	cap := &captured{}
	hs := httptest.NewServer(cap)
	defer hs.Close()
	auth, err := basic.NewCredentialsBuilder().WithAk(testAK).WithSk(testSecret).WithProjectId(testProject).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := kms.KmsClientBuilder().WithEndpoints([]string{hs.URL}).WithCredential(auth).
		WithHttpConfig(config.DefaultHttpConfig().WithIgnoreSSLVerification(true)).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	c := kms.NewKmsClient(hc)
	keyID := "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
	length := "256"
	c.CreateDatakey(&model.CreateDatakeyRequest{Body: &model.CreateDatakeyRequestBody{KeyId: keyID, DatakeyLength: &length}})
	c.EnableKey(&model.EnableKeyRequest{Body: &model.OperateKeyRequestBody{KeyId: keyID}})
	c.DeriveSharedSecret(&model.DeriveSharedSecretRequest{Body: &model.DeriveSharedSecretRequestBody{
		KeyId: keyID, KeyAgreementAlgorithm: model.GetDeriveSharedSecretRequestBodyKeyAgreementAlgorithmEnum().ECDH, PublicKey: "MFkw"}})
	if len(cap.reqs) != 3 {
		t.Fatalf("captured %d requests", len(cap.reqs))
	}
	for i, r := range cap.reqs {
		now := time.Now()
		res, err := testVerifier().Verify(r, cap.body[i], now)
		if err != nil {
			t.Fatalf("request %d (%s) refused: %v", i, r.URL.Path, err)
		}
		if want := []string{"user-agent", "x-project-id", "x-sdk-date"}; !slices.Equal(res.SignedHeaders, want) {
			t.Errorf("request %d signs %v; want %v", i, res.SignedHeaders, want)
		}
		if !strings.HasPrefix(r.URL.Path, "/v1.0/"+testProject+"/kms/") || r.Method != "POST" || r.Header.Get("X-Project-Id") != testProject {
			t.Errorf("request %d: %s %s", i, r.Method, r.URL.Path)
		}
		mine := r.Clone(t.Context())
		mine.Header.Del("Authorization")
		// net/http's transport adds these after the SDK has signed.
		mine.Header.Del("Accept-Encoding")
		mine.Header.Del("Content-Length")
		if err := sdkhmac.Sign(mine, cap.body[i], testAK, []byte(testSecret), res.SignedAt); err != nil {
			t.Fatal(err)
		}
		if got, want := mine.Header.Get("Authorization"), r.Header.Get("Authorization"); got != want {
			t.Errorf("request %d:\n sdk  %s\n mine %s", i, want, got)
		}
	}
}
