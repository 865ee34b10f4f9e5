package recipient

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"

	"github.com/emmansun/gmsm/sm2"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/attestkms/attestkms/internal/keyder"
)

// A public key a caller sends to have a secret wrapped to it (Tencent's
// EncryptionPublicKey) is hostile input like any other: ParsePublicKey reads
// it before anything is decided, and everything it accepts is checked here.

// maxPublicKeyInput bounds ParsePublicKey's input before any parsing: the
// largest key it accepts, RSA-4096 in PEM, is about 800 bytes.
const maxPublicKeyInput = 8 << 10

var (
	oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}  // RFC 8017
	oidPublicKeyEC   = keyder.OIDPublicKeyEC                              // id-ecPublicKey, RFC 5480
	oidSM2Curve      = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}    // sm2p256v1, GM/T 0006
	oidSM2Encrypt    = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301, 3} // sm2encrypt, GM/T 0006
)

// keyNames names, in refusals, the algorithms and curves people send by
// mistake.
var keyNames = map[string]string{
	"1.2.840.113549.1.1.10": "an RSASSA-PSS key",
	"1.2.840.10040.4.1":     "a DSA key",
	"1.2.840.10046.2.1":     "a Diffie-Hellman key",
	"1.3.101.110":           "an X25519 key",
	"1.3.101.111":           "an X448 key",
	"1.3.101.112":           "an Ed25519 key",
	"1.3.101.113":           "an Ed448 key",
	"1.2.840.10045.3.1.7":   "a NIST P-256 key",
	"1.3.132.0.34":          "a NIST P-384 key",
	"1.3.132.0.35":          "a NIST P-521 key",
	"1.3.132.0.10":          "a secp256k1 key",
	"1.3.36.3.3.2.8.1.1.7":  "a brainpoolP256r1 key",
}

// ParsePublicKey reads a PEM ("PUBLIC KEY") or DER SubjectPublicKeyInfo of an
// RSA key of 2048 to 4096 bits (odd modulus, odd public exponent from 3 to
// 2^31-1) or an SM2 key, and returns it as an *rsa.PublicKey or as an
// *ecdsa.PublicKey on gmsm's sm2.P256(). An SM2 key is id-ecPublicKey with
// namedCurve sm2p256v1 (1.2.156.10197.1.301) and an uncompressed point on
// that curve, the form OpenSSL, gmsm and Tencent's GetPublicKey write.
//
// Only one spelling of each key gets through: the input must be the DER that
// crypto/x509 (RSA) or gmsm's smx509 (SM2) writes for the key it holds, with
// nothing before or after it (in PEM: one block, no headers, only whitespace
// around it). Anything else is ErrKey with a message saying what it is: RSA
// outside the size range, a NIST P-256 or other non-SM2 key, a compressed
// point, a point off the curve, a private key, a certificate, a PKCS #1
// RSAPublicKey, several PEM blocks, trailing data, garbage. The key is nil
// whenever the error is not.
func ParsePublicKey(b []byte) (crypto.PublicKey, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty public key", ErrKey)
	}
	if len(b) > maxPublicKeyInput {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrKey, len(b), maxPublicKeyInput)
	}
	der := b
	if bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("-----BEGIN")) {
		var err error
		if der, err = decodePEM(b); err != nil {
			return nil, err
		}
	}
	return parseSPKI(der)
}

// decodePEM returns the contents of the one PEM block b holds, which must be
// a PUBLIC KEY.
func decodePEM(b []byte) ([]byte, error) {
	// pem.Decode skips whatever does not parse, a malformed first block
	// included, to the next BEGIN line: one BEGIN line in all, or no block.
	if bytes.Count(b, []byte("-----BEGIN")) > 1 {
		return nil, fmt.Errorf("%w: several PEM blocks; send one PUBLIC KEY block", ErrKey)
	}
	block, rest := pem.Decode(b)
	if block == nil {
		if der, ok := oneLinePEM(b); ok {
			return der, nil
		}
	}
	switch {
	case block == nil:
		return nil, fmt.Errorf("%w: malformed PEM", ErrKey)
	case len(bytes.TrimSpace(rest)) != 0:
		return nil, fmt.Errorf("%w: %d bytes of data after the PEM block", ErrKey, len(bytes.TrimSpace(rest)))
	case block.Type != "PUBLIC KEY":
		return nil, fmt.Errorf("%w: %s; want a PEM PUBLIC KEY block (a SubjectPublicKeyInfo)", ErrKey, pemTypeName(block.Type))
	case len(block.Headers) != 0:
		return nil, fmt.Errorf("%w: PEM block with headers (encrypted?); a PUBLIC KEY block has none", ErrKey)
	}
	return block.Bytes, nil
}

