// Package tdx verifies Intel TDX evidence: an envelope.Envelope of format
// tdx that carries a TD's quote (version 4, as configfs-tsm or
// /dev/tdx_guest return it) and the enclave's RSA public key, nonce and user
// data, which the quote binds in REPORTDATA = the envelope's
// Binding(SHA-512), exactly as SEV-SNP's REPORT_DATA binds them.
//
// A Verifier checks, in this order, failing closed at the first problem:
// the format; the enclave key (attest.ParseBoundKey); the quote's size and
// structure (every length field against the bytes there are, before
// go-tdx-guest's parser, which trusts them; version 4, TEE type TDX,
// ECDSA-256 attestation key, bytes that re-encode to themselves: quote.go); the PCK certificates' validity at the
// verifier's time; the quote's signature by its attestation key, the QE
// report's signature by the PCK certificate and the QE report binding the
// attestation key (SHA-256 of the key and the QE authentication data);
// unless the chain is cached, its first link not known to be genuine, with
// its issuer's key (firstlink.go), then Options.ColdChain; the PCK chain to
// a configured root, by go-tdx-guest's verify.TdxQuote, fully offline; the
// collateral (collateral.go): Intel's TCB Info for the PCK's
// FMSPC and its QE Identity, each signed by the TCB signing certificate
// chained to the roots, the root CRL signed by the root and the PCK CRL by
// the PCK's own CA, none past its nextUpdate (plus Options.CollateralGrace),
// none rolled back; that neither the PCK CA nor the PCK certificate is
// revoked, nor the TCB signing certificate (by the CRL of the root that
// signed it, which must be held); that the quote is what the collateral describes (FMSPC, PCEID,
// the TDX module's signer and attributes, Intel's QE); that REPORTDATA is
// the envelope's binding (in constant time); and the policy: the TCB levels
// of the platform and of the QE (tcb.go), UpToDate unless
// Options.AllowTCBStatus names more, and TD_ATTRIBUTES.TUD (DEBUG and the other TD-under-debug bits, 7:0) refused unless
// Options.AllowDebug; every unmet condition named at once. Only then does it
// return claims. Every error wraps exactly one attest kind; claims are nil
// whenever the error is not.
//
// Verified PCK chains are cached (by the SHA-256 of the quote's PEM chain),
// so that a quote from a platform already seen costs two ECDSA P-256
// verifications (the quote's and the QE report's); verified collateral is
// cached too (the server's is verified when loaded, an envelope's by its
// hash). A hit means the very same bytes were verified to this Verifier's
// roots; validity and revocation are checked again at each call. A chain,
// or envelope collateral, not in the cache is verified only if
// Options.ColdChain admits it, and that budget is asked only once its first
// link not known to be genuine verified with its issuer's key (firstlink.go):
// for a PCK chain, the PCK CA's signature by a configured root, or the PCK
// certificate's by a PCK CA already verified; for collateral, the first of
// its parts (TCB signing certificate, TCB Info, QE Identity, root CRL) not
// already verified, checked in full (collateral whose every part verified
// before is made of them as they verified, and asks nothing), and before
// it what costs no signature: each part's nextUpdate (plus grace), its
// evaluation number against the server's and the minimum, and the TCB
// signing certificate's validity (stale genuine parts, public and archived,
// would otherwise each spend a unit). The PCK key that signed the quote, a
// certificate naming Intel's root, and collateral beside a quote (genuine
// quotes are no secret) are a forger's to make or copy, so none of them may
// spend a budget that genuinely new platforms need; what is known is
// remembered (bounded), so that a forger copying genuine public parts (a PCK
// CA, TCB Info) spends at most one unit for each the node had not seen.
//
// Threat model. The attacker controls every byte of the envelope: the quote
// (and the PCK chain in it), the collateral in it, the key, nonce and user
// data, and may send as many envelopes as the per-key rate limit allows:
// what a forgery costs the server is bounded per request (the quote's two
// signatures and one more, its first link not known to be genuine, before
// the cold-chain budget is asked), and a forged link never spends that
// budget, which is the node's, shared by every client (a copied genuine
// part spends at most one unit, once, as above). Trusted are the
// configured roots (by default Intel's SGX Root CA,
// embedded and pinned by fingerprint in roots.go), the collateral only as
// far as its signatures verify to those roots, and the time passed to
// Verify. A Verifier never reads the clock, never touches the network
// (go-tdx-guest's collateral fetching is off and its Getter refuses) and
// never modifies its input. (go-tdx-guest's verify package logs to stdout,
// from its init, only when asked to use its own embedded root: it never is,
// Options.Roots always reaches it.) Evidence that verifies proves that an Intel TDX
// platform whose TCB Intel's collateral rates as Claims.TDX.TCBStatus
// produced this TD report for a TD with these measurements, and that the TD
// asked for a quote binding this key, nonce and user data.
//
// Collateral. Intel signs TCB Info and QE Identity with a nextUpdate; a
// newer one may lower a platform's status (a new advisory). Collateral in an
// envelope is accepted when it verifies, and when its
// tcbEvaluationDataNumber is at least the server's own (the highest it
// holds: Intel numbers evaluations globally) and at least
// Options.MinTCBEvaluationNumber: a host cannot replace the server's
// collateral by an older one that still rates its platform well.
//
// Freshness. A quote carries no time: Claims.Time is zero. What makes
// evidence fresh is the nonce and user data that REPORTDATA binds.
//
// Not checked: quote version 5 (go-tdx-guest at this version parses and
// verifies version 4 only; a version 5 quote is ErrMalformed). Not
// verified: PCK certificates issued by Intel's "PCK Processor CA" (the
// library requires the intermediate to be the Platform CA; such quotes are
// ErrChain, though the collateral directory takes either CA's CRL); what MRTD,
// the RTMRs and MRCONFIGID mean, which is the key policy's business;
// MROWNER and MROWNERCONFIG beyond reporting them; the TCB level's date.
package tdx

