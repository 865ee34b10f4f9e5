package bolt

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// compactSuffix names the file a compaction builds beside kms.db.
const compactSuffix = ".compact"

var _ store.Compacter = (*Store)(nil)

// Compact is store.Compacter's: crypto-shredding for bbolt, which frees the
// pages of a deleted or replaced record but does not overwrite them (a
// destroyed key's sealed material, every earlier copy of a key's record,
// stays in kms.db until a page happens to be reused).
//
// Under the store's lock (every View, Update, Key and Alias waits, and
// Compact waits for those running), the live records are copied into a new
// file, PATH.compact (bbolt.Compact: bucket by bucket, key by key, one
// transaction, committed with an fsync); the new file is synced, renamed
// over PATH, the directory synced, and the store reopens the new file. The
// old file's pages are never read into the new one, so nothing that was
// free in it survives. A crash before the rename leaves the old file
// complete and a PATH.compact holding only live records (which the next
// compaction removes: it holds nothing kms.db does not); after it, the new
// file complete. If the copy fails, the store goes on serving the old file.
// If the new file cannot be reopened the store is closed (ErrClosed).
//
// Versions go on growing across it: the new file numbers its transactions
// from 1 again, so the store adds an offset that keeps every Version after
// the compaction above every one before.
func (s *Store) Compact(ctx context.Context) (st store.CompactStats, err error) {
	if err = s.begin(ctx); err != nil {
		return st, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return st, store.ErrClosed
	}
	start := time.Now()
	defer func() { st.Took = time.Since(start) }()
	path := s.db.Path()
	tmp := path + compactSuffix
	if fi, err := os.Stat(path); err == nil {
		st.Before = fi.Size()
	}
	var lastID uint64
	if err := s.db.View(func(tx *bbolt.Tx) error { lastID = uint64(tx.ID()); return nil }); err != nil {
		return st, err
	}
	if err := os.Remove(tmp); err != nil && !os.IsNotExist(err) {
		return st, err
	}
	if err := copyLive(s.db, tmp); err != nil {
		os.Remove(tmp)
		return st, fmt.Errorf("compacting %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return st, fmt.Errorf("compacting %s: %w", path, err)
	}
	// From here the new file is kms.db: a crash leaves it, complete.
	dirErr := syncDir(filepath.Dir(path))
	s.db.Close()
	db, err := openDB(path, Options{})
	if err != nil {
		s.closed.Store(true)
		return st, fmt.Errorf("reopening %s after compacting it: %w", path, err)
	}
	s.db = db
	var newID uint64
	if err := db.View(func(tx *bbolt.Tx) error { newID = uint64(tx.ID()); return nil }); err != nil {
		return st, err
	}
	if last := lastID + s.base; newID+s.base <= last {
		s.base = last + 1 - newID
	}
	if fi, err := os.Stat(path); err == nil {
		st.After = fi.Size()
	}
	if dirErr != nil {
		return st, fmt.Errorf("compacting %s: syncing its directory: %w", path, dirErr)
	}
	return st, nil
}

// copyLive copies src's live records into a new file at path, synced.
func copyLive(src *bbolt.DB, path string) error {
	dst, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	if err := bbolt.Compact(dst, src, 0); err != nil { // 0: one transaction
		dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
