// Package nitro verifies the attestation documents of AWS Nitro Enclaves and
// of Huawei Cloud QingTian enclaves: the COSE_Sign1 documents that the NSM
// (/dev/nsm) and the QTSM (/dev/qtsm) return, untagged as the devices return
// them or tagged (0xD2); and AWS NitroTPM documents (an EC2 instance's TPM
// asks the Nitro hypervisor for them), which the Nitro verifier takes too:
// same PKI, their own schema (nitrotpm.go).
//
// A Verifier checks, in this order: the document's size (attest.MaxEvidence)
// before any parsing; the COSE envelope (protected header exactly {1: alg},
// empty unprotected header); the payload's schema, strictly (no unknown,
// duplicate or mistyped field, no tag, no trailing byte, every length
// bounded); that one of its certificates names a root as its issuer (a
// byte search: a document of another PKI costs nothing more); the
// document's signature with the leaf certificate's key (one ECDSA
// verification, so a damaged document costs little); the certificate
// chain from `certificate` through the intermediates `cabundle[1:]` to a
// configured root, at the verifier's time (unless cached: the validity
// periods, then the first link not known to be genuine, one signature,
// then Options.ColdChain, then the whole chain); the format's own rules
// (Nitro: ES384 and SHA384 only); the document's age; and the enclave's
// key, which must be RSA of 2048 to 4096 bits. Only then does it return
// claims.
//
// Threat model. The attacker controls every byte of the document, including
// `certificate` and every certificate of `cabundle`: `cabundle[0]`, which
// claims to be the root, is bounded but never read, let alone trusted. We
// trust the configured roots (for Nitro by default the AWS Nitro Enclaves
// Root-G1 embedded in this package, see roots.go) and the time passed to
// Verify; a Verifier never reads the clock, never touches the network and
// never modifies its input. A document that verifies proves that the AWS (or
// Huawei) attestation PKI signed these measurements, this key and this user
// data at the stated time, no longer ago than Options.MaxAge.
//
// Not checked: revocation (the AWS and Huawei attestation PKIs publish no
// CRL or OCSP; below the roots their certificates live hours to weeks); that
// a document is used once (a copy verifies as well as the original until
// MaxAge; what protects a secret is that it is wrapped to the enclave's key,
// which only the enclave holds); what a PCR value means, which is the key
// policy's business.
//
// Debug mode. A document whose PCR0, the image measurement, is all zero
// comes from an enclave started in debug mode (every such document has it
// so), whose memory its host can read and write: a key in it is the host's,
// and its PCRs prove nothing about the code running. (A document without
// PCR0 is malformed, in every mode: every enclave's document carries it, and
// key policies rely on it, kms/internal/policy's carriedAlways.) It is refused
// (attest.ErrPolicy), after everything else verified, unless
// Options.AllowDebug; Claims.Debug says when a document admitted that way is
// one.
//
// Verified certificate chains are cached (see cache.go), so that a request
// from an enclave already seen costs one ECDSA verification instead of five;
// a cache hit means the very same certificate bytes were verified to this
// Verifier's roots, and every certificate's validity is checked again at
// each call. A chain not in the cache is verified only if Options.ColdChain,
// the caller's budget, admits it (attest.ErrThrottled otherwise), and that
// budget is asked only once the chain's first link not known to be genuine
// verified with its issuer's key (firstlink.go): the leaf's own key, which
// signed the document, and a certificate naming the root are a forger's to
// make, so neither may spend a budget that genuine new enclaves need.
package nitro

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/internal/firstlink"
)

// Options configure a Verifier. The zero value verifies AWS Nitro documents
// to the embedded AWS root, five minutes old at most.
type Options struct {
	// Format is attest.FormatNitro or attest.FormatQingtian. Empty means
	// attest.FormatNitro.
	Format attest.Format

	// Roots are the trusted roots; a document must chain to one of them.
	// Nil means, for Nitro, the embedded AWS Nitro Enclaves Root-G1. QingTian
	// has no default: New refuses a QingTian verifier without roots.
	Roots []*x509.Certificate

	// MaxAge is how old, by its timestamp, a document may be at the time
	// given to Verify. Zero means five minutes.
	MaxAge time.Duration

	// AllowDebug admits documents of enclaves in debug mode (PCR0 missing
	// or all zero; see the package comment). False refuses them
	// (attest.ErrPolicy).
	AllowDebug bool

	// CacheSize bounds how many verified certificate chains the Verifier
	// remembers. Zero means 4096.
	CacheSize int

	// ColdChain, if not nil, is asked before the Verifier verifies a
	// certificate chain it has not verified before (one not in its cache:
	// four or more signature checks), once the document's own signature
	// verified with the leaf's key and the chain's first link not known to
	// be genuine verified with its issuer's key (a root's, or a known
	// intermediate's: firstlink.go), so that a forged chain never spends
	// it; false refuses the document (attest.ErrThrottled) without
	// verifying the chain. It is the caller's budget for such work. Nil
	// admits every chain.
	ColdChain func() bool
}

