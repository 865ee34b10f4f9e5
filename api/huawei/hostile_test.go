package huawei_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/internal/testserver"
)

func keyCount(t *testing.T, srv *testserver.Server) int {
	t.Helper()
	r := raw{op: "list-keys", body: `{"key_spec":"ALL","sequence":"` + *seq() + `"}`}.do(t, srv)
	if r.status != 200 {
		t.Fatalf("list-keys: %s", r.body)
	}
	return strings.Count(string(r.body), `"key_state"`)
}

func TestAuthentication(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	create := `{"key_alias":"a"}`
	other := strings.Repeat("0", 32)

	for _, tc := range []struct {
		name         string
		q            raw
		status       int
		code, phrase string
	}{
		{"unsigned", raw{op: "create-key", body: create, unsigned: true}, 401, "KMS.0301", "not authenticated"},
		{"unsigned, other project", raw{op: "create-key", body: create, unsigned: true, project: other}, 401, "KMS.0301", "not authenticated"},
		{"unsigned GET", raw{method: "GET", op: "create-key", unsigned: true}, 401, "KMS.0301", "not authenticated"},
		{"unsigned, unknown op", raw{op: "no-such-op", body: "{}", unsigned: true}, 401, "KMS.0301", "not authenticated"},
		{"X-Auth-Token", raw{op: "create-key", body: create, unsigned: true, headers: map[string]string{"X-Auth-Token": "MIIEhgYJKoZIhvcNAQcCoIIEdzCC"}}, 401, "KMS.0301", "X-Auth-Token"},
		{"X-Auth-Token beside a signature", raw{op: "create-key", body: create, headers: map[string]string{"X-Auth-Token": "t"}}, 401, "KMS.0301", "X-Auth-Token"},
		{"security token", raw{op: "create-key", body: create, headers: map[string]string{"X-Security-Token": "t"}}, 401, "KMS.0301", "temporary credentials"},
		{"stale", raw{op: "create-key", body: create, at: time.Now().Add(-16 * time.Minute)}, 401, "KMS.0303", "15 minutes"},
		{"future", raw{op: "create-key", body: create, at: time.Now().Add(16 * time.Minute)}, 401, "KMS.0303", "15 minutes"},
		{"unsigned payload", raw{op: "create-key", body: create, headers: map[string]string{"X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"}}, 401, "KMS.0301", "malformed"},
		{"other project", raw{op: "create-key", body: create, project: other}, 403, "KMS.0305", "project"},
		{"X-Project-Id of another project", raw{op: "create-key", body: create, headers: map[string]string{"X-Project-Id": other}}, 403, "KMS.0305", "X-Project-Id"},
		{"GET", raw{method: "GET", op: "list-keys"}, 400, "KMS.0201", "POST"},
		{"DELETE", raw{method: "DELETE", op: "create-key", body: create}, 400, "KMS.0201", "POST"},
		{"unknown operation", raw{op: "create-grant", body: "{}"}, 400, "KMS.0201", "create-grant"},
	} {
		r := tc.q.do(t, srv)
		if r.status != tc.status || r.code != tc.code || !strings.Contains(r.msg, tc.phrase) {
			t.Errorf("%s: %d %s %q; want %d %s saying %q", tc.name, r.status, r.code, r.msg, tc.status, tc.code, tc.phrase)
		}
	}

	// Content-Type is not signed (the SDK signs none, and would sign no body
	// for a type that is not JSON); one that is not JSON is refused.
	req := raw{op: "create-key", body: create}.request(t, srv)
	req.Header.Set("Content-Type", "text/plain")
	if r := do(t, req); r.status != 400 || r.code != "KMS.0308" || !strings.Contains(r.msg, "Content-Type") {
		t.Errorf("wrong content type: %d %s %q", r.status, r.code, r.msg)
	}

	// An unknown access key and a wrong secret get the same answer.
	unknown := raw{op: "create-key", body: create, ak: "AKIAUNKNOWNUNKNOWN00", sk: srv.Secret}.do(t, srv)
	wrong := raw{op: "create-key", body: create, ak: srv.AccessKey, sk: srv.Secret + "x"}.do(t, srv)
	if unknown.status != 401 || unknown.code != "KMS.0301" || unknown.status != wrong.status || !bytes.Equal(unknown.body, wrong.body) {
		t.Fatalf("unknown key: %d %s; wrong secret: %d %s", unknown.status, unknown.body, wrong.status, wrong.body)
	}

	// Changed after signing: the body, the operation, the project, a signed header.
	for name, change := range map[string]func(*http.Request){
		"body": func(r *http.Request) {
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(`{"key_alias":"b"}`)), int64(len(`{"key_alias":"b"}`))
		},
		"operation": func(r *http.Request) { r.URL.Path = strings.Replace(r.URL.Path, "create-key", "list-keys", 1) },
		"project":   func(r *http.Request) { r.URL.Path = strings.Replace(r.URL.Path, srv.Account.ProjectID, other, 1) },
		"header":    func(r *http.Request) { r.Header.Set("X-Project-Id", other) },
		"method":    func(r *http.Request) { r.Method = "PUT" },
	} {
		req := raw{op: "create-key", body: create}.request(t, srv)
		change(req)
		if r := do(t, req); r.status != 401 || r.code != "KMS.0301" || !strings.Contains(r.msg, "does not match") {
			t.Errorf("%s changed after signing: %d %s %q", name, r.status, r.code, r.msg)
		}
	}

	// 14 minutes of skew is fine.
	if r := (raw{op: "list-keys", body: "{}", at: time.Now().Add(-14 * time.Minute)}).do(t, srv); r.status != 200 {
		t.Fatalf("14 minutes of skew refused: %s", r.body)
	}
	if n := keyCount(t, srv); n != 0 {
		t.Fatalf("refused requests created %d keys", n)
	}

	// Replay: the same signed bytes twice; the second changes nothing.
	once := `{"key_alias":"a","sequence":"` + *seq() + `"}`
	req = raw{op: "create-key", body: once, at: time.Now().Add(-10 * time.Second)}.request(t, srv)
	again := req.Clone(t.Context())
	again.Body = io.NopCloser(strings.NewReader(once))
	if r := do(t, req); r.status != 200 {
		t.Fatalf("first create-key: %s", r.body)
	}
	if r := do(t, again); r.status != 401 || r.code != "KMS.0301" || !strings.Contains(r.msg, "replay") {
		t.Fatalf("replay: %d %s %s", r.status, r.code, r.msg)
	}
	if n := keyCount(t, srv); n != 1 {
		t.Fatalf("a replayed create-key made %d keys", n)
	}

	// Authentication failures are counted, one summary line per source
	// (kms/audit); refusals of authenticated requests have a line each.
	srv.Service.AuditLog().Flush()
	log, _ := os.ReadFile(filepath.Join(srv.DataDir, "audit.log"))
	if !bytes.Contains(log, []byte(`"source_ip":"127.0.0.1","dialect":"huawei","operation":"FailedAuthentications"`)) {
		t.Error("no summary of the failed authentications")
	}
	for _, code := range []string{"KMS.0301", "KMS.0303"} {
		if !bytes.Contains(log, []byte(`"`+code+`":`)) {
			t.Errorf("authentication failure %s not audited", code)
		}
	}
	for _, code := range []string{"KMS.0305", "KMS.0201"} {
		if !bytes.Contains(log, []byte(`"error_code":"`+code+`"`)) {
			t.Errorf("refusal %s not audited", code)
		}
	}
	if !bytes.Contains(log, []byte(`"dialect":"huawei","operation":"CreateKey"`)) {
		t.Error("audit lines lack the dialect and operation")
	}
}

