package hmacauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"
)

// fakeScheme derives a key from a secret and a scope and signs a string
// with it, counting derivations.
type fakeScheme struct{ derivations int }

func (f *fakeScheme) derive(secret []byte, scope string) [32]byte {
	f.derivations++
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(scope))
	var k [32]byte
	m.Sum(k[:0])
	return k
}

func signWith(key *[32]byte, sts string) [32]byte {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(sts))
	var s [32]byte
	m.Sum(s[:0])
	return s
}

// claim is a request of id in scope, signed with secret.
func (f *fakeScheme) claim(id, scope string, secret []byte, sts string) *Claim {
	k := f.derive(secret, scope)
	f.derivations--
	sig := signWith(&k, sts)
	return &Claim{
		Result:   Result{AccessKeyID: id, Signature: sig[:]},
		Scope:    scope,
		Derive:   func(s []byte) [32]byte { return f.derive(s, scope) },
		SignWith: func(k *[32]byte) [32]byte { return signWith(k, sts) },
	}
}

var t0 = time.Date(2024, 3, 14, 12, 0, 0, 0, time.UTC)

func TestKeyCache(t *testing.T) {
	f := &fakeScheme{}
	c := NewKeyCache(0)
	secret := []byte("secret-one")
	lookup := func(id string) ([]byte, bool) { return secret, id == "AK1" }

	// A miss derives; the key is kept only once a signature verified.
	if !c.match(lookup, f.claim("AK1", "20240314/kms", secret, "req 1"), t0) || f.derivations != 1 || c.Len() != 1 {
		t.Fatalf("first request: %d derivations, %d keys", f.derivations, c.Len())
	}
	// A hit does not derive.
	if !c.match(lookup, f.claim("AK1", "20240314/kms", secret, "req 2"), t0) || f.derivations != 1 {
		t.Fatalf("second request: %d derivations", f.derivations)
	}
	// A bad signature still fails, with the key cached; and costs a
	// derivation like any failure.
	bad := f.claim("AK1", "20240314/kms", secret, "req 3")
	bad.Signature[0] ^= 1
	if c.match(lookup, bad, t0) || f.derivations != 2 {
		t.Fatalf("bad signature: %d derivations", f.derivations)
	}
	// Another scope is another key.
	if !c.match(lookup, f.claim("AK1", "20240315/kms", secret, "req 4"), t0) || f.derivations != 3 || c.Len() != 2 {
		t.Fatalf("another scope: %d derivations, %d keys", f.derivations, c.Len())
	}
	// An unknown id fails with its right "signature", after the same
	// work, and adds nothing.
	if c.match(lookup, f.claim("AK2", "20240314/kms", secret, "req 5"), t0) || f.derivations != 4 || c.Len() != 2 {
		t.Fatalf("unknown id: %d derivations, %d keys", f.derivations, c.Len())
	}
	// The secret changes (rotation): a request signed with the old one
	// fails though its key is cached, and the new one gets a fresh key.
	old := secret
	secret = []byte("secret-two")
	if c.match(lookup, f.claim("AK1", "20240314/kms", old, "req 6"), t0) {
		t.Fatal("the old secret's request accepted after rotation")
	}
	n := f.derivations
	if !c.match(lookup, f.claim("AK1", "20240314/kms", secret, "req 7"), t0) || f.derivations != n+1 {
		t.Fatalf("new secret: %d derivations, want %d", f.derivations, n+1)
	}
	if !c.match(lookup, f.claim("AK1", "20240314/kms", secret, "req 8"), t0) || f.derivations != n+1 || c.Len() != 2 {
		t.Fatalf("new secret, cached: %d derivations, %d keys", f.derivations, c.Len())
	}
	if c.match(lookup, f.claim("AK1", "20240314/kms", old, "req 9"), t0) {
		t.Fatal("the old secret's request accepted with the new key cached")
	}
	// A key older than a day and its skew is derived again.
	if !c.match(lookup, f.claim("AK1", "20240314/kms", secret, "req 10"), t0.Add(keyTTL+time.Minute)) || f.derivations != n+3 {
		t.Fatalf("expired key: %d derivations, want %d", f.derivations, n+3)
	}
}

