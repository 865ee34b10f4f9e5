package kms

import (
	"context"
	"errors"

	bolt "go.etcd.io/bbolt"
)

// Ready reports whether the service can serve requests: nil when its store
// answers a read transaction (its meta bucket is there), else why not. The
// server's GET /readyz asks it; a done ctx is ErrCanceled.
func (s *Service) Ready(ctx context.Context) error {
	return s.st.view(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return errors.New("the store has no meta bucket")
		}
		return nil
	})
}
