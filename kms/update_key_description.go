package kms

import (
	"context"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// UpdateKeyDescriptionRequest replaces a key's description (at most 8192
// characters; "" clears it).
type UpdateKeyDescriptionRequest struct {
	KeyID       string
	Description string
}

// UpdateKeyDescriptionResponse is UpdateKeyDescription's answer: the key.
type UpdateKeyDescriptionResponse struct{ KeyRef }

// UpdateKeyDescription replaces a key's description.
func (s *Service) UpdateKeyDescription(ctx context.Context, c *Call, req *UpdateKeyDescriptionRequest) (*UpdateKeyDescriptionResponse, error) {
	return run(s, ctx, c, "UpdateKeyDescription", opChange, req, s.updateKeyDescription)
}

func (s *Service) updateKeyDescription(ctx context.Context, c *Call, req *UpdateKeyDescriptionRequest) (*UpdateKeyDescriptionResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	if len(req.Description) > maxDescription {
		return nil, errorf(ErrValidation, "Description is longer than %d characters", maxDescription)
	}
	rec, err := s.changeKey(ctx, c, req.KeyID, "kms:UpdateKeyDescription", func(rec *store.Key) error {
		if KeyState(rec.State) == PendingDeletion {
			return errorf(ErrInvalidState, "%s is pending deletion.", s.keyARN(c, rec.ID))
		}
		rec.Description = req.Description
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &UpdateKeyDescriptionResponse{s.keyRef(c, rec.ID)}, nil
}
