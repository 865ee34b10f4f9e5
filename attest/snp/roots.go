package snp

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/attestkms/attestkms/attest/internal/validity"
	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/verify/trust"
)

// Roots are the AMD certificates a Verifier trusts, in pairs: for a product
// line (Milan, Genoa, Turin), its ARK (AMD Root Key, self-signed) and one
// intermediate it signed, either an ASK (AMD SEV Key, which certifies VCEKs)
// or an ASVK (AMD SEV VLEK Key, which certifies VLEKs). A report signed by a
// VCEK verifies only through an ASK pair of its product line, one signed by
// a VLEK only through an ASVK pair. Roots are immutable once parsed.
type Roots struct {
	pairs []rootPair
}

type rootPair struct {
	product string           // "Milan", "Genoa" or "Turin"
	signer  abi.ReportSigner // abi.VcekReportSigner: ica is an ASK; abi.VlekReportSigner: an ASVK
	ica     *x509.Certificate
	ark     *x509.Certificate
}

// Bounds on a roots file, which an operator gives (--snp-roots) and so is
// trusted, but a typing mistake should get an error, not a long parse.
const (
	// maxRootsPEM: AMD's six chains (VCEK and VLEK of three product
	// lines) are 28 KB of PEM.
	maxRootsPEM = 256 << 10
	// maxRootPairs: AMD publishes six pairs; room for retired ones beside.
	maxRootPairs = 32
)

// products are the product lines go-sev-guest knows: a pair of another
// product could never verify a report, so it is refused as a mistake.
var products = []string{"Milan", "Genoa", "Turin"}

// ParseRoots parses PEM certificates in pairs, each an intermediate then
// the ARK that signed it, as AMD's Key Distribution Service serves them
// (https://kdsintf.amd.com/vcek/v1/{Milan,Genoa,Turin}/cert_chain, and
// .../vlek/v1/.../cert_chain for VLEK-signed reports): one or more pairs,
// of any product lines, concatenated. A pair's intermediate is an ASK when
// its common name is SEV-<product> and an ASVK when it is
// SEV-VLEK-<product>; the ARK's is ARK-<product>. Each ARK must be
// self-signed and each intermediate signed by its ARK. Nothing but PEM
// CERTIFICATE blocks and white space may be in the file.
//
// To accept VLEK-signed reports (as some cloud providers' hosts sign them),
// list their ASVK pairs, and every ASK pair still wanted, explicitly: the
// default roots have ASK pairs only.
func ParseRoots(pemBytes []byte) (*Roots, error) {
	if len(pemBytes) > maxRootsPEM {
		return nil, fmt.Errorf("snp: roots: %d bytes of PEM, more than %d", len(pemBytes), maxRootsPEM)
	}
	certs, err := parsePEMCertificates(pemBytes)
	if err != nil {
		return nil, err
	}
	switch {
	case len(certs) == 0:
		return nil, fmt.Errorf("snp: roots: no certificate")
	case len(certs)%2 != 0:
		return nil, fmt.Errorf("snp: roots: %d certificates; want pairs of an ASK or ASVK, then its ARK", len(certs))
	case len(certs)/2 > maxRootPairs:
		return nil, fmt.Errorf("snp: roots: %d pairs, more than %d", len(certs)/2, maxRootPairs)
	}
	r := &Roots{}
	for i := 0; i < len(certs); i += 2 {
		p, err := newRootPair(certs[i], certs[i+1])
		if err != nil {
			return nil, fmt.Errorf("snp: roots: pair %d: %w", i/2+1, err)
		}
		r.pairs = append(r.pairs, p)
	}
	return r, nil
}

// parsePEMCertificates returns the DER certificates of a file of PEM
// CERTIFICATE blocks, refusing anything else in it (pem.Decode alone skips
// text between blocks).
func parsePEMCertificates(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		b = bytes.TrimLeft(b, " \t\r\n")
		if len(b) == 0 {
			return certs, nil
		}
		if !bytes.HasPrefix(b, []byte("-----BEGIN ")) {
			return nil, fmt.Errorf("snp: roots: text outside a PEM block after certificate %d", len(certs))
		}
		blk, rest := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("snp: roots: certificate %d is not a valid PEM block", len(certs)+1)
		}
		if blk.Type != "CERTIFICATE" || len(blk.Headers) != 0 {
			return nil, fmt.Errorf("snp: roots: block %d is %q with %d headers; want CERTIFICATE without headers", len(certs)+1, blk.Type, len(blk.Headers))
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("snp: roots: certificate %d: %v", len(certs)+1, err)
		}
		if len(certs) == 2*maxRootPairs {
			return nil, fmt.Errorf("snp: roots: more than %d pairs", maxRootPairs)
		}
		certs = append(certs, c)
		b = rest
	}
}

