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
// unauthenticated client cannot fill the cache. Memory is bounded. The
// current generation is a map of at most MaxEntries signatures (≈50 bytes
// each); when it is full, or 2*skew old, it is frozen: its signatures kept as
// a sorted array of 8-byte fingerprints (8 bytes each), searched by
// bisection, until the newest of them is 2*skew old. Frozen generations hold
// at most eight times MaxEntries in all (64 MiB by default); past that the
// oldest is forgotten early, which shortens the memory of its signatures
// under a flood of authenticated requests rather than refusing service: a
// signature forgotten so could be replayed while its time is still within
// the skew. That is never silent: Overflowed counts it, and the OnOverflow
// function, if set, is told (the server logs a warning). The default bounds
// hold about nine million signatures, every signature of a node answering
// 4,500 signed requests a second sustained. Freezing a generation takes its
// map out of the way under the cache's lock, and a goroutine reads and sorts
// it (≈0.1 s for a million entries on the project's VM) without it: until
// then the map itself is searched, so no signed request waits for the sort.
// A fingerprint is the first 8 bytes of a 16-byte verified MAC: a new signature matches a remembered one
// by chance with a probability of one in 2^64 for each, a request refused
// as a replay about once in 2×10^12 requests with the cache full.
package replay

import (
	"encoding/binary"
	"slices"
	"sync"
	"time"
)

// DefaultMaxEntries bounds the current generation: about 50 bytes an entry.
const DefaultMaxEntries = 1 << 20

// frozenFactor bounds the frozen generations, in all, to this many times
// MaxEntries (8 bytes an entry).
const frozenFactor = 8

// Cache is a replay cache. The zero value is not usable; use New.
type Cache struct {
	mu         sync.Mutex
	retire     time.Duration
	max        int
	started    time.Time
	cur        map[[16]byte]int64 // signature → first use, Unix nanoseconds
	pending    *pendingGen        // a generation being frozen, newer than frozen's
	frozen     []frozenGen        // oldest first
	frozenN    int                // their signatures, pending's too, in all
	overflowed uint64
	onOverflow func(Overflow)
}

// frozenGen is a retired generation: its signatures' fingerprints, sorted,
// and the first uses of its oldest and newest.
type frozenGen struct {
	fps            []uint64
	oldest, newest int64 // Unix nanoseconds
}

// pendingGen is a generation being frozen: its map, no longer written,
// searched as it is until built (a goroutine's sort) is ready.
type pendingGen struct {
	m     map[[16]byte]int64
	built chan struct{} // closed once the goroutine has frozen it
}

// Overflow describes a generation forgotten early: Entries signatures, the
// oldest first used at Since, are forgotten at Retired, before they would
// have been, so a capture of one of them could be replayed until Until.
type Overflow struct {
	Entries int
	Since   time.Time
	Retired time.Time
	Until   time.Time
}

// OnOverflow sets f to be told, outside the cache's lock, of each
// generation forgotten early. Call it before the cache is used.
func (c *Cache) OnOverflow(f func(Overflow)) { c.onOverflow = f }

// New returns a cache for signatures accepted within ±skew of their
// timestamp. maxEntries <= 0 means DefaultMaxEntries.
func New(skew time.Duration, maxEntries int) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	return &Cache{retire: 2 * skew, max: maxEntries, cur: map[[16]byte]int64{}}
}

// Grace is how long after its signed time a repeated signature is still
// accepted as a repeat rather than refused as a replay.
const Grace = 2 * time.Second

// Replayed records sig under namespace and reports whether it is a replay:
// seen before, and either signed or first used more than Grace before now.
// The first use bounds the repeats of a signature dated in the future.
func (c *Cache) Replayed(namespace string, sig []byte, signedAt, now time.Time) bool {
	first, seen := c.seen(namespace, sig, now, true)
	return seen && (now.Sub(signedAt) > Grace || now.Sub(first) > Grace)
}

// WouldReplay reports what Replayed would, without recording sig: so that a
// replay is refused before it costs its access key anything (the key's
// budget: an attacker resending a captured request must not spend its
// victim's), while a request refused for another reason after it leaves
// its signature unused (a throttled client's retry is not a replay).
// Replayed still decides: two copies that both pass WouldReplay are
// recorded one after the other.
func (c *Cache) WouldReplay(namespace string, sig []byte, signedAt, now time.Time) bool {
	first, seen := c.seen(namespace, sig, now, false)
	return seen && (now.Sub(signedAt) > Grace || now.Sub(first) > Grace)
}

