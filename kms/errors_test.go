package kms

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestErrorfBoundsEchoes: errorf cuts a %q argument at maxEcho bytes and
// another string at maxExplain, and counts verbs right.
func TestErrorfBoundsEchoes(t *testing.T) {
	long := strings.Repeat("a", 10000)
	msg := errorf(ErrValidation, "100%% %d %q then %s", 7, long, long).Error()
	want := `100% 7 "` + strings.Repeat("a", maxEcho) + `…" then ` + strings.Repeat("a", maxExplain) + "…"
	if msg != want {
		t.Fatalf("errorf = %.80q… (%d bytes); want %d bytes", msg, len(msg), len(want))
	}
	if got := string(verbsOf("%-8s %5.2f %% %q %v")); got != "sfqv" {
		t.Fatalf("verbsOf = %q", got)
	}
}

// TestErrorfBoundsNamedStrings: errorf cuts an argument of a named string
// type as it cuts a string (review finding: a 30 KB KeyPairSpec, a
// DataKeyPairSpec, was repeated whole).
func TestErrorfBoundsNamedStrings(t *testing.T) {
	long := DataKeyPairSpec(strings.Repeat("b", 30000))
	msg := errorf(ErrValidation, "KeyPairSpec %q is not supported", long).Error()
	if want := `KeyPairSpec "` + strings.Repeat("b", maxEcho) + `…" is not supported`; msg != want {
		t.Fatalf("errorf = %.80q… (%d bytes); want %d bytes", msg, len(msg), len(want))
	}
}

// TestClipMessage: the one bound on every message a client or the audit
// log gets (MaxMessage), cut on a UTF-8 boundary and marked, whatever made
// the message: Message cuts an *Error built without errorf.
func TestClipMessage(t *testing.T) {
	if got := ClipMessage("short"); got != "short" {
		t.Fatalf("ClipMessage(short) = %q", got)
	}
	exact := strings.Repeat("x", MaxMessage)
	if got := ClipMessage(exact); got != exact {
		t.Fatalf("a message of MaxMessage bytes was cut")
	}
	for pad := range 4 { // a 3-byte character across the cut, at each offset
		msg := strings.Repeat("x", pad) + strings.Repeat("€", 2*MaxMessage)
		got := ClipMessage(msg)
		if len(got) > MaxMessage || !utf8.ValidString(got) || !strings.HasSuffix(got, clipMark) || !strings.HasPrefix(msg, strings.TrimSuffix(got, clipMark)) {
			t.Fatalf("pad %d: ClipMessage = %d bytes, valid %v, %q…", pad, len(got), utf8.ValidString(got), got[len(got)-40:])
		}
	}
	raw := &Error{Kind: ErrValidation, Msg: strings.Repeat("y", 30000)}
	if got := Message(raw); len(got) > MaxMessage || !strings.HasSuffix(got, clipMark) {
		t.Fatalf("Message of a 30 KB *Error: %d bytes", len(got))
	}
}

// nilErr is an error whose Error method a nil pointer cannot run.
type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg }

// TestErrorfNilPointerArgument: errorf's cut asks an error argument for
// its text; a nil pointer's Error panics, which fmt would have printed as
// "%!v(PANIC=…)" — errorf must not raise it instead.
func TestErrorfNilPointerArgument(t *testing.T) {
	var e *nilErr
	err := errorf(ErrValidation, "cause: %v", e)
	if err == nil || !strings.Contains(err.Error(), "cause: ") {
		t.Fatalf("%v", err)
	}
}
