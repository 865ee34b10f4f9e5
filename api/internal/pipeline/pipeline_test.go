package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/api/internal/replay"
	"github.com/attestkms/attestkms/kms"
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

// TestAudited: panic recovery; what the pipeline audits (a refusal of an
// authenticated request that no kms operation recorded, a panic) and what
// it leaves to kms (whatever an operation recorded); authentication
// failures counted for a summary, never a line each.
func TestAudited(t *testing.T) {
	svc, cred, dir := newService(t)
	h := New(Options{Service: svc, Logger: quiet, Replay: replay.New(time.Minute, 0)}, Dialect{Name: "d", Errors: Table{kms.ErrInternal: {Code: "Code"}, kms.ErrNotFound: {Code: "NotFound"}}})
	audited := func() []byte { b, _ := os.ReadFile(filepath.Join(dir, "audit.log")); return b }
	before := len(audited())
	_, p, _ := svc.Credentials().Lookup(cred.AccessKeyID)
	call := func(id string) *kms.Call {
		return &kms.Call{RequestID: id, Principal: p, Dialect: "d", WireError: h.wireError}
	}

	// Unauthenticated and not an authentication failure: not audited.
	if _, err := h.audited(&request{id: "r0"}, func() (*Result, error) {
		return nil, errors.New("body too large")
	}); err == nil || len(audited()) != before {
		t.Fatal("an unauthenticated failure was audited or hidden")
	}
	// An authentication failure is counted, not written.
	for range 3 {
		h.audited(&request{id: "r1", source: "192.0.2.1"}, func() (*Result, error) {
			return nil, authFailure(errors.New("bad signature"))
		})
	}
	if len(audited()) != before {
		t.Fatalf("an authentication failure was written at once: %s", audited()[before:])
	}
	// A panic is an internal error, audited with the operation's name.
	rq := &request{id: "r2", op: "Op", call: call("r2")}
	res, err := h.audited(rq, func() (*Result, error) { panic("boom") })
	if res != nil || !errors.Is(err, kms.ErrInternal) || !bytes.Contains(audited(), []byte(`"request_id":"r2","access_key_id":"`+cred.AccessKeyID+`","principal":"`+p.ARN+`","dialect":"d","operation":"Op","outcome":"error","error_code":"Code","message":"internal error"`)) {
		t.Fatalf("panic: %v %v\n%s", res, err, audited())
	}
	// A dialect's refusal of an authenticated request is audited.
	rq = &request{id: "r3", op: "Op", call: call("r3")}
	if _, err := h.audited(rq, func() (*Result, error) { return nil, Refuse(WireError{Code: "Mine"}, "no") }); err == nil ||
		!bytes.Contains(audited(), []byte(`"request_id":"r3","access_key_id":"`+cred.AccessKeyID+`","principal":"`+p.ARN+`","dialect":"d","operation":"Op","outcome":"error","error_code":"Mine","message":"no"`)) {
		t.Fatalf("refusal: %v\n%s", err, audited())
	}
	// What kms ran it recorded: one line, kms's, with the dialect's code.
	rq = &request{id: "r4", op: "Op", call: call("r4")}
	if _, err := h.audited(rq, func() (*Result, error) {
		_, err := svc.DescribeKey(context.Background(), rq.call, &kms.DescribeKeyRequest{KeyID: "alias/none"})
		return nil, err
	}); !errors.Is(err, kms.ErrNotFound) || bytes.Count(audited(), []byte(`"request_id":"r4"`)) != 1 ||
		!bytes.Contains(audited(), []byte(`"request_id":"r4","access_key_id":"`+cred.AccessKeyID+`","principal":"`+p.ARN+`","dialect":"d","operation":"DescribeKey","outcome":"error","error_code":"NotFound"`)) {
		t.Fatalf("kms's error: %v\n%s", err, audited())
	}
	// Success: kms's line alone (none here: no operation ran).
	secret := []byte("secret")
	n := len(audited())
	res, err = h.audited(&request{id: "r5", call: call("r5")}, func() (*Result, error) { return OK("answer", secret) })
	if err != nil || res.Out != "answer" || len(audited()) != n {
		t.Fatalf("success: %v %v %s", res, err, audited()[n:])
	}
	res.Wipe()
	if !bytes.Equal(secret, make([]byte, 6)) {
		t.Fatal("Wipe left the secret")
	}
	// The failed authentications are one summary line, written at the
	// latest when the log closes.
	svc.Close()
	if got := bytes.Count(audited(), []byte(`"operation":"FailedAuthentications"`)); got != 1 ||
		!bytes.Contains(audited(), []byte(`"source_ip":"192.0.2.1","dialect":"d","operation":"FailedAuthentications","outcome":"error","message":"failed authentication","count":3,`)) {
		t.Fatalf("%d summaries:\n%s", got, audited())
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

// TestWireClipsMessages: Table.Wire, which makes every error answer's
// message and every refusal's audit message, cuts each at kms.MaxMessage,
// whatever made it: a dialect's Refusal, a pipeline kind's detail, kms's.
func TestWireClipsMessages(t *testing.T) {
	long := strings.Repeat("z", 30000)
	table := Table{kms.ErrInternal: {Code: "Internal"}, kms.ErrValidation: {Code: "Validation"}, ErrMalformed: {Code: "Malformed", Message: "malformed"}}
	for _, err := range []error{
		Refuse(WireError{Code: "Refused"}, long),
		fmt.Errorf("%w: header %s", ErrMalformed, long),
		&kms.Error{Kind: kms.ErrValidation, Msg: long},
	} {
		w, msg := table.Wire(err)
		if len(msg) > kms.MaxMessage || w.Code == "" {
			t.Errorf("%T: %s, %d bytes", err, w.Code, len(msg))
		}
	}
}