const (
	// defaultMaxAge: a document is fetched from the device just before each
	// request, so minutes are plenty, and they bound replay.
	defaultMaxAge = 5 * time.Minute
	// maxClockSkew is how far in the future a timestamp may be: the
	// enclave host's clock and ours are both NTP-synchronised.
	maxClockSkew = time.Minute
	// defaultCacheSize: an entry is about 1 KiB, and a server sees a few
	// enclaves, each with one leaf certificate per three hours.
	defaultCacheSize = 4096
)

// Verifier verifies the documents of one format against its roots. It is
// safe for concurrent use.
type Verifier struct {
	profile *profile
	roots   *x509.CertPool
	// rootNames are the roots' subjects, DER: rootIssued's needle.
	rootNames  [][]byte
	rootCerts  []*x509.Certificate // the pool's, for firstLink
	maxAge     time.Duration
	allowDebug bool
	cache      *chainCache
	coldChain  func() bool
	// known are the intermediates known to be genuine (package firstlink),
	// bounded like the cache.
	known *firstlink.Known

	// chainVerifications counts full chain verifications, so that tests can
	// tell a cache hit from a miss without timing.
	chainVerifications atomic.Int64
}

var _ attest.Verifier = (*Verifier)(nil)

// New returns a Verifier for opts.
func New(opts Options) (*Verifier, error) {
	var p *profile
	switch opts.Format {
	case "", attest.FormatNitro:
		p = &nitroProfile
	case attest.FormatQingtian:
		p = &qingtianProfile
	case attest.FormatNitroTPM:
		p = &nitroTPMProfile
	default:
		return nil, fmt.Errorf("nitro: format %q is not %q, %q or %q", opts.Format, attest.FormatNitro, attest.FormatQingtian, attest.FormatNitroTPM)
	}
	roots := opts.Roots
	if roots == nil {
		if p.format == attest.FormatQingtian {
			return nil, fmt.Errorf("nitro: %s has no default root: set Options.Roots", p.format)
		}
		var err error
		if roots, err = awsRoots(); err != nil {
			return nil, err
		}
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("nitro: no %s roots", p.format)
	}
	pool := x509.NewCertPool()
	var names [][]byte
	var certs []*x509.Certificate
	for i, r := range roots {
		if r == nil {
			return nil, fmt.Errorf("nitro: root %d is nil", i)
		}
		// Our own copy, so that a caller changing its certificate later
		// cannot change what this Verifier (and its cache) trusts.
		c, err := x509.ParseCertificate(r.Raw)
		if err != nil {
			return nil, fmt.Errorf("nitro: root %d: %w", i, err)
		}
		pool.AddCert(c)
		names = append(names, c.RawSubject)
		certs = append(certs, c)
	}
	if opts.MaxAge < 0 {
		return nil, fmt.Errorf("nitro: negative MaxAge %s", opts.MaxAge)
	}
	if opts.MaxAge == 0 {
		opts.MaxAge = defaultMaxAge
	}
	if opts.CacheSize < 0 {
		return nil, fmt.Errorf("nitro: negative CacheSize %d", opts.CacheSize)
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = defaultCacheSize
	}
	return &Verifier{profile: p, roots: pool, rootNames: names, rootCerts: certs, known: firstlink.New("attestkms nitro known intermediate v1", opts.CacheSize), maxAge: opts.MaxAge, allowDebug: opts.AllowDebug, cache: newChainCache(opts.CacheSize), coldChain: opts.ColdChain}, nil
}

// rootIssued reports whether one of the document's certificates (its
// leaf, cabundle[1:]) may be issued by one of v's roots: its DER holds a
// root's subject, as the issuer of any certificate a root signed does.
// crypto/x509 looks a certificate's parents up by that name (RawIssuer ==
// RawSubject) only, so a chain to a root is impossible without it: this
// refuses nothing verifyChain would accept, it refuses it sooner.
func (v *Verifier) rootIssued(d *document) bool {
	for _, name := range v.rootNames {
		if bytes.Contains(d.certificate, name) {
			return true
		}
		for _, der := range d.cabundle[1:] {
			if bytes.Contains(der, name) {
				return true
			}
		}
	}
	return false
}

// Format is the format the Verifier verifies: attest.FormatNitro or
// attest.FormatQingtian.
func (v *Verifier) Format() attest.Format { return v.profile.format }

// CachedChains is how many verified certificate chains the Verifier
// remembers now, for the server's metrics.
func (v *Verifier) CachedChains() int { return v.cache.Len() }

