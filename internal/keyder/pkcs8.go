package keyder

import (
	"encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	tagECParameters = cbasn1.Tag(0).Constructed().ContextSpecific() // ECPrivateKey parameters [0]
	tagECPublicKey  = cbasn1.Tag(1).Constructed().ContextSpecific() // ECPrivateKey publicKey [1]
)

// ParseECPKCS8 reads a DER PKCS #8 PrivateKeyInfo of an EC key on one of
// curves and returns the curve's index, the scalar bytes and the embedded
// public point (sub-slices of der; point is nil when absent, and empty, not
// nil, when present but empty, so that it is still compared).
//
// Accepted: PKCS #8 version 0 without attributes, algorithm id-ecPublicKey
// with one namedCurve among curves, holding one RFC 5915 ECPrivateKey
// version 1 whose parameters [0], if present, name the same curve, and
// whose publicKey [1], if present, is a BIT STRING of whole bytes; nothing
// else, in that order, and nothing after. Refused: BER, trailing bytes
// anywhere, PKCS #8 version 1 (OneAsymmetricKey) and attributes (no
// producer we interoperate with writes them), other algorithms, explicit
// curve parameters, a curve not among curves (*CurveError). The scalar's
// length and range, and the point's agreement with it, are the caller's
// checks.
func ParseECPKCS8(der []byte, curves []Curve) (curve int, scalar, point []byte, err error) {
	bad := func(format string, args ...any) (int, []byte, []byte, error) {
		return 0, nil, nil, fmt.Errorf(format, args...)
	}
	input := cryptobyte.String(der)
	var pki, alg, octet, ecpk cryptobyte.String
	var version int64
	var algOID asn1.ObjectIdentifier
	if !input.ReadASN1(&pki, cbasn1.SEQUENCE) {
		return bad("not a DER PKCS #8 PrivateKeyInfo")
	}
	if !input.Empty() {
		return bad("trailing data after the PrivateKeyInfo (%d bytes)", len(input))
	}
	if !pki.ReadASN1Integer(&version) {
		return bad("malformed PKCS #8 version")
	}
	if version != 0 {
		return bad("PKCS #8 version %d; only version 0 is accepted", version)
	}
	if !pki.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&algOID) {
		return bad("malformed algorithm identifier")
	}
	if !algOID.Equal(OIDPublicKeyEC) {
		return bad("algorithm %s is not id-ecPublicKey", algOID)
	}
	if curve, err = readNamedCurve(&alg, curves); err != nil {
		return 0, nil, nil, err
	}
	if !pki.ReadASN1(&octet, cbasn1.OCTET_STRING) {
		return bad("malformed privateKey OCTET STRING")
	}
	if !pki.Empty() {
		return bad("fields after privateKey (attributes, public key) are not accepted")
	}

	// RFC 5915 ECPrivateKey.
	if !octet.ReadASN1(&ecpk, cbasn1.SEQUENCE) || !octet.Empty() {
		return bad("privateKey is not one DER ECPrivateKey")
	}
	if !ecpk.ReadASN1Integer(&version) || version != 1 {
		return bad("ECPrivateKey version is not 1")
	}
	var s cryptobyte.String
	if !ecpk.ReadASN1(&s, cbasn1.OCTET_STRING) {
		return bad("malformed ECPrivateKey privateKey")
	}
	if ecpk.PeekASN1Tag(tagECParameters) {
		var params cryptobyte.String
		if !ecpk.ReadASN1(&params, tagECParameters) {
			return bad("malformed ECPrivateKey parameters")
		}
		inner, err := readNamedCurve(&params, curves)
		if err != nil {
			var ce *CurveError
			if errors.As(err, &ce) {
				return 0, nil, nil, err
			}
			return bad("ECPrivateKey parameters: %v", err)
		}
		if inner != curve {
			return bad("ECPrivateKey names %s, algorithm names %s", curves[inner].Name, curves[curve].Name)
		}
	}
	if ecpk.PeekASN1Tag(tagECPublicKey) {
		var pub cryptobyte.String
		if !ecpk.ReadASN1(&pub, tagECPublicKey) {
			return bad("malformed ECPrivateKey publicKey")
		}
		if point, err = readBitString(&pub, "ECPrivateKey publicKey"); err != nil {
			return 0, nil, nil, err
		}
		if !pub.Empty() {
			return bad("trailing data in ECPrivateKey publicKey")
		}
		if point == nil {
			point = []byte{} // present but empty: must still be compared
		}
	}
	if !ecpk.Empty() {
		return bad("trailing data in ECPrivateKey")
	}
	return curve, s, point, nil
}

// MarshalECPKCS8 writes the PKCS #8 shape ParseECPKCS8 reads, as
// crypto/x509 and OpenSSL write it when withParams is false and withPublic
// true:
//
//	PrivateKeyInfo { version 0, { id-ecPublicKey, namedCurve },
//	  OCTET STRING { ECPrivateKey { version 1, OCTET STRING scalar,
//	    [0] namedCurve (withParams), [1] BIT STRING point (withPublic) } } }
//
// The whole encoding is built in one buffer allocated once, large enough
// that no reallocation leaves a partial copy of the scalar behind. The
// caller owns the result, which holds the scalar, and should zero it.
func MarshalECPKCS8(curveOID asn1.ObjectIdentifier, scalar, point []byte, withParams, withPublic bool) ([]byte, error) {
	b := cryptobyte.NewBuilder(make([]byte, 0, 128+2*(len(scalar)+len(point))))
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(0)
		addAlgorithm(b, curveOID)
		b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1OctetString(scalar)
				if withParams {
					b.AddASN1(tagECParameters, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(curveOID)
					})
				}
				if withPublic {
					b.AddASN1(tagECPublicKey, func(b *cryptobyte.Builder) {
						addBitString(b, point)
					})
				}
			})
		})
	})
	return b.Bytes()
}
