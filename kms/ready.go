package kms

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Ready reports whether the service can serve every operation: its store
// answers a read, and its audit log's last write succeeded (if not, Ready
// tries a write, so that the log recovers by being asked, as it does with
// the next request). While the log cannot be written, operations that
// change the store or use a key are refused (ErrInternal) and reads of
// public data are still answered: not ready, but not down. A done ctx is
// ErrCanceled.
func (s *Service) Ready(ctx context.Context) error {
	err := s.st.view(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return errors.New("no meta bucket")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.audit.Probe(pctx); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// StoredAuditChangeSeq is the seq of the last change record the store in
// dataDir committed (its audit_change_seq; 0 if none), for attestkms audit
// verify: the log must reach it. It opens the store read-only and fails
// with ErrStoreInUse while a server holds it.
func StoredAuditChangeSeq(dataDir string) (uint64, error) {
	if !IsInitialised(dataDir) {
		return 0, fmt.Errorf("%w: %s", ErrNotInitialised, dataDir)
	}
	db, err := bolt.Open(filepath.Join(dataDir, dbFile), 0o600, &bolt.Options{Timeout: 200 * time.Millisecond, ReadOnly: true})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return 0, fmt.Errorf("%w: %s", ErrStoreInUse, dataDir)
		}
		return 0, err
	}
	defer db.Close()
	var seq uint64
	err = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return fmt.Errorf("%s is not an attestkms store", dataDir)
		}
		seq, err = storedChangeSeq(tx)
		return err
	})
	return seq, err
}
