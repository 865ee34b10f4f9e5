package tpm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	_ "crypto/sha256" // quote signatures' hashes
	_ "crypto/sha512"
	"fmt"
	"math/big"

	"github.com/attestkms/attestkms/attest"
	"github.com/google/go-tpm/tpm2"
)

// signature is a quote's TPMT_SIGNATURE, decoded but not verified.
type signature struct {
	scheme tpm2.TPMAlgID // TPM_ALG_RSASSA, TPM_ALG_RSAPSS or TPM_ALG_ECDSA
	alg    tpm2.TPMAlgID // its hash, as the TPM names it
	hash   crypto.Hash
	rsa    []byte   // RSASSA, RSAPSS
	r, s   *big.Int // ECDSA
}

// sigHashes are the hashes a quote may be signed with, and so the hashes of
// its pcrDigest. Never SHA-1: AllowSHA1 admits a SHA-1 PCR bank, whose
// values the signature covers through a digest made with one of these.
var sigHashes = map[tpm2.TPMAlgID]crypto.Hash{
	tpm2.TPMAlgSHA256: crypto.SHA256,
	tpm2.TPMAlgSHA384: crypto.SHA384,
	tpm2.TPMAlgSHA512: crypto.SHA512,
}

var schemeNames = map[tpm2.TPMAlgID]string{
	tpm2.TPMAlgRSASSA: "RSASSA",
	tpm2.TPMAlgRSAPSS: "RSAPSS",
	tpm2.TPMAlgECDSA:  "ECDSA",
}

func schemeName(a tpm2.TPMAlgID) string {
	if n, ok := schemeNames[a]; ok {
		return n
	}
	return fmt.Sprintf("0x%04x", uint16(a))
}

func hashName(a tpm2.TPMAlgID) string {
	if b, ok := banks[a]; ok {
		return b.name
	}
	return fmt.Sprintf("0x%04x", uint16(a))
}

// parseSignature decodes a quote's signature. A signature of another scheme
// (HMAC, ECDAA, SM2, ECSchnorr, none) or with another hash is one we will not
// verify, and so refused as ErrSignature.
func parseSignature(b []byte) (*signature, error) {
	t, err := decodeStrict[tpm2.TPMTSignature]("signature (TPMT_SIGNATURE)", b)
	if err != nil {
		return nil, err
	}
	s := &signature{scheme: t.SigAlg}
	switch t.SigAlg {
	case tpm2.TPMAlgRSASSA, tpm2.TPMAlgRSAPSS:
		var d *tpm2.TPMSSignatureRSA
		if t.SigAlg == tpm2.TPMAlgRSASSA {
			d, err = t.Signature.RSASSA()
		} else {
			d, err = t.Signature.RSAPSS()
		}
		if err != nil {
			return nil, fmt.Errorf("%w: signature: %v", attest.ErrMalformed, err)
		}
		s.alg, s.rsa = d.Hash, d.Sig.Buffer
	case tpm2.TPMAlgECDSA:
		d, err := t.Signature.ECDSA()
		if err != nil {
			return nil, fmt.Errorf("%w: signature: %v", attest.ErrMalformed, err)
		}
		s.alg = d.Hash
		s.r = new(big.Int).SetBytes(d.SignatureR.Buffer)
		s.s = new(big.Int).SetBytes(d.SignatureS.Buffer)
	default:
		return nil, fmt.Errorf("%w: signature scheme %s; want RSASSA, RSAPSS or ECDSA", attest.ErrSignature, schemeName(t.SigAlg))
	}
	h, ok := sigHashes[s.alg]
	if !ok {
		return nil, fmt.Errorf("%w: signature hash %s; want SHA256, SHA384 or SHA512", attest.ErrSignature, hashName(s.alg))
	}
	s.hash = h
	return s, nil
}

// check says whether a can have made s: its key's type, and the scheme and
// hash its TPMT_PUBLIC fixes, if it fixes one (a TPM signs with a
// restricted key's own scheme only).
func (s *signature) check(a *ak) error {
	switch a.key.(type) {
	case *rsa.PublicKey:
		if s.scheme == tpm2.TPMAlgECDSA {
			return fmt.Errorf("%w: an ECDSA signature from an %s AK", attest.ErrSignature, akName(a.key))
		}
	case *ecdsa.PublicKey:
		if s.scheme != tpm2.TPMAlgECDSA {
			return fmt.Errorf("%w: an %s signature from an %s AK", attest.ErrSignature, schemeName(s.scheme), akName(a.key))
		}
	}
	if a.scheme != 0 && (a.scheme != s.scheme || a.hash != s.alg) {
		return fmt.Errorf("%w: signed with %s-%s, but the AK signs with %s-%s", attest.ErrSignature,
			schemeName(s.scheme), hashName(s.alg), schemeName(a.scheme), hashName(a.hash))
	}
	return nil
}

// verify verifies s over msg (the quote's bytes, exactly as the TPM signed
// them) with key, which check has matched to s's scheme.
func (s *signature) verify(key crypto.PublicKey, msg []byte) error {
	h := s.hash.New()
	h.Write(msg)
	digest := h.Sum(nil)
	var ok bool
	switch k := key.(type) {
	case *rsa.PublicKey:
		if s.scheme == tpm2.TPMAlgRSAPSS {
			// TPMs differ in the salt they use (the digest's size, or the
			// most the key allows): any is as good.
			ok = rsa.VerifyPSS(k, s.hash, digest, s.rsa, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
		} else {
			ok = rsa.VerifyPKCS1v15(k, s.hash, digest, s.rsa) == nil
		}
	case *ecdsa.PublicKey:
		ok = ecdsa.Verify(k, digest, s.r, s.s)
	}
	if !ok {
		return fmt.Errorf("%w: the quote's %s-%s signature does not verify with the %s AK", attest.ErrSignature, schemeName(s.scheme), hashName(s.alg), akName(key))
	}
	return nil
}
