// Package replay remembers the signatures of authenticated requests so that a
// captured request cannot be sent again while its timestamp is still inside
// the clock-skew window.
//
// A signature over a request timestamp t is accepted while |now - t| <= skew,
// so a replay could come up to 2*skew after the first use. The cache keeps two
// generations of signatures and retires the older every 2*skew, so every
// signature is remembered at least that long.
//
// Identical requests signed in the same second have the same signature when
// the client signs no per-request value: Huawei's and Tencent's SDKs and
// curl --aws-sigv4 do not (the AWS SDKs sign an invocation id). Such repeats
// are legitimate (a loop asking for random bytes, replicas decrypting one data
// key), so Replayed lets a repeat through while its signed time is less than
// Grace old: a captured request can be replayed only within Grace of its
// signing, which leaves after-the-fact capture (logs, a proxy) refused and
// real-time interception to TLS. The grace runs from the signature's first
// use as well as from its signed time: a client whose clock runs ahead signs
// times up to skew in the future, and its requests must not be repeatable
// until that time has come.
//
// Threat model: only signatures that verified are recorded, so an
// unauthenticated client cannot fill the cache. Memory is bounded: when the
// current generation reaches MaxEntries it is retired early, which shortens
// the memory of the oldest signatures under a flood of authenticated requests
// rather than refusing service: a signature dropped so could be replayed
// while its time is still within the skew. That is never silent: Overflowed
// counts it, and the OnOverflow function, if set, is told (the server logs a
// warning). One access key at the default rate limit (2,000 a second) fills
// a generation in about 9 minutes, under the 30 a generation lasts.
package replay

import (
	"sync"
	"time"
)

// DefaultMaxEntries bounds a generation: about 50 bytes an entry.
const DefaultMaxEntries = 1 << 20

// Cache is a replay cache. The zero value is not usable; use New.
type Cache struct {
	mu         sync.Mutex
	retire     time.Duration
	max        int
	started    time.Time
	cur, prev  map[[16]byte]int64 // signature → first use, Unix nanoseconds
	overflowed uint64
	onOverflow func(Overflow)
}

// Overflow describes a generation retired early: Entries signatures, the
// oldest first used at Since, are forgotten Retired before they would have
// been, so a capture of one of them could be replayed until Until.
type Overflow struct {
	Entries int
	Since   time.Time
	Retired time.Time
	Until   time.Time
}

// OnOverflow sets f to be told, outside the cache's lock, of each
// generation retired early. Call it before the cache is used.
func (c *Cache) OnOverflow(f func(Overflow)) { c.onOverflow = f }

// New returns a cache for signatures accepted within ±skew of their
// timestamp. maxEntries <= 0 means DefaultMaxEntries.
func New(skew time.Duration, maxEntries int) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	return &Cache{retire: 2 * skew, max: maxEntries, cur: map[[16]byte]int64{}, prev: map[[16]byte]int64{}}
}

// Grace is how long after its signed time a repeated signature is still
// accepted as a repeat rather than refused as a replay.
const Grace = 2 * time.Second

// Replayed records sig under namespace and reports whether it is a replay:
// seen before, and either signed or first used more than Grace before now.
// The first use bounds the repeats of a signature dated in the future.
func (c *Cache) Replayed(namespace string, sig []byte, signedAt, now time.Time) bool {
	first, seen := c.seen(namespace, sig, now)
	return seen && (now.Sub(signedAt) > Grace || now.Sub(first) > Grace)
}

// Seen records sig (a verified MAC, of which 16 bytes are kept: still a
// 128-bit unforgeable value) under a namespace, e.g. a dialect's name, and
// reports whether it had been recorded before.
func (c *Cache) Seen(namespace string, sig []byte, now time.Time) bool {
	_, seen := c.seen(namespace, sig, now)
	return seen
}

// seen is Seen, also returning when sig was first recorded (now if it had
// not been).
func (c *Cache) seen(namespace string, sig []byte, now time.Time) (time.Time, bool) {
	var k [16]byte
	copy(k[:], sig)
	for i := 0; i < len(namespace) && i < 16; i++ {
		k[i] ^= namespace[i]
	}
	c.mu.Lock()
	var lost *Overflow
	defer func() {
		c.mu.Unlock()
		if lost != nil && c.onOverflow != nil {
			c.onOverflow(*lost)
		}
	}()
	if c.started.IsZero() {
		c.started = now
	}
	if now.Sub(c.started) >= c.retire {
		c.prev, c.cur, c.started = c.cur, make(map[[16]byte]int64), now
	}
	if first, ok := c.cur[k]; ok {
		return time.Unix(0, first), true
	}
	if first, ok := c.prev[k]; ok {
		return time.Unix(0, first), true
	}
	if len(c.cur) >= c.max {
		if len(c.prev) > 0 {
			oldest := now.UnixNano()
			for _, f := range c.prev {
				oldest = min(oldest, f)
			}
			// A signature first used at f was signed at most skew
			// (retire/2) later, and is accepted until skew after that.
			lost = &Overflow{Entries: len(c.prev), Since: time.Unix(0, oldest), Retired: now, Until: now.Add(c.retire)}
		}
		c.prev, c.cur, c.started = c.cur, make(map[[16]byte]int64), now
		c.overflowed++
	}
	c.cur[k] = now.UnixNano()
	return now, false
}

// Overflowed counts generations retired early because they were full.
func (c *Cache) Overflowed() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.overflowed
}
