package eckeys

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/attestkms/attestkms/internal/keyder"
)

// maxSPKI bounds ParseSPKI's input before any parsing; the largest encoding
// accepted is 158 bytes, P-521 (maxSPKILen in the tests).
const maxSPKI = 1024

// MarshalSPKI returns the DER SubjectPublicKeyInfo of p (RFC 5480: algorithm
// id-ecPublicKey with the namedCurve OID as parameters, the uncompressed point
// in the BIT STRING), as AWS KMS GetPublicKey returns it.
func (p *PublicKey) MarshalSPKI() ([]byte, error) {
	if p == nil || p.point == nil {
		return nil, fmt.Errorf("%w: nil or zero PublicKey", ErrInvalidKey)
	}
	if p.nist != nil {
		der, err := x509.MarshalPKIXPublicKey(p.nist)
		if err != nil {
			return nil, fmt.Errorf("marshaling %s public key: %w", p.curve, err)
		}
		return der, nil
	}
	return marshalSPKI(p.curve.params(), p.point)
}

// marshalSPKI writes an EC SubjectPublicKeyInfo with internal/keyder, for the
// curves crypto/x509 does not know (secp256k1, SM2). Tests check it against
// crypto/x509 on the others, and against gmsm's smx509 and OpenSSL on SM2.
func marshalSPKI(p *curveParams, point []byte) ([]byte, error) {
	der, err := keyder.MarshalECSPKI(p.oid, point)
	if err != nil {
		return nil, fmt.Errorf("marshaling %s public key: %w", p.curve, err)
	}
	return der, nil
}

// ParseSPKI parses a peer's DER SubjectPublicKeyInfo. It accepts exactly the
// encodings MarshalSPKI produces, of points that pass every check in the
// package documentation; anything else is ErrInvalidKey (and also
// ErrUnsupported when the named curve is well-formed but not one of ours).
//
// internal/keyder reads the structure and the point's encoding (strict DER,
// id-ecPublicKey, one named curve of ours, an uncompressed point of its
// size); the curve's own arithmetic then checks the point is on it. The
// common case, an uncompressed P-256 key, is recognised by its one DER
// encoding and its point handed to crypto/ecdh directly (p256Point): the
// same decision for a tenth of the time (spki_p256_test.go compares the two
// paths and crypto/x509).
func ParseSPKI(der []byte) (*PublicKey, error) {
	if len(der) > maxSPKI {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidKey, len(der), maxSPKI)
	}
	if point, ok := p256Point(der); ok {
		return parseP256Point(point)
	}
	return parseSPKI(der)
}

// p256SPKIPrefix is the DER of an uncompressed P-256 SubjectPublicKeyInfo up
// to its point: SEQUENCE (89 bytes) { SEQUENCE (19) { id-ecPublicKey,
// prime256v1 }, BIT STRING (66, no unused bits) }. Every length in it is
// fixed by the 65-byte point that follows, so these 26 bytes and a 65-byte
// point starting 0x04 are the one DER encoding of that point's key: the
// encoding MarshalSPKI writes, and nothing else.
var p256SPKIPrefix = []byte{
	0x30, 0x59, 0x30, 0x13,
	0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, // 1.2.840.10045.2.1
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, // 1.2.840.10045.3.1.7
	0x03, 0x42, 0x00,
}

// p256Point returns the uncompressed point of der when der is exactly
// p256SPKIPrefix and 65 bytes starting 0x04; it reads nothing else. Any
// other input, hostile or of another curve, goes to parseSPKI.
func p256Point(der []byte) ([]byte, bool) {
	if len(der) != len(p256SPKIPrefix)+65 || !bytes.HasPrefix(der, p256SPKIPrefix) || der[len(p256SPKIPrefix)] != 4 {
		return nil, false
	}
	return der[len(p256SPKIPrefix):], true
}

// parseP256Point is parseNISTSPKI for a point p256Point found: crypto/ecdh
// checks that both coordinates are below p and that the point is on P-256
// (an uncompressed encoding cannot be the identity). The canonical-encoding
// check of parseSPKI is not needed: p256Point took only the one encoding.
func parseP256Point(point []byte) (*PublicKey, error) {
	pub, err := ecdh.P256().NewPublicKey(point)
	if err != nil {
		return nil, fmt.Errorf("%w: %s point not on the curve or coordinate not below p", ErrInvalidKey, P256)
	}
	return &PublicKey{curve: P256, point: pub.Bytes(), nist: pub}, nil
}

// parseSPKI is ParseSPKI for any curve and any input: the general path,
// and the reference the P-256 fast path is tested against.
func parseSPKI(der []byte) (*PublicKey, error) {
	i, point, err := keyder.ParseECSPKI(der, derCurves)
	if err != nil {
		return nil, derError(ErrInvalidKey, err)
	}
	p := curves[i]
	var pub *PublicKey
	switch {
	case p.ecdh != nil:
		pub, err = parseNISTSPKI(p, der)
	case p.sm2 != nil:
		pub, err = parseSM2Point(p, point)
	default:
		pub, err = parseK1Point(point)
	}
	if err != nil {
		return nil, err
	}
	// Whatever the parsers above tolerate, only the one canonical encoding
	// of the key gets through: no BER, no padding, no second spelling.
	canonical, err := pub.MarshalSPKI()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canonical, der) {
		return nil, fmt.Errorf("%w: not the canonical DER encoding of a %s key", ErrInvalidKey, p.curve)
	}
	return pub, nil
}

// derError wraps a refusal of internal/keyder in kind, adding ErrUnsupported
// when the fault is a curve that is not ours.
func derError(kind, err error) error {
	var ce *keyder.CurveError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: %w %s", kind, ErrUnsupported, ce.OID)
	}
	return fmt.Errorf("%w: %v", kind, err)
}

// parseNISTSPKI has crypto/x509 decode the key (it checks the point is on the
// curve) and checks that it agrees with our reading of the structure.
func parseNISTSPKI(p *curveParams, der []byte) (*PublicKey, error) {
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidKey, p.curve, err)
	}
	ek, ok := key.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: crypto/x509 read a %T, want *ecdsa.PublicKey", ErrInvalidKey, key)
	}
	if ek.Curve.Params().Name != string(p.curve) {
		return nil, fmt.Errorf("%w: crypto/x509 read curve %s, want %s", ErrInvalidKey, ek.Curve.Params().Name, p.curve)
	}
	pub, err := ek.ECDH()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidKey, p.curve, err)
	}
	return &PublicKey{curve: p.curve, point: pub.Bytes(), nist: pub}, nil
}

// parseSM2Point has gmsm's ecdh check an uncompressed point: both coordinates
// below p and the point on sm2p256v1 (so a NIST P-256 point labelled SM2 is
// refused here). internal/keyder has already refused every other shape.
func parseSM2Point(p *curveParams, point []byte) (*PublicKey, error) {
	pub, err := p.sm2.NewPublicKey(point)
	if err != nil {
		return nil, fmt.Errorf("%w: %s point not on the curve or coordinate not below p: %v", ErrInvalidKey, p.curve, err)
	}
	return &PublicKey{curve: p.curve, point: pub.Bytes(), sm2: pub}, nil
}
