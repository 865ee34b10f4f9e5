package exchange

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/kms"
	"github.com/attestkms/attestkms/kms/audit"
)

func newLog(t *testing.T) (*audit.Log, string) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := audit.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func code(err error) (string, string) { return "Code", kms.Message(err) }

func TestServe(t *testing.T) {
	auditLog, logPath := newLog(t)
	audited := func() []byte { b, _ := os.ReadFile(logPath); return b }

	// Unauthenticated and not an authentication failure: not audited.
	if _, err := Serve(auditLog, quiet, &audit.Record{RequestID: "r0"}, code, func() (*Result, error) {
		return nil, errors.New("body too large")
	}); err == nil || len(audited()) != 0 {
		t.Fatal("an unauthenticated failure was audited or hidden")
	}
	// An authentication failure is audited.
	Serve(auditLog, quiet, &audit.Record{RequestID: "r1"}, code, func() (*Result, error) {
		return nil, AuthFailure(errors.New("bad signature"))
	})
	if !bytes.Contains(audited(), []byte(`"request_id":"r1","dialect":"","operation":"","outcome":"error","error_code":"Code"`)) {
		t.Fatalf("authentication failure not audited: %s", audited())
	}
	// A panic is an internal error, audited.
	res, err := Serve(auditLog, quiet, &audit.Record{RequestID: "r2", AccessKeyID: "AK"}, code, func() (*Result, error) {
		panic("boom")
	})
	if res != nil || !errors.Is(err, kms.ErrInternal) || !bytes.Contains(audited(), []byte(`"request_id":"r2"`)) {
		t.Fatalf("panic: %v %v", res, err)
	}
	// Success is audited "ok".
	secret := []byte("secret")
	res, err = Serve(auditLog, quiet, &audit.Record{RequestID: "r3", AccessKeyID: "AK"}, code, func() (*Result, error) {
		return OK("answer", secret)
	})
	if err != nil || res.Out != "answer" || !bytes.Contains(audited(), []byte(`"request_id":"r3","access_key_id":"AK","dialect":"","operation":"","outcome":"ok"`)) {
		t.Fatalf("success: %v %v %s", res, err, audited())
	}
	res.Wipe()
	if !bytes.Equal(secret, make([]byte, 6)) {
		t.Fatal("Wipe left the secret")
	}
	// An audit line that cannot be written withholds and wipes the answer.
	auditLog.Close()
	secret = []byte("secret")
	res, err = Serve(auditLog, quiet, &audit.Record{RequestID: "r4", AccessKeyID: "AK"}, code, func() (*Result, error) {
		return OK("answer", secret)
	})
	if res != nil || !errors.Is(err, kms.ErrInternal) || !bytes.Equal(secret, make([]byte, 6)) {
		t.Fatalf("unaudited answer released: %v %v %q", res, err, secret)
	}
}

func TestRawString(t *testing.T) {
	for _, tc := range []struct {
		r    RawString
		want string
	}{{Base64([]byte("ABC")), `{"s":"QUJD"}`}, {Hex([]byte{0xab, 1}), `{"s":"ab01"}`}, {Base64(nil), `{"s":""}`}} {
		var buf bytes.Buffer
		WriteJSON(httptestRecorder{&buf}, 200, "application/json", struct {
			S RawString `json:"s"`
		}{tc.r})
		if got := strings.TrimSpace(buf.String()); got != tc.want {
			t.Fatalf("%s; want %s", got, tc.want)
		}
		// MarshalJSON hands out the buffer itself: wiping it leaves no copy.
		b, _ := tc.r.MarshalJSON()
		if &b[0] != &tc.r[0] {
			t.Fatal("MarshalJSON returned a copy")
		}
	}
}

type httptestRecorder struct{ w *bytes.Buffer }

func (r httptestRecorder) Header() http.Header         { return http.Header{} }
func (r httptestRecorder) Write(b []byte) (int, error) { return r.w.Write(b) }
func (r httptestRecorder) WriteHeader(int)             {}

func TestLookup(t *testing.T) {
	dir := t.TempDir()
	_, cred, err := kms.Init(kms.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := kms.Open(kms.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	l := NewLookup(svc.Credentials())
	if _, ok := l.Secret("AKIANOSUCHKEY"); ok {
		t.Fatal("an unknown key was found")
	}
	if _, ok := l.Principal("AKIANOSUCHKEY"); ok {
		t.Fatal("an unknown key has a principal")
	}
	secret, ok := l.Secret(cred.AccessKeyID)
	if !ok || string(secret) != cred.SecretAccessKey {
		t.Fatalf("Secret = %q, %v", secret, ok)
	}
	p, ok := l.Principal(cred.AccessKeyID)
	if !ok || p.ARN != "arn:aws:iam::"+svc.Account().AccountID+":root" {
		t.Fatalf("Principal = %+v, %v", p, ok)
	}
	if _, ok := l.Principal("AKIAOTHER"); ok {
		t.Fatal("a principal for a key that was not looked up")
	}
	l.Wipe()
	if !bytes.Equal(secret, make([]byte, len(secret))) {
		t.Fatal("Wipe left the secret")
	}
	// The copy was the lookup's own: the credential still authenticates.
	if again, ok := l.Secret(cred.AccessKeyID); !ok || string(again) != cred.SecretAccessKey {
		t.Fatal("wiping a looked-up copy changed the credential")
	}
}
