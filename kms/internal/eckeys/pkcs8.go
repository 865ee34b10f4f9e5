package eckeys

import (
	"bytes"
	"crypto/x509"
	"fmt"

	"github.com/attestkms/attestkms/internal/keyder"
)

// maxPKCS8 bounds ParsePKCS8's input before any parsing; the largest
// encoding accepted is 250 bytes, P-521 with both optional ECPrivateKey
// fields (maxPKCS8Len in the tests).
const maxPKCS8 = 2048

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

// marshalPKCS8 writes the PKCS #8 shape above with internal/keyder, with or
// without the optional ECPrivateKey fields (tests build the variants
// ParsePKCS8 accepts with it). keyder builds the whole encoding in one
// buffer, so no partial copy of the scalar is left behind by a reallocation.
func marshalPKCS8(p *curveParams, scalar, point []byte, withParams, withPublic bool) ([]byte, error) {
	der, err := keyder.MarshalECPKCS8(p.oid, scalar, point, withParams, withPublic)
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
// internal/keyder reads the structure; the scalar's length and range and the
// embedded public key's agreement with it are checked here.
func ParsePKCS8(der []byte) (*PrivateKey, error) {
	if len(der) > maxPKCS8 {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidPrivateKey, len(der), maxPKCS8)
	}
	i, scalar, point, err := keyder.ParseECPKCS8(der, derCurves)
	if err != nil {
		return nil, derError(ErrInvalidPrivateKey, err)
	}
	p := curves[i]
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
