// Package gctune sets the Go garbage collector's target for attestkms's
// servers: GOGC=400 unless the environment says otherwise.
//
// Why: the server's live heap is small (about 5 MB serving thousands of
// requests a second: keys, credentials, caches) and a request allocates
// about 15 KB, so at Go's default GOGC=100 the collector starts a cycle
// every few hundred requests, and its marking and the allocation slow
// path it triggers were ≈15% of a GenerateDataKey's CPU in the server's
// profile. At 400 a cycle runs a quarter as often, for a heap that may
// grow to five times the live one instead of twice (tens of megabytes
// here); docs/PERFORMANCE.md has the measurement. An operator who wants
// less memory or a hard bound sets GOGC (and GOMEMLIMIT) as for any Go
// program: an explicit GOGC always wins. kmsload's canned-answer server
// applies the same setting, so that the two servers it compares run with
// the same collector.
package gctune

import (
	"os"
	"runtime/debug"
)

// Percent is the GOGC the servers set when the environment sets none.
const Percent = 400

// Apply sets GOGC to Percent unless the GOGC environment variable is set
// (then the runtime has applied it already). It returns the setting in
// effect, as GOGC would be written ("400", or the environment's value).
func Apply() string {
	if v, ok := os.LookupEnv("GOGC"); ok {
		return v
	}
	debug.SetGCPercent(Percent)
	return "400"
}
