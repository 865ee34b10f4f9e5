package kms

import "context"

// ListCredentialsRequest asks for every credential.
type ListCredentialsRequest struct{}

// ListCredentialsResponse lists the credentials by name, without secrets.
type ListCredentialsResponse struct {
	Credentials []CredentialInfo
}

// ListCredentials lists the credentials, for a caller with the admin
// permission (AttestKMSAdmin.ListCredentials): what credential list prints.
func (s *Service) ListCredentials(ctx context.Context, c *Call, req *ListCredentialsRequest) (*ListCredentialsResponse, error) {
	return run(s, ctx, c, "ListCredentials", opRead, req, func(ctx context.Context, c *Call, _ *ListCredentialsRequest) (*ListCredentialsResponse, error) {
		if err := canceled(ctx); err != nil {
			return nil, err
		}
		if err := s.requireAdmin(c, "ListCredentials"); err != nil {
			return nil, err
		}
		return &ListCredentialsResponse{Credentials: s.listCredentials()}, nil
	})
}
