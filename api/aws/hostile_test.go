package aws_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/attestkms/attestkms/internal/testserver"
)

type rawResponse struct {
	status int
	typ    string
	msg    string
	body   []byte
	header http.Header
}

// rawRequest builds a KMS request; sign signs it with the SDK's own signer.
func rawRequest(t *testing.T, url, target, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest("POST", url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target != "" {
		r.Header.Set("X-Amz-Target", "TrentService."+target)
	}
	return r
}

func sign(t *testing.T, r *http.Request, body, ak, sk string, at time.Time) {
	t.Helper()
	h := sha256.Sum256([]byte(body))
	err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, r, hex.EncodeToString(h[:]), "kms", "us-east-1", at)
	if err != nil {
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
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	json.Unmarshal(b, &e)
	if resp.Header.Get("X-Amzn-RequestId") == "" {
		t.Errorf("no X-Amzn-RequestId on a %d answer", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Errorf("Content-Type %q", ct)
	}
	return rawResponse{resp.StatusCode, e.Type, e.Message, b, resp.Header}
}

func signedDo(t *testing.T, srv *testserver.Server, target, body string) rawResponse {
	r := rawRequest(t, srv.URL, target, body)
	sign(t, r, body, srv.AccessKey, srv.Secret, time.Now())
	return do(t, r)
}

func keyCount(t *testing.T, srv *testserver.Server) int {
	out, err := newClient(t, srv, "us-east-1").ListKeys(ctx, &awskms.ListKeysInput{})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Keys)
}

func TestAuthentication(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	body := `{}`

	// Unsigned.
	r := do(t, rawRequest(t, srv.URL, "CreateKey", body))
	if r.status != 403 || r.typ != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned: %d %s", r.status, r.typ)
	}

	// An unknown access key and a wrong secret get the same answer.
	req := rawRequest(t, srv.URL, "CreateKey", body)
	sign(t, req, body, "AKIAUNKNOWNUNKNOWN00", srv.Secret, time.Now())
	unknown := do(t, req)
	req = rawRequest(t, srv.URL, "CreateKey", body)
	sign(t, req, body, srv.AccessKey, srv.Secret+"x", time.Now())
	wrong := do(t, req)
	if unknown.status != 400 || unknown.typ != "InvalidSignatureException" ||
		unknown.status != wrong.status || !bytes.Equal(unknown.body, wrong.body) || unknown.header.Get("X-Amzn-ErrorType") != wrong.header.Get("X-Amzn-ErrorType") {
		t.Fatalf("unknown key: %d %s; wrong secret: %d %s", unknown.status, unknown.body, wrong.status, wrong.body)
	}

	// Body changed after signing.
	req = rawRequest(t, srv.URL, "CreateKey", `{"Description":"b"}`)
	sign(t, req, `{"Description":"a"}`, srv.AccessKey, srv.Secret, time.Now())
	if r := do(t, req); r.typ != "InvalidSignatureException" {
		t.Fatalf("tampered body: %d %s", r.status, r.typ)
	}
	// Target changed after signing.
	req = rawRequest(t, srv.URL, "CreateKey", body)
	sign(t, req, body, srv.AccessKey, srv.Secret, time.Now())
	req.Header.Set("X-Amz-Target", "TrentService.ScheduleKeyDeletion")
	if r := do(t, req); r.typ != "InvalidSignatureException" {
		t.Fatalf("tampered target: %d %s", r.status, r.typ)
	}

	// Clock skew: 15 minutes is the bound.
	for _, d := range []time.Duration{-16 * time.Minute, 16 * time.Minute} {
		req = rawRequest(t, srv.URL, "CreateKey", body)
		sign(t, req, body, srv.AccessKey, srv.Secret, time.Now().Add(d))
		if r := do(t, req); r.typ != "InvalidSignatureException" || !strings.Contains(r.msg, "expired") {
			t.Fatalf("skew %v: %d %s %s", d, r.status, r.typ, r.msg)
		}
	}
	req = rawRequest(t, srv.URL, "ListKeys", body)
	sign(t, req, body, srv.AccessKey, srv.Secret, time.Now().Add(-14*time.Minute))
	if r := do(t, req); r.status != 200 {
		t.Fatalf("14 minutes of skew refused: %s", r.body)
	}

	// Malformed Authorization.
	req = rawRequest(t, srv.URL, "CreateKey", body)
	sign(t, req, body, srv.AccessKey, srv.Secret, time.Now())
	req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "SignedHeaders=", "Signed=", 1))
	if r := do(t, req); r.typ != "IncompleteSignatureException" {
		t.Fatalf("malformed authorization: %d %s", r.status, r.typ)
	}

	if n := keyCount(t, srv); n != 0 {
		t.Fatalf("refused requests created %d keys", n)
	}

	// Replay of a captured request (signed 10 seconds ago): the second use
	// is refused and changes nothing.
	req = rawRequest(t, srv.URL, "CreateKey", body)
	sign(t, req, body, srv.AccessKey, srv.Secret, time.Now().Add(-10*time.Second))
	replay := req.Clone(ctx)
	replay.Body = io.NopCloser(strings.NewReader(body))
	if r := do(t, req); r.status != 200 {
		t.Fatalf("first CreateKey: %s", r.body)
	}
	if r := do(t, replay); r.typ != "InvalidSignatureException" || !strings.Contains(r.msg, "replay") {
		t.Fatalf("replay: %d %s %s", r.status, r.typ, r.msg)
	}
	if n := keyCount(t, srv); n != 1 {
		t.Fatalf("a replayed CreateKey made %d keys", n)
	}
	// The same request repeated within its signing second (a client that
	// signs no nonce, like curl --aws-sigv4) is a repeat, not a replay.
	rbody := `{"NumberOfBytes":8}`
	req = rawRequest(t, srv.URL, "GenerateRandom", rbody)
	sign(t, req, rbody, srv.AccessKey, srv.Secret, time.Now())
	repeat := req.Clone(ctx)
	repeat.Body = io.NopCloser(strings.NewReader(rbody))
	if r1, r2 := do(t, req), do(t, repeat); r1.status != 200 || r2.status != 200 {
		t.Fatalf("an immediate repeat was refused: %s / %s", r1.body, r2.body)
	}

	// Authentication failures are counted, one summary line per source
	// (kms/audit), with the codes they got.
	if err := srv.Service.AuditLog().Flush(); err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(filepath.Join(srv.DataDir, "audit.log"))
	if n := bytes.Count(log, []byte(`"source_ip":"127.0.0.1","dialect":"aws","operation":"FailedAuthentications"`)); n != 1 {
		t.Errorf("%d summaries of failed authentications", n)
	}
	for _, code := range []string{"MissingAuthenticationTokenException", "InvalidSignatureException", "IncompleteSignatureException"} {
		if !bytes.Contains(log, []byte(`"`+code+`":`)) {
			t.Errorf("authentication failure %s not audited", code)
		}
	}
}

