//go:build pkcs11 && cgo

package kms

import (
	"errors"

	"github.com/attestkms/attestkms/kms/internal/p11"
	"github.com/attestkms/attestkms/kms/internal/sealer"
)

// PKCS11Supported reports whether this build can use a pkcs11: root key.
const PKCS11Supported = true

// openPKCS11 opens the token key uri names, logging in with pin; create
// generates it in the token (non-extractable) if it does not exist.
func openPKCS11(uri, pin string, create bool) (sealer.KeyWrapper, bool, error) {
	u, err := p11.ParseURI(uri)
	if err != nil {
		return nil, false, err
	}
	if pin == "" {
		return nil, false, errors.New("a pkcs11: root key needs its token's PIN (--pkcs11-pin-file FILE or $ATTESTKMS_PKCS11_PIN)")
	}
	t, err := p11.Open(u, pin)
	if errors.Is(err, p11.ErrNoKey) && create {
		t, err = p11.Generate(u, pin)
		return t, err == nil, err
	}
	return t, false, err
}
