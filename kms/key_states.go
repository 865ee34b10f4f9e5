package kms

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// KeyStates counts the store's keys by state, for the server's metrics
// (attestkms_keys{state}): every state appears, with 0 when no key is in
// it. A key pending deletion whose date has passed is destroyed on its next
// use and listed nowhere, so it is not counted. It reads every key's record
// in one read transaction, decoding only its state; a done ctx starts none
// (ErrCanceled).
func (a *Admin) KeyStates(ctx context.Context) (map[KeyState]int, error) {
	s := a.s
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	out := map[KeyState]int{Enabled: 0, Disabled: 0, PendingDeletion: 0}
	err := s.st.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKeys).ForEach(func(k, v []byte) error {
			var rec struct {
				State        KeyState   `json:"state"`
				DeletionDate *time.Time `json:"deletion_date"`
			}
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("stored key %q: %w", k, err)
			}
			if s.expired(&keyRecord{State: rec.State, DeletionDate: rec.DeletionDate}) {
				return nil
			}
			out[rec.State]++
			return nil
		})
	})
	if err != nil {
		return nil, asKMSError(err)
	}
	return out, nil
}
