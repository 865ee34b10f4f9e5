package pipeline

import (
	"fmt"
	"testing"
	"time"

	"github.com/attestkms/attestkms/api/internal/ratelimit"
)

// TestSourceOverflowNeverRefuses: once the table of sources is full of
// spending addresses (a spray from many), a new address is not refused
// before authentication however much the shared overflow bucket has been
// charged; only an address's own spent bucket refuses it.
func TestSourceOverflowNeverRefuses(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := &Handler{limits: Limits{FailuresPerSource: ratelimit.New(0.1, 1, 3)}}
	for i := range 3 {
		src := fmt.Sprintf("198.51.100.%d", i)
		h.chargeSource(src, now)
		if !h.sourceSpent(src, now) {
			t.Fatalf("%s's own spent budget does not refuse it", src)
		}
	}
	// The spray goes on from addresses the table cannot hold: their
	// failures are charged to the overflow, far beyond its budget.
	for i := range 100 {
		h.chargeSource(fmt.Sprintf("203.0.113.%d", i), now)
	}
	if h.sourceSpent("192.0.2.1", now) {
		t.Fatal("a new address is refused before authentication for what the overflow was charged")
	}
	if !h.sourceSpent("198.51.100.0", now) {
		t.Fatal("an address with its own spent budget is served")
	}
}
