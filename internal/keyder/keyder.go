// Package keyder reads and writes the DER encodings of elliptic-curve keys:
// SubjectPublicKeyInfo (RFC 5480, id-ecPublicKey with a namedCurve, the
// point in the BIT STRING) and PKCS #8 PrivateKeyInfo holding an RFC 5915
// ECPrivateKey. It is the one parser of those encodings for every package
// that takes them from an attacker: kms/internal/eckeys (the peer public key
// of DeriveSharedSecret; key material unsealed from the store, parsed as
// strictly) and recipient (an SM2 EncryptionPublicKey a Tencent caller
// sends).
//
// Threat model. Every byte given to a Parse function is the attacker's.
// They read DER only (cryptobyte refuses BER: indefinite or non-minimal
// lengths), refuse trailing data at every level, allocate nothing but the
// OIDs they decode, and return sub-slices of their input. They check the
// structure, that the named curve is one of those the caller lists (and
// nothing else in the parameters), and the point's encoding: uncompressed
// SEC 1 (0x04 || X || Y) of the curve's size, never compressed, hybrid or
// the point at infinity.
//
// What is not checked here, and is the caller's business with the curve's
// own arithmetic: that a point is on its curve with coordinates below p,
// that a scalar is in range, that an embedded public key matches its
// scalar, and that the input was the canonical encoding of what it holds
// (compare it with MarshalECSPKI of the parsed point; the strict DER reading
// leaves little else, but the comparison is what guarantees it). Nor does
// this package bound its input: callers do, before calling (eckeys 1 KiB of
// SubjectPublicKeyInfo and 2 KiB of PKCS #8, recipient 8 KiB of PEM or DER).
//
// Errors carry no kind of their caller's; each caller wraps them in its own
// (eckeys.ErrInvalidKey, recipient.ErrKey). ErrNotSPKI and *CurveError let
// a caller say more: what the bytes look like instead, or which curve it was.
package keyder

import (
	"encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// OIDPublicKeyEC is id-ecPublicKey (RFC 5480), the algorithm of every EC
// key here, SM2 included: SM2 keys are written as OpenSSL 3 and gmsm's
// smx509 write them, id-ecPublicKey with namedCurve sm2p256v1.
var OIDPublicKeyEC = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}

// Curve is a named curve a caller accepts.
type Curve struct {
	Name string                // in messages: "P-256", "SM2", ...
	OID  asn1.ObjectIdentifier // its namedCurve
	Size int                   // bytes of a coordinate, and of a scalar
}

// ErrNotSPKI: the input is not a DER SEQUENCE holding an AlgorithmIdentifier
// with an OID, the start of every SubjectPublicKeyInfo.
var ErrNotSPKI = errors.New("not a DER SubjectPublicKeyInfo")

// CurveError: a well-formed namedCurve that is none of the caller's.
type CurveError struct{ OID asn1.ObjectIdentifier }

func (e *CurveError) Error() string { return "unsupported curve " + e.OID.String() }

// readNamedCurve reads ECParameters, which must be a namedCurve OID (RFC 5480
// forbids implicitCurve and specifiedCurve) and nothing else, naming one of
// curves; it returns the curve's index.
func readNamedCurve(s *cryptobyte.String, curves []Curve) (int, error) {
	var oid asn1.ObjectIdentifier
	if !s.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) {
		return 0, errors.New("EC parameters are not a named curve")
	}
	if !s.ReadASN1ObjectIdentifier(&oid) {
		return 0, errors.New("malformed curve OID")
	}
	if !s.Empty() {
		return 0, errors.New("EC parameters are not one named curve: data after the curve OID")
	}
	for i, c := range curves {
		if c.OID.Equal(oid) {
			return i, nil
		}
	}
	return 0, &CurveError{OID: oid}
}

// readBitString reads a BIT STRING of whole bytes and returns its bytes;
// what names it in errors.
func readBitString(s *cryptobyte.String, what string) ([]byte, error) {
	var bs cryptobyte.String
	var unused uint8
	if !s.ReadASN1(&bs, cbasn1.BIT_STRING) || !bs.ReadUint8(&unused) {
		return nil, fmt.Errorf("malformed %s: not a BIT STRING", what)
	}
	if unused != 0 {
		return nil, fmt.Errorf("malformed %s: BIT STRING has %d unused bits", what, unused)
	}
	return bs, nil
}

func addAlgorithm(b *cryptobyte.Builder, curveOID asn1.ObjectIdentifier) {
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(OIDPublicKeyEC)
		b.AddASN1ObjectIdentifier(curveOID)
	})
}

func addBitString(b *cryptobyte.Builder, bits []byte) {
	b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
		b.AddUint8(0) // no unused bits
		b.AddBytes(bits)
	})
}
