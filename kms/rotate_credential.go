package kms

import "context"

// RotateCredentialRequest names the access key to replace.
type RotateCredentialRequest struct {
	AccessKeyID string
}

// RotateCredentialResponse is the new credential, its secret (shown this
// once) and the access key id it replaced.
type RotateCredentialResponse struct {
	CreateCredentialResponse
	// Replaced is the access key id that no longer exists.
	Replaced string
}

// RotateCredential replaces an access key pair, for a caller with the admin
// permission (AttestKMSAdmin.RotateCredential): a new access key id and
// secret take the credential's name (so its principal), admin permission,
// identity policy and expiry, and the old access key id is deleted in the
// same transaction, authenticating nothing from the moment this returns.
// An expired credential is not rotated.
func (s *Service) RotateCredential(ctx context.Context, c *Call, req *RotateCredentialRequest) (*RotateCredentialResponse, error) {
	return run(s, ctx, c, "RotateCredential", opChange, req, func(ctx context.Context, c *Call, req *RotateCredentialRequest) (*RotateCredentialResponse, error) {
		if err := canceled(ctx); err != nil {
			return nil, err
		}
		if err := s.requireAdmin(c, "RotateCredential"); err != nil {
			return nil, err
		}
		if req.AccessKeyID == "" {
			return nil, errorf(ErrValidation, "AccessKeyId is required")
		}
		return s.rotateCredential(ctx, c, req.AccessKeyID)
	})
}
