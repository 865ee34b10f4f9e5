package tdx

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// CollateralDir is the server's collateral in a directory, as Intel's PCS
// returns it (--tdx-collateral DIR), reloaded when its files change:
//
//	tcbinfo-FMSPC.json           body of GET /tdx/certification/v4/tcb?fmspc=FMSPC
//	tcbinfo-FMSPC.issuer.pem     its TCB-Info-Issuer-Chain header, URL-decoded
//	                             (or tcbinfo.issuer.pem, one chain for every FMSPC)
//	qe_identity.json             body of GET /tdx/certification/v4/qe/identity
//	qe_identity.issuer.pem       its SGX-Enclave-Identity-Issuer-Chain header
//	pck_crl-platform.der         body of GET /sgx/certification/v4/pckcrl?ca=platform&encoding=der
//	pck_crl-platform.issuer.pem  its SGX-PCK-CRL-Issuer-Chain header
//	pck_crl-processor.der/.issuer.pem  the same for ca=processor (either or both;
//	                             pck_crl.der/.issuer.pem is a PCK CRL of either CA)
//	root_crl.der                 Intel's root CA CRL (the root's CRL distribution point)
//
// A reload that fails, or that would remove an item or replace one by an
// older one (a rollback: a lower tcbEvaluationDataNumber; a CRL with an
// earlier thisUpdate or a lower CRL number than the one held of its
// issuer), keeps what was held and is reported by Held. attestsim tdx-ca writes this layout (attesttest.TDXCollateral.Save).
type CollateralDir struct {
	// Logger, if set (before the directory is shared), is told of every
	// reload: what was loaded, or why a reload was refused and what is
	// kept. Nil: nothing is logged (Held still says).
	Logger *slog.Logger

	dir   string
	roots []*x509.Certificate

	mu      sync.Mutex
	stamp   [32]byte
	checked time.Time
	held    *Collateral
	err     error
}

// maxCollateralFile bounds each file read.
const maxCollateralFile = 1 << 20

// OpenCollateralDir loads dir, verified to roots (nil: Intel's).
func OpenCollateralDir(dir string, roots []*x509.Certificate) (*CollateralDir, error) {
	d := &CollateralDir{dir: dir, roots: roots}
	d.reload()
	if d.held == nil {
		return nil, d.err
	}
	return d, nil
}

// Collateral implements Source: it rereads the directory when its files
// changed, at most once a second (of now).
func (d *CollateralDir) Collateral(now time.Time) (*Collateral, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if delta := now.Sub(d.checked); delta >= time.Second || delta <= -time.Second {
		d.checked = now
		d.reload()
	}
	return d.held, d.err
}

// Held returns the collateral held and the last reload's error.
func (d *CollateralDir) Held() (*Collateral, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.held, d.err
}

func (d *CollateralDir) reload() {
	stamp, err := stampOf(d.dir)
	if err != nil {
		d.err = err
		return
	}
	if d.held != nil && stamp == d.stamp {
		return
	}
	c, err := LoadCollateralDir(d.dir, d.roots)
	if err == nil && d.held != nil {
		err = rollback(d.held, c)
	}
	if err != nil {
		if d.Logger != nil && (d.err == nil || d.err.Error() != fmt.Sprintf("collateral %s: %v", d.dir, err)) {
			d.Logger.Error("TDX collateral reload refused: the collateral held before is kept", "dir", d.dir, "err", err)
		}
		d.err = fmt.Errorf("collateral %s: %v", d.dir, err)
		return
	}
	if d.Logger != nil && d.held != nil {
		d.Logger.Info("TDX collateral reloaded", "dir", d.dir, "fmspcs", len(c.TCBInfos))
	}
	d.held, d.stamp, d.err = c, stamp, nil
}

