// Package ratelimit is a token bucket per key (an access key, a source
// address), in bounded memory: the request budgets of the pipeline.
//
// Each key has a bucket of Burst tokens that refills at Rate tokens a
// second (golang.org/x/time/rate). A bucket that is full again is the same
// as a new one, so it is forgotten when room is needed: the table holds
// only keys that spent tokens in the last Burst/Rate seconds. When it is
// full of such keys, the keys it does not hold share one more bucket, the
// overflow: memory stays bounded, and many keys at once (a flood from many
// addresses) still get one budget between them rather than one each. Allow
// charges and answers from the overflow for such a key; Spent reads only a
// key's own bucket, so the overflow never refuses through Spent.
//
// The buckets are this process's: a server's limits are per node.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds the keys a Keyed remembers when New is given 0.
const DefaultMaxKeys = 100_000

// sweepEvery is how often, at most, a full table is swept for full buckets:
// a sweep reads every bucket, so a flood of new keys must not cause one per
// request.
const sweepEvery = time.Second

// Keyed is a token bucket per key, safe for concurrent use.
type Keyed struct {
	limit rate.Limit
	burst int
	max   int

	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	overflow  *rate.Limiter // shared by the keys not in buckets while it is full
	lastSweep time.Time
}

// New returns buckets of burst tokens refilled at perSecond tokens a
// second, for at most maxKeys keys at a time (0: DefaultMaxKeys). perSecond
// must be positive and burst at least 1.
func New(perSecond float64, burst, maxKeys int) *Keyed {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	burst = max(burst, 1)
	return &Keyed{
		limit:    rate.Limit(perSecond),
		burst:    burst,
		max:      maxKeys,
		buckets:  make(map[string]*rate.Limiter),
		overflow: rate.NewLimiter(rate.Limit(perSecond), burst),
	}
}

// Allow takes a token from key's bucket at now (its own, or the overflow
// while the table is full) and reports whether there was one.
func (k *Keyed) Allow(key string, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.bucket(key, now).AllowN(now, 1)
}

// Spent reports whether key's own bucket has less than a token at now,
// taking none: a check before work whose failure alone is charged (Allow).
// It never reads the overflow: a key without a bucket of its own (new, or
// sharing the overflow while the table is full) is not spent. Spent is the
// check made before a request is authenticated, where the overflow would
// be everyone's: a flood from many addresses would spend it and lock out
// every address the table cannot hold, the legitimate ones among them.
func (k *Keyed) Spent(key string, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	b, ok := k.buckets[key]
	return ok && b.TokensAt(now) < 1
}

// Len is how many keys have a bucket of their own now.
func (k *Keyed) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.buckets)
}

// bucket is key's bucket: its own, or, when the table is full (after a
// sweep, if one is due), the overflow. A key that has none yet gets a new
// one. k.mu is held.
func (k *Keyed) bucket(key string, now time.Time) *rate.Limiter {
	if b, ok := k.buckets[key]; ok {
		return b
	}
	if len(k.buckets) >= k.max && now.Sub(k.lastSweep) >= sweepEvery {
		k.sweep(now)
	}
	if len(k.buckets) >= k.max {
		return k.overflow
	}
	b := rate.NewLimiter(k.limit, k.burst)
	k.buckets[key] = b
	return b
}

// sweep forgets the buckets that are full at now: a new bucket would be
// the same. k.mu is held.
func (k *Keyed) sweep(now time.Time) {
	k.lastSweep = now
	for key, b := range k.buckets {
		if b.TokensAt(now) >= float64(k.burst) {
			delete(k.buckets, key)
		}
	}
}
