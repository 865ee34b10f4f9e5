package tencent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/api/tencent/tc3"
	"github.com/attestkms/attestkms/kms"
)

// published are the codes this dialect may send: Tencent Cloud API 3.0's
// common codes and the KMS codes of tencentcloud-sdk-go kms/v20190118
// errors.go. Nothing else reaches a client.
var published = map[string]bool{
	"AuthFailure.InvalidAuthorization": true, "AuthFailure.SignatureExpire": true, "AuthFailure.SignatureFailure": true,
	"DryRunOperation": true, "InternalError": true, "InvalidAction": true, "InvalidParameter": true,
	"InvalidParameter.InvalidPendingWindowInDays": true, "InvalidParameterValue": true,
	"InvalidParameterValue.AliasAlreadyExists": true, "InvalidParameterValue.InvalidAlias": true,
	"InvalidParameterValue.InvalidCiphertext": true, "InvalidParameterValue.InvalidHsmClusterId": true,
	"InvalidParameterValue.InvalidKeyId": true, "InvalidParameterValue.InvalidKeyUsage": true,
	"InvalidParameterValue.InvalidPlaintext": true, "InvalidParameterValue.InvalidType": true,
	"LimitExceeded": true, "MissingParameter": true, "NoSuchVersion": true, "RequestLimitExceeded": true, "RequestSizeLimitExceeded": true,
	"ResourceUnavailable.CmkDisabled": true, "ResourceUnavailable.CmkNotFound": true,
	"ResourceUnavailable.CmkStateNotSupport": true, "UnauthorizedOperation": true, "UnknownParameter": true,
	"UnsupportedOperation": true,
}

// TestErrorTable walks every kms kind through the table: each has a
// published Tencent code, only internal errors and cancellation (the request
// did not complete) are InternalError, and the message a client sees is
// kms's.
func TestErrorTable(t *testing.T) {
	for _, kind := range kms.Kinds {
		w, ok := errorTable[kind]
		code := w.Code
		if !ok {
			t.Errorf("kind %q has no Tencent code", kind)
			continue
		}
		if !published[code] {
			t.Errorf("kind %q maps to %q, not a published code", kind, code)
		}
		if (kind == kms.ErrInternal || kind == kms.ErrCanceled) != (code == codeInternalError) {
			t.Errorf("kind %q is %s", kind, code)
		}
		gotWire, msg := errorTable.Wire(&kms.Error{Kind: kind, Msg: "detail"})
		if got := gotWire.Code; got != code {
			t.Errorf("toWire(%q) = %s; want %s", kind, gotWire.Code, code)
		}
		if kind != kms.ErrInternal && msg != "detail" {
			t.Errorf("toWire(%q) lost the message: %q", kind, msg)
		}
	}
	for _, must := range []struct {
		kind error
		code string
	}{
		{kms.ErrNotFound, "ResourceUnavailable.CmkNotFound"}, {kms.ErrDisabled, "ResourceUnavailable.CmkDisabled"},
		{kms.ErrInvalidState, "ResourceUnavailable.CmkStateNotSupport"}, {kms.ErrInvalidCiphertext, "InvalidParameterValue.InvalidCiphertext"},
		{kms.ErrAccessDenied, "UnauthorizedOperation"}, {kms.ErrUnsupported, "UnsupportedOperation"},
		{kms.ErrCanceled, "InternalError"}, {kms.ErrThrottled, "RequestLimitExceeded"}, {pipeline.ErrThrottled, "RequestLimitExceeded"},
	} {
		if errorTable[must.kind].Code != must.code {
			t.Errorf("%q is %s; the issue names %s", must.kind, errorTable[must.kind].Code, must.code)
		}
	}
	// Every refusal of the pipeline has a published code, not
	// InternalError, and a message of its own.
	for _, kind := range pipeline.Kinds {
		w, ok := errorTable[kind]
		if !ok || !published[w.Code] || w.Code == codeInternalError || w.Message == "" {
			t.Errorf("pipeline kind %q maps to %+v", kind, w)
		}
	}
	// Anything that is not a kms error is internal, with a generic message.
	got, msg := errorTable.Wire(errors.New("disk on fire: secret=hunter2"))
	if got.Code != "InternalError" || strings.Contains(msg, "hunter2") {
		t.Fatalf("unknown error: %s %q", got.Code, msg)
	}
	// Every code the dialect decides itself is published too.
	for _, c := range []string{
		codeInvalidAuthorization, codeSignatureExpire, codeSignatureFailure, codeInvalidAction, codeInvalidParameter,
		codeInvalidPendingWindow, codeInvalidValue, codeAliasExists, codeInvalidAlias, codeInvalidCiphertext,
		codeInvalidHsmClusterID, codeInvalidKeyID, codeInvalidKeyUsage, codeInvalidPlaintext, codeInvalidType,
		codeLimitExceeded, codeMissingParameter, codeNoSuchVersion, codeRequestLimitExceeded, codeRequestTooLarge, codeUnknownParameter, codeUnsupported,
	} {
		if !published[c] {
			t.Errorf("dialect code %s is not published", c)
		}
	}
}