func newRootPair(ica, ark *x509.Certificate) (rootPair, error) {
	product, ok := strings.CutPrefix(ark.Subject.CommonName, "ARK-")
	if !ok || !slices.Contains(products, product) {
		return rootPair{}, fmt.Errorf("second certificate's common name is %q; want ARK-Milan, ARK-Genoa or ARK-Turin", ark.Subject.CommonName)
	}
	if !bytes.Equal(ark.RawSubject, ark.RawIssuer) || !ark.IsCA {
		return rootPair{}, fmt.Errorf("%s is not a self-issued CA certificate", ark.Subject.CommonName)
	}
	if err := ark.CheckSignatureFrom(ark); err != nil {
		return rootPair{}, fmt.Errorf("%s is not self-signed: %v", ark.Subject.CommonName, err)
	}
	p := rootPair{product: product, ica: ica, ark: ark}
	switch ica.Subject.CommonName {
	case "SEV-" + product:
		p.signer = abi.VcekReportSigner
	case "SEV-VLEK-" + product:
		p.signer = abi.VlekReportSigner
	default:
		return rootPair{}, fmt.Errorf("first certificate's common name is %q; want SEV-%s (an ASK) or SEV-VLEK-%s (an ASVK) before %s", ica.Subject.CommonName, product, product, ark.Subject.CommonName)
	}
	if !ica.IsCA {
		return rootPair{}, fmt.Errorf("%s is not a CA certificate", ica.Subject.CommonName)
	}
	if err := ica.CheckSignatureFrom(ark); err != nil {
		return rootPair{}, fmt.Errorf("%s is not signed by %s: %v", ica.Subject.CommonName, ark.Subject.CommonName, err)
	}
	return p, nil
}

// forReport returns the pairs that may verify a report of product signed by
// signer, and whether any of them is valid at now.
func (r *Roots) forReport(product string, signer abi.ReportSigner, now time.Time) (pairs []rootPair, valid bool) {
	for _, p := range r.pairs {
		if p.product != product || p.signer != signer {
			continue
		}
		pairs = append(pairs, p)
		if p.validAt(now) {
			valid = true
		}
	}
	return pairs, valid
}

// validAt reports whether both of p's certificates are valid at t.
func (p rootPair) validAt(t time.Time) bool {
	return validity.Of("", p.ica).Contains(t) && validity.Of("", p.ark).Contains(t)
}

// rootsKey names the pairs that may verify one kind of report.
type rootsKey struct {
	product string
	signer  abi.ReportSigner
}

// trusted returns the roots as go-sev-guest's verify.Options.TrustedRoots
// holds them, one AMDRootCerts per pair, by product line and signer: fresh
// for each Verifier, so that nothing is shared with go-sev-guest's globals.
func (r *Roots) trusted() map[rootsKey][]*trust.AMDRootCerts {
	m := make(map[rootsKey][]*trust.AMDRootCerts)
	for _, p := range r.pairs {
		pc := &trust.ProductCerts{Ark: p.ark}
		if p.signer == abi.VlekReportSigner {
			pc.Asvk = p.ica
		} else {
			pc.Ask = p.ica
		}
		k := rootsKey{p.product, p.signer}
		m[k] = append(m[k], &trust.AMDRootCerts{ProductLine: p.product, ProductCerts: pc})
	}
	return m
}

// arkSHA256 are the SHA-256 fingerprints of the AMD root keys (ARKs, DER) of
// the default roots, by product line: those in go-sev-guest v0.15.0's
// verify/trust/ask_ark_{milan,genoa,turin_vcek}.pem, which it took from AMD's
// KDS (https://kdsintf.amd.com/vcek/v1/<product>/cert_chain). The embedded
// roots are checked against them, so that a go-sev-guest upgrade cannot
// change what attestkms trusts unseen.
var arkSHA256 = map[string]string{
	"Milan": "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd", // ARK-Milan, 2020-10-22 to 2045-10-22
	"Genoa": "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1", // ARK-Genoa, 2022-01-26 to 2047-01-26
	"Turin": "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a", // ARK-Turin, 2023-05-15 to 2048-05-15
}

// amdRoots returns the default roots: the ASK/ARK pairs of Milan, Genoa and
// Turin that go-sev-guest embeds, if their ARKs are the ones pinned above.
var amdRoots = sync.OnceValues(func() (*Roots, error) {
	return parseAMDRoots(trust.AskArkMilanVcekBytes, trust.AskArkGenoaVcekBytes, trust.AskArkTurinVcekBytes)
})

func parseAMDRoots(chains ...[]byte) (*Roots, error) {
	r, err := ParseRoots(bytes.Join(chains, []byte("\n")))
	if err != nil {
		return nil, fmt.Errorf("snp: the embedded AMD roots: %w", err)
	}
	seen := map[string]bool{}
	for _, p := range r.pairs {
		sum := sha256.Sum256(p.ark.Raw)
		if want := arkSHA256[p.product]; hex.EncodeToString(sum[:]) != want || p.signer != abi.VcekReportSigner || seen[p.product] {
			return nil, fmt.Errorf("snp: the embedded %s ARK's SHA-256 is %x, not the pinned %s (or its pair is not a single ASK pair)", p.product, sum, want)
		}
		seen[p.product] = true
	}
	if len(seen) != len(arkSHA256) {
		return nil, fmt.Errorf("snp: the embedded AMD roots have %d product lines, not %d", len(seen), len(arkSHA256))
	}
	return r, nil
}
