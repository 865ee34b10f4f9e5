package huawei_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"

	"github.com/attestkms/attestkms/internal/testserver"
)

// rawResponse is an answer read without the SDK.
type rawResponse struct {
	status int
	code   string
	msg    string
	body   []byte
	header http.Header
}

// raw is a request made and signed by hand with the SDK's own signer
// (core/auth/signer), for what the SDK's models cannot send: the recipient
// extension, wrong types, other methods.
type raw struct {
	method, op, body string
	project          string            // "" means the server's
	headers          map[string]string // set before signing
	ak, sk           string            // "" means the server's
	at               time.Time         // zero means now
	unsigned         bool
}

func (q raw) request(t testing.TB, srv *testserver.Server) *http.Request {
	t.Helper()
	if q.method == "" {
		q.method = "POST"
	}
	if q.project == "" {
		q.project = srv.Account.ProjectID
	}
	if q.ak == "" {
		q.ak, q.sk = srv.AccessKey, srv.Secret
	}
	if q.at.IsZero() {
		q.at = time.Now()
	}
	b := request.NewHttpRequestBuilder().WithEndpoint(srv.URL).WithMethod(q.method).WithPath("/v1.0/"+q.project+"/kms/"+q.op).
		AddHeaderParam("Content-Type", "application/json;charset=UTF-8").AddHeaderParam("X-Project-Id", q.project).
		AddHeaderParam("User-Agent", "huaweicloud-usdk-go/3.0").AddHeaderParam("X-Sdk-Date", q.at.UTC().Format("20060102T150405Z"))
	for k, v := range q.headers {
		b.AddHeaderParam(k, v)
	}
	if q.body != "" {
		b.WithBody("", q.body)
	}
	req := b.Build()
	if !q.unsigned {
		extra, err := signer.Sign(req, q.ak, q.sk)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range extra {
			req.AddHeaderParam(k, v)
		}
	}
	hr, err := req.ConvertRequest()
	if err != nil {
		t.Fatal(err)
	}
	return hr
}

// do sends r and checks what every answer must have: X-Request-Id, JSON,
// and for an error Huawei's shape with a status of 400 or more.
func do(t testing.TB, r *http.Request) rawResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error *struct {
			Code string `json:"error_code"`
			Msg  string `json:"error_msg"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Errorf("%s: answer is not JSON: %q", r.URL.Path, b)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("%s: no X-Request-Id on a %d answer", r.URL.Path, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q", r.URL.Path, ct)
	}
	out := rawResponse{status: resp.StatusCode, body: b, header: resp.Header}
	if e.Error != nil {
		out.code, out.msg = e.Error.Code, e.Error.Msg
	}
	if (resp.StatusCode >= 400) != (e.Error != nil && strings.HasPrefix(out.code, "KMS.") && out.msg != "") {
		t.Errorf("%s: status %d with body %s", r.URL.Path, resp.StatusCode, b)
	}
	return out
}

func (q raw) do(t testing.TB, srv *testserver.Server) rawResponse {
	t.Helper()
	return do(t, q.request(t, srv))
}

// field reads one string member of a JSON answer.
func field(t testing.TB, body []byte, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	s, _ := m[name].(string)
	return s
}
