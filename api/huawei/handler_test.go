package huawei

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/attestkms/attestkms/api/huawei/sdkhmac"
	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/kms"
)

// TestErrorTable walks every kms kind through the table: each has a Huawei
// code, client errors are 4xx, and only internal errors and cancellation
// (the request did not complete) are 5xx.
func TestErrorTable(t *testing.T) {
	for _, kind := range kms.Kinds {
		w, ok := errorTable[kind]
		if !ok {
			t.Errorf("kind %q has no Huawei code", kind)
			continue
		}
		if (!strings.HasPrefix(w.Code, "KMS.") || len(w.Code) != len("KMS.0000")) && w != codeThrottled {
			t.Errorf("kind %q maps to %q", kind, w.Code)
		}
		if (kind == kms.ErrInternal || kind == kms.ErrCanceled) != (w.Status >= 500) || w.Status < 400 {
			t.Errorf("kind %q has status %d", kind, w.Status)
		}
		err := &kms.Error{Kind: kind, Msg: "detail"}
		got, msg := errorTable.Wire(err)
		if got != w {
			t.Errorf("toWire(%q) = %v; want %v", kind, got, w)
		}
		if kind != kms.ErrInternal && msg != "detail" {
			t.Errorf("toWire(%q) lost the message: %q", kind, msg)
		}
	}
	// The codes the issue names.
	for kind, code := range map[error]string{
		kms.ErrNotFound: "KMS.0207", kms.ErrDisabled: "KMS.0209", kms.ErrInvalidState: "KMS.0210",
		kms.ErrValidation: "KMS.0308", kms.ErrAccessDenied: "KMS.0306", kms.ErrInvalidRecipient: "KMS.0308",
		kms.ErrCanceled: "KMS.0101", kms.ErrThrottled: "APIG.0308", pipeline.ErrThrottled: "APIG.0308",
	} {
		if errorTable[kind].Code != code {
			t.Errorf("kind %q is %s; want %s", kind, errorTable[kind].Code, code)
		}
	}
	// Every refusal of the pipeline has a Huawei code, a 4xx status and a
	// message of its own.
	for _, kind := range pipeline.Kinds {
		w, ok := errorTable[kind]
		if !ok || !strings.HasPrefix(w.Code, "KMS.") && kind != pipeline.ErrThrottled || w.Status < 400 || w.Status >= 500 || w.Message == "" {
			t.Errorf("pipeline kind %q maps to %+v", kind, w)
		}
	}
	// Anything that is not a kms error is internal, with a generic message.
	got, msg := errorTable.Wire(errors.New("disk on fire: secret=hunter2"))
	if got.Code != "KMS.0101" || got.Status != 500 || strings.Contains(msg, "hunter2") {
		t.Fatalf("unknown error: %v %q", got, msg)
	}
	// A kms error wrapping an attest failure keeps its kind.
	got, _ = errorTable.Wire(&kms.Error{Kind: kms.ErrInvalidRecipient, Msg: "Recipient: refused", Cause: errors.New("attest: bad signature")})
	if got != codeInvalid {
		t.Fatalf("recipient error: %v", got)
	}
}

type testEnv struct {
	h      *pipeline.Handler
	e      *echo.Echo
	svc    *kms.Service
	dir    string
	ak, sk string
	pid    string
	n      atomic.Int64
}

