// Package attest turns attestation evidence into verified claims, or an
// error; nothing else. Each evidence format has its own package (nitro for
// AWS Nitro Enclaves and Huawei Qingtian documents, snp for AMD SEV-SNP
// reports and tpm for TPM 2.0 quotes, the last two carried in attestkms's
// evidence envelope, package envelope, whose contents are unverified until
// their verifier has checked them), each implementing Verifier, the one
// interface. Set sends evidence to the verifier that Sniff chooses by its
// shape. Every judgement of evidence itself (a debug-mode enclave or guest,
// a VMPL, a TCB, a SHA-1 bank) is its verifier's, made once, there. The key
// service judges claims, by format-neutral means only (Measurements, Debug,
// the public key, Summary for its audit log); it never sees unverified
// evidence and never switches on a format.
//
// Each verifier caches the certificate chains it verified, so that evidence
// from a machine already seen costs its own signature only. Verifying a chain
// not seen before costs several signature checks, and an attacker can make
// any number of them; each format's Options.ColdChain lets the caller decide,
// per node, how many such first verifications it pays for (ErrThrottled when
// it declines). The budget is the server's, not attest's: a nil ColdChain
// admits every chain.
//
// Threat model: the attacker controls every byte of the evidence, including
// every certificate it carries. Trusted are the configured roots and the
// verifier's clock (passed in, never read inside). Verification is
// fail-closed: any parse error, unknown critical field, untrusted or expired
// certificate, bad signature, stale document, or enclave key that is not RSA
// of 2048 to 4096 bits, EC P-256 (HPKE) or a 32-byte digest of an ML-KEM key
// (HPKE, ParseBoundKey) is an error, and the claims are then nil.
// (One exception to the last: an AWS NitroTPM document is genuine whatever
// key it binds, so its claims come with PublicKey nil and KeyUnusable saying
// why; the key service refuses such claims as a Recipient.)
package attest

import (
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
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
	ErrMalformed  = errors.New("malformed evidence")             // not the format, bounds exceeded, unknown or missing fields
	ErrSignature  = errors.New("evidence signature is invalid")  // the document's own signature does not verify
	ErrChain      = errors.New("untrusted certificate chain")    // no path to a configured root, bad certificate
	ErrExpired    = errors.New("expired or stale evidence")      // a certificate outside its validity, a timestamp too old or in the future
	ErrKey        = errors.New("unacceptable enclave key")       // missing, not RSA, or not 2048-4096 bits
	ErrNoVerifier = errors.New("no verifier for this evidence")  // a format this server is not configured to trust
	ErrPolicy     = errors.New("evidence refused by policy")     // genuine, but the verifier's own rules refuse it (a debug-mode enclave or guest, a TPM SHA-1 bank)
	ErrBinding    = errors.New("evidence does not bind the key") // genuine, but its report data / extraData is not the envelope's Binding
	// ErrThrottled: not judged. The evidence carries a certificate chain
	// the verifier has not verified before (not in its cache), and the
	// caller's admission (a format's Options.ColdChain) declined to pay
	// for verifying one now. Nothing is said about the evidence: the same
	// bytes may verify later.
	ErrThrottled = errors.New("verification of a new certificate chain deferred")
)

// Kinds lists the kinds, for callers that map each to their own errors.
var Kinds = []error{ErrMalformed, ErrSignature, ErrChain, ErrExpired, ErrKey, ErrNoVerifier, ErrPolicy, ErrBinding, ErrThrottled}

// ColdChainRefused is the error of a verifier whose ColdChain admission
// declined to verify a certificate chain it has not verified before.
func ColdChainRefused(what string) error {
	return fmt.Errorf("%w: the %s is not one this server has verified before, and it verifies only so many new ones at a time; try again shortly", ErrThrottled, what)
}

// Format names an evidence format.
type Format string

const (
	FormatNitro    Format = "nitro"
	FormatQingtian Format = "qingtian"
	FormatSEVSNP   Format = "sev-snp"
	FormatTPM2     Format = "tpm2"
	FormatTDX      Format = "tdx"
	// FormatNitroTPM: an AWS NitroTPM attestation document (nitro-tpm-attest
	// on an EC2 instance), verified by package nitro to the AWS Nitro root.
	FormatNitroTPM Format = "nitrotpm"
)

