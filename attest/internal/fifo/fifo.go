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

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
)

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

// ChainKey names a list of certificates in a cache: the SHA-256 of domain
// (which keeps the caches of different verifiers apart), then of each
// certificate's DER, in order, each prefixed with its length so that no two
// lists share a key.
type ChainKey [sha256.Size]byte

// KeyOf returns the key of the leaf and its intermediates under domain.
func KeyOf(domain string, leaf []byte, intermediates [][]byte) ChainKey {
	h := sha256.New()
	h.Write([]byte(domain))
	h.Write([]byte{0})
	var n [4]byte
	for _, der := range append([][]byte{leaf}, intermediates...) {
		binary.BigEndian.PutUint32(n[:], uint32(len(der)))
		h.Write(n[:])
		h.Write(der)
	}
	var k ChainKey
	h.Sum(k[:0])
	return k
}
