package nitro

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/attestkms/attestkms/attest"
)

// Bounds on the enclave's key: secrets are wrapped to it with
// RSAES-OAEP-SHA-256, as AWS KMS does for a Recipient.
const (
	// minRSABits: shorter keys are breakable or soon will be.
	minRSABits = 2048
	// maxRSABits: the largest key AWS KMS accepts for a Recipient; larger
	// ones only cost us time.
	maxRSABits = 4096
)

// enclaveKey returns the document's public_key (QingTian: or pubkey) as an
// RSA key, or an attest.ErrKey error: it must be a DER SubjectPublicKeyInfo,
// nothing after it, of an RSA key of 2048 to 4096 bits with an odd modulus
// and an odd exponent of at least 3. (Such a key takes at most 550 bytes; the
// field is bounded only by the document, so that a key too big is refused as
// a key, with its size in bits.)
func enclaveKey(d *document) (*rsa.PublicKey, error) {
	if d.publicKey == nil {
		return nil, fmt.Errorf("%w: the document carries no public_key", attest.ErrKey)
	}
	pub, err := x509.ParsePKIXPublicKey(d.publicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: public_key (%d bytes) is not the DER SubjectPublicKeyInfo of a supported key%s", attest.ErrKey, len(d.publicKey), trailing(err))
	}
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: public_key is not an RSA key but %s; secrets are wrapped to RSA keys only", attest.ErrKey, keyType(pub))
	}
	if n := k.N.BitLen(); n < minRSABits || n > maxRSABits {
		return nil, fmt.Errorf("%w: public_key is RSA-%d; want %d to %d bits", attest.ErrKey, n, minRSABits, maxRSABits)
	}
	if k.N.Bit(0) == 0 {
		return nil, fmt.Errorf("%w: public_key's RSA modulus is even", attest.ErrKey)
	}
	if k.E < 3 || k.E%2 == 0 {
		return nil, fmt.Errorf("%w: public_key's RSA exponent %d is not an odd number of at least 3", attest.ErrKey, k.E)
	}
	return k, nil
}

func keyType(pub any) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	case *ecdh.PublicKey:
		return "X25519"
	default:
		return fmt.Sprintf("%T", pub)
	}
}

// trailing names the one x509 parse failure worth telling apart: a valid key
// followed by more bytes. (asn1's other messages are long and say little.)
func trailing(err error) string {
	if strings.Contains(err.Error(), "trailing data") {
		return ": it has trailing data"
	}
	return ""
}
