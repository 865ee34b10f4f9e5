// Package snp verifies AMD SEV-SNP evidence: an envelope.Envelope of format
// sev-snp that carries a guest's ATTESTATION_REPORT (1184 bytes, as
// /dev/sev-guest returns it), the certificate of the AMD key that signed it
// (a VCEK, one per chip and firmware TCB, or a VLEK, loaded by a cloud
// provider), and the enclave's RSA public key, nonce and user data, which
// the report binds in REPORT_DATA = the envelope's Binding(SHA-512).
//
// A Verifier checks, in this order, failing closed at the first problem:
// the format; the report's size, exactly 1184 bytes; the enclave key (RSA,
// 2048 to 4096 bits, EC P-256 or a digest, attest.ParseBoundKey); the
// report's structure (version 2 to 5, reserved fields zero, ECDSA P-384
// signature, a VCEK or VLEK signer, and bytes that re-encode to
// themselves); the endorsement
// certificate, parsed as DER and valid at the verifier's time; unless it
// is cached, the report's signature with its key, its own signature with a
// configured ASK (or ASVK) of the report's product line, and
// Options.ColdChain; its chain to a configured ASK/ARK (or ASVK/ARK) pair
// of that product line and the report's signature, by go-sev-guest's
// verify.SnpAttestation, fully offline; that the certificate was issued for the report's CHIP_ID and
// REPORTED_TCB; that REPORT_DATA is the envelope's binding (in constant
// time); and the policy below: the guest policy's DEBUG, MIGRATE_MA and
// CXL_ALLOW bits and the VMPL, here, and the firmware's TCB and version by
// go-sev-guest's validate.SnpAttestation with options built deliberately
// (policy.go), every unmet condition named at once. Only then does it
// return claims. Every error wraps exactly one attest kind; claims are nil
// whenever the error is not. A certificate outside its validity is
// attest.ErrExpired, judged before its chain, whoever made it; a refused
// chain or signature is told apart by checking the signature alone, as
// go-sev-guest's refusals are text only.
//
// Verified endorsement certificates are cached (see chain.go), so that a
// report from a chip already seen costs one ECDSA verification instead of
// go-sev-guest's whole chain (0.5 ms against 1.1 ms with AMD's RSA-4096
// roots); a hit means the very same certificate bytes were verified to this
// Verifier's roots, and the certificate's and the roots' validity are
// checked again at each call. A certificate not in the cache is verified
// only if Options.ColdChain, the caller's budget, admits it
// (attest.ErrThrottled otherwise), and that budget is asked only once the
// report's signature verified with the certificate's key and the
// certificate's own signature with a configured ASK's or ASVK's (chain.go):
// a self-made VCEK, or a genuine one (AMD's KDS serves them to anyone)
// beside a report it did not sign, spends nothing that genuine new chips
// need.
//
// Threat model. The attacker controls every byte of the envelope: the
// report, the vcek or vlek, ask and ark, the key, nonce and user data. The
// envelope's ask and ark are bounded by envelope.Decode but never
// read, let alone trusted: only the configured roots are (by default the
// Milan, Genoa and Turin ASK/ARK pairs that go-sev-guest embeds, as AMD's
// KDS serves them, their ARKs pinned by fingerprint in roots.go), and the
// time passed to Verify. A Verifier never reads the clock, never touches
// the network (go-sev-guest's certificate fetching is disabled and its
// Getter refuses) and never modifies its input. Evidence that verifies
// proves that an AMD SEV-SNP processor whose firmware AMD certified at
// REPORTED_TCB signed this report for a guest with this measurement,
// policy and host data, running at this VMPL, and that the guest asked for
// a report binding this key, nonce and user data.
//
// Freshness. A report carries no time, so attestkms cannot bound its age:
// Claims.Time is zero, and only the certificate's validity is checked
// against the verifier's time. What makes evidence fresh is the envelope's
// nonce and user data, which REPORT_DATA binds, if the relying party chose
// them; and what protects a secret is that it is wrapped to the bound key,
// which only the guest that asked for the report holds. A copied envelope
// verifies as well as the original, and is as useless to its copier.
//
// The default guest policy, and why:
//
//   - DEBUG is refused (attest.ErrPolicy) unless Options.AllowDebug: the
//     host can read and write a debug guest's memory, so a key in it is the
//     host's. Claims.Debug says when a report admitted this way is one.
//   - SMT is allowed. Every public cloud's SEV-SNP guests allow it and
//     their reports say so; cross-thread side channels are addressed by
//     AMD's microcode and firmware, which MinTCB can require.
//   - MIGRATE_MA is refused: a migration agent can export the guest's
//     memory to a platform that no report attested.
//   - CXL_ALLOW is refused: CXL devices and memory given to the guest are
//     outside what the report measures. SINGLE_SOCKET, AES-256-XTS, RAPL
//     disabled, ciphertext hiding and page-swap disabling are not required.
//     No minimum guest ABI version is required.
//   - VMPL at most Options.MaxVMPL, by default 0. Under an SVSM or a
//     paravisor, the launch measurement covers the most privileged code,
//     at VMPL0; a guest at a higher VMPL is whatever that code loaded, and
//     can be read by it. A VMPL0 report binds a key that the measured code
//     holds; accept higher VMPLs only when that code is itself trusted to
//     vouch for what runs above it.
//   - The firmware must be committed: COMMITTED_TCB, build and API version
//     equal the current ones, unless Options.AllowProvisionalFirmware; the
//     host may roll provisional firmware back to the committed version
//     while the guest runs. REPORTED_TCB must be at least Options.MinTCB
//     in each component (zero: no minimum), and the certificate's TCB, and
//     at most CURRENT_TCB.
//
// Not checked: revocation (AMD publishes CRLs of its ASKs and ASVKs; reading
// them needs the network, and a VCEK is never revoked: a new TCB supersedes
// it, which MinTCB expresses); what MEASUREMENT and HOST_DATA mean, which is
// the key policy's business, through attest.Claims.Measurements; GUEST_SVN,
// FAMILY_ID and IMAGE_ID, the ID block and its author key, PLATFORM_INFO
// (SMT enabled, TSME, the memory alias check) and the mitigation vectors.
// go-sev-guest's verify package reads a process flag
// (-workaround_kds_productname), defined by linking it; it only relaxes the
// comparison of a CPU stepping that this package never asks for.
package snp

