package kms

import (
	"context"
	"errors"
	"time"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// expired reports whether a key pending deletion has reached its deletion
// date: it is then destroyed on its next use and listed nowhere.
func (s *Service) expired(r *store.Key) bool {
	return KeyState(r.State) == PendingDeletion && r.DeletionDate != nil && !s.now().Before(*r.DeletionDate)
}

// changeKeyHook, if set, runs in changeKey after the key is loaded and
// before the write transaction that authorises and commits the change: a
// test seam, nil outside tests, through which a test changes the key's
// policy in that window (TestChangeKeyRechecksPolicy).
var changeKeyHook func(id string)

// changeKey loads keyID (for its id and ARN, and lazy destruction), then, in
// one write transaction, reads the stored record, checks that its policy
// allows action, and applies fn. The policy judged is the record's own, read
// in the transaction that commits: a policy changed since the key was
// cached (or loaded here) is the one that decides. fn sees the committed
// record, so its state checks are never stale either.
func (s *Service) changeKey(ctx context.Context, c *Call, keyID, action string, fn func(rec *store.Key) error) (*store.Key, error) {
	k, err := s.loadKey(ctx, c, keyID)
	if err != nil {
		return nil, err
	}
	id := k.rec.ID
	k.release()
	if changeKeyHook != nil {
		changeKeyHook(id)
	}
	var out store.Key
	err = s.updateKey(ctx, c, id, func(tx store.Reader, rec *store.Key) error {
		if err := s.authorize(c, policyOf(rec, tx), action, nil, nil); err != nil {
			return err
		}
		if s.expired(rec) {
			return errorf(ErrNotFound, "Key '%s' does not exist", s.keyARN(c, id))
		}
		if err := fn(rec); err != nil {
			return err
		}
		out = *rec
		return nil
	})
	if err != nil {
		return nil, asKMSError(err)
	}
	return &out, nil
}

// updateKey applies fn to the record of key id, read in the transaction
// that writes it back, committed with c's audit record (change). fn returning
// an error aborts the change.
func (s *Service) updateKey(ctx context.Context, c *Call, id string, fn func(tx store.Reader, rec *store.Key) error) error {
	return s.change(ctx, c, func(tx store.Txn) error {
		rec, err := tx.Key(id)
		if errors.Is(err, store.ErrNotFound) {
			return errorf(ErrNotFound, "Key '%s' does not exist", id)
		}
		if err != nil {
			return err
		}
		if err := fn(tx, rec); err != nil {
			return err
		}
		return tx.PutKey(rec)
	}, id)
}

// EnableKeyRequest names a disabled key to enable.
type EnableKeyRequest struct {
	KeyID string
}

// EnableKeyResponse is EnableKey's answer: the key.
type EnableKeyResponse struct{ KeyRef }

// EnableKey sets a disabled key's state to Enabled.
func (s *Service) EnableKey(ctx context.Context, c *Call, req *EnableKeyRequest) (*EnableKeyResponse, error) {
	return run(s, ctx, c, "EnableKey", opChange, req, s.enableKey)
}

func (s *Service) enableKey(ctx context.Context, c *Call, req *EnableKeyRequest) (*EnableKeyResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	rec, err := s.changeKey(ctx, c, req.KeyID, "kms:EnableKey", func(rec *store.Key) error {
		if KeyState(rec.State) == PendingDeletion {
			return errorf(ErrInvalidState, "%s is pending deletion.", s.keyARN(c, rec.ID))
		}
		rec.State = string(Enabled)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &EnableKeyResponse{s.keyRef(c, rec.ID)}, nil
}

// DisableKeyRequest names a key to disable.
type DisableKeyRequest struct {
	KeyID string
}

// DisableKeyResponse is DisableKey's answer: the key.
type DisableKeyResponse struct{ KeyRef }

// DisableKey sets an enabled key's state to Disabled: no cryptographic use.
func (s *Service) DisableKey(ctx context.Context, c *Call, req *DisableKeyRequest) (*DisableKeyResponse, error) {
	return run(s, ctx, c, "DisableKey", opChange, req, s.disableKey)
}

func (s *Service) disableKey(ctx context.Context, c *Call, req *DisableKeyRequest) (*DisableKeyResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	rec, err := s.changeKey(ctx, c, req.KeyID, "kms:DisableKey", func(rec *store.Key) error {
		if KeyState(rec.State) == PendingDeletion {
			return errorf(ErrInvalidState, "%s is pending deletion.", s.keyARN(c, rec.ID))
		}
		rec.State = string(Disabled)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &DisableKeyResponse{s.keyRef(c, rec.ID)}, nil
}

// ScheduleKeyDeletionRequest puts a key in PendingDeletion for
// PendingWindowInDays: 7 to 30. Zero: 30.
type ScheduleKeyDeletionRequest struct {
	KeyID               string
	PendingWindowInDays int32
}

// ScheduleKeyDeletionResponse is ScheduleKeyDeletion's answer.
type ScheduleKeyDeletionResponse struct {
	KeyRef
	DeletionDate        time.Time
	KeyState            KeyState
	PendingWindowInDays int32
}

// ScheduleKeyDeletion puts a key in PendingDeletion. When the window ends
// the key's material is destroyed.
func (s *Service) ScheduleKeyDeletion(ctx context.Context, c *Call, req *ScheduleKeyDeletionRequest) (*ScheduleKeyDeletionResponse, error) {
	return run(s, ctx, c, "ScheduleKeyDeletion", opChange, req, s.scheduleKeyDeletion)
}

func (s *Service) scheduleKeyDeletion(ctx context.Context, c *Call, req *ScheduleKeyDeletionRequest) (*ScheduleKeyDeletionResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	pendingWindowInDays := req.PendingWindowInDays
	if pendingWindowInDays == 0 {
		pendingWindowInDays = 30
	}
	if pendingWindowInDays < 7 || pendingWindowInDays > 30 {
		return nil, errorf(ErrValidation, "PendingWindowInDays must be between 7 and 30")
	}
	rec, err := s.changeKey(ctx, c, req.KeyID, "kms:ScheduleKeyDeletion", func(rec *store.Key) error {
		if KeyState(rec.State) == PendingDeletion {
			return errorf(ErrInvalidState, "%s is pending deletion.", s.keyARN(c, rec.ID))
		}
		d := s.now().UTC().Truncate(time.Second).Add(time.Duration(pendingWindowInDays) * 24 * time.Hour)
		rec.State = string(PendingDeletion)
		rec.DeletionDate = &d
		rec.PendingWindowDays = pendingWindowInDays
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ScheduleKeyDeletionResponse{
		KeyRef:              s.keyRef(c, rec.ID),
		DeletionDate:        *rec.DeletionDate,
		KeyState:            PendingDeletion,
		PendingWindowInDays: pendingWindowInDays,
	}, nil
}

// CancelKeyDeletionRequest names a key pending deletion.
type CancelKeyDeletionRequest struct {
	KeyID string
}

// CancelKeyDeletionResponse is CancelKeyDeletion's answer: the key.
type CancelKeyDeletionResponse struct{ KeyRef }

// CancelKeyDeletion takes a key out of PendingDeletion; it is then Disabled,
// as in AWS KMS.
func (s *Service) CancelKeyDeletion(ctx context.Context, c *Call, req *CancelKeyDeletionRequest) (*CancelKeyDeletionResponse, error) {
	return run(s, ctx, c, "CancelKeyDeletion", opChange, req, s.cancelKeyDeletion)
}

func (s *Service) cancelKeyDeletion(ctx context.Context, c *Call, req *CancelKeyDeletionRequest) (*CancelKeyDeletionResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	rec, err := s.changeKey(ctx, c, req.KeyID, "kms:CancelKeyDeletion", func(rec *store.Key) error {
		if KeyState(rec.State) != PendingDeletion {
			return errorf(ErrInvalidState, "%s is not pending deletion.", s.keyARN(c, rec.ID))
		}
		rec.State = string(Disabled)
		rec.DeletionDate = nil
		rec.PendingWindowDays = 0
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &CancelKeyDeletionResponse{s.keyRef(c, rec.ID)}, nil
}