// Claims are what verified evidence says.
type Claims struct {
	Format Format
	// Time is when the evidence was made (a Nitro document's timestamp);
	// zero for SEV-SNP reports and TPM quotes, which carry no wall time.
	Time time.Time

	// PublicKey is the enclave's RSA key, 2048 to 4096 bits, and
	// PublicKeyDER its DER SubjectPublicKeyInfo as the evidence carried it.
	// For an HPKE key PublicKey is nil and KeyType says which: "EC P-256"
	// (PublicKeyDER is its SubjectPublicKeyInfo) or KeyTypeDigest
	// (PublicKeyDER is the 32-byte SHA-256 of an ML-KEM-768+X25519 key that
	// the Recipient carries). Which algorithm each key takes is the key
	// service's to check (ParseBoundKey).
	PublicKey    *rsa.PublicKey
	PublicKeyDER []byte

	UserData []byte // nil when absent
	Nonce    []byte // nil when absent

	// Nitro and Qingtian documents (never set for other formats but
	// NitroTPM, which sets ModuleID and Digest, never PCRs).
	ModuleID string
	Digest   string         // "SHA384" (Qingtian also "SHA256", "SHA512")
	PCRs     map[int][]byte // index -> value; PCR0 is the image's measurement (ImageSha384)

	// SEV-SNP reports.
	SNP *SNPClaims
	// TPM 2.0 quotes.
	TPM *TPMClaims
	// Intel TDX quotes.
	TDX *TDXClaims

	// NitroTPMPCRs are an AWS NitroTPM document's 24 SHA-384 registers,
	// index 0..23 -> value (never set for other formats: they are not an
	// enclave image's PCRs, and no Nitro Enclave condition key names them).
	NitroTPMPCRs map[int][]byte

	// KeyUnusable is nil whenever the key is one ParseBoundKey takes. A format whose genuine
	// evidence may bind a key secrets cannot be wrapped to (NitroTPM: real
	// deployments bind an EC P-256 key for HPKE) returns its claims with
	// PublicKey nil and KeyUnusable saying why (an ErrKey error), so that
	// verify-evidence can show them; a Recipient with such claims is refused
	// with that reason. Every other format refuses such evidence instead.
	KeyUnusable error
	// KeyType names the evidence's public key: "RSA-2048", "EC P-256",
	// KeyTypeDigest, "none" (no public_key), "invalid" (not a
	// SubjectPublicKeyInfo).
	KeyType string

	// Debug is true when the evidence says the workload runs in debug mode,
	// its memory open to its host: for Nitro and Qingtian, PCR0 (the image
	// measurement) is all zero (a document without PCR0 is malformed; not
	// "every PCR zero": in a real
	// debug-mode Nitro document the host still sets PCR3 and PCR4); for
	// SEV-SNP, the guest policy's DEBUG bit. Such evidence is genuine but
	// proves nothing about the code running: its verifier refuses it
	// (ErrPolicy) unless its options allow it (nitro's and snp's
	// AllowDebug), so Debug is true only in claims a verifier was told to
	// admit. TPM quotes and NitroTPM documents have no such notion.
	Debug bool
}

// SNPClaims are what a verified SEV-SNP attestation report says.
type SNPClaims struct {
	Measurement []byte // MEASUREMENT, 48 bytes: the launch digest
	HostData    []byte // HOST_DATA, 32 bytes: set by the host at launch
	ReportID    []byte // REPORT_ID, 32 bytes
	Policy      uint64 // the guest policy
	VMPL        uint32 // the VMPL that asked for the report
	ReportedTCB uint64 // REPORTED_TCB
	ChipID      []byte // CHIP_ID, 64 bytes (zero when masked or VLEK-signed)
	Signer      string // "VCEK" or "VLEK"
	Product     string // "Milan", "Genoa", "Turin", ...: whose roots verified it
}

// TPMClaims are what a verified TPM 2.0 quote says.
type TPMClaims struct {
	Bank string         // the PCR bank's hash: "SHA256", "SHA384", "SHA512" (or "SHA1" where allowed)
	PCRs map[int][]byte // index -> value, of the quoted selection exactly
	// Clock, ResetCount and RestartCount are the TPM's clockInfo: not wall
	// time, but they order quotes of one TPM.
	Clock                    uint64
	ResetCount, RestartCount uint32
}

// TDXClaims are what a verified Intel TDX quote (version 4) says: the TD
// report's measurements as the quote carries them, and the platform's TCB as
// Intel's signed collateral judged it.
type TDXClaims struct {
	MRTD          []byte    // MRTD, 48 bytes: the TD's initial contents
	RTMR          [4][]byte // RTMR0..RTMR3, 48 bytes each
	MRConfigID    []byte    // MRCONFIGID, 48 bytes
	MROwner       []byte    // MROWNER, 48 bytes
	MROwnerConfig []byte    // MROWNERCONFIG, 48 bytes
	MRSeam        []byte    // MRSEAM, 48 bytes: the TDX module's measurement
	TDAttributes  []byte    // TD_ATTRIBUTES, 8 bytes (bit 0: DEBUG)
	XFAM          []byte    // XFAM, 8 bytes
	TeeTCBSVN     []byte    // TEE_TCB_SVN, 16 bytes
	// TCBStatus is the platform's TCB status by the TCB Info level that
	// matched (UpToDate, SWHardeningNeeded, ...), QETCBStatus the quoting
	// enclave's by the QE Identity, and AdvisoryIDs both levels' advisories.
	TCBStatus               string
	QETCBStatus             string
	AdvisoryIDs             []string
	FMSPC                   string // lower-case hex, from the PCK certificate
	TCBEvaluationDataNumber int    // of the TCB Info that judged it
}

