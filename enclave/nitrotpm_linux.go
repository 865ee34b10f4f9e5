//go:build linux

package enclave

import (
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

func openNitroTPM() (transport.TPMCloser, error) { return linuxtpm.Open("/dev/tpm0") }
