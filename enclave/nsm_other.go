//go:build !linux

package enclave

import "errors"

// NSM is the Attestor of an AWS Nitro Enclave; it exists only on Linux.
type NSM struct{}

// Attest fails: /dev/nsm exists only in a Nitro Enclave (Linux).
func (NSM) Attest(publicKeyDER, nonce, userData []byte) ([]byte, error) {
	return nil, errors.New("the Nitro Secure Module exists only in a Nitro Enclave (Linux)")
}
