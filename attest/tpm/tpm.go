// Package tpm verifies TPM 2.0 quotes carried in an attestkms evidence
// envelope (envelope.Envelope of format "tpm2"): a TPMS_ATTEST quote, its
// TPMT_SIGNATURE as the TPM returned them, the quoted PCRs' values, and the
// attestation key (AK) as its TPMT_PUBLIC (ak_public) and/or its X.509
// certificate (ak_cert) with intermediates (ak_chain).
//
// A Verifier checks, cheap checks first, and stops at the first failure:
//
//  1. the envelope's shape (envelope.Decode, for Verify) and format;
//  2. the enclave's key, public_key (attest.ParseBoundKey: RSA of 2048 to
//     4096 bits, EC P-256, or an ML-KEM key's digest) → ErrKey;
//  3. the signature, quote and ak_public decode, each strictly: all of its
//     bytes, in the TPM's own encoding (see decodeStrict) → ErrMalformed;
//     the signature is RSASSA, RSAPSS or ECDSA with SHA-256, -384 or -512 →
//     ErrSignature; the quote has TPM_GENERATED_VALUE, is of type
//     TPM_ST_ATTEST_QUOTE, and selects PCRs of exactly one bank (SHA-1,
//     -256, -384 or -512), indices 0 to 23 → ErrMalformed;
//  4. the envelope's pcrs are the selected PCRs exactly, each of the bank's
//     digest size → ErrMalformed;
//  5. the AK: ak_public's key and attributes (a restricted signing key that
//     never left its TPM, see ak.fromPublic), ak_cert's key, the same key in
//     both, RSA of 2048 to 4096 bits or ECDSA P-256 or P-384 → ErrChain
//     (ErrMalformed for a TPMT_PUBLIC no TPM would hold); the signature's
//     scheme and hash are the AK's → ErrSignature;
//  6. the PCR values hash to the quote's pcrDigest → ErrSignature (see
//     quote.checkDigest for the hash and the kind);
//  7. without ak_cert, ak_public's key is pinned in Options.Roots → ErrChain;
//  8. the signature over the quote's bytes with the AK → ErrSignature;
//  9. with ak_cert, its chain through ak_chain to a root certificate of
//     Options.Roots at the time given → ErrChain, or ErrExpired for a
//     certificate outside its validity (a Google vTPM certificate's critical
//     TPM subjectAltName is understood, see acceptTPMSAN); a chain not in
//     the cache only once its first link not known to be genuine verified
//     with its issuer's key (firstlink.go) → ErrChain, and then only if
//     Options.ColdChain admits it → ErrThrottled;
//  10. the verifier's policy: a SHA-1 bank only with Options.AllowSHA1 →
//     ErrPolicy;
//  11. the quote's extraData is the envelope's Binding(SHA-256) of
//     public_key, nonce and user_data, compared in constant time →
//     ErrBinding.
//
// ErrPolicy and ErrBinding thus mean that everything else verified: the
// evidence is genuine but refused.
//
// Verified AK certificate chains are cached (cache.go), keyed by the exact
// bytes of ak_cert and of the ak_chain certificates on its issuer path to a
// root (certificates of ak_chain off that path, which no signature covers,
// are left out, so that padding cannot make one chain many keys): a quote
// from a TPM already seen costs its own signature, and every certificate's
// validity is checked again at each call; everything else is checked every
// time. Options.ColdChain, the
// budget for chains not in the cache, is spent only on a chain whose first
// link not known to be genuine verified (firstlink.go): the AK's own key,
// which signed the quote, and a certificate naming a root are a forger's
// to make, so neither may spend a budget that genuine new TPMs need.
//
// Threat model. The attacker controls every byte of the envelope: the quote,
// the signature, the PCR values, ak_public, ak_cert and every certificate of
// ak_chain (intermediates, never trusted by themselves). We trust
// Options.Roots (the AK CA certificates and pinned AK keys the operator
// configured) and the time passed to Verify; a Verifier never reads the
// clock, never touches the network and never modifies its input. Evidence
// that verifies proves that a TPM whose AK a root vouches for quoted these
// PCR values, of this bank, with extraData binding this enclave key, nonce and
// user data: the secret is wrapped to a key only that machine's quoted state
// asked for.
//
// Not checked. A quote carries no wall time (only the TPM's clock, reset
// and restart counts, returned in the claims to order quotes of one TPM;
// a TPM obfuscates the counts in quotes by an AK outside the endorsement and
// platform hierarchies, such as the enclave's own owner-hierarchy AK), so
// attestkms cannot bound a quote's age: Claims.Time is zero, and a quote
// copied from its host verifies for as long as its AK's certificate is valid
// (with a pinned AK, for ever). That is acceptable because what it releases
// is wrapped to the bound enclave key, which the copier does not hold; the
// nonce, bound like the key, is in the claims for a caller that wants to
// check freshness itself. Also not checked: revocation
// of AK certificates (no CRL or OCSP is fetched); what a PCR value means (the
// key policy's business, with the event log, which attestkms does not
// replay); the quote's qualifiedSigner and firmwareVersion (the signature
// covers them, and the AK is trusted by its key, not by its name); that the
// attributes in ak_public belong to the key (only the root's word does:
// see ak.fromPublic). A present ak_cert must chain even when its key is also
// pinned: a certificate we cannot verify is refused, not ignored, so an
// enclave that sends an AK certificate needs its CA in the roots (and,
// if it sends no ak_chain, the intermediate that issued it: every
// certificate of Roots is a trust anchor).
package tpm

