package nitro

import (
	"crypto/rsa"
	"fmt"

	"github.com/attestkms/attestkms/attest"
)

// enclaveKey judges the document's public_key (QingTian: or pubkey) with
// attest.ParseBoundKey: an RSA key (returned), a P-256 key or the digest of
// an ML-KEM key (for HPKE; nil), with its type. (Such a key takes at most 550
// bytes; the field is bounded only by the document, so that a key too big is
// refused as a key, with its size in bits.)
func enclaveKey(d *document) (*rsa.PublicKey, string, error) {
	if d.publicKey == nil {
		return nil, "none", fmt.Errorf("%w: the document carries no public_key", attest.ErrKey)
	}
	return attest.ParseBoundKey(d.publicKey)
}
