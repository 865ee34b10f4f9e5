package attest

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"strings"
)

// Bounds on an enclave's key: secrets are wrapped to it with
// RSAES-OAEP-SHA-256, as AWS KMS does for a Recipient.
const (
	// MinRSABits: shorter keys are breakable or soon will be.
	MinRSABits = 2048
	// MaxRSABits: the largest key AWS KMS accepts for a Recipient; larger
	// ones only cost us time.
	MaxRSABits = 4096
)

// ParseEnclaveKey returns the enclave key that evidence carries, or an
// ErrKey error: der must be a DER SubjectPublicKeyInfo, nothing after it, of
// an RSA key of 2048 to 4096 bits with an odd modulus and an odd exponent of
// at least 3. Every format's verifier judges its key with this one function.
func ParseEnclaveKey(der []byte) (*rsa.PublicKey, error) {
	if der == nil {
		return nil, fmt.Errorf("%w: the evidence carries no public_key", ErrKey)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: public_key (%d bytes) is not the DER SubjectPublicKeyInfo of a supported key%s", ErrKey, len(der), trailing(err))
	}
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: public_key is not an RSA key but %s; secrets are wrapped to RSA keys only", ErrKey, keyType(pub))
	}
	if n := k.N.BitLen(); n < MinRSABits || n > MaxRSABits {
		return nil, fmt.Errorf("%w: public_key is RSA-%d; want %d to %d bits", ErrKey, n, MinRSABits, MaxRSABits)
	}
	if k.N.Bit(0) == 0 {
		return nil, fmt.Errorf("%w: public_key's RSA modulus is even", ErrKey)
	}
	if k.E < 3 || k.E%2 == 0 {
		return nil, fmt.Errorf("%w: public_key's RSA exponent %d is not an odd number of at least 3", ErrKey, k.E)
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

// KeyType names the key of a DER SubjectPublicKeyInfo, for a person: "RSA-2048",
// "EC P-256", "Ed25519", "X25519", or "invalid" when der is not one.
func KeyType(der []byte) string {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return "invalid"
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "EC " + k.Curve.Params().Name
	}
	return keyType(pub)
}
