package kms

import (
	"strings"
	"testing"
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
