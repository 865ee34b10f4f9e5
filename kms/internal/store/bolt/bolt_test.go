package bolt

import (
	"path/filepath"
	"testing"

	"github.com/attestkms/attestkms/kms/internal/store"
	"github.com/attestkms/attestkms/kms/internal/store/storetest"
)

// TestConformance runs the store's conformance suite on bbolt.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Factory{
		New: func(t *testing.T) store.Store {
			path := filepath.Join(t.TempDir(), "kms.db")
			if err := Create(path, func(store.Txn) error { return nil }); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			path := s.(*Store).db.Path()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s2
		},
	})
}
