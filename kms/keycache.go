package kms

import (
	"context"
	"errors"
	"sync"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// maxCachedKeys bounds the decoded-key cache; past it an arbitrary entry is
// dropped (it is rebuilt from the store on its next use).
const maxCachedKeys = 10000

// keyCache holds decoded keys (their material opened), so that a warm key's
// use reads no store at all: the store (package store) holds only sealed
// material, and opening it costs a decryption per version.
//
// Locking: every change runs under mu.Lock (Service.change) and drops the
// cache entries it changes before unlocking; readers hold mu.RLock while
// they look up the cache or read the store and fill the cache. So a reader
// never caches a record older than one a change has committed. That holds
// for the changes of this process, the only one a bbolt store has; with a
// store shared by several processes, the entries another one changes are
// to be dropped when the store says so (package store's doc, "Versions").
type keyCache struct {
	mu      sync.RWMutex
	cacheMu sync.Mutex
	m       map[string]*key
}

func newKeyCache() *keyCache { return &keyCache{m: map[string]*key{}} }

// close drops every entry, zeroing the material no one else holds.
func (kc *keyCache) close() {
	kc.cacheMu.Lock()
	for id, k := range kc.m {
		delete(kc.m, id)
		k.release()
	}
	kc.cacheMu.Unlock()
}

// drop drops the cached keys ids; the caller holds mu.
func (kc *keyCache) drop(ids []string) {
	if len(ids) == 0 {
		return
	}
	kc.cacheMu.Lock()
	for _, id := range ids {
		if k, ok := kc.m[id]; ok {
			delete(kc.m, id)
			k.release()
		}
	}
	kc.cacheMu.Unlock()
}

// cachedKey returns the decoded key id, from the cache or the store; nil if
// there is none. The caller must call release on a key it got. A done ctx
// reads no store (ErrCanceled).
func (s *Service) cachedKey(ctx context.Context, id string) (*key, error) {
	kc := s.keys
	kc.mu.RLock()
	defer kc.mu.RUnlock()
	kc.cacheMu.Lock()
	k := kc.m[id]
	if k != nil {
		k.refs.Add(1)
	}
	kc.cacheMu.Unlock()
	if k != nil {
		return k, nil
	}
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	rec, err := s.st.Key(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	k, err = decodeKey(s.sealer, rec)
	if err != nil {
		return nil, err
	}
	k.refs.Store(2) // the cache's and the caller's
	kc.cacheMu.Lock()
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
	kc.cacheMu.Unlock()
	return k, nil
}
