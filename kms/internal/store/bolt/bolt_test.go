package bolt

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

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

// TestOpen: one process holds the file (a second Open, even read-only, is
// store.ErrInUse once its timeout passes); a file that is not a store of
// this schema is store.ErrNotAStore; Create refuses an existing file and
// leaves nothing behind when its function fails.
func TestOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kms.db")
	if err := Create(path, func(store.Txn) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := Create(path, func(store.Txn) error { return nil }); !errors.Is(err, store.ErrExists) {
		t.Fatalf("Create over a store: %v", err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []Options{{Timeout: 50 * time.Millisecond}, {ReadOnly: true, Timeout: 50 * time.Millisecond}} {
		if _, err := Open(path, opts); !errors.Is(err, store.ErrInUse) {
			t.Fatalf("Open %+v of a store in use: %v", opts, err)
		}
	}
	s.Close()
	r1, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("a second reader: %v", err)
	}
	r1.Close()
	r2.Close()

	other := filepath.Join(dir, "other.db")
	db, err := bbolt.Open(other, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("meta")); return err })
	db.Close()
	if _, err := Open(other, Options{}); !errors.Is(err, store.ErrNotAStore) {
		t.Fatalf("Open of another bbolt file: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "none.db"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open of no file: %v", err)
	}

	failed := filepath.Join(dir, "failed.db")
	errFail := errors.New("fail")
	if err := Create(failed, func(store.Txn) error { return errFail }); err != errFail {
		t.Fatalf("Create whose function fails: %v", err)
	}
	if left, _ := filepath.Glob(failed + "*"); len(left) != 0 {
		t.Fatalf("a failed Create left %v", left)
	}
}

// TestPanicsOfOthersPass: a transaction's own panic (a bug, not a damaged
// page) is not taken for damage: it goes on as it is; bbolt's is
// store.ErrDamaged (cmd/attestkms's TestDamagedStore damages pages).
func TestPanicsOfOthersPass(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kms.db")
	if err := Create(path, func(store.Txn) error { return nil }); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer func() {
		if r := recover(); r != "a bug" {
			t.Fatalf("recovered %v, want the transaction's own panic", r)
		}
	}()
	err = s.View(t.Context(), func(store.Reader) error { panic("a bug") })
	t.Fatalf("View returned %v: the panic was swallowed", err)
}

// TestRecordsDigestBounded (review): a stored records digest is read before
// any MAC is checked, on every change: one larger than
// store.MaxDigestRecord is refused as damaged before it is decoded.
func TestRecordsDigestBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kms.db")
	if err := Create(path, func(store.Txn) error { return nil }); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	huge := append(append([]byte(`{"recent":[`), bytes.Repeat([]byte(`{"generation":1,"mac":""},`), store.MaxDigestRecord/20)...), `{}]}`...)
	if err := db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(metaRecordsDigest, huge) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(context.Background(), func(r store.Reader) error { _, err := r.RecordsDigest(); return err })
	if !errors.Is(err, store.ErrDamaged) || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("a %d-byte records digest: %v; want it refused as damaged for its size", len(huge), err)
	}
}