// Seen records sig (a verified MAC, of which 16 bytes are kept: still a
// 128-bit unforgeable value) under a namespace, e.g. a dialect's name, and
// reports whether it had been recorded before.
func (c *Cache) Seen(namespace string, sig []byte, now time.Time) bool {
	_, seen := c.seen(namespace, sig, now, true)
	return seen
}

// seen is Seen, also returning when sig was first recorded (now if it had
// not been; for a frozen generation's signature, the generation's oldest
// first use, no later than its own: Replayed's grace must not be extended
// for a signature dated in the future). Unless record, a signature not
// seen is left unrecorded.
func (c *Cache) seen(namespace string, sig []byte, now time.Time, record bool) (time.Time, bool) {
	var k [16]byte
	copy(k[:], sig)
	for i := 0; i < len(namespace) && i < 16; i++ {
		k[i] ^= namespace[i]
	}
	c.mu.Lock()
	var lost []Overflow
	defer func() {
		c.mu.Unlock()
		if c.onOverflow != nil {
			for _, o := range lost {
				c.onOverflow(o)
			}
		}
	}()
	if c.started.IsZero() {
		c.started = now
	}
	if now.Sub(c.started) >= c.retire {
		lost = c.freeze(now, lost)
	}
	c.expire(now)
	if first, ok := c.cur[k]; ok {
		return time.Unix(0, first), true
	}
	if p := c.pending; p != nil {
		if first, ok := p.m[k]; ok {
			return time.Unix(0, first), true
		}
	}
	fp := binary.BigEndian.Uint64(k[:8])
	for i := len(c.frozen) - 1; i >= 0; i-- {
		g := &c.frozen[i]
		if _, ok := slices.BinarySearch(g.fps, fp); ok {
			return time.Unix(0, g.oldest), true
		}
	}
	if !record {
		return now, false
	}
	if len(c.cur) >= c.max {
		lost = c.freeze(now, lost)
	}
	c.cur[k] = now.UnixNano()
	return now, false
}

// freeze retires the current generation, to be frozen by a goroutine of
// its own (pending until then), and starts another at now; past the frozen
// generations' bound, the oldest are forgotten early, appended to lost.
func (c *Cache) freeze(now time.Time, lost []Overflow) []Overflow {
	if len(c.cur) > 0 {
		if c.pending != nil {
			// Another generation filled before the last one was
			// sorted (a million signatures in a tenth of a
			// second): frozen here, so that at most one waits.
			c.frozen = append(c.frozen, frozenOf(c.pending.m, now))
			close(c.pending.built)
			c.pending = nil
		}
		p := &pendingGen{m: c.cur, built: make(chan struct{})}
		c.pending = p
		c.frozenN += len(p.m)
		go func() {
			g := frozenOf(p.m, now) // p.m is no longer written: no lock
			c.mu.Lock()
			if c.pending == p {
				c.frozen = append(c.frozen, g)
				c.pending = nil
				close(p.built)
			}
			c.mu.Unlock()
		}()
	}
	c.cur, c.started = make(map[[16]byte]int64), now
	for c.frozenN > frozenFactor*c.max && len(c.frozen) > 0 {
		g := c.frozen[0]
		c.frozen = c.frozen[1:]
		c.frozenN -= len(g.fps)
		c.overflowed++
		// A signature first used at f was signed at most skew
		// (retire/2) later, and is accepted until skew after that.
		lost = append(lost, Overflow{Entries: len(g.fps), Since: time.Unix(0, g.oldest), Retired: now, Until: time.Unix(0, g.newest).Add(c.retire)})
	}
	return lost
}

// frozenOf is the frozen generation of map m, retired at now.
func frozenOf(m map[[16]byte]int64, now time.Time) frozenGen {
	g := frozenGen{fps: make([]uint64, 0, len(m)), oldest: now.UnixNano()}
	for k, first := range m {
		g.fps = append(g.fps, binary.BigEndian.Uint64(k[:8]))
		g.oldest, g.newest = min(g.oldest, first), max(g.newest, first)
	}
	slices.Sort(g.fps)
	return g
}

// expire forgets the frozen generations whose newest signature was first
// used 2*skew ago: each of their signatures is out of its window.
func (c *Cache) expire(now time.Time) {
	n := 0
	for n < len(c.frozen) && now.Sub(time.Unix(0, c.frozen[n].newest)) >= c.retire {
		c.frozenN -= len(c.frozen[n].fps)
		n++
	}
	if n > 0 {
		c.frozen = slices.Delete(c.frozen, 0, n)
	}
}

// Overflowed counts generations forgotten early because the cache was full.
func (c *Cache) Overflowed() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.overflowed
}