import (
	"bytes"
	"crypto"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/internal/fifo"
	"github.com/attestkms/attestkms/attest/internal/firstlink"
	"github.com/google/go-tpm/tpm2"
)

// Options configure a Verifier.
type Options struct {
	// Roots are the trusted AK roots: certificates an AK certificate must
	// chain to, and/or pinned AK public keys (see ParseRoots). Required:
	// there is no default, and New refuses nil.
	Roots *Roots

	// AllowSHA1 admits quotes over a SHA-1 PCR bank, whose values an
	// attacker who controls what is measured can make collide. False (the
	// zero value) refuses them as ErrPolicy. It never admits SHA-1
	// signatures or pcrDigests.
	AllowSHA1 bool

	// CacheSize bounds how many verified AK certificate chains the
	// Verifier remembers (see cache.go). Zero means 4096.
	CacheSize int

	// ColdChain, if not nil, is asked before the Verifier verifies an AK
	// certificate chain it has not verified before (one not in its cache),
	// once the quote's signature verified with the AK and the chain's first
	// link not known to be genuine verified with its issuer's key (a root
	// certificate's, or a known intermediate's: firstlink.go), so that a
	// forged chain never spends it; false refuses the evidence
	// (attest.ErrThrottled) without verifying the chain. It is the caller's
	// budget for such work. Nil admits every chain. A pinned AK without
	// ak_cert has no chain to verify and is never asked about.
	ColdChain func() bool
}

// Verifier verifies TPM 2.0 quote envelopes against its roots. It is safe
// for concurrent use.
type Verifier struct {
	roots     *Roots
	allowSHA1 bool
	cache     *fifo.Cache[chainKey, *verifiedChain]
	coldChain func() bool
	// known are the AK CA intermediates known to be genuine
	// (firstlink.go), bounded like the cache.
	known *firstlink.Known
}

var _ attest.Verifier = (*Verifier)(nil)

// New returns a Verifier for o.
func New(o Options) (*Verifier, error) {
	if o.Roots == nil {
		return nil, errors.New("tpm: no roots: set Options.Roots (AK CA certificates and/or pinned AK public keys)")
	}
	if o.Roots.pool == nil || len(o.Roots.certs) == 0 && len(o.Roots.keys) == 0 {
		return nil, errors.New("tpm: empty roots: make them with ParseRoots or NewRoots")
	}
	size := o.CacheSize
	if size <= 0 {
		size = 4096
	}
	return &Verifier{roots: o.Roots, allowSHA1: o.AllowSHA1, cache: fifo.New[chainKey, *verifiedChain](size), known: firstlink.New("attestkms tpm known intermediate v1", size), coldChain: o.ColdChain}, nil
}

// CachedChains is how many verified AK certificate chains the Verifier
// remembers now, for the server's metrics.
func (v *Verifier) CachedChains() int { return v.cache.Len() }

// Verify returns the claims of a tpm2 evidence envelope that is genuine at
// now, or an error wrapping one attest kind. Claims is nil whenever err is
// not. now is used only for the validity of ak_cert and ak_chain (a quote
// has no wall time); the zero time refuses any ak_cert.
func (v *Verifier) Verify(evidence []byte, now time.Time) (*attest.Claims, error) {
	e, err := envelope.Decode(evidence)
	if err != nil {
		return nil, err
	}
	return v.verifyEnvelope(e, now)
}

