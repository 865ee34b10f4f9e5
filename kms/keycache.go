package kms

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// maxCachedKeys bounds the decoded-key cache, and maxCachedAliases the
// alias cache; past either an arbitrary entry is dropped (it is read again
// from the store on its next use).
const (
	maxCachedKeys    = 10000
	maxCachedAliases = 10000
)

// keyCache holds decoded keys (their material opened, their state and
// policy parsed), so that a warm key's use reads no store at all: the store
// (package store) holds only sealed material, and opening it costs a
// decryption per version. Over a shared store it also holds aliases, so
// that a request naming a key by its alias reads no store either (over an
// embedded store an alias read is a lookup in memory-mapped pages, and is
// not cached).
//
// What makes an entry stale is a change committed to its record: by this
// process (Service.change drops what its transaction wrote, once it ends)
// or, over a shared store, by another node (follow.go drops what the
// store's change notifications name, and everything when they are lost).
// A reader fills the cache from the store without a lock held during the
// read; so that it never caches a record older than one a change has
// committed, every drop counts one more generation (gen), and a reader
// caches what it read only if no drop happened since it began to read. A
// reader that loses that race still uses the record it read, which is no
// older than its request.
type keyCache struct {
	mu      sync.Mutex
	gen     uint64
	m       map[string]*key
	aliases map[string]*store.Alias // nil: aliases are not cached
}

func newKeyCache() *keyCache { return &keyCache{m: map[string]*key{}} }

// cacheAliases makes the cache hold aliases too (a shared store's).
func (kc *keyCache) cacheAliases() {
	kc.mu.Lock()
	kc.aliases = map[string]*store.Alias{}
	kc.mu.Unlock()
}

// close drops every entry, zeroing the material no one else holds.
func (kc *keyCache) close() { kc.dropAll() }

// dropAll drops every entry.
func (kc *keyCache) dropAll() {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	kc.gen++
	for id, k := range kc.m {
		delete(kc.m, id)
		k.release()
	}
	if kc.aliases != nil {
		clear(kc.aliases)
	}
}

// drop drops the cached keys and aliases (alias/NAME) named in ids.
func (kc *keyCache) drop(ids []string) {
	if len(ids) == 0 {
		return
	}
	kc.mu.Lock()
	defer kc.mu.Unlock()
	kc.gen++
	for _, id := range ids {
		if strings.HasPrefix(id, "alias/") {
			delete(kc.aliases, id)
			continue
		}
		if k, ok := kc.m[id]; ok {
			delete(kc.m, id)
			k.release()
		}
	}
}

// dropKeyAliases drops the cached aliases naming key id (it was deleted,
// and its aliases with it).
func (kc *keyCache) dropKeyAliases(id string) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	kc.gen++
	for name, a := range kc.aliases {
		if a.KeyID == id {
			delete(kc.aliases, name)
		}
	}
}

// told drops what a change another node (or this one) committed made
// stale: the key or alias ch names, unless the cache holds it at the
// Version told or a later one (this process's own change, read again
// since). A deleted record (Version 0) is always dropped.
func (kc *keyCache) told(ch store.Change) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	kc.gen++
	switch ch.Kind {
	case store.ChangedKey:
		if k, ok := kc.m[ch.ID]; ok && (ch.Version == 0 || k.rec.Version < ch.Version) {
			delete(kc.m, ch.ID)
			k.release()
		}
		if ch.Version == 0 { // deleted: its aliases went with it
			for name, a := range kc.aliases {
				if a.KeyID == ch.ID {
					delete(kc.aliases, name)
				}
			}
		}
	case store.ChangedAlias:
		if a, ok := kc.aliases[ch.ID]; ok && (ch.Version == 0 || a.Version < ch.Version) {
			delete(kc.aliases, ch.ID)
		}
	}
}

// cachedKey returns the decoded key id, from the cache or the store; nil if
// there is none. The caller must call release on a key it got. A done ctx
// reads no store (ErrCanceled).
func (s *Service) cachedKey(ctx context.Context, id string) (*key, error) {
	kc := s.keys
	kc.mu.Lock()
	k := kc.m[id]
	if k != nil {
		k.refs.Add(1)
	}
	gen := kc.gen
	kc.mu.Unlock()
	if k != nil {
		return k, nil
	}
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	// The read and the open under one root key: a rotation between
	// them would open an old record under the new key.
	s.rootMu.RLock()
	rec, err := s.st.Key(ctx, id)
	if err == nil {
		k, err = decodeKey(s.sealer, rec)
	}
	s.rootMu.RUnlock()
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if kc.gen != gen {
		// Something was dropped since the read began: what was read may
		// be older than a change committed meanwhile. Used, not kept.
		k.refs.Store(1)
		return k, nil
	}
	k.refs.Store(2)                  // the cache's and the caller's
	if old := kc.m[id]; old != nil { // another reader got here first
		delete(kc.m, id)
		old.release()
	}
	if len(kc.m) >= maxCachedKeys {
		for victim, vk := range kc.m {
			delete(kc.m, victim)
			vk.release()
			break
		}
	}
	kc.m[id] = k
	return k, nil
}

// cachedAlias returns alias name from the cache, if aliases are cached and
// it is there, else from the store (caching it if aliases are cached); nil
// if there is none.
func (s *Service) cachedAlias(ctx context.Context, name string) (*store.Alias, error) {
	kc := s.keys
	kc.mu.Lock()
	cached := kc.aliases != nil
	a, ok := kc.aliases[name]
	gen := kc.gen
	kc.mu.Unlock()
	if ok {
		return a, nil
	}
	a, err := s.st.Alias(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil || !cached {
		return a, err
	}
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if kc.gen == gen && kc.aliases != nil {
		if len(kc.aliases) >= maxCachedAliases {
			for victim := range kc.aliases {
				delete(kc.aliases, victim)
				break
			}
		}
		kc.aliases[name] = a
	}
	return a, nil
}