// Verify returns the claims of a document that is genuine at now, or an
// error wrapping one attest kind. Claims is nil whenever err is not.
func (v *Verifier) Verify(evidence []byte, now time.Time) (*attest.Claims, error) {
	c, err := v.verify(evidence, now)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (v *Verifier) verify(evidence []byte, now time.Time) (*attest.Claims, error) {
	switch {
	case len(evidence) == 0:
		return nil, fmt.Errorf("%w: empty document", attest.ErrMalformed)
	case len(evidence) > attest.MaxEvidence:
		return nil, fmt.Errorf("%w: document is %d bytes, more than %d", attest.ErrMalformed, len(evidence), attest.MaxEvidence)
	}
	env, err := parseEnvelope(evidence)
	if err != nil {
		return nil, err
	}
	doc, err := parseDocument(env.payload, v.profile)
	if err != nil {
		return nil, err
	}
	if doc.suite != env.suite {
		return nil, fmt.Errorf("%w: header algorithm %s does not match digest %s", attest.ErrMalformed, env.suite.name, doc.suite.digest)
	}

	// The signature first, with the leaf's key (cheap: one ECDSA
	// verification), then the chain that makes that key trustworthy (four
	// or more), unless the cache knows it. The chain comes before the
	// format's own rules, so that a document of another format or PKI is
	// refused as an untrusted chain: attest.Set relies on that to tell
	// which verifier's error to report.
	chain, cached, err := v.lookup(doc, now)
	if err != nil {
		return nil, err
	}
	if !cached && !v.rootIssued(doc) {
		// Before the signature and the budget for new chains: a document
		// of another PKI (a QingTian document tried by the Nitro verifier
		// first, attest.Set) costs a byte search here, not an ECDSA
		// verification and a unit of the budget new enclaves need.
		return nil, fmt.Errorf("%w: no certificate of the document is issued by a name of this verifier's roots", attest.ErrChain)
	}
	if err := env.verify(chain); err != nil {
		return nil, err
	}
	if !cached {
		if err := v.verifyChain(chain, doc, now); err != nil {
			return nil, err
		}
	}
	if err := v.profile.check(doc); err != nil {
		return nil, err
	}

	// Verified; now judge the time, the key and the mode.
	if err := v.checkTime(doc.time, now); err != nil {
		return nil, err
	}
	if doc.nitroTPM {
		if !cached {
			v.cache.Put(chain.key, chain)
		}
		return nitroTPMClaims(doc), nil
	}
	key, keyType, err := enclaveKey(doc)
	if err != nil {
		return nil, err
	}
	if !cached {
		// Only chains of documents that verified are remembered, so
		// nobody fills the cache without a genuine, fresh document (one
		// of a debug-mode enclave is that too, refused or not).
		v.cache.Put(chain.key, chain)
	}
	debug := isDebug(doc.pcrs)
	if debug && !v.allowDebug {
		return nil, fmt.Errorf("%w: the attestation document comes from an enclave in debug mode (PCR0 is all zero), whose memory is open to its host; debug-mode enclaves are refused (start attestkms with --allow-debug-enclaves to accept such documents in tests)", attest.ErrPolicy)
	}
	return &attest.Claims{
		Format:       v.profile.format,
		Time:         doc.time,
		PublicKey:    key,
		KeyType:      keyType,
		PublicKeyDER: doc.publicKey,
		UserData:     doc.userData,
		Nonce:        doc.nonce,
		ModuleID:     doc.moduleID,
		Digest:       doc.suite.digest,
		PCRs:         doc.pcrs,
		Debug:        debug,
	}, nil
}

// checkTime refuses a document older than MaxAge or from the future.
func (v *Verifier) checkTime(t, now time.Time) error {
	if age := now.Sub(t); age > v.maxAge {
		return fmt.Errorf("%w: document timestamp %s is %s old at %s, more than the maximum age %s",
			attest.ErrExpired, t.Format(time.RFC3339Nano), age.Round(time.Millisecond), now.UTC().Format(time.RFC3339Nano), v.maxAge)
	}
	if ahead := t.Sub(now); ahead > maxClockSkew {
		return fmt.Errorf("%w: document timestamp %s is %s after %s, more than the allowed clock skew %s",
			attest.ErrExpired, t.Format(time.RFC3339Nano), ahead.Round(time.Millisecond), now.UTC().Format(time.RFC3339Nano), maxClockSkew)
	}
	return nil
}

// isDebug says whether the document comes from a debug-mode enclave: PCR0,
// the enclave image's measurement, is all zero there (so are PCR1 and PCR2;
// PCR3 and PCR4, which the host's role and instance set, are not). A
// document without PCR0 never gets here (profile.check), and would count
// as debug too.
func isDebug(pcrs map[int][]byte) bool {
	pcr0, ok := pcrs[0]
	if !ok {
		return true
	}
	for _, b := range pcr0 {
		if b != 0 {
			return false
		}
	}
	return true
}
