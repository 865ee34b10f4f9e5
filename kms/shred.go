package kms

import (
	"context"
	"fmt"
	"time"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// Crypto-shredding (docs/shredding.md): destroying a key deletes its record
// in one change, but a store may keep copies of what it deleted or replaced
// in its files (bbolt's freed pages hold the destroyed key's sealed
// material, and every earlier copy of its record, until reused), which the
// root key would open. So once keys are destroyed, kms rewrites a store that
// can (store.Compacter) with its live records alone: Maintain after it
// destroyed any, and a request that destroys a key past its date (resolve.go)
// before it answers. A deleted credential (DeleteCredential, or the old one
// a rotation removes) marks a compaction pending too (change), which the
// next Maintain runs. Until a compaction succeeds, shredPending stays set
// and the next Maintain retries it. A store that cannot (PostgreSQL) is the
// operator's to vacuum (docs/shredding.md).

// shred compacts the store if it can and keys were destroyed (or credentials
// deleted) since its last compaction, with the audit record of a
// CompactStore on behalf of requestID (maintenance's, or the request's that
// destroyed a key).
func (s *Service) shred(ctx context.Context, requestID string) error {
	return s.compact(ctx, requestID, "so that nothing of a destroyed key remains in it")
}

// compact is shred's compaction, its record saying why (after "the store
// was rewritten with its live records alone, ").
func (s *Service) compact(ctx context.Context, requestID, why string) error {
	cp, ok := s.auth.Unwrap().(store.Compacter)
	if !ok || !s.shredPending.Load() {
		return nil
	}
	s.shredMu.Lock()
	defer s.shredMu.Unlock()
	if !s.shredPending.Swap(false) {
		return nil // another call compacted meanwhile
	}
	c := systemCall(requestID, "CompactStore")
	st, err := cp.Compact(ctx)
	if err != nil {
		s.shredPending.Store(true)
		err = internal(fmt.Errorf("compacting the store after destroying keys: %w", err))
	} else {
		c.op.message = fmt.Sprintf("the store was rewritten with its live records alone, %s: %d bytes before, %d after; requests waited %s",
			why, st.Before, st.After, st.Took.Round(time.Millisecond))
	}
	_, err = finish[struct{}](s, c, nil, err)
	return err
}