// oneLinePEM reads a PUBLIC KEY block written on one line, the base64 body
// separated from the markers by spaces, as Tencent's KMS documentation shows
// EncryptionPublicKey ("-----BEGIN PUBLIC KEY----- MFkw… -----END PUBLIC
// KEY-----"), which encoding/pem refuses. Only that form: the two markers
// once each, strict base64 between them once whitespace is removed.
func oneLinePEM(b []byte) ([]byte, bool) {
	const begin, end = "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"
	t := bytes.TrimSpace(b)
	if !bytes.HasPrefix(t, []byte(begin)) || !bytes.HasSuffix(t, []byte(end)) || bytes.Count(t, []byte("-----")) != 4 {
		return nil, false
	}
	body := t[len(begin) : len(t)-len(end)]
	compact := make([]byte, 0, len(body))
	for _, c := range body {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			compact = append(compact, c)
		}
	}
	der, err := base64.StdEncoding.Strict().DecodeString(string(compact))
	return der, err == nil && len(der) > 0
}

func pemTypeName(typ string) string {
	switch typ {
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "SM2 PRIVATE KEY":
		return fmt.Sprintf("a PEM %s block: that is a private key, which must never be sent", typ)
	case "CERTIFICATE":
		return "a PEM CERTIFICATE block: send the certificate's public key (openssl x509 -pubkey -noout)"
	case "RSA PUBLIC KEY":
		return "a PEM RSA PUBLIC KEY block (PKCS #1 RSAPublicKey)"
	}
	if len(typ) > maxEchoedAlgorithm {
		typ = typ[:maxEchoedAlgorithm] + "..."
	}
	return fmt.Sprintf("a PEM %q block", typ)
}

// parseSPKI reads a DER SubjectPublicKeyInfo with internal/keyder, which
// refuses BER and trailing data, and dispatches on the algorithm. Reading the
// algorithm before the key is checked only chooses the checks to run.
func parseSPKI(der []byte) (crypto.PublicKey, error) {
	spki, err := keyder.ParseSPKI(der)
	switch {
	case errors.Is(err, keyder.ErrNotSPKI):
		return nil, fmt.Errorf("%w: %s, not a DER SubjectPublicKeyInfo", ErrKey, classify(der))
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	switch algOID := spki.Algorithm; {
	case algOID.Equal(oidRSAEncryption):
		return parseRSA(der)
	case algOID.Equal(oidPublicKeyEC):
		return parseSM2(der, spki)
	case algOID.Equal(oidSM2Curve), algOID.Equal(oidSM2Encrypt):
		return nil, fmt.Errorf("%w: algorithm %s is an SM2 OID; an SM2 key is id-ecPublicKey with namedCurve %s, as OpenSSL and gmsm write it", ErrKey, algOID, oidSM2Curve)
	default:
		if name, ok := keyNames[algOID.String()]; ok {
			return nil, fmt.Errorf("%w: %s; only RSA and SM2 keys are accepted", ErrKey, name)
		}
		return nil, fmt.Errorf("%w: algorithm %s; only RSA and SM2 keys are accepted", ErrKey, algOID)
	}
}

func parseRSA(der []byte) (crypto.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: RSA SubjectPublicKeyInfo: %v", ErrKey, err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok { // unreachable: crypto/x509 reads rsaEncryption as RSA
		return nil, fmt.Errorf("%w: crypto/x509 read a %T", ErrKey, k)
	}
	if err := checkRSAPublicKey(pub); err != nil {
		return nil, err
	}
	if canonical, err := x509.MarshalPKIXPublicKey(pub); err != nil || !bytes.Equal(canonical, der) {
		return nil, fmt.Errorf("%w: not the canonical DER of an RSA SubjectPublicKeyInfo (missing NULL parameters, or a padded integer)", ErrKey)
	}
	return pub, nil
}

// checkRSAPublicKey checks a caller's RSA key: 2048 to 4096 bits, an odd
// modulus, an odd exponent from 3 to 2^31-1 (what crypto/rsa will encrypt
// to). That the modulus is a product of two large primes cannot be checked;
// it need not be: see the package documentation on unattested keys.
func checkRSAPublicKey(pub *rsa.PublicKey) error {
	if err := checkPublicKey(pub); err != nil {
		return err
	}
	if pub.N.Bit(0) == 0 {
		return fmt.Errorf("%w: RSA modulus is even", ErrKey)
	}
	if pub.E < 3 || pub.E%2 == 0 || pub.E > 1<<31-1 {
		return fmt.Errorf("%w: RSA public exponent %d; want an odd exponent from 3 to 2^31-1", ErrKey, pub.E)
	}
	return nil
}

// sm2Curves is the one elliptic curve ParsePublicKey accepts, as
// internal/keyder reads it.
var sm2Curves = []keyder.Curve{{Name: "SM2", OID: oidSM2Curve, Size: 32}}

