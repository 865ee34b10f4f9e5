package kms

import (
	"context"

	"github.com/attestkms/attestkms/attest"
)

// Cancellation. Every operation takes the request's context and honours it
// at the points where stopping is both possible and worth it: before it
// starts, before it verifies a Recipient's evidence (a request's slowest
// step), and before each store transaction (change, view, a cold key's or
// an alias's read), and the store itself starts none for a done ctx. An
// operation stopped there answers ErrCanceled and commits nothing it had not
// committed already; one past its last check completes.

// canceled is ErrCanceled if ctx is done, else nil.
func canceled(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return &Error{Kind: ErrCanceled, Msg: "The request was canceled before it completed.", Cause: err}
	}
	return nil
}

// verifyEvidence is verifyRecipient, unless ctx is done: then no evidence is
// verified, and the answer is ErrCanceled.
func (s *Service) verifyEvidence(ctx context.Context, c *Call, r *Recipient) (*attest.Claims, error) {
	if r != nil {
		if err := canceled(ctx); err != nil {
			return nil, err
		}
	}
	return s.verifyRecipient(c, r)
}