import (
	"bytes"
	"crypto"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/internal/fifo"
	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/validate"
	"github.com/google/go-sev-guest/verify/trust"
)

// Options configure a Verifier. The zero value trusts AMD's roots and the
// default guest policy of the package comment.
type Options struct {
	// Roots are the trusted ASK/ARK and ASVK/ARK pairs (see ParseRoots). Nil
	// means the AMD ASK/ARK pairs of Milan, Genoa and Turin that
	// go-sev-guest embeds, which verify VCEK-signed reports only; non-nil
	// replaces them entirely, and must hold at least one pair.
	Roots *Roots

	// AllowDebug admits reports whose guest policy allows DEBUG. False
	// refuses them (attest.ErrPolicy).
	AllowDebug bool

	// MaxVMPL is the highest (least privileged) VMPL whose reports are
	// accepted, 0 to 3. Zero accepts only VMPL0, the measured code's.
	MaxVMPL uint32

	// MinTCB is the least REPORTED_TCB accepted, compared component by
	// component (boot loader, TEE, SNP firmware and microcode security
	// patch levels, in the TCB_VERSION layout). Zero means no minimum: which
	// firmware is too old is the operator's call, after AMD's bulletins.
	MinTCB uint64

	// AllowProvisionalFirmware admits reports from firmware that is not yet
	// committed (COMMITTED_TCB, build or API version below the current
	// ones). False refuses them (attest.ErrPolicy).
	AllowProvisionalFirmware bool

	// CacheSize bounds how many verified VCEK/VLEK certificates the
	// Verifier remembers (see chain.go). Zero means 4096.
	CacheSize int

	// ColdChain, if not nil, is asked before the Verifier verifies an
	// endorsement certificate it has not verified before (one not in its
	// cache: its chain to the roots and the report's signature), once the
	// report's signature verified with the certificate's key and the
	// certificate is signed by a configured ASK or ASVK (one ECDSA and one
	// RSA verification, so that a forgery never spends it); false refuses
	// the evidence (attest.ErrThrottled) without verifying it further. It
	// is the caller's budget for such work. Nil admits every certificate.
	ColdChain func() bool
}

const defaultCacheSize = 4096

// Verifier verifies sev-snp evidence envelopes. It is safe for concurrent
// use.
type Verifier struct {
	roots      *Roots
	trusted    map[rootsKey][]*trust.AMDRootCerts // roots, as go-sev-guest wants them; read only
	validate   validate.Options
	allowDebug bool
	maxVMPL    uint32
	cache      *fifo.Cache[certKey, *endorsement] // endorsement certificates verified to roots
	coldChain  func() bool
}

var _ attest.Verifier = (*Verifier)(nil)