import (
	"bytes"
	"crypto"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/internal/fifo"
	"github.com/attestkms/attestkms/attest/internal/firstlink"
)

// Options configures a Verifier. The zero value verifies to Intel's root,
// with no server collateral (evidence must then carry its own), UpToDate
// only, no debug TD.
type Options struct {
	// Roots are the trusted roots of PCK chains and of collateral signers.
	// Nil means Intel's SGX Root CA (embedded, pinned); an empty non-nil
	// slice is an error.
	Roots []*x509.Certificate
	// Collateral is the server's collateral. Nil: none; a quote is then
	// verified only with collateral its envelope carries.
	Collateral Source
	// AllowTCBStatus lists TCB statuses admitted beside UpToDate
	// ("SWHardeningNeeded", ...). Nil admits UpToDate only.
	AllowTCBStatus []string
	// AllowDebug admits debug TDs (any bit of TD_ATTRIBUTES.TUD, 7:0, DEBUG among them). False refuses them.
	AllowDebug bool
	// AllowSEPTVE admits TDs whose TD_ATTRIBUTES.SEPT_VE_DISABLE (bit 28)
	// is clear: their host can inject #VE exceptions at points of its
	// choosing, and the bit is not in MRTD, so the host picks it at launch
	// without a measured value changing. Linux guests set it (the kernel
	// refuses to run without it outside debug). False refuses such TDs.
	AllowSEPTVE bool
	// AllowMigratable admits TDs whose TD_ATTRIBUTES.MIGRATABLE (bit 29) is
	// set: their state may move to a platform this quote does not cover.
	// False refuses them.
	AllowMigratable bool
	// MinTCBEvaluationNumber refuses TCB Info and QE Identity whose
	// tcbEvaluationDataNumber is lower. Zero: no minimum beyond the server's
	// own collateral's.
	MinTCBEvaluationNumber int
	// CollateralGrace admits collateral up to this long past its
	// nextUpdate. Zero: none.
	CollateralGrace time.Duration
	// CacheSize bounds the cache of verified chains and of verified
	// envelope collateral. Zero: 4096.
	CacheSize int
	// ColdChain, if not nil, is asked before verifying a PCK chain, or an
	// envelope's collateral, not in the cache: for a chain, once the quote's
	// and QE report's signatures verified with the PCK certificate, the
	// certificates' validity was checked, and the chain's first link not
	// known to be genuine verified with its issuer's key (a root's, or a
	// known PCK CA's); for collateral, once its parts' nextUpdate (plus
	// CollateralGrace), evaluation numbers and signing certificate's
	// validity were checked and its first part not known to be genuine
	// verified (firstlink.go), and never for collateral whose every part is
	// known. So a forged chain or collateral never spends it
	// (attest.ErrChain). False refuses the evidence
	// (attest.ErrThrottled) without verifying further. It is the caller's
	// budget for such work. Nil admits every chain.
	ColdChain func() bool
}

