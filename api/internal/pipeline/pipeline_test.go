package pipeline

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/attestkms/attestkms/api/internal/replay"
	"github.com/attestkms/attestkms/kms"
	"github.com/attestkms/attestkms/kms/audit"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newService(t *testing.T) (*kms.Service, *kms.Credential, string) {
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
	return svc, cred, dir
}

// TestAudited: panic recovery, the audit line of authenticated requests and
// authentication failures, and the answer withheld when its line cannot be
// written.
func TestAudited(t *testing.T) {
	svc, _, dir := newService(t)
	h := New(Options{Service: svc, Logger: quiet, Replay: replay.New(time.Minute, 0)}, Dialect{Errors: Table{kms.ErrInternal: {Code: "Code"}}})
	audited := func() []byte { b, _ := os.ReadFile(filepath.Join(dir, "audit.log")); return b }
	before := len(audited())

	// Unauthenticated and not an authentication failure: not audited.
	if _, err := h.audited(&audit.Record{RequestID: "r0"}, func() (*Result, error) {
		return nil, errors.New("body too large")
	}); err == nil || len(audited()) != before {
		t.Fatal("an unauthenticated failure was audited or hidden")
	}
	// An authentication failure is audited.
	h.audited(&audit.Record{RequestID: "r1"}, func() (*Result, error) {
		return nil, authFailure(errors.New("bad signature"))
	})
	if !bytes.Contains(audited(), []byte(`"request_id":"r1","dialect":"","operation":"","outcome":"error","error_code":"Code"`)) {
		t.Fatalf("authentication failure not audited: %s", audited())
	}
	// A panic is an internal error, audited.
	res, err := h.audited(&audit.Record{RequestID: "r2", AccessKeyID: "AK"}, func() (*Result, error) {
		panic("boom")
	})
	if res != nil || !errors.Is(err, kms.ErrInternal) || !bytes.Contains(audited(), []byte(`"request_id":"r2"`)) {
		t.Fatalf("panic: %v %v", res, err)
	}
	// Success is audited "ok".
	secret := []byte("secret")
	res, err = h.audited(&audit.Record{RequestID: "r3", AccessKeyID: "AK"}, func() (*Result, error) {
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
	svc.Close()
	secret = []byte("secret")
	res, err = h.audited(&audit.Record{RequestID: "r4", AccessKeyID: "AK"}, func() (*Result, error) {
		return OK("answer", secret)
	})
	if res != nil || !errors.Is(err, kms.ErrInternal) || !bytes.Equal(secret, make([]byte, 6)) {
		t.Fatalf("unaudited answer released: %v %v %q", res, err, secret)
	}
}

func TestLookup(t *testing.T) {
	svc, cred, _ := newService(t)
	l := newLookup(svc.Credentials())
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

// TestTableWire: a Refusal answers itself; the pipeline's kinds take the
// table's message (ErrMalformed adds the verifier's reason), also when they
// are authentication failures; kms's kinds take kms's message; anything else
// is the table's internal error with a generic message.
func TestTableWire(t *testing.T) {
	internal := WireError{Code: "Internal", Status: 500}
	tab := Table{
		kms.ErrInternal: internal, kms.ErrNotFound: {Code: "NotFound", Status: 404},
		ErrMalformed: {Code: "Bad", Status: 400, Message: "malformed"}, ErrReplay: {Code: "Replay", Status: 400, Message: "a replay"},
	}
	own := WireError{Code: "Own", Status: 403}
	for _, tc := range []struct {
		err        error
		wire       WireError
		msg        string
		serverSide bool
	}{
		{Refuse(own, "no"), own, "no", false},
		{authFailure(Refuse(own, "no")), own, "no", false},
		{authFailure(ErrReplay), tab[ErrReplay], "a replay", false},
		{authFailure(errors.Join(ErrMalformed, errors.New("why"))), tab[ErrMalformed], "malformed: malformed signature\nwhy", false},
		{&kms.Error{Kind: kms.ErrNotFound, Msg: "no key"}, tab[kms.ErrNotFound], "no key", false},
		{&kms.Error{Kind: kms.ErrCanceled, Msg: "canceled"}, internal, "canceled", true},
		{errors.New("disk on fire: secret=hunter2"), internal, "internal error", true},
		{ErrExpired, internal, "internal error", false}, // a kind the table lacks
	} {
		w, msg := tab.Wire(tc.err)
		if w != tc.wire || msg != tc.msg || serverFault(tc.err) != tc.serverSide {
			t.Errorf("%v: %+v %q %v", tc.err, w, msg, serverFault(tc.err))
		}
	}
}
