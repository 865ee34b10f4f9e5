package tpm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/google/go-tpm/tpm2"
)

// Bounds on an attestation key. A quote is only as strong as the key that
// signs it, and an RSA key past 4096 bits only costs us time.
const (
	minAKRSABits = 2048
	maxAKRSABits = 4096
)

// ak is the attestation key of an envelope, parsed but not yet trusted.
type ak struct {
	key crypto.PublicKey // *rsa.PublicKey or *ecdsa.PublicKey, checked by checkAKKey
	// scheme and hash are what the AK's TPMT_PUBLIC says it signs with;
	// zero when there is no ak_public or its scheme is TPM_ALG_NULL (the
	// signer then chooses).
	scheme tpm2.TPMAlgID
	hash   tpm2.TPMAlgID
	cert   *x509.Certificate // nil without ak_cert
}

// checkAKKey says why k cannot be an attestation key, or returns nil: RSA of
// 2048 to 4096 bits with an odd modulus and an odd exponent of at least 3,
// or ECDSA on P-256 or P-384, the keys TPMs make.
func checkAKKey(k crypto.PublicKey) error {
	switch k := k.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < minAKRSABits || n > maxAKRSABits {
			return fmt.Errorf("the AK is RSA-%d; want %d to %d bits", n, minAKRSABits, maxAKRSABits)
		}
		if k.N.Bit(0) == 0 {
			return errors.New("the AK's RSA modulus is even")
		}
		if k.E < 3 || k.E%2 == 0 {
			return fmt.Errorf("the AK's RSA exponent %d is not an odd number of at least 3", k.E)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Errorf("the AK is ECDSA on %s; want P-256 or P-384", k.Curve.Params().Name)
		}
	default:
		return fmt.Errorf("the AK is a %T; want RSA or ECDSA", k)
	}
	return nil
}

// akName describes an AK key for messages.
func akName(k crypto.PublicKey) string {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	}
	return fmt.Sprintf("%T", k)
}

// parseAK reads the envelope's AK from ak_public and/or ak_cert; with both,
// they must hold the same key. It judges the key and, from ak_public, its
// attributes, but does not decide whether to trust it: see Verifier.trust.
// known, if not nil, is ak_cert's chain as verified before (its leaf is
// used instead of parsing ak_cert again, and is never modified).
func parseAK(e *envelope.Envelope, known *verifiedChain) (*ak, error) {
	var a ak
	if e.AKPublic != nil {
		pub, err := decodeStrict[tpm2.TPMTPublic]("ak_public (TPMT_PUBLIC)", e.AKPublic)
		if err != nil {
			return nil, err
		}
		if err := a.fromPublic(pub); err != nil {
			return nil, err
		}
	}
	if e.AKCert != nil {
		c := known.leafOrNil()
		if c == nil {
			var err error
			if c, err = x509.ParseCertificate(e.AKCert); err != nil {
				return nil, fmt.Errorf("%w: ak_cert: %v", attest.ErrChain, err)
			}
		}
		if err := checkAKKey(c.PublicKey); err != nil {
			return nil, fmt.Errorf("%w: ak_cert: %v", attest.ErrChain, err)
		}
		if a.key != nil && !keysEqual(a.key, c.PublicKey) {
			return nil, fmt.Errorf("%w: ak_public (%s) and ak_cert (%s) are not the same key", attest.ErrChain, akName(a.key), akName(c.PublicKey))
		}
		a.key, a.cert = c.PublicKey, c
	}
	return &a, nil
}

func keysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// fromPublic takes the key and its signing scheme from a TPMT_PUBLIC.
//
// The attributes must be those of an attestation key made inside a TPM:
// restricted and sign (so the TPM signs with it only structures it made
// itself, TPMS_ATTEST with TPM_GENERATED_VALUE among them, and never a
// digest handed in that starts with that value: an unrestricted key could
// sign a forged quote), not decrypt, and fixedTPM, fixedParent and
// sensitiveDataOrigin (the TPM generated the private key and it can never
// leave this TPM: a key that can be duplicated or was imported may exist
// outside one). Every AK template we know sets these (TCG's, go-tpm-tools',
// tpm2_createak's, Google's vTPM's). The attributes are the sender's word
// until a root vouches for the key (ak_cert's CA, or the operator pinning
// it), so this check guards against trusting a wrong key by mistake, not
// against a forger; it is refused as ErrChain, an AK we will not trust.
//
// The rest of the TPMT_PUBLIC must be what a TPM accepts for such a key
// (else ErrMalformed): a nameAlg it knows, no reserved attribute bit, an
// authPolicy empty or of nameAlg's size, no symmetric algorithm, and for
// ECC no KDF; so that no byte of ak_public goes unread.
func (a *ak) fromPublic(p *tpm2.TPMTPublic) error {
	nameAlg, ok := banks[p.NameAlg]
	if !ok {
		return fmt.Errorf("%w: ak_public's nameAlg %s; want SHA1, SHA256, SHA384 or SHA512", attest.ErrMalformed, hashName(p.NameAlg))
	}
	if n := len(p.AuthPolicy.Buffer); n != 0 && n != nameAlg.hash.Size() {
		return fmt.Errorf("%w: ak_public's authPolicy is %d bytes; want 0 or %d", attest.ErrMalformed, n, nameAlg.hash.Size())
	}
	attr := p.ObjectAttributes
	for bit := range attr.Length() {
		if attr.GetReservedBit(bit) {
			return fmt.Errorf("%w: ak_public's objectAttributes set reserved bit %d", attest.ErrMalformed, bit)
		}
	}
	var missing []string
	for _, f := range []struct {
		name string
		ok   bool
	}{
		{"restricted", attr.Restricted},
		{"sign", attr.SignEncrypt},
		{"not decrypt", !attr.Decrypt},
		{"fixedTPM", attr.FixedTPM},
		{"fixedParent", attr.FixedParent},
		{"sensitiveDataOrigin", attr.SensitiveDataOrigin},
	} {
		if !f.ok {
			missing = append(missing, f.name)
		}
	}
	if missing != nil {
		return fmt.Errorf("%w: ak_public is not an attestation key: attributes lack %q", attest.ErrChain, missing)
	}

	var scheme tpm2.TPMAlgID
	var schemeHash tpm2.TPMIAlgHash
	switch p.Type {
	case tpm2.TPMAlgRSA:
		parms, err := p.Parameters.RSADetail()
		if err != nil {
			return fmt.Errorf("%w: ak_public: %v", attest.ErrMalformed, err)
		}
		n, err := p.Unique.RSA()
		if err != nil {
			return fmt.Errorf("%w: ak_public: %v", attest.ErrMalformed, err)
		}
		if parms.Symmetric.Algorithm != tpm2.TPMAlgNull {
			return fmt.Errorf("%w: ak_public: a signing key with a symmetric algorithm", attest.ErrMalformed)
		}
		if int(parms.KeyBits) != 8*len(n.Buffer) {
			return fmt.Errorf("%w: ak_public: keyBits %d but a modulus of %d bytes", attest.ErrMalformed, parms.KeyBits, len(n.Buffer))
		}
		if parms.Exponent > math.MaxInt32 {
			return fmt.Errorf("%w: ak_public: RSA exponent %d", attest.ErrChain, parms.Exponent)
		}
		k, err := tpm2.RSAPub(parms, n) // exponent 0 means 65537
		if err != nil {
			return fmt.Errorf("%w: ak_public: %v", attest.ErrMalformed, err)
		}
		if k.N.BitLen() != int(parms.KeyBits) {
			return fmt.Errorf("%w: ak_public: keyBits %d but a modulus of %d bits", attest.ErrMalformed, parms.KeyBits, k.N.BitLen())
		}
		a.key = k
		scheme = parms.Scheme.Scheme
		switch scheme {
		case tpm2.TPMAlgRSASSA:
			d, err := parms.Scheme.Details.RSASSA()
			if err != nil {
				return fmt.Errorf("%w: ak_public: %v", attest.ErrMalformed, err)
			}
			schemeHash = d.HashAlg
		case tpm2.TPMAlgRSAPSS:
			d, err := parms.Scheme.Details.RSAPSS()
			if err != nil {
				return fmt.Errorf("%w: ak_public: %v", attest.ErrMalformed, err)
			}
			schemeHash = d.HashAlg
		case tpm2.TPMAlgNull:
		default:
			return fmt.Errorf("%w: ak_public: RSA signing scheme 0x%04x; want RSASSA or RSAPSS", attest.ErrChain, uint16(scheme))
		}
	case tpm2.TPMAlgECC:
		parms, err := p.Parameters.ECCDetail()
		if err != nil {
			return fmt.Errorf("%w: ak_public: %v", attest.ErrMalformed, err)
		}
		pt, err := p.Unique.ECC()
		if err != nil {
			return fmt.Errorf("%w: ak_public: %v", attest.ErrMalformed, err)
		}
		if parms.Symmetric.Algorithm != tpm2.TPMAlgNull || parms.KDF.Scheme != tpm2.TPMAlgNull {
			return fmt.Errorf("%w: ak_public: a signing key with a symmetric algorithm or a KDF", attest.ErrMalformed)
		}
		var curve elliptic.Curve
		switch parms.CurveID {
		case tpm2.TPMECCNistP256:
			curve = elliptic.P256()
		case tpm2.TPMECCNistP384:
			curve = elliptic.P384()
		default:
			return fmt.Errorf("%w: ak_public: ECC curve 0x%04x; want P-256 or P-384", attest.ErrChain, uint16(parms.CurveID))
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(pt.X.Buffer) > size || len(pt.Y.Buffer) > size {
			return fmt.Errorf("%w: ak_public: ECC point coordinates of %d and %d bytes on a %d-byte curve", attest.ErrMalformed, len(pt.X.Buffer), len(pt.Y.Buffer), size)
		}
		// Uncompressed form, each coordinate left-padded to its size; the
		// parser refuses a point off the curve or at infinity.
		u := make([]byte, 1+2*size)
		u[0] = 4
		copy(u[1+size-len(pt.X.Buffer):1+size], pt.X.Buffer)
		copy(u[1+2*size-len(pt.Y.Buffer):], pt.Y.Buffer)
		k, err := ecdsa.ParseUncompressedPublicKey(curve, u)
		if err != nil {
			return fmt.Errorf("%w: ak_public: %v", attest.ErrMalformed, err)
		}
		a.key = k
		scheme = parms.Scheme.Scheme
		switch scheme {
		case tpm2.TPMAlgECDSA:
			d, err := parms.Scheme.Details.ECDSA()
			if err != nil {
				return fmt.Errorf("%w: ak_public: %v", attest.ErrMalformed, err)
			}
			schemeHash = d.HashAlg
		case tpm2.TPMAlgNull:
		default:
			return fmt.Errorf("%w: ak_public: ECC signing scheme 0x%04x; want ECDSA", attest.ErrChain, uint16(scheme))
		}
	default:
		return fmt.Errorf("%w: ak_public is a key of type 0x%04x; want RSA or ECC", attest.ErrChain, uint16(p.Type))
	}
	if err := checkAKKey(a.key); err != nil {
		return fmt.Errorf("%w: ak_public: %v", attest.ErrChain, err)
	}
	if scheme != tpm2.TPMAlgNull {
		a.scheme, a.hash = scheme, tpm2.TPMAlgID(schemeHash)
	}
	return nil
}
