package tencent_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/attestkms/attestkms/api/tencent/tc3"
	"github.com/attestkms/attestkms/internal/testserver"
)

// Hostile requests, sent raw: each gets Tencent's error shape (HTTP 200,
// Response.Error.Code and Message, Response.RequestId) and changes nothing.

type rawResponse struct {
	status    int
	code, msg string
	requestID string
	body      []byte
}

// rawRequest builds a request as the SDK does before signing.
func rawRequest(t *testing.T, url, action, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest("POST", url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-TC-Action", action)
	r.Header.Set("X-TC-Version", "2019-01-18")
	r.Header.Set("X-TC-Region", "ap-guangzhou")
	return r
}

// sign signs r with tc3.Sign, which TestSignMatchesSDK holds to the SDK's
// signer byte for byte.
func sign(t *testing.T, r *http.Request, body, id, secret string, at time.Time) {
	t.Helper()
	if err := tc3.Sign(r, []byte(body), id, []byte(secret), "kms", at); err != nil {
		t.Fatal(err)
	}
}

func do(t *testing.T, r *http.Request) rawResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Response struct {
			Error *struct {
				Code    *string
				Message *string
			}
			RequestId string
		}
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("answer is not JSON: %q", b)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || out.Response.RequestId == "" {
		t.Fatalf("answer not in Tencent's shape: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	rr := rawResponse{status: resp.StatusCode, requestID: out.Response.RequestId, body: b}
	if e := out.Response.Error; e != nil {
		if e.Code == nil || e.Message == nil || *e.Code == "" || *e.Message == "" {
			t.Fatalf("error without Code and Message: %s", b)
		}
		rr.code, rr.msg = *e.Code, *e.Message
	}
	return rr
}

func signedDo(t *testing.T, srv *testserver.Server, action, body string) rawResponse {
	t.Helper()
	r := rawRequest(t, srv.URL, action, body)
	sign(t, r, body, srv.AccessKey, srv.Secret, time.Now())
	return do(t, r)
}

func keyCount(t *testing.T, srv *testserver.Server) uint64 {
	t.Helper()
	out, err := newClient(t, srv, "ap-guangzhou").ListKeys(tckms.NewListKeysRequest())
	if err != nil {
		t.Fatal(err)
	}
	return *out.Response.TotalCount
}

func TestAuthentication(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	body := `{"Alias":"a"}`

	// Unsigned.
	r := do(t, rawRequest(t, srv.URL, "CreateKey", body))
	if r.code != "AuthFailure.InvalidAuthorization" {
		t.Fatalf("unsigned: %s", r.body)
	}

	// An unknown SecretId and a wrong secret get the same answer.
	req := rawRequest(t, srv.URL, "CreateKey", body)
	sign(t, req, body, "AKIDUNKNOWNUNKNOWNUNKNOWN", srv.Secret, time.Now())
	unknown := do(t, req)
	req = rawRequest(t, srv.URL, "CreateKey", body)
	sign(t, req, body, srv.AccessKey, srv.Secret+"x", time.Now())
	wrong := do(t, req)
	if unknown.code != "AuthFailure.SignatureFailure" || unknown.code != wrong.code || unknown.msg != wrong.msg {
		t.Fatalf("unknown SecretId: %s; wrong secret: %s", unknown.body, wrong.body)
	}

	// Body, host or content type changed after signing.
	req = rawRequest(t, srv.URL, "CreateKey", `{"Alias":"b"}`)
	sign(t, req, body, srv.AccessKey, srv.Secret, time.Now())
	if r := do(t, req); r.code != "AuthFailure.SignatureFailure" {
		t.Fatalf("tampered body: %s", r.body)
	}
	req = rawRequest(t, srv.URL, "CreateKey", body)
	sign(t, req, body, srv.AccessKey, srv.Secret, time.Now())
	req.Host = "kms.tencentcloudapi.com"
	if r := do(t, req); r.code != "AuthFailure.SignatureFailure" {
		t.Fatalf("tampered host: %s", r.body)
	}

	// Clock skew: 5 minutes is the bound.
	for _, d := range []time.Duration{-6 * time.Minute, 6 * time.Minute, -24 * time.Hour} {
		req = rawRequest(t, srv.URL, "CreateKey", body)
		sign(t, req, body, srv.AccessKey, srv.Secret, time.Now().Add(d))
		if r := do(t, req); r.code != "AuthFailure.SignatureExpire" || !strings.Contains(r.msg, "5 minutes") {
			t.Fatalf("skew %v: %s", d, r.body)
		}
	}
	req = rawRequest(t, srv.URL, "ListKeys", `{}`)
	sign(t, req, `{}`, srv.AccessKey, srv.Secret, time.Now().Add(-4*time.Minute))
	if r := do(t, req); r.code != "" {
		t.Fatalf("4 minutes of skew refused: %s", r.body)
	}

	// Malformed Authorization, and what TC3 allows but we do not.
	for name, mutate := range map[string]func(r *http.Request){
		"scope": func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/kms/", "/cvm/", 1))
		},
		"no timestamp":     func(r *http.Request) { r.Header.Del("X-TC-Timestamp") },
		"unsigned payload": func(r *http.Request) { r.Header.Set("X-TC-Content-SHA256", "UNSIGNED-PAYLOAD") },
		"temporary token":  func(r *http.Request) { r.Header.Set("X-TC-Token", "x") },
		"host not signed": func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "content-type;host", "content-type", 1))
		},
		"signature v1 form": func(r *http.Request) { r.Header.Set("Authorization", "HmacSHA256 Signature=x") },
	} {
		req = rawRequest(t, srv.URL, "CreateKey", body)
		sign(t, req, body, srv.AccessKey, srv.Secret, time.Now())
		mutate(req)
		if r := do(t, req); r.code != "AuthFailure.InvalidAuthorization" {
			t.Errorf("%s: %s", name, r.body)
		}
	}

	if n := keyCount(t, srv); n != 0 {
		t.Fatalf("refused requests created %d keys", n)
	}

	// Replay: the same signed bytes twice; the second changes nothing. A
	// replayed CreateKey finds its alias taken.
	req = rawRequest(t, srv.URL, "CreateKey", body)
	sign(t, req, body, srv.AccessKey, srv.Secret, time.Now())
	replay := req.Clone(ctx)
	replay.Body = io.NopCloser(strings.NewReader(body))
	if r := do(t, req); r.code != "" {
		t.Fatalf("first CreateKey: %s", r.body)
	}
	if r := do(t, replay); r.code != "InvalidParameterValue.AliasAlreadyExists" {
		t.Fatalf("replayed CreateKey: %s", r.body)
	}
	if n := keyCount(t, srv); n != 1 {
		t.Fatalf("a replayed CreateKey made %d keys", n)
	}
	// A replayed DisableKey, after the owner enabled the key again, is
	// refused: the key stays enabled.
	c := newClient(t, srv, "ap-guangzhou")
	id := createKey(t, c, "replayed")
	disable := fmt.Sprintf(`{"KeyId":%q}`, id)
	req = rawRequest(t, srv.URL, "DisableKey", disable)
	sign(t, req, disable, srv.AccessKey, srv.Secret, time.Now().Add(-10*time.Second)) // captured, replayed later
	replay = req.Clone(ctx)
	replay.Body = io.NopCloser(strings.NewReader(disable))
	if r := do(t, req); r.code != "" {
		t.Fatalf("first DisableKey: %s", r.body)
	}
	tick()
	if _, err := c.EnableKey(keyIDReq(tckms.NewEnableKeyRequest(), func(r *tckms.EnableKeyRequest, v *string) { r.KeyId = v }, id)); err != nil {
		t.Fatal(err)
	}
	if r := do(t, replay); r.code != "AuthFailure.SignatureExpire" || !strings.Contains(r.msg, "replay") {
		t.Fatalf("replayed DisableKey: %s", r.body)
	}
	if st := *describe(t, c, id).KeyState; st != "Enabled" {
		t.Fatalf("a replayed DisableKey changed the key: %s", st)
	}

	// Authentication failures are counted, one summary line per source
	// (kms/audit), with the codes they got.
	srv.Service.AuditLog().Flush()
	log, _ := os.ReadFile(filepath.Join(srv.DataDir, "audit.log"))
	if !bytes.Contains(log, []byte(`"source_ip":"127.0.0.1","dialect":"tencent","operation":"FailedAuthentications"`)) {
		t.Error("no summary of the failed authentications")
	}
	for _, code := range []string{"AuthFailure.InvalidAuthorization", "AuthFailure.SignatureFailure", "AuthFailure.SignatureExpire"} {
		if !bytes.Contains(log, []byte(`"`+code+`":`)) {
			t.Errorf("authentication failure %s not audited", code)
		}
	}
}