// parseSM2 checks the rest of an id-ecPublicKey SubjectPublicKeyInfo:
// internal/keyder, that the namedCurve is sm2p256v1 and nothing else and the
// point uncompressed; gmsm's sm2.NewPublicKey, that it is on the curve and
// below p in both coordinates; then that the whole is the DER smx509 would
// write.
func parseSM2(der []byte, spki *keyder.SPKI) (crypto.PublicKey, error) {
	_, point, err := spki.EC(sm2Curves)
	if ce := (*keyder.CurveError)(nil); errors.As(err, &ce) {
		if name, ok := keyNames[ce.OID.String()]; ok {
			return nil, fmt.Errorf("%w: %s; the only elliptic curve accepted is SM2", ErrKey, name)
		}
		return nil, fmt.Errorf("%w: EC key on curve %s; the only elliptic curve accepted is SM2", ErrKey, ce.OID)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	pub, err := sm2.NewPublicKey(point)
	if err != nil {
		return nil, fmt.Errorf("%w: SM2 point not on the curve or a coordinate not below p", ErrKey)
	}
	if !bytes.Equal(marshalSM2SPKI(pub), der) {
		return nil, fmt.Errorf("%w: not the canonical DER of an SM2 SubjectPublicKeyInfo", ErrKey)
	}
	return pub, nil
}

// marshalSM2SPKI writes the one SubjectPublicKeyInfo of an SM2 key, as
// smx509 and OpenSSL write it (a test checks both).
func marshalSM2SPKI(pub *ecdsa.PublicKey) []byte {
	der, err := keyder.MarshalECSPKI(oidSM2Curve, sm2PointBytes(pub))
	if err != nil {
		panic(err) // unreachable: a 65-byte point under an OID always encodes
	}
	return der
}

// sm2PointBytes is 0x04 || X || Y; callers have checked that both fit.
//
// gmsm's SM2 keys are *ecdsa.PublicKey on sm2.P256(), a curve crypto/ecdsa's
// Bytes and ParseUncompressedPublicKey do not take, so the coordinates that
// Go 1.26 deprecates are the only way to a point; they are read here and in
// checkSM2PublicKey, never modified.
func sm2PointBytes(pub *ecdsa.PublicKey) []byte {
	//lint:ignore SA1019 SM2 keys have no other encoding in gmsm; read, not modified (see above)
	x, y := pub.X, pub.Y
	out := make([]byte, 65)
	out[0] = 4
	x.FillBytes(out[1:33])
	y.FillBytes(out[33:])
	return out
}

// checkSM2PublicKey checks a caller's *ecdsa.PublicKey as ParsePublicKey
// checks a parsed one: on sm2.P256(), coordinates in range, on the curve.
func checkSM2PublicKey(pub *ecdsa.PublicKey) error {
	if pub == nil {
		return fmt.Errorf("%w: no public key", ErrKey)
	}
	//lint:ignore SA1019 SM2 keys have no other encoding in gmsm; read, not modified (sm2PointBytes)
	x, y := pub.X, pub.Y
	switch {
	case x == nil || y == nil:
		return fmt.Errorf("%w: no public key", ErrKey)
	case pub.Curve != sm2.P256():
		name := "unknown"
		if pub.Curve != nil && pub.Curve.Params() != nil {
			name = pub.Curve.Params().Name
		}
		return fmt.Errorf("%w: elliptic-curve key on %s; the only curve accepted is SM2", ErrKey, name)
	case x.Sign() < 0 || y.Sign() < 0 || x.BitLen() > 256 || y.BitLen() > 256:
		return fmt.Errorf("%w: SM2 coordinate out of range", ErrKey)
	}
	if _, err := sm2.NewPublicKey(sm2PointBytes(pub)); err != nil {
		return fmt.Errorf("%w: SM2 point not on the curve", ErrKey)
	}
	return nil
}

// classify names what a DER blob that is not a SubjectPublicKeyInfo looks
// like, from its outer structure only (no key is parsed, so hostile input
// costs little), for the refusal to say what was sent.
func classify(der []byte) string {
	s := cryptobyte.String(der)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return "not DER"
	}
	switch {
	case seq.PeekASN1Tag(cbasn1.SEQUENCE):
		// A certificate: its tbsCertificate starts with [0] version or
		// with the serial INTEGER.
		var tbs cryptobyte.String
		if seq.ReadASN1(&tbs, cbasn1.SEQUENCE) && (tbs.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) || tbs.PeekASN1Tag(cbasn1.INTEGER)) {
			return "an X.509 certificate (send its public key only)"
		}
	case seq.PeekASN1Tag(cbasn1.INTEGER):
		var n big.Int
		if !seq.ReadASN1Integer(&n) {
			break
		}
		small := n.IsInt64() && n.Int64() >= 0 && n.Int64() <= 1
		switch {
		case small && seq.PeekASN1Tag(cbasn1.SEQUENCE):
			return "a PKCS #8 private key, which must never be sent"
		case small && n.Int64() == 1 && seq.PeekASN1Tag(cbasn1.OCTET_STRING):
			return "a SEC 1 EC private key, which must never be sent"
		case small && n.Int64() == 0 && seq.PeekASN1Tag(cbasn1.INTEGER):
			return "a PKCS #1 RSA private key, which must never be sent"
		case seq.PeekASN1Tag(cbasn1.INTEGER):
			var e big.Int
			if seq.ReadASN1Integer(&e) && seq.Empty() {
				return "a PKCS #1 RSAPublicKey (send it as a SubjectPublicKeyInfo: openssl rsa -RSAPublicKey_in -pubout)"
			}
		}
	}
	return "an unknown structure"
}