type testEnv struct {
	h      *pipeline.Handler
	e      *echo.Echo
	svc    *kms.Service
	dir    string
	ak, sk string
	n      atomic.Int64
	base   time.Time // the clock, when the env was made
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
	h := New(pipeline.Options{Service: svc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	e := echo.New()
	e.POST("/", h.Handle)
	return &testEnv{h: h, e: e, svc: svc, dir: dir, ak: cred.AccessKeyID, sk: cred.SecretAccessKey, base: time.Now()}
}

// send signs body for action and serves it. Each request is signed at a
// distinct second counted back from env.base (not from the running clock,
// which could move on by exactly the step between two requests), so
// requests with equal bodies do not share a signature (TC3 does not sign
// X-TC-Action).
func (env *testEnv) send(t testing.TB, action string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	r.Header.Set("X-TC-Action", action)
	r.Header.Set("X-TC-Version", Version)
	r.Header.Set("X-TC-Region", "ap-guangzhou")
	at := env.base.Add(-time.Duration(env.n.Add(1)%240) * time.Second)
	if err := tc3.Sign(r, body, env.ak, []byte(env.sk), "kms", at); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	env.e.ServeHTTP(w, r)
	return w
}

type wireAnswer struct {
	Response struct {
		Error *struct {
			Code    string
			Message string
		}
		RequestId string
	}
}

func parseAnswer(t testing.TB, w *httptest.ResponseRecorder) (wireAnswer, map[string]any) {
	t.Helper()
	var a wireAnswer
	var raw struct{ Response map[string]any }
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != contentType ||
		json.Unmarshal(w.Body.Bytes(), &a) != nil || json.Unmarshal(w.Body.Bytes(), &raw) != nil || a.Response.RequestId == "" {
		t.Fatalf("answer not in Tencent's shape: %d %q", w.Code, w.Body)
	}
	if a.Response.Error != nil && (a.Response.Error.Code == "" || a.Response.Error.Message == "" || len(raw.Response) != 2) {
		t.Fatalf("error not in Tencent's shape: %s", w.Body)
	}
	return a, raw.Response
}

func TestPanicIsInternalErrorAndAudited(t *testing.T) {
	env := newEnv(t)
	actions["TestPanic"] = func(*dialect, context.Context, *kms.Call, []byte) (*result, error) {
		panic("boom: secret material 0xdeadbeef")
	}
	defer delete(actions, "TestPanic")
	w := env.send(t, "TestPanic", []byte("{}"))
	a, _ := parseAnswer(t, w)
	if a.Response.Error == nil || a.Response.Error.Code != "InternalError" || strings.Contains(w.Body.String(), "deadbeef") {
		t.Fatalf("panic answered %s", w.Body)
	}
	log, _ := os.ReadFile(filepath.Join(env.dir, "audit.log"))
	if !bytes.Contains(log, []byte(`"operation":"TestPanic"`)) || !bytes.Contains(log, []byte(`"error_code":"InternalError"`)) {
		t.Fatalf("panic not audited: %s", log)
	}
	// Another body than the panicking request's: TC3 does not sign
	// X-TC-Action, so the same body within the same second is the same
	// signature, which the replay check would rightly refuse.
	if a, _ := parseAnswer(t, env.send(t, "ListKeys", []byte(`{"Limit":10}`))); a.Response.Error != nil {
		t.Fatalf("after a panic: %+v", a.Response.Error)
	}
}

// TestAuditFailureWithholdsResult: a request whose audit line cannot be
// written gets InternalError instead of its answer.
func TestAuditFailureWithholdsResult(t *testing.T) {
	env := newEnv(t)
	env.svc.Close()
	w := env.send(t, "GenerateRandom", []byte(`{"NumberOfBytes":32}`))
	a, _ := parseAnswer(t, w)
	if a.Response.Error == nil || a.Response.Error.Code != "InternalError" || strings.Contains(w.Body.String(), "Plaintext") {
		t.Fatalf("unaudited request answered %s", w.Body)
	}
}

// TestStateChangesCheckFirstUse: every state-changing action refuses its
// signature's second use, and every other action does not.
func TestStateChangesCheckFirstUse(t *testing.T) {
	env := newEnv(t)
	createKey := func(alias string) string {
		_, out := parseAnswer(t, env.send(t, "CreateKey", []byte(`{"Alias":"`+alias+`"}`)))
		return out["KeyId"].(string)
	}
	id := createKey("a")
	keyBody := fmt.Sprintf(`{"KeyId":%q}`, id)
	bodies := map[string]string{
		"CreateKey": `{"Alias":"b"}`, "DescribeKey": keyBody, "ListKeys": `{}`, "EnableKey": keyBody, "DisableKey": keyBody,
		"ScheduleKeyDeletion": fmt.Sprintf(`{"KeyId":%q,"PendingWindowInDays":7}`, createKey("c")),
		"CancelKeyDeletion":   keyBody, "Encrypt": fmt.Sprintf(`{"KeyId":%q,"Plaintext":"eA=="}`, id),
		"GenerateDataKey": fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256"}`, id), "GenerateRandom": `{"NumberOfBytes":8}`,
		"GetPublicKey": keyBody, "Decrypt": "",
	}
	_, enc := parseAnswer(t, env.send(t, "Encrypt", []byte(bodies["Encrypt"])))
	bodies["Decrypt"] = fmt.Sprintf(`{"CiphertextBlob":%q}`, enc["CiphertextBlob"])
	// One base time for every request: TC3 does not sign X-TC-Action, so
	// two actions with the same body (EnableKey, DisableKey, ...) signed in
	// the same second are the same signature; the distinct offsets below
	// keep them apart only if the base does not move between them.
	base := time.Now()
	for name := range actions {
		body := []byte(bodies[name])
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("X-TC-Action", name)
		r.Header.Set("X-TC-Version", Version)
		r.Header.Set("X-TC-Region", "ap-guangzhou")
		// Signed in the past, as a captured request is replayed later.
		if err := tc3.Sign(r, body, env.ak, []byte(env.sk), "kms", base.Add(-10*time.Second-time.Duration(len(name))*time.Second)); err != nil {
			t.Fatal(err)
		}
		first := httptest.NewRecorder()
		env.e.ServeHTTP(first, r.Clone(context.Background()))
		if name == "CreateKey" { // free the alias, so only the signature stops the replay
			_, p, _ := env.svc.Credentials().Lookup(env.ak)
			if _, err := env.svc.DeleteAlias(context.Background(), &kms.Call{RequestID: "t", Principal: p}, &kms.DeleteAliasRequest{AliasName: "alias/b"}); err != nil {
				t.Fatal(err)
			}
		}
		again := httptest.NewRecorder()
		r2 := r.Clone(context.Background())
		r2.Body = io.NopCloser(bytes.NewReader(body))
		env.e.ServeHTTP(again, r2)
		a1, _ := parseAnswer(t, first)
		a2, _ := parseAnswer(t, again)
		// The first may fail on the key's state (the map's order), never
		// as a replay; the second, past the grace, is a replay for every
		// action.
		isReplay := func(a wireAnswer) bool {
			return a.Response.Error != nil && a.Response.Error.Code == "AuthFailure.SignatureExpire"
		}
		if isReplay(a1) || !isReplay(a2) {
			t.Errorf("%s: first %+v, again %+v", name, a1.Response.Error, a2.Response.Error)
		}
	}
}

// TestEveryAnswerHasItsMembers: each action's success answer has the members
// the SDK reads, and RequestId last.
func TestEveryAnswerHasItsMembers(t *testing.T) {
	env := newEnv(t)
	_, ck := parseAnswer(t, env.send(t, "CreateKey", []byte(`{"Alias":"a","Tags":[{"TagKey":"k","TagValue":"v"}]}`)))
	id := ck["KeyId"].(string)
	_, enc := parseAnswer(t, env.send(t, "Encrypt", []byte(fmt.Sprintf(`{"KeyId":%q,"Plaintext":"eA=="}`, id))))
	for _, tc := range []struct {
		action, body string
		members      []string
	}{
		{"CreateKey", `{"Alias":"b"}`, []string{"KeyId", "Alias", "CreateTime", "Description", "KeyState", "KeyUsage", "RequestId"}},
		{"DescribeKey", fmt.Sprintf(`{"KeyId":%q}`, id), []string{"KeyMetadata", "RequestId"}},
		{"ListKeys", `{}`, []string{"Keys", "TotalCount", "RequestId"}},
		{"Encrypt", fmt.Sprintf(`{"KeyId":%q,"Plaintext":"eA=="}`, id), []string{"CiphertextBlob", "KeyId", "RequestId"}},
		{"Decrypt", fmt.Sprintf(`{"CiphertextBlob":%q}`, enc["CiphertextBlob"]), []string{"KeyId", "Plaintext", "RequestId"}},
		{"GenerateRandom", `{"NumberOfBytes":8}`, []string{"Plaintext", "RequestId"}},
		{"DisableKey", fmt.Sprintf(`{"KeyId":%q}`, id), []string{"RequestId"}},
	} {
		w := env.send(t, tc.action, []byte(tc.body))
		a, out := parseAnswer(t, w)
		if a.Response.Error != nil {
			t.Fatalf("%s: %+v", tc.action, a.Response.Error)
		}
		var keys []string
		for k := range out {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		want := slices.Clone(tc.members)
		slices.Sort(want)
		if !slices.Equal(keys, want) || !bytes.HasSuffix(bytes.TrimSpace(w.Body.Bytes()), []byte(`"RequestId":"`+a.Response.RequestId+`"}}`)) {
			t.Errorf("%s: members %v; want %v: %s", tc.action, keys, want, w.Body)
		}
	}
	if ck["TagCode"] != float64(0) {
		t.Errorf("CreateKey with tags: TagCode %v", ck["TagCode"])
	}
}

func TestDecodeStrict(t *testing.T) {
	type req struct {
		KeyId  string
		N      *int64
		Nested *struct{ A string }
		wrapFields
	}
	for body, code := range map[string]string{
		``:   "",
		`  `: "",
		`{}`: "",
		`{"KeyId":"x","N":1,"Nested":{"A":"y"},"EncryptionPublicKey":"p","Recipient":{"AttestationDocument":"d"}}`: "",
		`{"KeyId":null}`:     "",
		`{"keyid":"x"}`:      codeUnknownParameter,
		`{"KeyID":"x"}`:      codeUnknownParameter,
		`{"Other":1}`:        codeUnknownParameter,
		`{"Nested":{"B":1}}`: codeUnknownParameter,
		`{"Recipient":{"attestationdocument":"d"}}`: "", // nested names: encoding/json's case-insensitive match
		`{"KeyId":"x","KeyId":"y"}`:                 codeInvalidParameter,
		`{"KeyId":1}`:                               codeInvalidParameter,
		`{"N":"1"}`:                                 codeInvalidParameter,
		`{"N":1.0}`:                                 codeInvalidParameter,
		`{"N":1e2}`:                                 codeInvalidParameter,
		`{"N":9223372036854775808}`:                 codeInvalidValue,
		`{"N":-9223372036854775809}`:                codeInvalidValue,
		`{"N":-1}`:                                  "",
		`{`:                                         codeInvalidParameter,
		`{"KeyId":"x"`:                              codeInvalidParameter,
		`{"KeyId":"x"}x`:                            codeInvalidParameter,
		`{"KeyId":"x"}{}`:                           codeInvalidParameter,
		`[]`:                                        codeInvalidParameter,
		`null`:                                      codeInvalidParameter,
		`"s"`:                                       codeInvalidParameter,
		`{"KeyId":"\ud800"}`:                        "",
		`{"a":` + strings.Repeat("[", 20000):        codeUnknownParameter,
		`{"KeyId":` + strings.Repeat("[", 20000):    codeInvalidParameter,
	} {
		var v req
		err := decode([]byte(body), &v)
		got := ""
		if err != nil {
			w, _ := errorTable.Wire(err)
			got = w.Code
		}
		if got != code {
			t.Errorf("%.60q: %v; want %s", body, err, code)
		}
	}
}

func TestEncryptionContext(t *testing.T) {
	for s, want := range map[string]kms.EncryptionContext{
		``:                         nil,
		`{}`:                       {},
		`{"a":"b"}`:                {"a": "b"},
		` { "a" : "b" , "c":"" } `: {"a": "b", "c": ""},
		`{"":"x"}`:                 {"": "x"}, // kms refuses the empty key
		`{"a":"\u00e9"}`:           {"a": "é"},
	} {
		got, err := encryptionContext(s)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) || (got == nil) != (want == nil) {
			t.Errorf("%q: %v %v", s, got, err)
		}
	}
	for _, s := range []string{`{"a":1}`, `{"a":null}`, `{"a":"b","a":"c"}`, `["a"]`, `"a"`, `{"a":"b"} x`, `{"a":{"b":"c"}}`, `{`, `a=b`, `{"a":"b"}{}`, `{"a":` + strings.Repeat(" ", 20000) + `"b"}`} {
		if got, err := encryptionContext(s); err == nil || got != nil {
			t.Errorf("%.40q accepted: %v", s, got)
		}
	}
}

// FuzzRequest sends arbitrary bodies, correctly signed, to every action: no
// panic, no InternalError, and every answer is JSON in Tencent's shape.
func FuzzRequest(f *testing.F) {
	names := make([]string, 0, len(actions))
	for n := range actions {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, body := range []string{
		`{}`, `{"KeyId":"alias/x"}`, `{"Alias":"a","KeyUsage":"ENCRYPT_DECRYPT","Type":1,"Tags":[{"TagKey":"a","TagValue":"b"}]}`,
		`{"Plaintext":"AAAA","KeyId":"00000000-0000-4000-8000-000000000000","EncryptionContext":"{\"a\":\"b\"}"}`,
		`{"CiphertextBlob":"AQ==","EncryptionPublicKey":"-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n","EncryptionAlgorithm":"SM2"}`,
		`{"NumberOfBytes":1024}`, `{"Offset":1,"Limit":200,"Role":0}`, `{"KeyId":"x","PendingWindowInDays":7}`,
		`{"KeyId":"alias/x","KeySpec":"AES_256","Recipient":{"AttestationDocument":"hA==","KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`,
		`[`, `{"a":` + strings.Repeat("[", 1000),
	} {
		f.Add(uint8(i*7), []byte(body))
	}
	env := newEnv(f)
	f.Fuzz(func(t *testing.T, op uint8, body []byte) {
		name := names[int(op)%len(names)]
		w := env.send(t, name, body)
		a, _ := parseAnswer(t, w)
		if a.Response.Error != nil && (a.Response.Error.Code == "InternalError" || !published[a.Response.Error.Code]) {
			t.Fatalf("%s %q: %s", name, body, w.Body)
		}
	})
}
