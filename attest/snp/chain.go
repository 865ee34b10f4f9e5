package snp

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/internal/validity"
	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"
)

// verifiedReport is a report whose signature verified with an endorsement
// key (VCEK or VLEK) certificate that chains to the Verifier's roots at the
// time given, and that was issued for this report's chip and TCB: its
// fields are AMD's word. It does not yet say that it binds the envelope,
// nor that policy admits it.
type verifiedReport struct {
	proto   *spb.Report
	signer  abi.ReportSigner
	product string // the product line whose roots verified it
	cert    *x509.Certificate
}

// verifyChain verifies r's signature and its endorsement key's certificate
// (the envelope's vcek or vlek) to v's roots at now, offline. The
// envelope's ask and ark are never read: they are whatever the host sent,
// and only the configured roots are trusted, so they are not even handed
// to go-sev-guest (which, configured as here, ignores them too).
func (v *Verifier) verifyChain(e *envelope.Envelope, r *unverifiedReport, now time.Time) (*verifiedReport, error) {
	der, chain := e.VCEK, &spb.CertificateChain{VcekCert: e.VCEK}
	if r.signer == abi.VlekReportSigner {
		der, chain = e.VLEK, &spb.CertificateChain{VlekCert: e.VLEK}
	}
	if der == nil {
		return nil, fmt.Errorf("%w: the report is signed by a %v, but the evidence carries no %s certificate", attest.ErrMalformed, r.signer, r.signer)
	}
	key := certKey{signer: r.signer, der: sha256.Sum256(der)}
	cached, hit := v.cache.Get(key)
	cert := cached.certOrNil()
	if !hit {
		var err error
		if cert, err = x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("%w: %v certificate: %s", attest.ErrChain, r.signer, brief(err))
		}
	}
	// An endorsement key is ECDSA P-384; any other certificate is not one
	// (and its key could not have signed the report).
	if k, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P384() {
		return nil, fmt.Errorf("%w: %v certificate %q has no ECDSA P-384 key", attest.ErrChain, r.signer, cert.Subject.CommonName)
	}

	// Choose the roots as go-sev-guest will: by the report's CPUID (report
	// version 3 and later) or else the certificate's productName. Reading
	// the unverified certificate only chooses; its roots judge it.
	product := r.product
	if product == "" {
		exts, err := kds.CertificateExtensions(cert, r.signer)
		if err != nil {
			return nil, fmt.Errorf("%w: %v certificate: %s", attest.ErrChain, r.signer, brief(err))
		}
		p, err := kds.ParseProductName(exts.ProductName, r.signer)
		if err != nil {
			return nil, fmt.Errorf("%w: %v certificate: %s", attest.ErrChain, r.signer, brief(err))
		}
		product = kds.ProductLine(p)
	}
	pairs, valid := v.roots.forReport(product, r.signer, now)
	trusted := v.trusted[rootsKey{product, r.signer}]
	if len(pairs) == 0 || len(trusted) == 0 {
		return nil, fmt.Errorf("%w: no configured root verifies %v-signed reports of %s processors", attest.ErrChain, r.signer, product)
	}
	if err := validity.Of(fmt.Sprintf("%v certificate", r.signer), cert).Check(now); err != nil {
		return nil, err
	}
	if !valid {
		return nil, fmt.Errorf("%w: no configured %s %v root pair is valid at %s", attest.ErrExpired, product, r.signer, now.UTC().Format(time.RFC3339))
	}

	// The report's own signature with the certificate's key, first, on a
	// hit as on a miss (one ECDSA verification).
	if err := verify.SnpReportSignature(r.raw, cert); err != nil {
		return nil, fmt.Errorf("%w: the report's signature does not verify with its %v certificate's key", attest.ErrSignature, r.signer)
	}
	var exts *kds.Extensions
	if hit && cached.product == product && cached.vouchedAt(now) {
		// These very certificate bytes chained to this product's roots
		// before, and nothing but the time changes that verdict: the
		// certificate's validity is checked at now above, and a pair that
		// certified it is valid at now.
		exts = cached.exts
	} else {
		// The budget for new certificates is the node's, shared by every
		// client; it is spent only on a certificate a forger cannot make.
		// So after the report's signature with the certificate's key
		// (above), the certificate's with its issuer's, a configured ASK's or ASVK's (one RSA verification
		// for each configured pair of that name): a self-made VCEK fails
		// there, and a genuine one copied from AMD's KDS fails the first
		// check unless it comes with a report it signed, which makes it
		// cached after one unit. Only then the budget, and go-sev-guest's
		// whole verification, which checks both again.
		signers := issuedBy(pairs, cert)
		if len(signers) == 0 {
			return nil, fmt.Errorf("%w: %v certificate %.64q is not signed by a configured %s %s", attest.ErrChain, r.signer, cert.Subject.CommonName, product, icaName(r.signer))
		}
		if v.coldChain != nil && !v.coldChain() {
			return nil, attest.ColdChainRefused(r.signer.String() + " certificate")
		}
		var err error
		if exts, err = v.verifyEndorsement(r, chain, cert, product, trusted, now); err != nil {
			return nil, err
		}
		v.cache.Put(key, &endorsement{cert: cert, exts: exts, product: product, pairs: signers})
	}

	// The certificate is AMD's, and signed the report; it must also have
	// been issued for this report's chip and TCB. (go-sev-guest's validate
	// checks both too, but as policy; they are facts about the chain.)
	// A masked CHIP_ID is all zero; the VCEK's HWID is then not compared
	// (as go-sev-guest does): the signature already ties the report to a
	// key that AMD certified for one chip.
	if chip := r.proto.GetChipId(); r.signer == abi.VcekReportSigner && !allZero(chip) && !bytes.Equal(chip, exts.HWID) {
		return nil, fmt.Errorf("%w: VCEK certificate is for chip %x…, the report's CHIP_ID is %x…", attest.ErrChain, exts.HWID[:8], chip[:8])
	}
	if tcb := r.proto.GetReportedTcb(); uint64(exts.TCBVersion) != tcb {
		return nil, fmt.Errorf("%w: %v certificate is for TCB 0x%016x, the report's REPORTED_TCB is 0x%016x", attest.ErrChain, r.signer, uint64(exts.TCBVersion), tcb)
	}
	return &verifiedReport{proto: r.proto, signer: r.signer, product: product, cert: cert}, nil
}