// TestUnsignedAction: X-TC-Action is not signed. What the package doc says
// a captured request can and cannot be turned into, shown.
func TestUnsignedAction(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	c := newClient(t, srv, "ap-guangzhou")
	id := createKey(t, c, "target")
	at := time.Now().Add(-10 * time.Second) // captured, re-sent later than replay.Grace
	send := func(action, body string) rawResponse {
		r := rawRequest(t, srv.URL, action, body)
		sign(t, r, body, srv.AccessKey, srv.Secret, at) // one signature for every action
		return do(t, r)
	}
	state := func() string { return *describe(t, c, id).KeyState }

	// A signed DisableKey, once served, cannot be re-sent as another state
	// change: its signature is spent.
	keyBody := fmt.Sprintf(`{"KeyId":%q}`, id)
	if r := send("DisableKey", keyBody); r.code != "" {
		t.Fatal(r.body)
	}
	for _, action := range []string{"EnableKey", "CancelKeyDeletion", "DisableKey"} {
		if r := send(action, keyBody); r.code != "AuthFailure.SignatureExpire" {
			t.Fatalf("DisableKey's signature re-sent as %s: %s", action, r.body)
		}
	}
	if state() != "Disabled" {
		t.Fatal("a re-sent signature changed the key")
	}

	// Bodies fit their own action only: a ScheduleKeyDeletion body is not an
	// EnableKey, an EnableKey body not a ScheduleKeyDeletion, a
	// GenerateDataKey body not an Encrypt or a Decrypt.
	schedule := fmt.Sprintf(`{"KeyId":%q,"PendingWindowInDays":7}`, id)
	gdk := fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256"}`, id)
	at = time.Now() // fresh signatures: only the bodies are on trial here
	for _, tc := range []struct{ action, body, code string }{
		{"EnableKey", schedule, "UnknownParameter"},
		{"DescribeKey", schedule, "UnknownParameter"},
		{"ScheduleKeyDeletion", keyBody, "MissingParameter"},
		{"Encrypt", gdk, "UnknownParameter"},
		{"Decrypt", gdk, "UnknownParameter"},
		{"GenerateRandom", gdk, "UnknownParameter"},
		{"CreateKey", keyBody, "UnknownParameter"},
	} {
		if r := send(tc.action, tc.body); r.code != tc.code {
			t.Errorf("%s with %s: %s; want %s", tc.action, tc.body, r.body, tc.code)
		}
	}
	if state() != "Disabled" {
		t.Fatal("a body under another action changed the key")
	}

	// The limit the package doc states: inside replay.Grace a signature may
	// be used again (the SDK repeats identical calls within a second), so a
	// DescribeKey intercepted in real time can be re-sent as an EnableKey.
	// TLS is what stops that. Past the grace it is refused.
	at = time.Now().Add(time.Second)
	if r := send("DescribeKey", keyBody); r.code != "" {
		t.Fatal(r.body)
	}
	if r := send("DescribeKey", keyBody); r.code != "" {
		t.Fatalf("an identical read within one second refused: %s", r.body)
	}
	if r := send("EnableKey", keyBody); r.code != "" || state() != "Enabled" {
		t.Fatalf("the documented limit no longer holds (update the package doc): %s", r.body)
	}
	at = time.Now().Add(-20 * time.Second) // captured earlier, re-sent now
	disableBody := fmt.Sprintf(`{"KeyId":%q}`, id)
	if r := send("DescribeKey", disableBody); r.code != "" {
		t.Fatal(r.body)
	}
	if r := send("DisableKey", disableBody); r.code != "AuthFailure.SignatureExpire" || state() != "Enabled" {
		t.Fatalf("a captured DescribeKey re-sent as DisableKey past the grace: %s", r.body)
	}
}

