package tdx

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
)

// TestCollateralDirBoundedRead: a collateral file whose size Stat does not
// tell (here a link to /dev/zero, which reads without end) is refused at
// maxCollateralFile bytes, not read whole.
func TestCollateralDirBoundedRead(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	ca := newSimCA(t)
	dir := writeCollateral(t, ca, attesttest.TDXCollateralOptions{})
	p := filepath.Join(dir, "root_crl.der")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", p); err != nil {
		t.Fatal(err)
	}
	_, err := LoadCollateralDir(dir, []*x509.Certificate{ca.Root})
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("LoadCollateralDir with root_crl.der -> /dev/zero: %v; want a size refusal", err)
	}
}

// TestCollateralDirCRLRollback: a reload never undoes a revocation: a CRL
// older than the one held (Intel's from before it revoked a PCK or a PCK
// CA, still within its nextUpdate) or none at all, beside TCB Info and QE
// Identity of the same evaluation, is refused and the held CRLs kept, as
// an envelope's older CRLs are (TestEnvelopeCRLRollback).
func TestCollateralDirCRLRollback(t *testing.T) {
	ca := newSimCA(t)
	for name, o := range map[string]attesttest.TDXCollateralOptions{
		"PCK revoked by the PCK CRL":     {RevokePCK: true},
		"PCK CA revoked by the root CRL": {RevokePlatformCA: true},
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeCollateral(t, ca, o)
			v := simVerifier(t, ca, dir, Options{})
			ev := marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{}, nil))
			c, err := v.Verify(ev, simTime)
			attesttest.CheckResult(t, c, err, attest.ErrChain)
			// The same evaluation, issued a day earlier: CRLs from before
			// the revocation.
			rewriteCollateral(t, ca, dir, attesttest.TDXCollateralOptions{IssueDate: simIssue.AddDate(0, 0, -1), NextUpdate: simIssue.AddDate(1, 0, 0)})
			c, err = v.Verify(ev, simTime.Add(2*time.Second))
			attesttest.CheckResult(t, c, err, attest.ErrChain)
			if _, err := v.source.(*CollateralDir).Held(); err == nil || !strings.Contains(err.Error(), "rolled back") {
				t.Fatalf("the reload was not refused as a rollback: %v", err)
			}
		})
	}
	// A CRL removed: refused too, the held one kept.
	dir := writeCollateral(t, ca, attesttest.TDXCollateralOptions{RevokePCK: true})
	v := simVerifier(t, ca, dir, Options{})
	ev := marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{}, nil))
	for _, name := range []string{attesttest.TDXPCKCRLFile, attesttest.TDXPCKCRLIssuerFile} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := v.Verify(ev, simTime.Add(2*time.Second))
	attesttest.CheckResult(t, c, err, attest.ErrChain)
	if _, err := v.source.(*CollateralDir).Held(); err == nil || !strings.Contains(err.Error(), "removed") {
		t.Fatalf("the reload was not refused: %v", err)
	}
	// A newer CRL is taken: here, one that no longer lists the PCK.
	rewriteCollateral(t, ca, dir, attesttest.TDXCollateralOptions{IssueDate: simIssue.AddDate(0, 0, 1)})
	c, err = v.Verify(ev, simTime.Add(4*time.Second))
	attesttest.CheckResult(t, c, err, nil)
}
