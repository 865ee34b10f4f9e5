package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

	"github.com/attestkms/attestkms/api/internal/awsjson"
	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/internal/sigv4"
	"github.com/attestkms/attestkms/kms"
)

// errorTable is the dialect's: AWS JSON 1.1's (api/internal/awsjson).
var errorTable = awsjson.ErrorTable

// TestErrorTable walks every kms kind through the table: each has its own
// AWS exception, client errors are 4xx, and only internal errors and
// cancellation (the request did not complete) are 5xx.
func TestErrorTable(t *testing.T) {
	for _, kind := range kms.Kinds {
		w, ok := errorTable[kind]
		if !ok {
			t.Errorf("kind %q has no AWS exception", kind)
			continue
		}
		if !strings.HasSuffix(w.Code, "Exception") {
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
	// Every refusal of the pipeline has an AWS exception, a 4xx status and
	// a message of its own.
	for _, kind := range pipeline.Kinds {
		w, ok := errorTable[kind]
		if !ok || !strings.HasSuffix(w.Code, "Exception") || w.Status < 400 || w.Status >= 500 || w.Message == "" {
			t.Errorf("pipeline kind %q maps to %+v", kind, w)
		}
	}
	// Anything that is not a kms error is internal, with a generic message.
	got, msg := errorTable.Wire(errors.New("disk on fire: secret=hunter2"))
	if got.Code != "KMSInternalException" || got.Status != 500 || strings.Contains(msg, "hunter2") {
		t.Fatalf("unknown error: %v %q", got, msg)
	}
	// Throttled, by a budget of the pipeline or kms's: AWS's
	// ThrottlingException, 400.
	for _, err := range []error{pipeline.ErrThrottled, &kms.Error{Kind: kms.ErrThrottled, Msg: "Recipient: later"}} {
		if got, _ := errorTable.Wire(err); got.Code != "ThrottlingException" || got.Status != http.StatusBadRequest {
			t.Errorf("%v: %v", err, got)
		}
	}
	// A canceled request did not complete: AWS's retryable 503.
	got, msg = errorTable.Wire(&kms.Error{Kind: kms.ErrCanceled, Msg: "canceled", Cause: context.Canceled})
	if got.Code != "DependencyTimeoutException" || got.Status != http.StatusServiceUnavailable || msg != "canceled" {
		t.Fatalf("canceled: %v %q", got, msg)
	}
}

type testEnv struct {
	h      *pipeline.Handler
	logs   *bytes.Buffer
	e      *echo.Echo
	svc    *kms.Service
	dir    string
	ak, sk string
	n      atomic.Int64
}

func newEnv(t testing.TB) *testEnv {
	dir := t.TempDir()
	_, cred, err := kms.Init(kms.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := kms.Open(kms.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	logs := new(bytes.Buffer)
	h := New(pipeline.Options{Service: svc, Logger: newTestLogger(logs)})
	e := echo.New()
	e.POST("/", h.Handle)
	return &testEnv{h: h, logs: logs, e: e, svc: svc, dir: dir, ak: cred.AccessKeyID, sk: cred.SecretAccessKey}
}

// send signs body for target and serves it.
func (env *testEnv) send(t testing.TB, target string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("X-Amz-Target", targetPrefix+target)
	r.Header.Set("Amz-Sdk-Invocation-Id", strconv.FormatInt(env.n.Add(1), 10))
	if err := sigv4.Sign(r, body, env.ak, []byte(env.sk), "us-east-1", "kms", time.Now()); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	env.e.ServeHTTP(w, r)
	return w
}

func TestPanicIsInternalErrorAndAudited(t *testing.T) {
	// Registered before the handler is made: New binds the operations.
	operations["TestPanic"] = func(*dialect, context.Context, *kms.Call, []byte) (*result, error) {
		panic("boom: secret material 0xdeadbeef")
	}
	defer delete(operations, "TestPanic")
	env := newEnv(t)
	w := env.send(t, "TestPanic", []byte("{}"))
	var e struct{ Type, Message string }
	json.Unmarshal(w.Body.Bytes(), &struct {
		Type    *string `json:"__type"`
		Message *string `json:"message"`
	}{&e.Type, &e.Message})
	if w.Code != 500 || e.Type != "KMSInternalException" || strings.Contains(w.Body.String(), "deadbeef") {
		t.Fatalf("panic answered %d %s", w.Code, w.Body)
	}
	log, _ := os.ReadFile(filepath.Join(env.dir, "audit.log"))
	if !bytes.Contains(log, []byte(`"operation":"TestPanic"`)) || !bytes.Contains(log, []byte(`"error_code":"KMSInternalException"`)) {
		t.Fatalf("panic not audited: %s", log)
	}
	if !strings.Contains(env.logs.String(), "panic serving request") {
		t.Fatalf("panic not logged: %s", env.logs)
	}
	// The server still serves.
	if w := env.send(t, "ListKeys", []byte("{}")); w.Code != 200 {
		t.Fatalf("after a panic: %d %s", w.Code, w.Body)
	}
}

// TestAuditFailureWithholdsResult: a request whose audit line cannot be
// written gets an internal error instead of its answer.
func TestAuditFailureWithholdsResult(t *testing.T) {
	env := newEnv(t)
	// Close the audit log underneath the service.
	env.svc.Close()
	w := env.send(t, "GenerateRandom", []byte(`{"NumberOfBytes":32}`))
	if w.Code != 500 || strings.Contains(w.Body.String(), "Plaintext") {
		t.Fatalf("unaudited request answered %d %s", w.Code, w.Body)
	}
}

// FuzzRequest sends arbitrary bodies, correctly signed, to every operation:
// no panic, no internal error, and every answer is JSON in AWS's shape.
func FuzzRequest(f *testing.F) {
	names := make([]string, 0, len(operations))
	for n := range operations {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, body := range []string{
		`{}`, `{"KeyId":"alias/x"}`, `{"KeySpec":"ECC_NIST_P256","KeyUsage":"KEY_AGREEMENT"}`,
		`{"Plaintext":"AAAA","KeyId":"x","EncryptionContext":{"a":"b"}}`, `{"CiphertextBlob":"AQ=="}`,
		`{"NumberOfBytes":1024}`, `{"Tags":[{"TagKey":"a","TagValue":"b"}]}`, `{"Limit":1,"Marker":"AA"}`,
		`{"PublicKey":"MFkw","KeyAgreementAlgorithm":"ECDH"}`, `[`, `{"a":` + strings.Repeat("[", 1000),
	} {
		f.Add(uint8(i*7), []byte(body))
	}
	env := newEnv(f)
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		w := env.send(t, names[int(op)%len(names)], body)
		if w.Code >= 500 {
			t.Fatalf("%s %q: %d %s", names[int(op)%len(names)], body, w.Code, w.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("answer is not JSON: %q", w.Body)
		}
		if w.Code != http.StatusOK {
			if typ, _ := out["__type"].(string); typ == "" || out["message"] == nil {
				t.Fatalf("error without __type and message: %s", w.Body)
			}
		}
	})
}

// TestWithoutPlaintextRefusesRecipient: the WithoutPlaintext operations
// return no secret to wrap, so a Recipient sent to them (the wire request
// shares GenerateDataKey's members) is a ValidationException, as kms once
// answered it.
func TestWithoutPlaintextRefusesRecipient(t *testing.T) {
	env := newEnv(t)
	w := env.send(t, "CreateKey", []byte(`{}`))
	var created struct{ KeyMetadata struct{ KeyId string } }
	if err := json.Unmarshal(w.Body.Bytes(), &created); w.Code != 200 || err != nil {
		t.Fatalf("CreateKey: %d %s", w.Code, w.Body)
	}
	rcpt := `"Recipient":{"AttestationDocument":"ZG9j","KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}`
	for op, body := range map[string]string{
		"GenerateDataKeyWithoutPlaintext":     `{"KeyId":"` + created.KeyMetadata.KeyId + `","KeySpec":"AES_256",` + rcpt + `}`,
		"GenerateDataKeyPairWithoutPlaintext": `{"KeyId":"` + created.KeyMetadata.KeyId + `","KeyPairSpec":"ECC_NIST_P256",` + rcpt + `}`,
	} {
		w := env.send(t, op, []byte(body))
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != 400 || e.Type != "ValidationException" || e.Message != "Recipient is not accepted by "+op {
			t.Errorf("%s with a Recipient: %d %s", op, w.Code, w.Body)
		}
		// Without one it works.
		if w := env.send(t, op, []byte(strings.Replace(body, ","+rcpt, "", 1))); w.Code != 200 {
			t.Errorf("%s: %d %s", op, w.Code, w.Body)
		}
	}
}