// Source gives the server's collateral at a time. CollateralDir is one.
type Source interface {
	// Collateral returns the collateral to judge quotes with now, or an
	// error when there is none usable.
	Collateral(now time.Time) (*Collateral, error)
}

const defaultCacheSize = 4096

// Verifier verifies tdx evidence envelopes. It is safe for concurrent use.
type Verifier struct {
	roots                        []*x509.Certificate
	pool                         *x509.CertPool
	source                       Source
	allowed                      map[string]bool
	allowDebug                   bool
	allowSEPTVE, allowMigratable bool
	minEval                      int
	grace                        time.Duration
	chains                       *fifo.Cache[[32]byte, *pckChain]
	carried                      *fifo.Cache[[32]byte, *Collateral] // envelope collateral verified to roots
	coldChain                    func() bool
	// knownCAs are the PCK CAs known to be genuine, knownParts the parts
	// of envelope collateral, as they verified (firstlink.go); each bounded
	// like the cache.
	knownCAs   *firstlink.Known
	knownParts *fifo.Cache[knownKey, knownPart]
}

var _ attest.Verifier = (*Verifier)(nil)

// New returns a Verifier for o.
func New(o Options) (*Verifier, error) {
	roots := o.Roots
	if roots == nil {
		var err error
		if roots, err = IntelRoots(); err != nil {
			return nil, err
		}
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("tdx: no roots: Options.Roots must hold at least one certificate (nil means Intel's)")
	}
	pool := x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	allowed := map[string]bool{statusUpToDate: true}
	for _, s := range o.AllowTCBStatus {
		if !knownStatus[s] {
			return nil, fmt.Errorf("tdx: unknown TCB status %q; known: %s", s, knownStatusList())
		}
		allowed[s] = true
	}
	if o.MinTCBEvaluationNumber < 0 || o.CollateralGrace < 0 {
		return nil, fmt.Errorf("tdx: negative MinTCBEvaluationNumber or CollateralGrace")
	}
	size := o.CacheSize
	if size <= 0 {
		size = defaultCacheSize
	}
	return &Verifier{
		roots: roots, pool: pool, source: o.Collateral, allowed: allowed,
		allowDebug: o.AllowDebug, allowSEPTVE: o.AllowSEPTVE, allowMigratable: o.AllowMigratable,
		minEval: o.MinTCBEvaluationNumber, grace: o.CollateralGrace,
		chains:     fifo.New[[32]byte, *pckChain](size),
		carried:    fifo.New[[32]byte, *Collateral](size),
		coldChain:  o.ColdChain,
		knownCAs:   firstlink.New("attestkms tdx known PCK CA v1", size),
		knownParts: fifo.New[knownKey, knownPart](size),
	}, nil
}

// CachedChains is how many verified PCK chains the Verifier remembers now.
func (v *Verifier) CachedChains() int { return v.chains.Len() }

// Verify returns the claims of a tdx evidence envelope that is genuine at
// now and admitted by the policy, or an error wrapping one attest kind.
// Claims is nil whenever err is not. It does not modify evidence.
func (v *Verifier) Verify(evidence []byte, now time.Time) (*attest.Claims, error) {
	e, err := envelope.Decode(evidence)
	if err != nil {
		return nil, err
	}
	return v.verify(e, now)
}

