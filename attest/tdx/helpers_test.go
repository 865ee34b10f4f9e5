package tdx

import (
	"crypto"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/envelope"
)

// simTime is when the simulated material is verified; simIssue is when
// its collateral is issued unless a test says otherwise (valid a year).
var (
	simTime  = time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC)
	simIssue = simTime.AddDate(0, -1, 0)
)

var simFMSPC = [6]byte{0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00}

func newSimCA(t testing.TB) *attesttest.TDXCA {
	t.Helper()
	ca, err := attesttest.NewTDXCAWith(attesttest.TDXCAOptions{FMSPC: &simFMSPC})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// simCollateral is ca's collateral as o says; with no IssueDate, issued
// at simIssue and valid a year unless o says otherwise.
func simCollateral(t testing.TB, ca *attesttest.TDXCA, o attesttest.TDXCollateralOptions) *attesttest.TDXCollateral {
	t.Helper()
	if o.IssueDate.IsZero() {
		o.IssueDate = simIssue
		if o.NextUpdate.IsZero() {
			o.NextUpdate = o.IssueDate.AddDate(1, 0, 0)
		}
	}
	c, err := ca.Collateral(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// writeCollateral saves simCollateral to a new directory.
func writeCollateral(t testing.TB, ca *attesttest.TDXCA, o attesttest.TDXCollateralOptions) string {
	t.Helper()
	dir := t.TempDir()
	if err := simCollateral(t, ca, o).Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// rewriteCollateral replaces the collateral in dir, its files' times moved
// on so that the change is seen.
func rewriteCollateral(t testing.TB, ca *attesttest.TDXCA, dir string, o attesttest.TDXCollateralOptions) {
	t.Helper()
	tmp := writeCollateral(t, ca, o)
	ents, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(tmp, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, e.Name(), b)
	}
}

func simVerifier(t testing.TB, ca *attesttest.TDXCA, dir string, o Options) *Verifier {
	t.Helper()
	o.Roots = []*x509.Certificate{ca.Root}
	return dirVerifier(t, dir, o)
}

// dirVerifier is a Verifier as o says, judging with the collateral in dir
// (verified to o.Roots) unless dir is "".
func dirVerifier(t testing.TB, dir string, o Options) *Verifier {
	t.Helper()
	if dir != "" {
		d, err := OpenCollateralDir(dir, o.Roots)
		if err != nil {
			t.Fatal(err)
		}
		o.Collateral = d
	}
	v, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// simEnvelope is an envelope whose quote binds its key, nonce and user
// data, unless q.ReportData is set.
func simEnvelope(t testing.TB, ca *attesttest.TDXCA, q attesttest.TDXQuote, nonce []byte) *envelope.Envelope {
	t.Helper()
	e := &envelope.Envelope{Format: attest.FormatTDX, PublicKey: testKey, Nonce: nonce}
	raw, err := ca.Quote(e.Binding(crypto.SHA512), q)
	if err != nil {
		t.Fatal(err)
	}
	e.Quote = raw
	return e
}

func marshal(t testing.TB, e *envelope.Envelope) []byte {
	t.Helper()
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, dir, name string, b []byte) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// Make the change visible whatever the file system's time resolution.
	fi, _ := os.Stat(p)
	os.Chtimes(p, fi.ModTime().Add(time.Second), fi.ModTime().Add(time.Second))
}
