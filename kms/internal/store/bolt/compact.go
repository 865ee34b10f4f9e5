package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

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
// Under the store's lock (taken at a moment when no transaction runs:
// lockAll; every View, Update, Key and Alias then waits), the live records
// are copied into a new file, PATH.compact (bbolt.Compact: bucket by bucket, key by key, one
// transaction, committed with an fsync); the new file is synced, renamed
// over PATH, the directory synced, and the store serves the new file. The
// old file's pages are never read into the new one, so nothing that was
// free in it survives. A crash before the rename leaves the old file
// complete and a PATH.compact holding only live records (which the next
// compaction removes: it holds nothing kms.db does not); after it, the new
// file complete. If the copy fails, the store goes on serving the old file.
// The new file is open, and locked against other processes, before the
// rename: no other process can open kms.db in between.
//
// Versions go on growing across it: the new file numbers its transactions
// from 1 again, so the store adds an offset that keeps every Version after
// the compaction above every one before.
func (s *Store) Compact(ctx context.Context) (st store.CompactStats, err error) {
	if err = s.begin(ctx); err != nil {
		return st, err
	}
	if err = s.lockAll(ctx); err != nil {
		return st, err
	}
	defer s.mu.Unlock()
	if s.closed.Load() {
		return st, store.ErrClosed
	}
	start := time.Now()
	defer func() { st.Took = time.Since(start) }()
	if s.path == "" {
		s.path = s.db.Path() // after a compaction, s.db's is the temporary name
	}
	path := s.path
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
	db, err := copyLive(s.db, tmp)
	if err != nil {
		os.Remove(tmp)
		return st, fmt.Errorf("compacting %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		db.Close()
		os.Remove(tmp)
		return st, fmt.Errorf("compacting %s: %w", path, err)
	}
	// From here the new file is kms.db: a crash leaves it, complete. db
	// holds it open, with bbolt's lock (the file's, which the rename
	// keeps), and the old handle holds the old file's until it closes: at
	// no instant can another process open kms.db.
	dirErr := syncDir(filepath.Dir(path))
	s.db.Close()
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

// compactWait bounds how long Compact waits for a moment when no
// transaction runs.
var compactWait = 10 * time.Second

// errBusy: Compact found no moment without a transaction.
var errBusy = errors.New("the store was never idle: compaction deferred")

// lockAll takes s.mu exclusively once no transaction runs, polling rather
// than waiting in Lock: a waiting Lock would block every new transaction
// meanwhile, and a read nested in another transaction of the same goroutine
// would then deadlock. New transactions go on meanwhile; under a load that
// never leaves the store idle for compactWait, errBusy (kms retries at its
// next maintenance).
func (s *Store) lockAll(ctx context.Context) error {
	deadline := time.Now().Add(compactWait)
	for !s.mu.TryLock() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return errBusy
		}
		time.Sleep(200 * time.Microsecond)
	}
	return nil
}

// copyLive copies src's live records into a new file at path, synced, and
// returns it open.
func copyLive(src *bbolt.DB, path string) (*bbolt.DB, error) {
	dst, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, err
	}
	if err := bbolt.Compact(dst, src, 0); err != nil { // 0: one transaction
		dst.Close()
		return nil, err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return nil, err
	}
	return dst, nil
}

// openUnreplaced is bbolt.Open of path, retried when a compaction of the
// process that held the file renamed a new file over path meanwhile: the
// open found the old file, whose lock came free when that process let go
// of it, and would otherwise run on an unlinked file while the server runs
// on the new one. The file found first is held open (pin) until the check,
// so that its inode number cannot be reused by a newer file: a path that
// names the same file before and after bbolt.Open named it throughout (a
// compaction only ever renames new files over it). Retries stop at
// opts.Timeout (bbolt's ErrTimeout: the file was held throughout).
func openUnreplaced(path string, opts *bbolt.Options) (*bbolt.DB, error) {
	deadline := time.Now().Add(opts.Timeout)
	for {
		pin, err := os.Open(path)
		if err != nil {
			return bbolt.Open(path, 0o600, opts) // bbolt's own error
		}
		before, statErr := pin.Stat()
		db, err := bbolt.Open(path, 0o600, opts)
		if err != nil || statErr != nil {
			pin.Close()
			return db, err
		}
		after, err := os.Stat(path)
		pin.Close()
		if err == nil && !os.SameFile(before, after) {
			db.Close()
			if time.Now().After(deadline) {
				return nil, bolterrors.ErrTimeout
			}
			continue
		}
		return db, nil
	}
}
