package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/internal/pgtest"
	"github.com/attestkms/attestkms/kms/internal/store"
	"github.com/attestkms/attestkms/kms/internal/store/storetest"
)

var bg = context.Background()

// newDB is a new database holding an empty store (Create with nothing
// written), and its URL.
func newDB(t testing.TB) string {
	t.Helper()
	u := pgtest.DB(t)
	if err := Create(bg, u, Options{}, func(store.Txn) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return u
}

// open opens the store in u until t ends. Its Watch gives a ping 10 s, not
// 600 ms: on a loaded machine a slow ping would tell WatchLost where a
// test expects a change (TestWatchUnansweredPing tests the real one).
func open(t testing.TB, u string) *Store {
	t.Helper()
	s, err := Open(bg, u, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.hooks.pingTimeout = 10 * time.Second
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the store's conformance suite on PostgreSQL.
func TestConformance(t *testing.T) {
	if !pgtest.Available() {
		pgtest.DB(t) // skips, saying how to run it
	}
	var mu sync.Mutex
	urls := map[store.Store]string{}
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T) store.Store {
			u := newDB(t)
			s := open(t, u)
			mu.Lock()
			urls[s] = u
			mu.Unlock()
			return s
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			mu.Lock()
			u := urls[s]
			mu.Unlock()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, u)
		},
	})
}