func newEnv(t testing.TB) *testEnv {
	dir := t.TempDir()
	acct, cred, err := kms.Init(kms.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := kms.Open(kms.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	h := New(pipeline.Options{Service: svc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	e := echo.New()
	e.Any("/v1.0/:project_id/kms/:op", h.Handle)
	return &testEnv{h: h, e: e, svc: svc, dir: dir, ak: cred.AccessKeyID, sk: cred.SecretAccessKey, pid: acct.ProjectID}
}

// send signs body for op and serves it. Each request carries a unique
// header, so that none is refused as a replay of another.
func (env *testEnv) send(t testing.TB, op string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/v1.0/"+env.pid+"/kms/"+op, bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("X-Project-Id", env.pid)
	r.Header.Set("X-Test-Request", strconv.FormatInt(env.n.Add(1), 10))
	if err := sdkhmac.Sign(r, body, env.ak, []byte(env.sk), time.Now()); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	env.e.ServeHTTP(w, r)
	return w
}

func TestPanicIsInternalErrorAndAudited(t *testing.T) {
	env := newEnv(t)
	operations["test-panic"] = operation{fn: func(*opCall, context.Context, *kms.Call, []byte) (*result, error) {
		panic("boom: secret material 0xdeadbeef")
	}}
	defer delete(operations, "test-panic")
	w := env.send(t, "test-panic", []byte("{}"))
	if w.Code != 500 || !strings.Contains(w.Body.String(), `"error_code":"KMS.0101"`) || strings.Contains(w.Body.String(), "deadbeef") || w.Header().Get("X-Request-Id") == "" {
		t.Fatalf("panic answered %d %s", w.Code, w.Body)
	}
	log, _ := os.ReadFile(filepath.Join(env.dir, "audit.log"))
	if !bytes.Contains(log, []byte(`"operation":"test-panic"`)) || !bytes.Contains(log, []byte(`"error_code":"KMS.0101"`)) {
		t.Fatalf("panic not audited: %s", log)
	}
	// The server still serves.
	if w := env.send(t, "list-keys", []byte("{}")); w.Code != 200 {
		t.Fatalf("after a panic: %d %s", w.Code, w.Body)
	}
}

// TestAuditFailureWithholdsResult: a request whose audit line cannot be
// written gets an internal error instead of its answer.
func TestAuditFailureWithholdsResult(t *testing.T) {
	env := newEnv(t)
	env.svc.Close() // closes the audit log underneath the service
	w := env.send(t, "gen-random", []byte(`{"random_data_length":"256"}`))
	if w.Code != 500 || strings.Contains(w.Body.String(), "random_data") {
		t.Fatalf("unaudited request answered %d %s", w.Code, w.Body)
	}
}

// TestSecretsAreZeroed: the buffers a secret's encoding was written from
// are zeroed once the answer is sent.
func TestSecretsAreZeroed(t *testing.T) {
	env := newEnv(t)
	var kept [][]byte
	operations["test-secret"] = operation{fn: func(*opCall, context.Context, *kms.Call, []byte) (*result, error) {
		s := hexSecret([]byte("top secret"))
		j := newJSONSecret([]byte("also \"secret\""))
		kept = append(kept, s, j)
		return ok(struct {
			S rawString  `json:"s"`
			J jsonSecret `json:"j"`
		}{s, j}, s, j)
	}}
	defer delete(operations, "test-secret")
	w := env.send(t, "test-secret", []byte("{}"))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"j":"also \"secret\""`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	for _, b := range kept {
		if bytes.ContainsFunc(b, func(r rune) bool { return r != 0 }) {
			t.Fatalf("secret buffer not zeroed: %q", b)
		}
	}
}

// FuzzRequest sends arbitrary bodies, correctly signed, to every operation:
// no panic, no internal error, and every answer is JSON in Huawei's shape.
func FuzzRequest(f *testing.F) {
	names := make([]string, 0, len(operations))
	for n := range operations {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, body := range []string{
		`{}`, `{"key_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f"}`, `{"key_alias":"a","key_spec":"EC_P256","key_usage":"KEY_AGREEMENT"}`,
		`{"key_id":"x","plain_text":"00","datakey_plain_length":"1"}`, `{"cipher_text":"AQ==","datakey_cipher_length":"32"}`,
		`{"random_data_length":"8192"}`, `{"limit":"1","marker":"AA","key_spec":"ALL","key_state":"2"}`,
		`{"public_key":"MFkw","key_agreement_algorithm":"ECDH","recipient":{"attestation_document":"hA=="}}`,
		`{"pending_days":"7","sequence":"919c82d4-8046-4722-9094-35c3c6524cff"}`, `{"datakey_length":"0008"}`,
		`[`, `{"a":` + strings.Repeat("[", 1000), `{"recipient":null,"Recipient":{}}`, `{"additional_authenticated_data":"\u0000"}`,
	} {
		f.Add(uint8(i*7), []byte(body))
	}
	env := newEnv(f)
	// Keys for the bodies that name them: one symmetric, one agreement.
	env.send(f, "create-key", []byte(`{"key_alias":"fuzz"}`))
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		name := names[int(op)%len(names)]
		w := env.send(t, name, body)
		if w.Code >= 500 {
			t.Fatalf("%s %q: %d %s", name, body, w.Code, w.Body)
		}
		if w.Header().Get("X-Request-Id") == "" {
			t.Fatalf("%s: no X-Request-Id", name)
		}
		var out map[string]json.RawMessage
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("answer is not JSON: %q", w.Body)
		}
		if w.Code != http.StatusOK {
			var e struct {
				Error struct {
					Code string `json:"error_code"`
					Msg  string `json:"error_msg"`
				} `json:"error"`
			}
			if json.Unmarshal(w.Body.Bytes(), &e) != nil || !strings.HasPrefix(e.Error.Code, "KMS.") || e.Error.Msg == "" || len(out) != 1 {
				t.Fatalf("error not in Huawei's shape: %s", w.Body)
			}
		}
	})
}