// tcbStatusRank orders Intel's TCB statuses from best to worst.
var tcbStatusRank = map[string]int{
	"UpToDate":                          0,
	"SWHardeningNeeded":                 1,
	"ConfigurationNeeded":               2,
	"ConfigurationAndSWHardeningNeeded": 3,
	"OutOfDate":                         4,
	"OutOfDateConfigurationNeeded":      5,
	"Revoked":                           6,
}

// OverallTCBStatus is the worse of the platform's and the quoting
// enclave's TCB statuses (a status Intel may add later counts as the
// worst): what kms:RecipientAttestation:TdxTcbStatus says, so that a policy
// pinning UpToDate admits neither a platform nor a QE that is less, whatever
// else the server's --tdx-allow-tcb-status admits.
func (t *TDXClaims) OverallTCBStatus() string {
	worse := func(a, b string) string {
		ra, oka := tcbStatusRank[a]
		rb, okb := tcbStatusRank[b]
		switch {
		case a == "":
			return b
		case b == "":
			return a
		case !oka:
			return a
		case !okb:
			return b
		case rb > ra:
			return b
		}
		return a
	}
	return worse(t.TCBStatus, t.QETCBStatus)
}

// Measurements returns the claims' measurements as the key-policy condition
// keys that name them (conditions.go), with values in lower-case hex or, for
// Format, the format's name. Each format has its own keys, so one vendor's
// evidence never satisfies another's conditions: a Nitro document gives
// kms:RecipientAttestation:ImageSha384 and :PCR0..:PCR31; a Qingtian
// document kms:RecipientAttestation/PCR0../PCR31, as Huawei's IAM names them,
// and never Nitro's; SEV-SNP :SnpMeasurement and :SnpHostData; TPM 2.0
// :TpmPCR0..:TpmPCR23; an AWS NitroTPM document :NitroTPMPCR0..:NitroTPMPCR23,
// as AWS KMS names them, and never Nitro Enclaves' :PCRn or :ImageSha384;
// Intel TDX :TdxMrTd, :TdxRtmr0..:TdxRtmr3, :TdxMrConfigId and
// :TdxTcbStatus (the worse of the platform's and the QE's statuses, e.g.
// "UpToDate").
// Every format gives kms:RecipientAttestation:Format.
// Policy compares these and nothing else, so it never needs to know a format.
func (c *Claims) Measurements() map[string]string {
	m := map[string]string{AttestationPrefix + "Format": string(c.Format)}
	switch c.Format {
	case FormatNitro:
		for i, v := range c.PCRs {
			m[AttestationPrefix+"PCR"+strconv.Itoa(i)] = hex.EncodeToString(v)
		}
		if pcr0, ok := c.PCRs[0]; ok {
			m[AttestationPrefix+"ImageSha384"] = hex.EncodeToString(pcr0)
		}
	case FormatQingtian:
		for i, v := range c.PCRs {
			m[HuaweiAttestationPrefix+"PCR"+strconv.Itoa(i)] = hex.EncodeToString(v)
		}
	case FormatSEVSNP:
		if c.SNP != nil {
			m[AttestationPrefix+"SnpMeasurement"] = hex.EncodeToString(c.SNP.Measurement)
			m[AttestationPrefix+"SnpHostData"] = hex.EncodeToString(c.SNP.HostData)
		}
	case FormatTDX:
		if c.TDX != nil {
			m[AttestationPrefix+"TdxMrTd"] = hex.EncodeToString(c.TDX.MRTD)
			for i, r := range c.TDX.RTMR {
				m[AttestationPrefix+"TdxRtmr"+strconv.Itoa(i)] = hex.EncodeToString(r)
			}
			m[AttestationPrefix+"TdxMrConfigId"] = hex.EncodeToString(c.TDX.MRConfigID)
			m[AttestationPrefix+"TdxTcbStatus"] = c.TDX.OverallTCBStatus()
		}
	case FormatNitroTPM:
		for i, v := range c.NitroTPMPCRs {
			m[AttestationPrefix+"NitroTPMPCR"+strconv.Itoa(i)] = hex.EncodeToString(v)
		}
	case FormatTPM2:
		if c.TPM != nil {
			for i, v := range c.TPM.PCRs {
				m[AttestationPrefix+"TpmPCR"+strconv.Itoa(i)] = hex.EncodeToString(v)
			}
		}
	}
	return m
}