func TestMalformedRequests(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	for _, tc := range []struct {
		target, body, typ, msg string
	}{
		{"CreateKey", `{`, "ValidationException", "not valid JSON"},
		{"CreateKey", `[]`, "ValidationException", "must be a JSON object"},
		{"CreateKey", `"x"`, "ValidationException", "must be a JSON object"},
		{"CreateKey", `{} {}`, "ValidationException", "after its JSON object"},
		{"CreateKey", `{"Description": 5}`, "ValidationException", "Description must be a string"},
		{"CreateKey", `{"Tags": {"a":"b"}}`, "ValidationException", "Tags must be a list"},
		{"CreateKey", `{"Tags": [{"TagKey": 1}]}`, "ValidationException", "Tags.TagKey must be a string"},
		{"CreateKey", `{"KeySpec": "RSA_1024"}`, "ValidationException", "KeySpec"},
		{"GenerateRandom", `{"NumberOfBytes": "8"}`, "ValidationException", "NumberOfBytes must be a number"},
		{"GenerateRandom", `{"NumberOfBytes": 0}`, "ValidationException", "NumberOfBytes"},
		{"GenerateRandom", `{"NumberOfBytes": 4294967297}`, "ValidationException", "NumberOfBytes"},
		{"GenerateRandom", `{}`, "ValidationException", "NumberOfBytes is required"},
		{"Encrypt", `{"KeyId":"alias/x","Plaintext":"%%%"}`, "ValidationException", "Plaintext is not valid base64"},
		{"Encrypt", `{"KeyId":"alias/x","Plaintext":"eA==","DryRun":"yes"}`, "ValidationException", "DryRun must be a boolean"},
		{"Decrypt", `{"CiphertextBlob":"AAAA"}`, "InvalidCiphertextException", "invalid"},
		{"Decrypt", `{}`, "ValidationException", "CiphertextBlob is required"},
		{"DescribeKey", `{"KeyId":"nope"}`, "NotFoundException", "nope"},
		{"ListKeys", `{"Limit":0}`, "ValidationException", "Limit"},
		{"ListKeys", `{"Limit":1001}`, "ValidationException", "Limit"},
		{"ListKeys", `{"Marker":"$$"}`, "InvalidMarkerException", "Marker"},
		{"GenerateDataKey", `{"KeyId":"x","KeySpec":"AES_256","Recipient":{"AttestationDocument":"AA==","KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`, "", ""},
		{"NoSuchOperation", `{}`, "UnknownOperationException", "NoSuchOperation"},
		{"", `{}`, "UnknownOperationException", ""},
	} {
		r := signedDo(t, srv, tc.target, tc.body)
		if tc.typ == "" { // a Recipient is never answered in plaintext
			if r.status == 200 || bytes.Contains(r.body, []byte("Plaintext")) {
				t.Fatalf("%s %s: %d %s", tc.target, tc.body, r.status, r.body)
			}
			continue
		}
		if r.status != 400 || r.typ != tc.typ || !strings.Contains(r.msg, tc.msg) {
			t.Errorf("%s %s: %d %s %q; want 400 %s containing %q", tc.target, tc.body, r.status, r.typ, r.msg, tc.typ, tc.msg)
		}
	}

	// Content-Type other than the JSON 1.1 one; the JSON 1.1 one with a
	// parameter, in another case or spacing is that one (a media type's
	// name is case-insensitive).
	body := `{}`
	for _, ct := range []string{"text/plain", "application/x-amz-json-1.0", "application/x-amz-json-1.1x", "", "application/x-amz-json-1.1; =", "application/json"} {
		req := rawRequest(t, srv.URL, "ListKeys", body)
		req.Header.Set("Content-Type", ct)
		sign(t, req, body, srv.AccessKey, srv.Secret, time.Now())
		if r := do(t, req); r.typ != "ValidationException" || !strings.Contains(r.msg, "Content-Type") {
			t.Fatalf("content type %q: %d %s", ct, r.status, r.body)
		}
	}
	for _, ct := range []string{"application/x-amz-json-1.1", "Application/X-Amz-JSON-1.1", "application/x-amz-json-1.1; charset=utf-8", "application/x-amz-json-1.1 "} {
		req := rawRequest(t, srv.URL, "ListKeys", body)
		req.Header.Set("Content-Type", ct)
		sign(t, req, body, srv.AccessKey, srv.Secret, time.Now())
		if r := do(t, req); r.status != 200 {
			t.Fatalf("content type %q: %d %s", ct, r.status, r.body)
		}
	}

	if n := keyCount(t, srv); n != 0 {
		t.Fatalf("malformed requests created %d keys", n)
	}
}

func TestOversizedBody(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	big := `{"Description":"` + strings.Repeat("a", 1<<20) + `"}`
	// With a Content-Length: refused before the body is read.
	req := rawRequest(t, srv.URL, "CreateKey", big)
	sign(t, req, big, srv.AccessKey, srv.Secret, time.Now())
	if r := do(t, req); r.status != 413 || r.typ != "ValidationException" {
		t.Fatalf("oversized body: %d %s", r.status, r.body)
	}
	// Chunked, no Content-Length: refused once the limit is passed.
	req = rawRequest(t, srv.URL, "CreateKey", big)
	sign(t, req, big, srv.AccessKey, srv.Secret, time.Now())
	req.ContentLength = -1
	req.Body = io.NopCloser(io.MultiReader(strings.NewReader(big), strings.NewReader(strings.Repeat(" ", 1<<20))))
	if r := do(t, req); r.status != 413 {
		t.Fatalf("oversized chunked body: %d %s", r.status, r.body)
	}
	if n := keyCount(t, srv); n != 0 {
		t.Fatalf("oversized requests created %d keys", n)
	}
}
