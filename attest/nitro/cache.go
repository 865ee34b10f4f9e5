package nitro

import "sync"

// chainCache remembers verified chains, so that verifying a document from an
// enclave already seen costs one ECDSA verification instead of a chain's
// five (about 0.5 ms against 2.5 ms).
//
// Soundness: an entry is keyed by the SHA-256 of the exact DER of the leaf
// and of every intermediate (keyOf), and each Verifier has its own cache, so
// a hit means these very bytes were verified to this Verifier's roots,
// which New copied and which nothing changes afterwards. x509's verdict on a
// chain depends on nothing else but the time; on a hit the validity period
// of every certificate is checked again at the new time. Only chains of
// documents that verified completely are put, and failures never are.
//
// It is bounded: when full, the oldest entry goes (first in, first out: an
// enclave's leaf lives three hours, then a new one replaces it).
type chainCache struct {
	mu    sync.RWMutex
	max   int
	m     map[chainKey]*chainEntry
	order []chainKey // insertion order, a ring once full
	next  int        // the oldest entry in order, once full
}

func newChainCache(max int) *chainCache {
	return &chainCache{max: max, m: make(map[chainKey]*chainEntry)}
}

func (c *chainCache) get(k chainKey) *chainEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[k]
}

func (c *chainCache) put(e *chainEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[e.key]; ok {
		return
	}
	if len(c.order) < c.max {
		c.order = append(c.order, e.key)
	} else {
		delete(c.m, c.order[c.next])
		c.order[c.next] = e.key
		c.next = (c.next + 1) % c.max
	}
	c.m[e.key] = e
}

func (c *chainCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

func (c *chainCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	c.order, c.next = c.order[:0], 0
}