func rollback(old, new *Collateral) error {
	for f, o := range old.TCBInfos {
		if n := new.TCBInfos[f]; n == nil || n.Info.TcbEvaluationDataNumber < o.Info.TcbEvaluationDataNumber {
			return fmt.Errorf("TCB Info for FMSPC %s would be removed or rolled back from evaluation %d: kept", f, o.Info.TcbEvaluationDataNumber)
		}
	}
	if old.QEIdentity != nil && (new.QEIdentity == nil || new.QEIdentity.Identity.TcbEvaluationDataNumber < old.QEIdentity.Identity.TcbEvaluationDataNumber) {
		return fmt.Errorf("QE Identity would be removed or rolled back: kept")
	}
	// CRLs carry no evaluation number, and Intel's from before a
	// revocation stay within their nextUpdate for weeks: one older than
	// the CRL held of its issuer (an earlier thisUpdate or a lower CRL
	// number), or none, would undo a revocation the server knows.
	held := old.PCKCRLs
	if old.RootCRL != nil {
		held = append(held[:len(held):len(held)], old.RootCRL)
	}
	for _, o := range held {
		n := newestCRL(append(new.PCKCRLs[:len(new.PCKCRLs):len(new.PCKCRLs)], new.RootCRL), o.Issuer)
		switch {
		case n == nil:
			return fmt.Errorf("the CRL of %q would be removed: kept", o.Issuer.Subject.CommonName)
		case n.List.ThisUpdate.Before(o.List.ThisUpdate) || (n.List.Number != nil && o.List.Number != nil && n.List.Number.Cmp(o.List.Number) < 0):
			return fmt.Errorf("the CRL of %q would be rolled back from thisUpdate %s (number %v) to %s (number %v): kept", o.Issuer.Subject.CommonName,
				o.List.ThisUpdate.UTC().Format(time.RFC3339), o.List.Number, n.List.ThisUpdate.UTC().Format(time.RFC3339), n.List.Number)
		}
	}
	return nil
}

// newestCRL is the CRL in crls (nil entries skipped) of issuer with the
// latest thisUpdate, or nil.
func newestCRL(crls []*CRL, issuer *x509.Certificate) *CRL {
	var out *CRL
	for _, l := range crls {
		if l != nil && bytes.Equal(l.Issuer.RawSubject, issuer.RawSubject) && bytes.Equal(l.Issuer.RawSubjectPublicKeyInfo, issuer.RawSubjectPublicKeyInfo) &&
			(out == nil || l.List.ThisUpdate.After(out.List.ThisUpdate)) {
			out = l
		}
	}
	return out
}

func stampOf(dir string) ([32]byte, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return [32]byte{}, err
	}
	h := sha256.New()
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			return [32]byte{}, err
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00", e.Name(), info.Size(), info.ModTime().UnixNano())
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s, nil
}

// LoadCollateralDir reads and verifies dir once (the layout above).
func LoadCollateralDir(dir string, roots []*x509.Certificate) (*Collateral, error) {
	read := func(name string) ([]byte, error) {
		// Bounded as read, not by a prior Stat: a file that grows after it,
		// or one whose size Stat does not tell (a link to a device), is
		// refused rather than read without end.
		p := filepath.Join(dir, name)
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxCollateralFile+1))
		if err != nil {
			return nil, err
		}
		if len(b) > maxCollateralFile {
			return nil, fmt.Errorf("%s is more than %d bytes", p, maxCollateralFile)
		}
		return b, nil
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	var f Files
	names, err := filepath.Glob(filepath.Join(dir, "tcbinfo-*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, p := range names {
		base := strings.TrimSuffix(filepath.Base(p), ".json")
		body, err := read(base + ".json")
		if err != nil {
			return nil, err
		}
		chain, err := read(base + ".issuer.pem")
		if os.IsNotExist(err) {
			chain, err = read("tcbinfo.issuer.pem") // one chain for every FMSPC
		}
		if err != nil {
			return nil, err
		}
		f.TCBInfos = append(f.TCBInfos, Signed{Body: body, IssuerChain: chain})
	}
	if body, err := read("qe_identity.json"); err == nil {
		chain, err := read("qe_identity.issuer.pem")
		if err != nil {
			return nil, err
		}
		f.QEIdentity = &Signed{Body: body, IssuerChain: chain}
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	for _, name := range []string{"pck_crl", "pck_crl-platform", "pck_crl-processor"} {
		body, err := read(name + ".der")
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		chain, err := read(name + ".issuer.pem")
		if err != nil {
			return nil, err
		}
		f.PCKCRLs = append(f.PCKCRLs, Signed{Body: body, IssuerChain: chain})
	}
	if body, err := read("root_crl.der"); err == nil {
		f.RootCRL = body
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	c, err := NewCollateral(&f, roots)
	if err != nil {
		return nil, err
	}
	for fmspc := range c.TCBInfos {
		if _, err := os.Stat(filepath.Join(dir, "tcbinfo-"+fmspc+".json")); err != nil {
			return nil, fmt.Errorf("the TCB Info for FMSPC %s is not in tcbinfo-%s.json", fmspc, fmspc)
		}
	}
	return c, nil
}
