package kms

import (
	"context"
	"fmt"
	"time"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// Ready reports whether the service can serve every operation: its store
// answers a read, and its audit log's last write succeeded (if not, Ready
// tries a write, so that the log recovers by being asked, as it does with
// the next request). While the log cannot be written, operations that
// change the store or use a key are refused (ErrInternal) and reads of
// public data are still answered: not ready, but not down. A node of a
// shared store is not ready while it does not follow the store's changes
// (follow.go), and then refuses every operation. A done ctx is
// ErrCanceled.
func (s *Service) Ready(ctx context.Context) error {
	if s.follow != nil {
		if err := s.follow.err(); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	err := s.view(ctx, func(r store.Reader) error {
		_, err := r.Meta()
		return err
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
