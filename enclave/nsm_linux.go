//go:build linux

package enclave

import (
	"errors"
	"fmt"

	"github.com/hf/nsm"
	"github.com/hf/nsm/request"
)

// NSM is the Attestor of an AWS Nitro Enclave: the /dev/nsm device.
type NSM struct{}

// Attest asks the Nitro Secure Module for a document binding the key.
func (NSM) Attest(publicKeyDER, nonce, userData []byte) ([]byte, error) {
	s, err := nsm.OpenDefaultSession()
	if err != nil {
		return nil, fmt.Errorf("opening /dev/nsm (is this a Nitro Enclave?): %w", err)
	}
	defer s.Close()
	res, err := s.Send(&request.Attestation{PublicKey: publicKeyDER, Nonce: nonce, UserData: userData})
	if err != nil {
		return nil, fmt.Errorf("nsm attestation: %w", err)
	}
	if res.Error != "" {
		return nil, fmt.Errorf("nsm attestation: %s", res.Error)
	}
	if res.Attestation == nil || len(res.Attestation.Document) == 0 {
		return nil, errors.New("nsm attestation: no document in the answer")
	}
	return res.Attestation.Document, nil
}
