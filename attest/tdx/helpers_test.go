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

// simTime is when the simulated material is verified.
var simTime = time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC)

var simFMSPC = []byte{0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00}

func newSimCA(t testing.TB) *attesttest.TDXTestCA {
	t.Helper()
	ca, err := attesttest.NewTDXTestCA(simTime.AddDate(0, -1, 0), simFMSPC)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func writeCollateral(t testing.TB, ca *attesttest.TDXTestCA, o attesttest.TDXTestCollateral) string {
	t.Helper()
	files, err := ca.Collateral(o)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func simVerifier(t testing.TB, ca *attesttest.TDXTestCA, dir string, o Options) *Verifier {
	t.Helper()
	o.Roots = []*x509.Certificate{ca.Root}
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
func simEnvelope(t testing.TB, ca *attesttest.TDXTestCA, q attesttest.TDXTestQuote, nonce []byte) *envelope.Envelope {
	t.Helper()
	e := &envelope.Envelope{Format: attest.FormatTDX, PublicKey: testKey, Nonce: nonce}
	if q.ReportData == nil {
		q.ReportData = e.Binding(crypto.SHA512)
	}
	raw, err := ca.Quote(q)
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