// TestKeyCacheBounded: the cache never holds more than its bound, and a
// key it drops is zeroed.
func TestKeyCacheBounded(t *testing.T) {
	f := &fakeScheme{}
	c := NewKeyCache(4)
	secret := []byte("secret")
	lookup := func(string) ([]byte, bool) { return secret, true }
	if !c.match(lookup, f.claim("AK0", "s", secret, "x"), t0) {
		t.Fatal("refused")
	}
	first := c.m[cacheKey{"AK0", "s"}]
	for i := 1; i < 50; i++ {
		if !c.match(lookup, f.claim(fmt.Sprintf("AK%d", i), "s", secret, "x"), t0.Add(time.Duration(i)*time.Second)) {
			t.Fatal("refused")
		}
		if c.Len() > 4 {
			t.Fatalf("%d keys, bound 4", c.Len())
		}
	}
	if _, kept := c.m[cacheKey{"AK0", "s"}]; kept || first.key != [32]byte{} || first.secretSum != [32]byte{} {
		t.Fatalf("dropped entry kept or not zeroed: %v", kept)
	}
	// Stale entries go first.
	c = NewKeyCache(2)
	c.match(lookup, f.claim("old", "s", secret, "x"), t0)
	c.match(lookup, f.claim("new", "s", secret, "x"), t0.Add(keyTTL))
	c.match(lookup, f.claim("newer", "s", secret, "x"), t0.Add(keyTTL+time.Hour))
	if _, ok := c.m[cacheKey{"new", "s"}]; !ok || c.Len() != 2 {
		t.Fatalf("stale entry not dropped first: %d keys", c.Len())
	}
}

// TestKeyCacheDeletedAndUnauthenticated: a deleted credential's request,
// rightly signed, is refused though its key is cached; and requests that do
// not verify (unknown ids, wrong signatures, a scope never verified) neither
// add an entry nor evict one from a full cache.
func TestKeyCacheDeletedAndUnauthenticated(t *testing.T) {
	f := &fakeScheme{}
	c := NewKeyCache(2)
	secret := []byte("secret-one")
	live := true
	lookup := func(id string) ([]byte, bool) {
		if id == "AK1" && live {
			return secret, true
		}
		return nil, false
	}
	if !c.match(lookup, f.claim("AK1", "s1", secret, "a"), t0) || !c.match(lookup, f.claim("AK1", "s2", secret, "b"), t0) || c.Len() != 2 {
		t.Fatalf("setup: %d keys", c.Len())
	}
	before := map[cacheKey]cachedKey{}
	for k, e := range c.m {
		before[k] = *e
	}
	for i := range 100 {
		bad := f.claim("AK1", "s1", secret, fmt.Sprint("bad ", i))
		bad.Signature[i%32] ^= 1
		for _, cl := range []*Claim{
			f.claim(fmt.Sprint("AK-unknown-", i), "s1", secret, "x"), // right signature, unknown id
			f.claim("AK1", fmt.Sprint("s-new-", i), []byte("guess"), "x"),
			bad,
		} {
			if c.match(lookup, cl, t0) {
				t.Fatalf("request %d of %s accepted", i, cl.AccessKeyID)
			}
		}
	}
	if c.Len() != 2 {
		t.Fatalf("%d keys after failing requests, want 2", c.Len())
	}
	for k, e := range c.m {
		if b, ok := before[k]; !ok || b != *e {
			t.Fatalf("entry %v added or changed by failing requests", k)
		}
	}
	live = false // the credential is deleted
	gone := c.m[cacheKey{"AK1", "s1"}]
	if c.match(lookup, f.claim("AK1", "s1", secret, "c"), t0) {
		t.Fatal("a deleted credential authenticated through its cached key")
	}
	// The request that named it dropped and zeroed its key.
	if _, kept := c.m[cacheKey{"AK1", "s1"}]; kept || gone.key != [32]byte{} || gone.secretSum != [32]byte{} {
		t.Fatalf("a deleted credential's key kept (%v) or not zeroed", kept)
	}
}

// TestKeyCacheStaleZeroed: an entry older than keyTTL is zeroed at the next
// put though the cache is not full, and a rotated credential's entry at
// the next request that names it.
func TestKeyCacheStaleZeroed(t *testing.T) {
	f := &fakeScheme{}
	c := NewKeyCache(0)
	secret := []byte("secret-one")
	lookup := func(string) ([]byte, bool) { return secret, true }
	if !c.match(lookup, f.claim("AK1", "day1", secret, "a"), t0) {
		t.Fatal("refused")
	}
	day1 := c.m[cacheKey{"AK1", "day1"}]
	if !c.match(lookup, f.claim("AK1", "day2", secret, "b"), t0.Add(keyTTL+time.Second)) {
		t.Fatal("refused")
	}
	if _, kept := c.m[cacheKey{"AK1", "day1"}]; kept || day1.key != [32]byte{} || c.Len() != 1 {
		t.Fatalf("stale entry kept (%v) or not zeroed, %d keys", kept, c.Len())
	}
	day2 := c.m[cacheKey{"AK1", "day2"}]
	old := secret
	secret = []byte("secret-two") // rotated
	if c.match(lookup, f.claim("AK1", "day2", old, "c"), t0.Add(keyTTL+time.Minute)) {
		t.Fatal("the old secret accepted")
	}
	if day2.key != [32]byte{} || c.Len() != 0 {
		t.Fatalf("rotated credential's key not zeroed, %d keys", c.Len())
	}
}
