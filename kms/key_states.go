package kms

import (
	"context"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// KeyStates counts the store's keys by state, for the server's metrics
// (attestkms_keys{state}): every state appears, with 0 when no key is in
// it. A key pending deletion whose date has passed is destroyed on its next
// use and listed nowhere, so it is not counted. It reads every key's record
// in one read transaction; a done ctx starts none (ErrCanceled).
func (a *Admin) KeyStates(ctx context.Context) (map[KeyState]int, error) {
	s := a.s
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	out := map[KeyState]int{Enabled: 0, Disabled: 0, PendingDeletion: 0}
	err := s.view(ctx, func(r store.Reader) error {
		return eachKey(r, func(k *store.Key) error {
			if !s.expired(k) {
				out[KeyState(k.State)]++
			}
			return nil
		})
	})
	if err != nil {
		return nil, asKMSError(err)
	}
	return out, nil
}
