package eckeys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

const (
	// maxSPKI bounds ParseSPKI's input before any parsing.
	maxSPKI = 1024
	// maxSPKILen is the largest encoding we accept: P-521 (a test checks).
	maxSPKILen = 158
)

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
	return marshalSPKI(p.curve.params().oid, p.point)
}

// marshalSPKI writes an EC SubjectPublicKeyInfo by hand, for the curves
// crypto/x509 does not know (secp256k1, SM2). Tests check it against
// crypto/x509 on the others, and against gmsm's smx509 and OpenSSL on SM2.
func marshalSPKI(curveOID asn1.ObjectIdentifier, point []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addAlgorithm(b, curveOID)
		addBitString(b, point)
	})
	return b.Bytes()
}

func addAlgorithm(b *cryptobyte.Builder, curveOID asn1.ObjectIdentifier) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidPublicKeyEC)
		b.AddASN1ObjectIdentifier(curveOID)
	})
}

func addBitString(b *cryptobyte.Builder, bits []byte) {
	b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
		b.AddUint8(0) // no unused bits
		b.AddBytes(bits)
	})
}

// ParseSPKI parses a peer's DER SubjectPublicKeyInfo. It accepts exactly the
// encodings MarshalSPKI produces, of points that pass every check in the
// package documentation; anything else is ErrInvalidKey (and also
// ErrUnsupported when the only fault is an unknown named curve).
func ParseSPKI(der []byte) (*PublicKey, error) {
	if len(der) > maxSPKI {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidKey, len(der), maxSPKI)
	}
	p, point, err := parseSPKIStructure(der)
	if err != nil {
		return nil, err
	}
	if err := checkPointEncoding(p, point); err != nil {
		return nil, err
	}
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

// parseSPKIStructure reads SubjectPublicKeyInfo ::= SEQUENCE { algorithm
// AlgorithmIdentifier, subjectPublicKey BIT STRING } strictly (cryptobyte
// refuses indefinite and non-minimal lengths), with algorithm id-ecPublicKey
// and a namedCurve we support. It returns the curve and the point bytes.
func parseSPKIStructure(der []byte) (*curveParams, []byte, error) {
	input := cryptobyte.String(der)
	var spki, alg cryptobyte.String
	var algOID asn1.ObjectIdentifier
	if !input.ReadASN1(&spki, cbasn1.SEQUENCE) {
		return nil, nil, fmt.Errorf("%w: not a DER SubjectPublicKeyInfo", ErrInvalidKey)
	}
	if !input.Empty() {
		return nil, nil, fmt.Errorf("%w: trailing data after the SubjectPublicKeyInfo (%d bytes)", ErrInvalidKey, len(input))
	}
	if !spki.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&algOID) {
		return nil, nil, fmt.Errorf("%w: malformed algorithm identifier", ErrInvalidKey)
	}
	if !algOID.Equal(oidPublicKeyEC) {
		return nil, nil, fmt.Errorf("%w: algorithm %s is not id-ecPublicKey", ErrInvalidKey, algOID)
	}
	p, err := readNamedCurve(&alg, ErrInvalidKey)
	if err != nil {
		return nil, nil, err
	}
	if !alg.Empty() {
		return nil, nil, fmt.Errorf("%w: trailing data in algorithm identifier", ErrInvalidKey)
	}
	point, err := readBitString(&spki, ErrInvalidKey)
	if err != nil {
		return nil, nil, err
	}
	if !spki.Empty() {
		return nil, nil, fmt.Errorf("%w: trailing data in SubjectPublicKeyInfo", ErrInvalidKey)
	}
	return p, point, nil
}

// readNamedCurve reads ECParameters, which must be a namedCurve OID (RFC 5480
// forbids implicitCurve and specifiedCurve) naming a curve we support.
func readNamedCurve(s *cryptobyte.String, kind error) (*curveParams, error) {
	var curveOID asn1.ObjectIdentifier
	if !s.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) {
		return nil, fmt.Errorf("%w: EC parameters are not a named curve", kind)
	}
	if !s.ReadASN1ObjectIdentifier(&curveOID) {
		return nil, fmt.Errorf("%w: malformed curve OID", kind)
	}
	p := curveFromOID(curveOID)
	if p == nil {
		return nil, fmt.Errorf("%w: %w %s", kind, ErrUnsupported, curveOID)
	}
	return p, nil
}

// readBitString reads a BIT STRING of whole bytes and returns its bytes.
func readBitString(s *cryptobyte.String, kind error) ([]byte, error) {
	var bs cryptobyte.String
	var unused uint8
	if !s.ReadASN1(&bs, cbasn1.BIT_STRING) || !bs.ReadUint8(&unused) {
		return nil, fmt.Errorf("%w: malformed BIT STRING", kind)
	}
	if unused != 0 {
		return nil, fmt.Errorf("%w: BIT STRING has %d unused bits", kind, unused)
	}
	return bs, nil
}

// checkPointEncoding refuses, with a message saying which, the encodings of a
// point that are not uncompressed SEC 1 of the curve's size.
func checkPointEncoding(p *curveParams, point []byte) error {
	want := 1 + 2*p.size
	switch {
	case len(point) == 0:
		return fmt.Errorf("%w: empty %s point", ErrInvalidKey, p.curve)
	case len(point) == 1 && point[0] == 0:
		return fmt.Errorf("%w: %s point at infinity", ErrInvalidKey, p.curve)
	case point[0] == 2 || point[0] == 3:
		return fmt.Errorf("%w: compressed %s point; only uncompressed points are accepted", ErrInvalidKey, p.curve)
	case point[0] != 4:
		return fmt.Errorf("%w: %s point has format byte 0x%02x, want 0x04 (uncompressed)", ErrInvalidKey, p.curve, point[0])
	case len(point) != want:
		return fmt.Errorf("%w: uncompressed %s point is %d bytes, want %d", ErrInvalidKey, p.curve, len(point), want)
	}
	return nil
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
// refused here). checkPointEncoding has already refused every other shape.
func parseSM2Point(p *curveParams, point []byte) (*PublicKey, error) {
	pub, err := p.sm2.NewPublicKey(point)
	if err != nil {
		return nil, fmt.Errorf("%w: %s point not on the curve or coordinate not below p: %v", ErrInvalidKey, p.curve, err)
	}
	return &PublicKey{curve: p.curve, point: pub.Bytes(), sm2: pub}, nil
}