// certKey names an endorsement certificate in the cache: the SHA-256 of its
// exact DER, and the signer kind it verified as.
type certKey struct {
	signer abi.ReportSigner
	der    [sha256.Size]byte
}

// endorsement is a VCEK or VLEK certificate that go-sev-guest verified
// (KDS profile, chain to the product's roots) together with a report it
// signed, and its parsed extensions.
//
// Soundness of the cache: an entry's key is the SHA-256 of the certificate's
// exact bytes, each Verifier has its own cache, and its roots never change;
// go-sev-guest's verdict on a certificate depends on those bytes, the
// product line's roots, the signer kind and the time only. So a hit for the
// same product line needs the validity of the certificate and of a root
// pair that certified it checked at the new time (not of any pair of the
// product: with two, the one that certified it may have expired while the
// other, which never did, has not), and the report's signature, which it
// does on the hit. An entry whose pairs are all outside their validity is
// verified afresh, which says why it fails. A report with a forged
// signature thus never gets past a hit, and an entry is only ever made from
// a certificate that AMD's roots vouch for: an attacker can evict entries
// (by sending other genuine certificates) but not add false ones.
type endorsement struct {
	cert    *x509.Certificate
	exts    *kds.Extensions
	product string
	pairs   []rootPair // the configured pairs whose intermediate signed cert
}

// vouchedAt reports whether a pair that certified e's certificate is valid
// at now.
func (e *endorsement) vouchedAt(now time.Time) bool {
	for _, p := range e.pairs {
		if p.validAt(now) {
			return true
		}
	}
	return false
}

// issuedBy returns the pairs whose intermediate (ASK or ASVK) names and
// signed cert: one RSA verification for each pair of that name, whose
// intermediate's key a forger does not hold. It is the gate before the
// budget for new certificates, and, once go-sev-guest has verified cert,
// the pairs an entry of the cache keeps. Each pair's intermediate is signed
// by its ARK (newRootPair), so any of them valid at a later time is a valid
// path then.
func issuedBy(pairs []rootPair, cert *x509.Certificate) []rootPair {
	var out []rootPair
	for _, p := range pairs {
		if bytes.Equal(cert.RawIssuer, p.ica.RawSubject) && cert.CheckSignatureFrom(p.ica) == nil {
			out = append(out, p)
		}
	}
	return out
}

// icaName is what certifies a signer's certificates, for messages.
func icaName(signer abi.ReportSigner) string {
	if signer == abi.VlekReportSigner {
		return "ASVK"
	}
	return "ASK"
}

func (e *endorsement) certOrNil() *x509.Certificate {
	if e == nil {
		return nil
	}
	return e.cert
}

// verifyEndorsement has go-sev-guest verify cert and its chain to trusted,
// and r's signature with it; it returns the certificate's KDS extensions.
func (v *Verifier) verifyEndorsement(r *unverifiedReport, chain *spb.CertificateChain, cert *x509.Certificate, product string, trusted []*trust.AMDRootCerts, now time.Time) (*kds.Extensions, error) {
	// go-sev-guest checks the certificate's KDS profile (version, RSASSA-PSS
	// SHA-384, a P-384 key, AMD's subject and issuer names, well-formed
	// extensions), its chain through the pair's ASK or ASVK to the ARK at
	// now, and the report's signature with its key. It says only "no",
	// in text, so a refusal is classified by checking the signature alone.
	opts := &verify.Options{
		DisableCertFetching: true,      // otherwise it fetches what is missing from AMD's KDS
		Getter:              offline{}, // never called; a nil Getter would mean http.Get
		Now:                 now,
		// Only the pairs that may verify this report, so that a refusal
		// names the right one; never none: go-sev-guest takes an empty
		// TrustedRoots to mean its own embedded roots.
		TrustedRoots: map[string][]*trust.AMDRootCerts{product: trusted},
	}
	att := &spb.Attestation{Report: r.proto, CertificateChain: chain}
	if err := verify.SnpAttestation(att, opts); err != nil {
		if serr := verify.SnpReportSignature(r.raw, cert); serr != nil {
			return nil, fmt.Errorf("%w: the report's signature does not verify with its %v certificate's key", attest.ErrSignature, r.signer)
		}
		return nil, fmt.Errorf("%w: %v certificate does not verify to the configured %s roots: %v", attest.ErrChain, r.signer, product, brief(err))
	}

	exts, err := kds.CertificateExtensions(cert, r.signer)
	if err != nil {
		return nil, fmt.Errorf("%w: %v certificate: %s", attest.ErrChain, r.signer, brief(err))
	}
	return exts, nil
}

// offline is the Getter given to go-sev-guest. With DisableCertFetching
// set and CheckRevocations not, it is never called; were it ever, it
// refuses rather than reach AMD's servers.
type offline struct{}

func (offline) Get(url string) ([]byte, error) {
	return nil, fmt.Errorf("snp: verification is offline: not fetching %s", url)
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
