package eckeys

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

const (
	// maxPKCS8 bounds ParsePKCS8's input before any parsing.
	maxPKCS8 = 2048
	// maxPKCS8Len is the largest encoding we accept: P-521 with both
	// optional ECPrivateKey fields (a test checks).
	maxPKCS8Len = 250
)

var (
	tagECParameters = cbasn1.Tag(0).Constructed().ContextSpecific() // ECPrivateKey parameters [0]
	tagECPublicKey  = cbasn1.Tag(1).Constructed().ContextSpecific() // ECPrivateKey publicKey [1]
)

// MarshalPKCS8 returns the DER PKCS #8 PrivateKeyInfo of k, the form of
// GenerateDataKeyPair's PrivateKeyPlaintext, byte for byte as crypto/x509 and
// OpenSSL write it (tests check both; for SM2, OpenSSL 3 and gmsm's smx509):
//
//	PrivateKeyInfo { version 0, { id-ecPublicKey, namedCurve },
//	  OCTET STRING { ECPrivateKey { version 1, OCTET STRING scalar,
//	    [1] BIT STRING uncompressed public point } } }
//
// The curve is named once, in the outer algorithm; the inner parameters [0]
// are omitted (RFC 5915 section 3 allows it). The caller owns the result,
// which holds the scalar, and should zero it when done.
func (k *PrivateKey) MarshalPKCS8() ([]byte, error) {
	switch {
	case k.nist != nil:
		// crypto/x509 writes the same bytes for the *ecdh.PrivateKey as for
		// the equivalent *ecdsa.PrivateKey (a test checks), without making
		// another copy of the scalar in a big.Int.
		der, err := x509.MarshalPKCS8PrivateKey(k.nist)
		if err != nil {
			return nil, fmt.Errorf("marshaling %s private key: %w", k.curve, err)
		}
		return der, nil
	case k.sm2 != nil:
		scalar := k.sm2.Bytes() // a copy: gmsm's own stays out of reach
		defer clear(scalar)
		return marshalPKCS8(SM2.params(), scalar, k.pub.point, false, true)
	case k.k1 != nil:
		return marshalPKCS8(Secp256k1.params(), k.k1[:], k.pub.point, false, true)
	}
	return nil, ErrDestroyed
}

// marshalPKCS8 writes the PKCS #8 shape above, with or without the optional
// ECPrivateKey fields (tests build the variants ParsePKCS8 accepts with it).
// The whole encoding is built in one buffer of fixed capacity, so no partial
// copy of the scalar is left behind by a reallocation.
func marshalPKCS8(p *curveParams, scalar, point []byte, withParams, withPublic bool) ([]byte, error) {
	b := cryptobyte.NewBuilder(make([]byte, 0, 2*maxPKCS8Len))
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(0)
		addAlgorithm(b, p.oid)
		b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1OctetString(scalar)
				if withParams {
					b.AddASN1(tagECParameters, func(b *cryptobyte.Builder) {
						b.AddASN1ObjectIdentifier(p.oid)
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
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("marshaling %s private key: %w", p.curve, err)
	}
	return der, nil
}

// ParsePKCS8 parses a DER PKCS #8 EC private key on one of our curves.
//
// Accepted: exactly the shape MarshalPKCS8 writes, where the ECPrivateKey's
// parameters [0] may also be present (then naming the same curve as the outer
// algorithm) and its publicKey [1] may be absent (if present it must be the
// uncompressed point of the scalar). So each key has four accepted encodings,
// and MarshalPKCS8 returns the canonical one.
//
// Refused, as ErrInvalidPrivateKey (with ErrUnsupported for an unknown named
// curve): input over 2 KiB, BER, trailing bytes anywhere, PKCS #8 version 1
// (OneAsymmetricKey) and attributes (no producer we interoperate with writes
// them), other algorithms, explicit curve parameters, a scalar that is not
// exactly the curve's length (RFC 5915: ceiling(log2(n)/8) bytes) or not in
// [1, n-1] ([1, n-2] for SM2), and an embedded public key that does not match.
func ParsePKCS8(der []byte) (*PrivateKey, error) {
	if len(der) > maxPKCS8 {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidPrivateKey, len(der), maxPKCS8)
	}
	p, scalar, point, err := parsePKCS8Structure(der)
	if err != nil {
		return nil, err
	}
	k, err := newPrivateKey(p, scalar)
	if err != nil {
		return nil, err
	}
	if point != nil && !bytes.Equal(point, k.pub.point) {
		k.Destroy()
		return nil, fmt.Errorf("%w: embedded %s public key does not match the private scalar", ErrInvalidPrivateKey, p.curve)
	}
	return k, nil
}

// parsePKCS8Structure reads the PKCS #8 and ECPrivateKey structures and
// returns the curve, the scalar bytes (aliasing der) and the embedded public
// point, nil if absent.
func parsePKCS8Structure(der []byte) (p *curveParams, scalar, point []byte, err error) {
	bad := func(format string, args ...any) (*curveParams, []byte, []byte, error) {
		return nil, nil, nil, fmt.Errorf("%w: "+format, append([]any{ErrInvalidPrivateKey}, args...)...)
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
	if !algOID.Equal(oidPublicKeyEC) {
		return bad("algorithm %s is not id-ecPublicKey", algOID)
	}
	if p, err = readNamedCurve(&alg, ErrInvalidPrivateKey); err != nil {
		return nil, nil, nil, err
	}
	if !alg.Empty() {
		return bad("trailing data in algorithm identifier")
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
		inner, err := readNamedCurve(&params, ErrInvalidPrivateKey)
		if err != nil {
			return nil, nil, nil, err
		}
		if !params.Empty() {
			return bad("trailing data in ECPrivateKey parameters")
		}
		if inner != p {
			return bad("ECPrivateKey names %s, algorithm names %s", inner.curve, p.curve)
		}
	}
	if ecpk.PeekASN1Tag(tagECPublicKey) {
		var pub cryptobyte.String
		if !ecpk.ReadASN1(&pub, tagECPublicKey) {
			return bad("malformed ECPrivateKey publicKey")
		}
		if point, err = readBitString(&pub, ErrInvalidPrivateKey); err != nil {
			return nil, nil, nil, err
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
	return p, s, point, nil
}
