// Package attest turns attestation evidence into verified claims, or an
// error; nothing else. Each evidence format has its own package (nitro for
// AWS Nitro Enclaves and Huawei Qingtian documents; snp and tpm later), each
// implementing Verifier. The key service judges claims; it never sees
// unverified evidence and never switches on a format.
//
// Threat model: the attacker controls every byte of the evidence, including
// every certificate it carries. Trusted are the configured roots and the
// verifier's clock (passed in, never read inside). Verification is
// fail-closed: any parse error, unknown critical field, untrusted or expired
// certificate, bad signature, stale document, or enclave key that is not RSA
// of 2048 to 4096 bits is an error, and the claims are then nil.
package attest

import (
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"strconv"
	"time"
)

// Verifier verifies evidence of one format.
type Verifier interface {
	// Verify returns the claims of evidence that is genuine at now, or an
	// error wrapping one of the kinds below. Claims is nil whenever err is not.
	Verify(evidence []byte, now time.Time) (*Claims, error)
}

// Error kinds. Every verification error wraps exactly one, with the detail in
// its text: fmt.Errorf("%w: leaf expired at %s", attest.ErrExpired, t).
var (
	ErrMalformed  = errors.New("malformed evidence")            // not the format, bounds exceeded, unknown or missing fields
	ErrSignature  = errors.New("evidence signature is invalid") // the document's own signature does not verify
	ErrChain      = errors.New("untrusted certificate chain")   // no path to a configured root, bad certificate
	ErrExpired    = errors.New("expired or stale evidence")     // a certificate outside its validity, a timestamp too old or in the future
	ErrKey        = errors.New("unacceptable enclave key")      // missing, not RSA, or not 2048-4096 bits
	ErrNoVerifier = errors.New("no verifier for this evidence") // a format this server is not configured to trust
)

// Kinds lists the kinds, for callers that map each to their own errors.
var Kinds = []error{ErrMalformed, ErrSignature, ErrChain, ErrExpired, ErrKey, ErrNoVerifier}

// Format names an evidence format.
type Format string

const (
	FormatNitro    Format = "nitro"
	FormatQingtian Format = "qingtian"
	FormatSEVSNP   Format = "sev-snp"
	FormatTPM2     Format = "tpm2"
)

// Claims are what verified evidence says.
type Claims struct {
	Format Format
	// Time is when the evidence was made (a Nitro document's timestamp).
	Time time.Time

	// PublicKey is the enclave's RSA key, 2048 to 4096 bits, and
	// PublicKeyDER its DER SubjectPublicKeyInfo as the evidence carried it.
	PublicKey    *rsa.PublicKey
	PublicKeyDER []byte

	UserData []byte // nil when absent
	Nonce    []byte // nil when absent

	// Nitro and Qingtian documents.
	ModuleID string
	Digest   string         // "SHA384" (Qingtian also "SHA256", "SHA512")
	PCRs     map[int][]byte // index -> value; PCR0 is the image's measurement (ImageSha384)

	// Debug is true when the evidence says the workload runs in debug mode,
	// its memory open to its host: for Nitro and Qingtian, PCR0 (the image
	// measurement) is missing or all zero. (Not "every PCR zero": in a real
	// debug-mode Nitro document the host still sets PCR3 and PCR4.) Such
	// evidence is genuine but proves nothing about the code running.
	Debug bool
}

// Measurements returns the claims' measurements by condition-key suffix, as
// key policies name them (kms:RecipientAttestation:<suffix>), with values in
// lower-case hex: "Format", "ImageSha384" and "PCR0".."PCR31" for Nitro and
// Qingtian. Policy compares these and nothing else, so it never needs to know
// a format.
func (c *Claims) Measurements() map[string]string {
	m := map[string]string{"Format": string(c.Format)}
	for i, v := range c.PCRs {
		m["PCR"+strconv.Itoa(i)] = hex.EncodeToString(v)
	}
	if pcr0, ok := c.PCRs[0]; ok && (c.Format == FormatNitro || c.Format == FormatQingtian) {
		m["ImageSha384"] = hex.EncodeToString(pcr0)
	}
	return m
}
