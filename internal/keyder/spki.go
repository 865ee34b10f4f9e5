package keyder

import (
	"encoding/asn1"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// SPKI is a SubjectPublicKeyInfo read as far as its algorithm, unverified:
// enough for a caller to choose which checks to run on the rest. Reading
// the algorithm before the key is checked only chooses the checks.
type SPKI struct {
	// Algorithm is the AlgorithmIdentifier's OID.
	Algorithm asn1.ObjectIdentifier
	params    cryptobyte.String // the AlgorithmIdentifier after its OID
	rest      cryptobyte.String // the SubjectPublicKeyInfo after its AlgorithmIdentifier
}

// ParseSPKI reads SubjectPublicKeyInfo ::= SEQUENCE { algorithm
// AlgorithmIdentifier, subjectPublicKey BIT STRING } as far as the
// algorithm's OID: one DER SEQUENCE with nothing after it (an error saying
// "trailing data" otherwise), starting with a SEQUENCE that starts with an
// OID (ErrNotSPKI otherwise). The rest is read by EC, or by the caller.
func ParseSPKI(der []byte) (*SPKI, error) {
	input := cryptobyte.String(der)
	var spki, alg cryptobyte.String
	var algOID asn1.ObjectIdentifier
	if !input.ReadASN1(&spki, cbasn1.SEQUENCE) {
		return nil, ErrNotSPKI
	}
	if !input.Empty() {
		return nil, fmt.Errorf("trailing data after the SubjectPublicKeyInfo (%d bytes)", len(input))
	}
	if !spki.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&algOID) {
		return nil, ErrNotSPKI
	}
	return &SPKI{Algorithm: algOID, params: alg, rest: spki}, nil
}

// EC reads the rest of an id-ecPublicKey SubjectPublicKeyInfo (the caller
// has checked the algorithm): parameters that are one namedCurve among
// curves (*CurveError for a curve not among them), then a BIT STRING of
// whole bytes holding an uncompressed point of that curve's size, and
// nothing after it. It returns the curve's index in curves and the point
// (a sub-slice of the input), whose place on the curve is unchecked.
func (s *SPKI) EC(curves []Curve) (int, []byte, error) {
	params, rest := s.params, s.rest
	i, err := readNamedCurve(&params, curves)
	if err != nil {
		return 0, nil, err
	}
	point, err := readBitString(&rest, "subjectPublicKey")
	if err != nil {
		return 0, nil, err
	}
	if !rest.Empty() {
		return 0, nil, fmt.Errorf("trailing data in the SubjectPublicKeyInfo (%d bytes)", len(rest))
	}
	if err := checkPoint(curves[i], point); err != nil {
		return 0, nil, err
	}
	return i, point, nil
}

// ParseECSPKI is ParseSPKI, a check that the algorithm is id-ecPublicKey,
// and EC.
func ParseECSPKI(der []byte, curves []Curve) (int, []byte, error) {
	s, err := ParseSPKI(der)
	if err != nil {
		return 0, nil, err
	}
	if !s.Algorithm.Equal(OIDPublicKeyEC) {
		return 0, nil, fmt.Errorf("algorithm %s is not id-ecPublicKey", s.Algorithm)
	}
	return s.EC(curves)
}

// checkPoint refuses, saying which, the encodings of a point that are not
// uncompressed SEC 1 of c's size.
func checkPoint(c Curve, point []byte) error {
	want := 1 + 2*c.Size
	switch {
	case len(point) == 0:
		return fmt.Errorf("empty %s point", c.Name)
	case len(point) == 1 && point[0] == 0:
		return fmt.Errorf("%s point at infinity", c.Name)
	case point[0] == 2 || point[0] == 3:
		return fmt.Errorf("compressed %s point; only uncompressed points are accepted", c.Name)
	case point[0] != 4 || len(point) != want:
		return fmt.Errorf("%s point is not %d bytes, uncompressed (0x04 || X || Y): format byte 0x%02x, %d bytes", c.Name, want, point[0], len(point))
	}
	return nil
}

// MarshalECSPKI writes the one DER SubjectPublicKeyInfo of an EC point:
// id-ecPublicKey with the namedCurve OID as parameters, the point (which
// the caller gives uncompressed) in the BIT STRING. It is what crypto/x509,
// gmsm's smx509 and OpenSSL write (kms/internal/eckeys and recipient test
// it against them).
func MarshalECSPKI(curveOID asn1.ObjectIdentifier, point []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addAlgorithm(b, curveOID)
		addBitString(b, point)
	})
	return b.Bytes()
}