// New returns a Verifier for o.
func New(o Options) (*Verifier, error) {
	roots := o.Roots
	if roots == nil {
		var err error
		if roots, err = amdRoots(); err != nil {
			return nil, err
		}
	}
	// An empty set must never reach go-sev-guest, which takes an empty
	// TrustedRoots to mean its own embedded roots.
	if len(roots.pairs) == 0 {
		return nil, fmt.Errorf("snp: no roots: Options.Roots must hold at least one pair (nil means AMD's)")
	}
	if o.MaxVMPL > maxVMPL {
		return nil, fmt.Errorf("snp: MaxVMPL %d; VMPLs are 0 to %d", o.MaxVMPL, maxVMPL)
	}
	size := o.CacheSize
	if size <= 0 {
		size = defaultCacheSize
	}
	return &Verifier{
		roots:      roots,
		trusted:    roots.trusted(),
		validate:   validateOptions(o),
		allowDebug: o.AllowDebug,
		maxVMPL:    o.MaxVMPL,
		cache:      fifo.New[certKey, *endorsement](size),
		coldChain:  o.ColdChain,
	}, nil
}

// CachedChains is how many verified endorsement certificates the Verifier
// remembers now, for the server's metrics.
func (v *Verifier) CachedChains() int { return v.cache.Len() }

// Verify returns the claims of a sev-snp evidence envelope that is genuine
// at now and admitted by the guest policy, or an error wrapping one attest
// kind. Claims is nil whenever err is not. It does not modify evidence, and
// the claims share no memory with it.
func (v *Verifier) Verify(evidence []byte, now time.Time) (*attest.Claims, error) {
	e, err := envelope.Decode(evidence)
	if err != nil {
		return nil, err
	}
	return v.verifyEnvelope(e, now)
}

// verifyEnvelope is Verify on an envelope already decoded, or built by a
// test: it does not modify e, and the claims share no memory with it.
func (v *Verifier) verifyEnvelope(e *envelope.Envelope, now time.Time) (*attest.Claims, error) {
	c, err := v.verify(e, now)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (v *Verifier) verify(e *envelope.Envelope, now time.Time) (*attest.Claims, error) {
	if e == nil {
		return nil, fmt.Errorf("%w: no envelope", attest.ErrMalformed)
	}
	if e.Format != attest.FormatSEVSNP {
		return nil, fmt.Errorf("%w: envelope format %q is not %q", attest.ErrMalformed, e.Format, attest.FormatSEVSNP)
	}
	if len(e.Report) != abi.ReportSize {
		return nil, fmt.Errorf("%w: report is %d bytes; an ATTESTATION_REPORT is exactly %d", attest.ErrMalformed, len(e.Report), abi.ReportSize)
	}
	key, keyType, err := attest.ParseBoundKey(e.PublicKey)
	if err != nil {
		return nil, err
	}
	// A hand-made envelope meets envelope.Decode's bounds too (after the key,
	// so that a key too big is refused as a key, as it is in a document).
	if err := e.Check(); err != nil {
		return nil, err
	}
	r, err := v.verifyReport(e, now)
	if err != nil {
		return nil, err
	}
	// Genuine; now does it bind this envelope's key, nonce and user data?
	want := e.Binding(crypto.SHA512)
	if subtle.ConstantTimeCompare(r.proto.GetReportData(), want) != 1 {
		return nil, fmt.Errorf("%w: REPORT_DATA is not the SHA-512 binding of the envelope's public_key, nonce and user_data", attest.ErrBinding)
	}
	if err := v.checkPolicy(r); err != nil {
		return nil, err
	}
	p := r.proto
	policy := p.GetPolicy()
	return &attest.Claims{
		Format:       attest.FormatSEVSNP,
		PublicKey:    key,
		KeyType:      keyType,
		PublicKeyDER: bytes.Clone(e.PublicKey),
		Nonce:        bytes.Clone(e.Nonce),
		UserData:     bytes.Clone(e.UserData),
		SNP: &attest.SNPClaims{
			Measurement: p.GetMeasurement(), // the proto's own copies
			HostData:    p.GetHostData(),
			ReportID:    p.GetReportId(),
			Policy:      policy,
			VMPL:        p.GetVmpl(),
			ReportedTCB: p.GetReportedTcb(),
			ChipID:      p.GetChipId(),
			Signer:      r.signer.String(),
			Product:     r.product,
		},
		Debug: policy&(1<<policyDebugBit) != 0,
	}, nil
}

// policyDebugBit is the guest policy's DEBUG bit (SEV-SNP Firmware ABI,
// table 9).
const policyDebugBit = 19

// verifyReport parses e's report and verifies its signature and chain: the
// report it returns is AMD's word, not yet bound to e nor judged by policy.
func (v *Verifier) verifyReport(e *envelope.Envelope, now time.Time) (*verifiedReport, error) {
	r, err := parseReport(e.Report)
	if err != nil {
		return nil, err
	}
	return v.verifyChain(e, r, now)
}
