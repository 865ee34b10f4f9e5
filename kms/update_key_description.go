package kms

import "context"

// UpdateKeyDescription replaces a key's description.
func (s *Service) UpdateKeyDescription(ctx context.Context, c *Call, keyID, description string) error {
	if len(description) > maxDescription {
		return errorf(ErrValidation, "Description is longer than %d characters", maxDescription)
	}
	_, err := s.changeKey(c, keyID, "kms:UpdateKeyDescription", func(rec *keyRecord) error {
		if rec.State == PendingDeletion {
			return errorf(ErrInvalidState, "%s is pending deletion.", s.keyARN(c, rec.ID))
		}
		rec.Description = description
		return nil
	})
	return err
}
