// Package attesttest holds what the tests of every evidence format assert
// alike: the attest.Verifier contract.
package attesttest

import (
	"errors"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/attest"
)

// KindsOf returns the attest kinds (attest.Kinds) that err wraps.
func KindsOf(err error) []error {
	var ks []error
	for _, k := range attest.Kinds {
		if errors.Is(err, k) {
			ks = append(ks, k)
		}
	}
	return ks
}

// CheckResult asserts Verify's contract on one result: claims nil exactly
// when err is not; err wrapping exactly one kind, its message lower-case and
// without a final period; and that kind want (nil: success).
func CheckResult(t testing.TB, c *attest.Claims, err error, want error) {
	t.Helper()
	if (c == nil) == (err == nil) {
		t.Fatalf("claims %v with error %v", c != nil, err)
	}
	if err != nil {
		if ks := KindsOf(err); len(ks) != 1 {
			t.Fatalf("error %q wraps %d kinds, want 1", err, len(ks))
		}
		if msg := err.Error(); msg != strings.ToLower(msg[:1])+msg[1:] || strings.HasSuffix(msg, ".") {
			t.Errorf("error %q: not lower-case or ends with a period", msg)
		}
	}
	if want == nil && err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("error %v; want %v", err, want)
	}
}