func TestMalformedRequests(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	c := newClient(t, srv)
	id := createKey(t, c, "k", "", "")
	for _, tc := range []struct {
		op, body, code, phrase string
	}{
		{"create-key", `{`, "KMS.0202", "not valid JSON"},
		{"create-key", `[]`, "KMS.0202", "must be a JSON object"},
		{"create-key", `"x"`, "KMS.0202", "must be a JSON object"},
		{"create-key", `{} {}`, "KMS.0202", "after its JSON object"},
		{"create-key", `{"key_alias": 5}`, "KMS.0308", "key_alias must be a string"},
		{"create-key", `{"key_alias": "x", "key_spec": ["AES_256"]}`, "KMS.0308", "key_spec must be a string"},
		{"create-key", `{"key_alias": "x", "sequence": "short"}`, "KMS.0206", "sequence"},
		{"create-key", `{"key_alias": "x", "keystore_id": "7"}`, "KMS.0308", "keystore_id"},
		{"gen-random", `{"random_data_length": 512}`, "KMS.0308", "random_data_length must be a string"},
		{"gen-random", `{"random_data_length": "512.0"}`, "KMS.0308", "random_data_length"},
		{"gen-random", `{"random_data_length": "99999999999999999999"}`, "KMS.0308", "random_data_length"},
		{"gen-random", `{}`, "KMS.0204", "random_data_length is required"},
		{"describe-key", `{"key_id": "nope"}`, "KMS.0205", "key_id"},
		{"describe-key", `{"key_id": "` + strings.ToUpper(id) + `"}`, "KMS.0205", "key_id"},
		{"describe-key", `{"key_id": null}`, "KMS.0204", "key_id is required"},
		{"encrypt-datakey", `{"key_id": "` + id + `", "plain_text": "not hex", "datakey_plain_length": "1"}`, "KMS.0308", "plain_text is not valid hex"},
		{"decrypt-datakey", `{"key_id": "` + id + `", "cipher_text": "AAAA", "datakey_cipher_length": "32"}`, "KMS.2201", "ciphertext"},
		{"decrypt-data", `{"cipher_text": "AAAA"}`, "KMS.2201", "ciphertext"},
		{"decrypt-data", `{"cipher_text": "AAAA", "recipient": {"attestation_document": "AA=="}}`, "KMS.0308", "recipient is not accepted"},
		{"encrypt-data", `{"key_id": "` + id + `", "plain_text": "x", "Recipient": {}}`, "KMS.0308", "recipient is not accepted"},
		{"create-datakey-without-plaintext", `{"key_id": "` + id + `", "recipient": {"attestation_document": "AA=="}}`, "KMS.0308", "recipient is not accepted"},
		{"create-datakey", `{"key_id": "` + id + `", "recipient": {"attestation_document": "AA=="}}`, "KMS.0308", "not configured to verify"},
		{"create-datakey", `{"key_id": "` + id + `", "recipient": {}}`, "KMS.0204", "recipient.attestation_document is required"},
		{"create-datakey", `{"key_id": "` + id + `", "recipient": {"attestation_document": "%%"}}`, "KMS.0308", "not valid base64"},
		{"create-datakey", `{"key_id": "` + id + `", "recipient": {"attestation_document": "AA==", "key_encryption_algorithm": "RSAES_OAEP_SHA_1"}}`, "KMS.0308", "RSAES_OAEP_SHA_256"},
		{"create-datakey", `{"key_id": "` + id + `", "recipient": "yes"}`, "KMS.0308", "recipient must be an object"},
		{"create-datakey", `{"key_id": "` + id + `", "pin": "1234"}`, "KMS.0308", "pin"},
		{"derive-shared-secret", `{"key_id": "` + id + `", "key_agreement_algorithm": "ECMQV", "public_key": "MFkw"}`, "KMS.0308", "ECDH"},
		{"derive-shared-secret", `{"key_id": "` + id + `", "public_key": "MFkw"}`, "KMS.0204", "key_agreement_algorithm"},
		{"list-keys", `{"key_state": "9"}`, "KMS.0308", "key_state"},
		{"list-keys", `{"key_spec": "RSA_2048"}`, "KMS.0308", "key_spec"},
	} {
		r := raw{op: tc.op, body: tc.body}.do(t, srv)
		if r.status != 400 || r.code != tc.code || !strings.Contains(r.msg, tc.phrase) {
			t.Errorf("%s %s: %d %s %q; want 400 %s saying %q", tc.op, tc.body, r.status, r.code, r.msg, tc.code, tc.phrase)
		}
		for _, secret := range []string{"plain_text", "data_key", "random_data", "shared_secret", "ciphertext_recipient"} {
			if bytes.Contains(r.body, []byte(`"`+secret+`"`)) {
				t.Errorf("%s: a refusal carries %s: %s", tc.op, secret, r.body)
			}
		}
	}

	// Content-Type other than JSON's; JSON's with a parameter, in another
	// case or spacing is JSON's (a media type's name is case-insensitive).
	body := `{"key_id":"` + id + `"}`
	for _, ct := range []string{"text/plain", "", "application/jsonx", "application/json/x", "application/x-amz-json-1.1",
		"application/json; =", "application/json;charset", "application/json;charset=UTF-8;charset=x", "json"} {
		req := raw{op: "describe-key", body: body}.request(t, srv)
		req.Header.Set("Content-Type", ct)
		if r := do(t, req); r.status != 400 || r.code != "KMS.0308" || !strings.Contains(r.msg, "Content-Type") {
			t.Errorf("content type %q: %d %s %q", ct, r.status, r.code, r.msg)
		}
	}
	for _, ct := range []string{"application/json;charset=UTF-8", "application/json", "Application/JSON", "application/json; charset=utf-8",
		"application/json ", "APPLICATION/JSON;CHARSET=UTF-8"} {
		req := raw{op: "describe-key", body: body}.request(t, srv)
		req.Header.Set("Content-Type", ct)
		if r := do(t, req); r.status != 200 {
			t.Errorf("content type %q: %d %s", ct, r.status, r.body)
		}
	}
	if n := keyCount(t, srv); n != 1 {
		t.Fatalf("malformed requests changed the key count to %d", n)
	}
	if d := describe(t, c, id); *d.KeyState != "2" {
		t.Fatalf("malformed requests changed the key: %s", d)
	}
}

func TestOversizedBody(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	big := `{"key_alias":"` + strings.Repeat("a", 1<<20) + `"}`
	// With a Content-Length: refused before the body is read.
	if r := (raw{op: "create-key", body: big}).do(t, srv); r.status != 413 || r.code != "KMS.0203" {
		t.Fatalf("oversized body: %d %s", r.status, r.body)
	}
	// Chunked, no Content-Length: refused once the limit is passed.
	req := raw{op: "create-key", body: big}.request(t, srv)
	req.ContentLength = -1
	req.Body = io.NopCloser(io.MultiReader(strings.NewReader(big), strings.NewReader(strings.Repeat(" ", 1<<20))))
	if r := do(t, req); r.status != 413 || r.code != "KMS.0203" {
		t.Fatalf("oversized chunked body: %d %s", r.status, r.body)
	}
	if n := keyCount(t, srv); n != 0 {
		t.Fatalf("oversized requests created %d keys", n)
	}
}
