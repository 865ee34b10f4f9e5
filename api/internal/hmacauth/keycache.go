package hmacauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"sync"
	"time"
)

// A KeyCache keeps the signing keys that SigV4 and TC3 derive from a secret
// for a credential scope (a day, a region, a service): four HMACs that are
// the same for every request of an access key in that scope, and most of
// the cost of a signature check. A Verifier with a KeyCache (Keys) checks a
// request with the cached key when there is one, and derives it otherwise.
//
// An entry is keyed by the access key id and the scope, and holds the
// SHA-256 of the secret its key was derived from: it is used only when the
// secret the lookup returns now has that hash (compared in constant time),
// so a rotated or replaced secret never meets a key of the old one. Entries
// are added only when a signature verified with the key, so a client
// without a secret can neither add one nor evict a live credential's; there are at most a fixed
// number (each the size of two hashes), none used older than keyTTL, and
// an evicted key is zeroed: a stale entry at the next put, an entry of a
// rotated or deleted credential at the next request naming its access key
// and scope. A cached key is as secret as the secret for its
// day: it is never logged, printed or returned.
//
// Timing. A request whose signature is wrong costs the same whether its
// access key exists, and whether its key is cached: the cached key (or, on
// a miss, a zero key) signs once, then the key is derived and signs again,
// as Match alone would. Only a request that verifies with a cached key
// returns early, and its sender holds the secret. What a prober can still
// measure is a map probe that finds an entry or not (tens of nanoseconds):
// it could learn that an access key id, which is not a secret, verified a
// request earlier that day in that region.
type KeyCache struct {
	max int
	mu  sync.Mutex
	m   map[cacheKey]*cachedKey
}

// DefaultKeyCacheSize is a KeyCache's bound when NewKeyCache is given 0:
// access keys times the regions and services they sign for, for a day.
const DefaultKeyCacheSize = 1024

// keyTTL is how long an entry is kept: a scope is one UTC day, and a
// request may be signed up to the largest skew (15 minutes) from it.
const keyTTL = 25 * time.Hour

type cacheKey struct{ id, scope string }

type cachedKey struct {
	secretSum [sha256.Size]byte
	key       [sha256.Size]byte
	added     time.Time
}

// NewKeyCache returns a cache of at most max keys; 0 is
// DefaultKeyCacheSize.
func NewKeyCache(max int) *KeyCache {
	if max <= 0 {
		max = DefaultKeyCacheSize
	}
	return &KeyCache{max: max, m: make(map[cacheKey]*cachedKey)}
}

// Len is how many keys the cache holds.
func (c *KeyCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// get copies out the key of (id, scope) if it was derived from a secret
// whose SHA-256 is sum, and is not older than keyTTL at now. An entry it
// finds stale, or derived from another secret (the credential was rotated
// or deleted: a live credential's lookup returns the secret its entry was
// made with), is dropped and zeroed: no key of a credential that is gone
// stays in memory once anyone names it.
func (c *KeyCache) get(id, scope string, sum *[sha256.Size]byte, now time.Time) (key [sha256.Size]byte, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := cacheKey{id, scope}
	e := c.m[k]
	if e == nil {
		return key, false
	}
	if !hmac.Equal(e.secretSum[:], sum[:]) || stale(e, now) {
		c.drop(k, e)
		return key, false
	}
	return e.key, true
}

// stale reports whether e is older than keyTTL at now (or from further in
// the future, should the clock go back).
func stale(e *cachedKey, now time.Time) bool {
	return now.Sub(e.added) > keyTTL || now.Before(e.added.Add(-keyTTL))
}

// put keeps key for (id, scope) and the secret whose SHA-256 is sum,
// replacing what was there. It first drops the entries older than keyTTL
// (a put is a request that verified after a miss: once per access key and
// scope a day, so the sweep is not on the hot path, and a scope no request
// names again, yesterday's, is zeroed at the next put rather than when the
// cache fills) and, if the cache is still full, one more.
func (c *KeyCache) put(id, scope string, sum, key *[sha256.Size]byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := cacheKey{id, scope}
	if old := c.m[k]; old != nil {
		c.drop(k, old)
	}
	for k, e := range c.m {
		if stale(e, now) {
			c.drop(k, e)
		}
	}
	if len(c.m) >= c.max {
		for k, e := range c.m {
			if len(c.m) < c.max {
				break
			}
			c.drop(k, e)
		}
	}
	c.m[k] = &cachedKey{secretSum: *sum, key: *key, added: now}
}

// drop removes an entry and zeroes its key. Readers copied the key out
// under the lock, so none still reads it.
func (c *KeyCache) drop(k cacheKey, e *cachedKey) {
	clear(e.key[:])
	clear(e.secretSum[:])
	delete(c.m, k)
}

// zeroKey signs on a miss, so that a miss costs a failing request the HMAC
// a hit does.
var zeroKey [sha256.Size]byte

// match is Match for a claim whose signing key can be cached (Derive and
// SignWith set): true only when id is known and its signature is claimed.
// See KeyCache for what it costs and when.
func (c *KeyCache) match(lookup SecretLookup, cl *Claim, now time.Time) bool {
	secret, known := lookup(cl.AccessKeyID)
	if !known {
		secret = dummySecret
	}
	sum := sha256.Sum256(secret)
	key, hit := c.get(cl.AccessKeyID, cl.Scope, &sum, now)
	if !hit {
		key = zeroKey
	}
	want := cl.SignWith(&key)
	ok := hmac.Equal(want[:], cl.Signature) && hit && known
	clear(key[:])
	clear(want[:])
	if ok {
		return true
	}
	key = cl.Derive(secret)
	want = cl.SignWith(&key)
	ok = hmac.Equal(want[:], cl.Signature) && known
	if ok {
		c.put(cl.AccessKeyID, cl.Scope, &sum, &key, now)
	}
	clear(key[:])
	clear(want[:])
	return ok
}