// verifyEnvelope is Verify on an envelope already decoded, or built by a
// test; it does not modify e.
func (v *Verifier) verifyEnvelope(e *envelope.Envelope, now time.Time) (*attest.Claims, error) {
	// A hand-made Envelope has not been through envelope.Decode: check it
	// as that does, so that every step below, and Binding, relies on the
	// same bounds.
	if err := e.Check(); err != nil {
		return nil, err
	}
	c, err := v.verify(e, now, e.Binding(crypto.SHA256))
	if err != nil {
		return nil, err
	}
	return c, nil
}

// verify verifies e, whose quote's extraData must be binding. Only tests
// pass anything but e.Binding(crypto.SHA256): a real quote that binds
// something else (a nonce of its own) can then be verified to the end.
func (v *Verifier) verify(e *envelope.Envelope, now time.Time, binding []byte) (*attest.Claims, error) {
	if e.Format != attest.FormatTPM2 {
		return nil, fmt.Errorf("%w: %q evidence is not %q", attest.ErrMalformed, e.Format, attest.FormatTPM2)
	}
	key, keyType, err := attest.ParseBoundKey(e.PublicKey)
	if err != nil {
		return nil, err
	}

	// Decode and check shapes: cheap, and no key is used yet.
	sig, err := parseSignature(e.Signature)
	if err != nil {
		return nil, err
	}
	q, err := parseQuote(e.Quote)
	if err != nil {
		return nil, err
	}
	if err := q.checkPCRs(e.PCRs); err != nil {
		return nil, err
	}
	// An AK certificate chain verified before, sent as exactly its issuer
	// path, needs no parsing nor verifying again, only its validity at now;
	// any other spelling of it (padding, the root beside it) hits in
	// verifyChain after parsing (cache.go).
	var ck chainKey
	var known *verifiedChain
	if e.AKCert != nil {
		ck = keyOf(e.AKCert, e.AKChain)
		if c, ok := v.cache.Get(ck); ok && c.validAt(now) {
			known = c
		}
	}
	a, err := parseAK(e, known)
	if err != nil {
		return nil, err
	}
	if err := sig.check(a); err != nil {
		return nil, err
	}
	if err := q.checkDigest(e.PCRs, sig.hash); err != nil {
		return nil, err
	}
	if a.cert == nil && !v.roots.pinned(a.key) {
		return nil, fmt.Errorf("%w: ak_public's %s key is not pinned in the roots, and there is no ak_cert", attest.ErrChain, akName(a.key))
	}

	// Verify: one signature, then (with a certificate) the chain that
	// makes its key trustworthy, two or more.
	if err := sig.verify(a.key, e.Quote); err != nil {
		return nil, err
	}
	if a.cert != nil && known == nil {
		if err := v.verifyChain(a.cert, e.AKChain, now); err != nil {
			return nil, err
		}
	}

	// Genuine; now judge it.
	if q.bankAlg == tpm2.TPMAlgSHA1 && !v.allowSHA1 {
		return nil, fmt.Errorf("%w: the quote is over the SHA-1 PCR bank, and SHA-1 banks are not allowed", attest.ErrPolicy)
	}
	if subtle.ConstantTimeCompare(q.attest.ExtraData.Buffer, binding) != 1 {
		return nil, fmt.Errorf("%w: the quote's extraData (%d bytes) is not SHA-256 of the envelope's public_key, nonce and user_data", attest.ErrBinding, len(q.attest.ExtraData.Buffer))
	}

	pcrs := make(map[int][]byte, len(e.PCRs))
	for i, p := range maps.All(e.PCRs) {
		pcrs[i] = bytes.Clone(p)
	}
	clock := q.attest.ClockInfo
	return &attest.Claims{
		Format:       attest.FormatTPM2,
		PublicKey:    key,
		KeyType:      keyType,
		PublicKeyDER: bytes.Clone(e.PublicKey),
		UserData:     bytes.Clone(e.UserData),
		Nonce:        bytes.Clone(e.Nonce),
		TPM: &attest.TPMClaims{
			Bank:         q.bank.name,
			PCRs:         pcrs,
			Clock:        clock.Clock,
			ResetCount:   clock.ResetCount,
			RestartCount: clock.RestartCount,
		},
	}, nil
}