func TestMalformedRequests(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	c := newClient(t, srv, "ap-guangzhou")
	id := createKey(t, c, "m")
	for _, tc := range []struct {
		action, body, code, msg string
	}{
		{"CreateKey", `{`, "InvalidParameter", "not valid JSON"},
		{"CreateKey", `[]`, "InvalidParameter", "must be a JSON object"},
		{"CreateKey", `"x"`, "InvalidParameter", "must be a JSON object"},
		{"CreateKey", `{} {}`, "InvalidParameter", "after its JSON object"},
		{"CreateKey", `{"Alias":"x","Alias":"y"}`, "InvalidParameter", "Alias is given twice"},
		{"CreateKey", `{"alias":"x"}`, "UnknownParameter", `"alias"`},
		{"CreateKey", `{"Alias":5}`, "InvalidParameter", "Alias must be a string"},
		{"CreateKey", `{"Alias":"x","Tags":{"a":"b"}}`, "InvalidParameter", "Tags must be a list"},
		{"CreateKey", `{"Alias":"x","Tags":[{"TagKey":1}]}`, "InvalidParameter", "TagKey must be a string"},
		{"CreateKey", `{"Alias":"x","Tags":[{"TagKey":"a","Colour":"b"}]}`, "UnknownParameter", "Colour"},
		{"CreateKey", `{"Alias":"x","Type":1.5}`, "InvalidParameter", "Type must be an integer"},
		{"CreateKey", `{"Alias":"x","Policy":"{}"}`, "UnknownParameter", "Policy"},
		{"GenerateRandom", `{"NumberOfBytes":"8"}`, "InvalidParameter", "NumberOfBytes must be an integer"},
		{"GenerateRandom", `{"NumberOfBytes":-1}`, "InvalidParameterValue", "NumberOfBytes"},
		{"GenerateRandom", `{"NumberOfBytes":99999999999999999999}`, "InvalidParameterValue", "NumberOfBytes is out of range"},
		{"GenerateRandom", `{"NumberOfBytes":1e3}`, "InvalidParameter", "integer"},
		{"GenerateRandom", `{}`, "MissingParameter", "NumberOfBytes"},
		{"GenerateRandom", ``, "MissingParameter", "NumberOfBytes"},
		{"Encrypt", fmt.Sprintf(`{"KeyId":%q,"Plaintext":"%%%%%%"}`, id), "InvalidParameterValue.InvalidPlaintext", "base64"},
		{"Encrypt", fmt.Sprintf(`{"KeyId":%q,"Plaintext":"eA==","EncryptionContext":{"a":"b"}}`, id), "InvalidParameter", "EncryptionContext must be a string"},
		{"Encrypt", fmt.Sprintf(`{"KeyId":%q,"Plaintext":"eA==","EncryptionContext":"[1]"}`, id), "InvalidParameterValue", "EncryptionContext"},
		{"Encrypt", `{"KeyId":["x"],"Plaintext":"eA=="}`, "InvalidParameter", "KeyId must be a string"},
		{"Decrypt", `{"CiphertextBlob":"AAAA"}`, "InvalidParameterValue.InvalidCiphertext", "invalid"},
		{"Decrypt", `{}`, "MissingParameter", "CiphertextBlob"},
		{"Decrypt", `{"CiphertextBlob":"AAAA","Recipient":{"AttestationDocument":"AA==","Extra":1}}`, "UnknownParameter", "Extra"},
		{"Decrypt", `{"CiphertextBlob":"AAAA","Recipient":"doc"}`, "InvalidParameter", "Recipient must be an object"},
		{"DescribeKey", `{"KeyId":"nope"}`, "InvalidParameterValue.InvalidKeyId", "nope"},
		{"DescribeKey", `{"KeyId":"` + strings.Repeat("a", 3000) + `"}`, "InvalidParameterValue.InvalidKeyId", "KeyId"},
		{"ListKeys", `{"Offset":-1}`, "InvalidParameterValue", "Offset"},
		{"ListKeys", `{"Limit":true}`, "InvalidParameter", "Limit must be an integer"},
		{"ListKeys", `{"HsmClusterId":"c"}`, "InvalidParameterValue.InvalidHsmClusterId", "HSM"},
		{"GenerateDataKey", fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256","IsHostedByKms":1,"DataKeyName":"d"}`, id), "UnsupportedOperation", "hosted"},
		{"GenerateDataKey", fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256","IsHostedByKms":2}`, id), "InvalidParameterValue", "IsHostedByKms"},
		{"GenerateDataKey", fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256","EncryptionPublicKey":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}`, id), "InvalidParameterValue", "EncryptionPublicKey"},
		{"GenerateDataKey", fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256","EncryptionPublicKey":"x","Recipient":{"AttestationDocument":"AA==","KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`, id), "InvalidParameter", "not both"},
		{"GenerateDataKey", fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256","Recipient":{"AttestationDocument":"AA==","KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`, id), "InvalidParameterValue", "Recipient"},
		{"GenerateDataKey", fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256","Recipient":{}}`, id), "MissingParameter", "Recipient.AttestationDocument"},
		{"NoSuchAction", `{}`, "InvalidAction", "NoSuchAction"},
		{"DescribeKeys", `{}`, "InvalidAction", "DescribeKeys"},
	} {
		r := signedDo(t, srv, tc.action, tc.body)
		if r.code != tc.code || !strings.Contains(r.msg, tc.msg) {
			t.Errorf("%s %.100s: %s %q; want %s containing %q", tc.action, tc.body, r.code, r.msg, tc.code, tc.msg)
		}
		if bytes.Contains(r.body, []byte(`"Plaintext":`)) {
			t.Errorf("%s: an error with a Plaintext: %s", tc.action, r.body)
		}
	}

	// Versions, Content-Type, region.
	for name, tc := range map[string]struct {
		mutate func(r *http.Request)
		code   string
	}{
		"other version":    {func(r *http.Request) { r.Header.Set("X-TC-Version", "2017-03-12") }, "NoSuchVersion"},
		"no version":       {func(r *http.Request) { r.Header.Del("X-TC-Version") }, "MissingParameter"},
		"two versions":     {func(r *http.Request) { r.Header.Add("X-TC-Version", "2019-01-18") }, "NoSuchVersion"},
		"form body":        {func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, "InvalidParameter"},
		"no region":        {func(r *http.Request) { r.Header.Del("X-TC-Region") }, "MissingParameter"},
		"malformed region": {func(r *http.Request) { r.Header.Set("X-TC-Region", "AP/../x") }, "InvalidParameterValue"},
		"two actions":      {func(r *http.Request) { r.Header.Add("X-TC-Action", "DisableKey") }, "InvalidAction"},
	} {
		body := fmt.Sprintf(`{"KeyId":%q}`, id)
		req := rawRequest(t, srv.URL, "DescribeKey", body)
		tc.mutate(req)
		sign(t, req, body, srv.AccessKey, srv.Secret, time.Now())
		if r := do(t, req); r.code != tc.code {
			t.Errorf("%s: %s; want %s", name, r.body, tc.code)
		}
	}
	// A charset parameter is fine (other SDKs send one).
	body := `{}`
	req := rawRequest(t, srv.URL, "ListKeys", body)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	sign(t, req, body, srv.AccessKey, srv.Secret, time.Now())
	if r := do(t, req); r.code != "" {
		t.Fatalf("charset: %s", r.body)
	}

	if n := keyCount(t, srv); n != 1 {
		t.Fatalf("malformed requests changed the key count to %d", n)
	}
	if st := *describe(t, c, id).KeyState; st != "Enabled" {
		t.Fatalf("malformed requests changed the key: %s", st)
	}
}

func TestOversizedBody(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	big := `{"Alias":"x","Description":"` + strings.Repeat("a", 1<<20) + `"}`
	// With a Content-Length: refused before the body is read.
	req := rawRequest(t, srv.URL, "CreateKey", big)
	sign(t, req, big, srv.AccessKey, srv.Secret, time.Now())
	if r := do(t, req); r.code != "RequestSizeLimitExceeded" {
		t.Fatalf("oversized body: %s", r.body)
	}
	// Chunked, no Content-Length: refused once the limit is passed.
	req = rawRequest(t, srv.URL, "CreateKey", big)
	sign(t, req, big, srv.AccessKey, srv.Secret, time.Now())
	req.ContentLength = -1
	req.Body = io.NopCloser(io.MultiReader(strings.NewReader(big), strings.NewReader(strings.Repeat(" ", 1<<20))))
	if r := do(t, req); r.code != "RequestSizeLimitExceeded" {
		t.Fatalf("oversized chunked body: %s", r.body)
	}
	if n := keyCount(t, srv); n != 0 {
		t.Fatalf("oversized requests created %d keys", n)
	}
}
