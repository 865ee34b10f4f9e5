package kms

import "context"

// DeleteCredentialRequest names the access key to delete.
type DeleteCredentialRequest struct {
	AccessKeyID string
}

// DeleteCredentialResponse is the credential deleted.
type DeleteCredentialResponse struct {
	CredentialInfo
}

// DeleteCredential removes an access key, for a caller with the admin
// permission (AttestKMSAdmin.DeleteCredential). From the moment it returns,
// the key authenticates nothing: no new request, and no request signed
// before but checked after. It refuses to remove the last admin credential
// that has not expired.
func (s *Service) DeleteCredential(ctx context.Context, c *Call, req *DeleteCredentialRequest) (*DeleteCredentialResponse, error) {
	return run(s, ctx, c, "DeleteCredential", opChange, req, func(ctx context.Context, c *Call, req *DeleteCredentialRequest) (*DeleteCredentialResponse, error) {
		if err := canceled(ctx); err != nil {
			return nil, err
		}
		if err := s.requireAdmin(c, "DeleteCredential"); err != nil {
			return nil, err
		}
		if req.AccessKeyID == "" {
			return nil, errorf(ErrValidation, "AccessKeyId is required")
		}
		info, err := s.deleteCredential(ctx, c, req.AccessKeyID)
		if err != nil {
			return nil, err
		}
		return &DeleteCredentialResponse{CredentialInfo: *info}, nil
	})
}
