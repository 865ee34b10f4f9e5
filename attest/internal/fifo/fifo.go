// Package fifo is a bounded map that forgets its oldest entry when full:
// the verifiers' caches of certificate chains they verified, so that
// evidence from a machine already seen costs its own signature only.
//
// First in, first out rather than least recently used: the entries are
// certificates that are replaced on their own schedule (a Nitro leaf every
// three hours, a VCEK at each firmware update), and a get needs only a read
// lock. An attacker who sends fresh chains evicts entries, which costs
// honest callers one chain verification each, never a wrong answer.
package fifo

import "sync"

// Cache is a bounded map, safe for concurrent use.
type Cache[K comparable, V any] struct {
	mu    sync.RWMutex
	max   int
	m     map[K]V
	order []K // insertion order, a ring once full
	next  int // the oldest entry in order, once full
}

// New returns a cache of at most size entries (at least 1).
func New[K comparable, V any](size int) *Cache[K, V] {
	return &Cache[K, V]{max: max(size, 1), m: make(map[K]V)}
}

// Get returns k's value, if the cache holds it.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.m[k]
	return v, ok
}

// Put adds k, forgetting the oldest entry if the cache is full; a key
// already held keeps its first value.
func (c *Cache[K, V]) Put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	if len(c.order) < c.max {
		c.order = append(c.order, k)
	} else {
		delete(c.m, c.order[c.next])
		c.order[c.next] = k
		c.next = (c.next + 1) % c.max
	}
	c.m[k] = v
}

// Len is how many entries the cache holds.
func (c *Cache[K, V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// Reset forgets every entry.
func (c *Cache[K, V]) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	c.order, c.next = c.order[:0], 0
}
