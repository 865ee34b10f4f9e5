package attest

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"math/big"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Bounds on an enclave's RSA key (ParseBoundKey): secrets are wrapped to it
// with RSAES-OAEP-SHA-256, as AWS KMS does for a Recipient.
const (
	// MinRSABits: shorter keys are breakable or soon will be.
	MinRSABits = 2048
	// MaxRSABits: the largest key AWS KMS accepts for a Recipient; larger
	// ones only cost us time.
	MaxRSABits = 4096
)

// parseError is ParseBoundKey's refusal of der, which crypto/x509 does not
// parse.
func parseError(der []byte, err error) error {
	return fmt.Errorf("%w: public_key (%d bytes) is not the DER SubjectPublicKeyInfo of a supported key%s", ErrKey, len(der), trailing(err))
}

// checkRSA is ParseBoundKey's judgement of an RSA key: secrets are wrapped
// to it with RSAES-OAEP-SHA-256, as AWS KMS does for a Recipient.
func checkRSA(k *rsa.PublicKey) error {
	if n := k.N.BitLen(); n < MinRSABits || n > MaxRSABits {
		return fmt.Errorf("%w: public_key is RSA-%d; want %d to %d bits", ErrKey, n, MinRSABits, MaxRSABits)
	}
	if k.N.Bit(0) == 0 {
		return fmt.Errorf("%w: public_key's RSA modulus is even", ErrKey)
	}
	if k.E < 3 || k.E%2 == 0 {
		return fmt.Errorf("%w: public_key's RSA exponent %d is not an odd number of at least 3", ErrKey, k.E)
	}
	return nil
}

// KeyTypeDigest is the KeyType of a public_key of exactly 32 bytes: the
// SHA-256 of an HPKE ML-KEM-768+X25519 public key too big for the evidence
// (1216 bytes; a Nitro document's public_key holds 1024), which the
// Recipient carries whole and the key service matches against this digest.
const KeyTypeDigest = "SHA-256 digest"

// hpkeKeyDigestLen is the length of such a digest.
const hpkeKeyDigestLen = 32

// ParseBoundKey judges the key that evidence binds, for every format (each
// verifier judges its key with this one function): the DER
// SubjectPublicKeyInfo, nothing after it, of an RSA key of MinRSABits to
// MaxRSABits bits with an odd modulus and an odd exponent of at least 3
// (returned, with its type "RSA-n"); that of an EC P-256 key, for HPKE (rsa
// nil, type "EC P-256"); or 32 bytes, the SHA-256 of an ML-KEM-768+X25519
// key (rsa nil, type KeyTypeDigest). Which algorithm a key may receive a
// secret with is the key service's to check; anything else is an ErrKey
// error.
func ParseBoundKey(der []byte) (key *rsa.PublicKey, typ string, err error) {
	if der == nil {
		return nil, "none", fmt.Errorf("%w: the evidence carries no public_key", ErrKey)
	}
	if len(der) == hpkeKeyDigestLen {
		// No SubjectPublicKeyInfo is 32 bytes long: this is a digest.
		return nil, KeyTypeDigest, nil
	}
	// One parse serves every judgement below.
	var pub any
	if k := parseRSASPKI(der); k != nil {
		pub = k
	} else if pub, err = x509.ParsePKIXPublicKey(der); err != nil {
		return nil, "invalid", parseError(der, err)
	}
	if ek, ok := pub.(*ecdsa.PublicKey); ok && ek.Curve.Params().Name == "P-256" {
		if _, err := ek.ECDH(); err != nil {
			return nil, "invalid", fmt.Errorf("%w: public_key is not a valid P-256 point", ErrKey)
		}
		return nil, "EC P-256", nil
	}
	typ = parsedKeyType(pub)
	k, isRSA := pub.(*rsa.PublicKey)
	if !isRSA {
		return nil, typ, fmt.Errorf("%w: public_key is %s; secrets are wrapped to RSA keys of %d to %d bits (RSAES_OAEP_SHA_256), EC P-256 keys (HPKE_P256_SHA256_AES256GCM) or the 32-byte SHA-256 of an ML-KEM-768+X25519 key (HPKE_MLKEM768X25519_SHA256_AES256GCM) only", ErrKey, typ, MinRSABits, MaxRSABits)
	}
	if err := checkRSA(k); err != nil {
		return nil, typ, err
	}
	return k, typ, nil
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
	return parsedKeyType(pub)
}

// parsedKeyType is KeyType of a key crypto/x509 parsed.
func parsedKeyType(pub any) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "EC " + k.Curve.Params().Name
	}
	return keyType(pub)
}

// rsaEncryption is the AlgorithmIdentifier's content an RSA
// SubjectPublicKeyInfo carries: the OID 1.2.840.113549.1.1.1 and NULL
// parameters (RFC 3279), the only form crypto/x509 takes for RSA.
var rsaEncryption = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00}

// parseRSASPKI is x509.ParsePKIXPublicKey for the one shape enclaves send
// (every attested request parses its key): a DER SubjectPublicKeyInfo of
// rsaEncryption with NULL parameters, a bit string without unused bits
// holding exactly SEQUENCE { INTEGER n > 0, INTEGER e > 0 }, nothing after
// either. It returns nil for anything else, and the caller asks crypto/x509,
// whose decision stands: so it must accept only what x509 accepts, with the
// same key (FuzzParseRSASPKI), and it is stricter (x509 ignores bytes after
// the key's SEQUENCE and after e). x509 spends most of its time in
// encoding/asn1's reflection over the SubjectPublicKeyInfo.
func parseRSASPKI(der []byte) *rsa.PublicKey {
	s := cryptobyte.String(der)
	var spki, alg, bits, key cryptobyte.String
	if !s.ReadASN1(&spki, cbasn1.SEQUENCE) || !s.Empty() ||
		!spki.ReadASN1(&alg, cbasn1.SEQUENCE) || !bytes.Equal(alg, rsaEncryption) ||
		!spki.ReadASN1(&bits, cbasn1.BIT_STRING) || !spki.Empty() ||
		len(bits) < 1 || bits[0] != 0 {
		return nil
	}
	bits = bits[1:]
	if !bits.ReadASN1(&key, cbasn1.SEQUENCE) || !bits.Empty() {
		return nil
	}
	n := new(big.Int)
	var e int
	if !key.ReadASN1Integer(n) || n.Sign() <= 0 || !key.ReadASN1Integer(&e) || e <= 0 || !key.Empty() {
		return nil
	}
	return &rsa.PublicKey{N: n, E: e}
}
