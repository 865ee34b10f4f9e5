package validity

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
)

func TestWindow(t *testing.T) {
	nb := time.Date(2024, 1, 24, 18, 0, 0, 0, time.UTC)
	na := nb.Add(3 * time.Hour)
	w := Window{Name: "ak_cert", NotBefore: nb, NotAfter: na}
	for _, tc := range []struct {
		at   time.Time
		want string // "" for valid
	}{
		{nb, ""},
		{na, ""}, // both ends are inside, as x509 has it
		{nb.Add(time.Hour).In(time.FixedZone("CET", 3600)), ""},
		{nb.Add(-time.Nanosecond), "expired or stale evidence: ak_cert is not valid before 2024-01-24T18:00:00Z (verifying at 2024-01-24T17:59:59.999999999Z)"},
		{na.Add(time.Second).In(time.FixedZone("CET", 3600)), "expired or stale evidence: ak_cert expired at 2024-01-24T21:00:00Z (verifying at 2024-01-24T21:00:01Z)"},
		{time.Time{}, "expired or stale evidence: ak_cert: no verification time given"},
	} {
		err := w.Check(tc.at)
		if w.Contains(tc.at) != (tc.want == "") {
			t.Errorf("Contains(%s) = %v", tc.at, !(tc.want == ""))
		}
		if tc.want == "" {
			if err != nil {
				t.Errorf("Check(%s) = %v", tc.at, err)
			}
			continue
		}
		if !errors.Is(err, attest.ErrExpired) || err.Error() != tc.want {
			t.Errorf("Check(%s) = %v; want %s", tc.at, err, tc.want)
		}
	}
	// A certificate claiming year 1 is still not valid at the zero time.
	if (Window{Name: "x", NotAfter: na}).Contains(time.Time{}) {
		t.Error("the zero time is within a window that starts at year 1")
	}
	if err := (Window{Name: "x", NotAfter: na}).Check(time.Time{}); !strings.Contains(err.Error(), "no verification time") {
		t.Error(err)
	}
}
