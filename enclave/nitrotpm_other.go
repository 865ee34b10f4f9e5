//go:build !linux

package enclave

import (
	"errors"

	"github.com/google/go-tpm/tpm2/transport"
)

func openNitroTPM() (transport.TPMCloser, error) {
	return nil, errors.New("NitroTPM.Open is nil and there is no /dev/tpm0 outside Linux")
}