func (v *Verifier) verify(e *envelope.Envelope, now time.Time) (*attest.Claims, error) {
	if e == nil {
		return nil, fmt.Errorf("%w: no envelope", attest.ErrMalformed)
	}
	if e.Format != attest.FormatTDX {
		return nil, fmt.Errorf("%w: envelope format %q is not %q", attest.ErrMalformed, e.Format, attest.FormatTDX)
	}
	key, keyType, err := attest.ParseBoundKey(e.PublicKey)
	if err != nil {
		return nil, err
	}
	if err := e.Check(); err != nil {
		return nil, err
	}
	q, err := parseQuote(e.Quote)
	if err != nil {
		return nil, err
	}
	chain, err := v.verifyQuote(q, now)
	if err != nil {
		return nil, err
	}
	col, err := v.collateral(e.Collateral, chain, now)
	if err != nil {
		return nil, err
	}
	if err := col.check(q, chain); err != nil {
		return nil, err
	}
	// Genuine and judged by genuine collateral; does it bind this envelope?
	body := q.proto.GetTdQuoteBody()
	if subtle.ConstantTimeCompare(body.GetReportData(), e.Binding(crypto.SHA512)) != 1 {
		return nil, fmt.Errorf("%w: REPORTDATA is not the SHA-512 binding of the envelope's public_key, nonce and user_data", attest.ErrBinding)
	}
	tcb, err := v.judge(q, chain, col)
	if err != nil {
		return nil, err
	}
	rtmrs := body.GetRtmrs()
	c := &attest.TDXClaims{
		MRTD:          bytes.Clone(body.GetMrTd()),
		MRConfigID:    bytes.Clone(body.GetMrConfigId()),
		MROwner:       bytes.Clone(body.GetMrOwner()),
		MROwnerConfig: bytes.Clone(body.GetMrOwnerConfig()),
		MRSeam:        bytes.Clone(body.GetMrSeam()),
		TDAttributes:  bytes.Clone(body.GetTdAttributes()),
		XFAM:          bytes.Clone(body.GetXfam()),
		TeeTCBSVN:     bytes.Clone(body.GetTeeTcbSvn()),
		TCBStatus:     tcb.status, QETCBStatus: tcb.qeStatus, AdvisoryIDs: tcb.advisories,
		FMSPC:                   hex.EncodeToString(chain.fmspc),
		TCBEvaluationDataNumber: tcb.evaluation,
	}
	for i := range c.RTMR {
		c.RTMR[i] = bytes.Clone(rtmrs[i])
	}
	return &attest.Claims{
		Format:       attest.FormatTDX,
		PublicKey:    key,
		KeyType:      keyType,
		PublicKeyDER: bytes.Clone(e.PublicKey),
		Nonce:        bytes.Clone(e.Nonce),
		UserData:     bytes.Clone(e.UserData),
		TDX:          c,
		Debug:        isDebug(body.GetTdAttributes()),
	}, nil
}

// isDebug reads TD_ATTRIBUTES.TUD, bits 7:0 (Intel TDX module ABI,
// TD_PARAMS ATTRIBUTES: "TD Under Debug"; if any bit of the group is set,
// the TD is untrusted): DEBUG (bit 0), with which the host can read and
// write the TD's memory, and the host profiling and debug features of the
// rest of the group (bits 4 to 6 on TDX 1.5: HGS_PLUS_PROF, PERF_PROF,
// PMT_PROF; the others reserved for more). Any of them makes a debug TD.
func isDebug(attrs []byte) bool { return len(attrs) > 0 && attrs[0] != 0 }

// TD_ATTRIBUTES bits beyond the TUD group (little-endian, 8 bytes).
const (
	attrSEPTVEDisable = 28
	attrMigratable    = 29
)

func attrBit(attrs []byte, bit int) bool { return len(attrs) > bit/8 && attrs[bit/8]&(1<<(bit%8)) != 0 }
