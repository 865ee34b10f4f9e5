package kms

import (
	"context"
	"time"
)

// CreateCredentialRequest asks for a new access key pair.
type CreateCredentialRequest struct {
	// Name is the credential's name (required, 1-64 characters of
	// A-Z a-z 0-9 +=,.@_-, unique): its principal is
	// arn:aws:iam::ACCOUNT:user/NAME, or the account's root for "admin",
	// which must have the admin permission.
	Name string
	// Admin gives the credential the admin permission: it may manage
	// credentials through the admin API, and so make or rotate any
	// credential (become any principal of the account): it carries no
	// identity policy. Zero: it may not.
	Admin bool
	// IdentityPolicy is the credential's identity policy (a key policy's
	// grammar without Principal: docs/policy.md). It narrows what every key
	// policy that allows the account allows this credential. Empty: none,
	// and the account's key policies allow it as they allow the account.
	IdentityPolicy string
	// ExpiresIn is how long the credential authenticates, from now (to the
	// second): at least a second. Zero: it does not expire.
	ExpiresIn time.Duration
}

// CreateCredentialResponse is the new credential and its secret, which is
// shown this once.
type CreateCredentialResponse struct {
	CredentialInfo
	// SecretAccessKey is the caller's copy of the secret; it zeroes it once
	// sent.
	SecretAccessKey []byte
}

// CreateCredential makes a new access key pair, for a caller with the admin
// permission (the admin API's AttestKMSAdmin.CreateCredential). It
// authenticates as soon as this returns.
func (s *Service) CreateCredential(ctx context.Context, c *Call, req *CreateCredentialRequest) (*CreateCredentialResponse, error) {
	return run(s, ctx, c, "CreateCredential", opChange, req, func(ctx context.Context, c *Call, req *CreateCredentialRequest) (*CreateCredentialResponse, error) {
		if err := canceled(ctx); err != nil {
			return nil, err
		}
		if err := s.requireAdmin(c, "CreateCredential"); err != nil {
			return nil, err
		}
		return s.createCredential(ctx, c, req)
	})
}

// wipe zeroes the secret.
func (r *CreateCredentialResponse) wipe() { clear(r.SecretAccessKey) }
