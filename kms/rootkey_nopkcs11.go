//go:build !(pkcs11 && cgo)

package kms

import (
	"errors"

	"github.com/attestkms/attestkms/kms/internal/sealer"
)

// errNoPKCS11 is why a build without the pkcs11 tag refuses a pkcs11: root
// key: the binding needs cgo, which the default, static build leaves out.
var errNoPKCS11 = errors.New("this attestkms was built without PKCS#11 support: build it with CGO_ENABLED=1 go build -tags pkcs11 ./cmd/attestkms")

// PKCS11Supported reports whether this build can use a pkcs11: root key.
const PKCS11Supported = false

func openPKCS11(uri, pin string, create bool) (sealer.KeyWrapper, bool, error) {
	return nil, false, errNoPKCS11
}
