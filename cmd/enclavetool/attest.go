package main

import (
	"context"

	"github.com/attestkms/attestkms/enclave"
)

// attest: just the attestation document for the session's key, to inspect
// (attestkms verify-evidence) or to send elsewhere; attestkms is not called.
func attestCommand() *command {
	return &command{
		name: "attest",
		run: func(_ context.Context, s *enclave.Session, out *output) error {
			doc, err := s.Attestor.Attest(s.Key.PublicKeyDER(), nil, nil)
			if err != nil {
				return err
			}
			return out.result("DOCUMENT", doc)
		},
	}
}
