package nitro

import (
	"crypto/rsa"
	"fmt"

	"github.com/attestkms/attestkms/attest"
)

// enclaveKey returns the document's public_key (QingTian: or pubkey) as an
// RSA key, judged by attest.ParseEnclaveKey. (Such a key takes at most 550
// bytes; the field is bounded only by the document, so that a key too big is
// refused as a key, with its size in bits.)
func enclaveKey(d *document) (*rsa.PublicKey, error) {
	if d.publicKey == nil {
		return nil, fmt.Errorf("%w: the document carries no public_key", attest.ErrKey)
	}
	return attest.ParseEnclaveKey(d.publicKey)
}
