// Package gctune sets the Go garbage collector's target for attestkms's
// servers: GOGC=400 while that costs at most 64 MiB, unless the environment
// says otherwise.
//
// Why: the server's live heap is small (about 5 MB serving thousands of
// requests a second: keys, credentials, caches) and a request allocates
// about 15 KB, so at Go's default GOGC=100 the collector starts a cycle
// every few hundred requests; at 400 a cycle runs a quarter as often
// (GenerateDataKey's CPU −9% at 64 clients, docs/PERFORMANCE.md). But the
// live heap can grow — the replay cache alone holds up to two generations
// of a million signatures under a flood of requests — and five times a
// large heap is a lot of memory nobody asked for. So the headroom above the
// live heap is capped: once a second the tuner sets GOGC to 400, or less
// (never below Go's 100) so that the next cycle starts at most 64 MiB above
// what the last one left live. An operator who wants less memory or a hard
// bound sets GOGC (and GOMEMLIMIT) as for any Go program: an explicit GOGC
// always wins, and the tuner does not run. kmsload's canned-answer server
// applies the same setting, so that the two servers it compares run with
// the same collector.
package gctune

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

const (
	// Percent is the GOGC the servers set when the environment sets none
	// and the live heap is under maxHeadroom/4.
	Percent = 400
	// maxHeadroom bounds what GOGC lets the heap grow above the live heap.
	maxHeadroom = 64 << 20
)

// Apply sets GOGC to Percent, capped as the package says, unless the GOGC
// environment variable is set (then the runtime has applied it already).
// It returns the setting in effect, as GOGC would be written ("400", or
// the environment's value).
func Apply() string {
	if v, ok := os.LookupEnv("GOGC"); ok {
		return v
	}
	debug.SetGCPercent(Percent)
	go tune()
	return "400"
}

// percentFor is the GOGC for a live heap of live bytes: Percent, or less
// so that the heap grows at most maxHeadroom above live, never under 100.
func percentFor(live uint64) int {
	if live == 0 {
		return Percent
	}
	return int(max(100, min(Percent, maxHeadroom*100/live)))
}

// tune applies percentFor to the live heap once a second, for the life of
// the process.
func tune() {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := Percent
	for range time.Tick(time.Second) {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return // a runtime without the metric: stay at Percent
		}
		if p := percentFor(sample[0].Value.Uint64()); p != current {
			debug.SetGCPercent(p)
			current = p
		}
	}
}
