package snptest_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/snp"
	"github.com/attestkms/attestkms/attest/snp/snptest"
	"github.com/google/go-sev-guest/kds"
)

var at = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

var enclaveKey = sync.OnceValue(func() []byte {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		panic(err)
	}
	return der
})

func newCA(t *testing.T, product string) *snptest.CA {
	t.Helper()
	ca, err := snptest.NewCAWith(snptest.CAOptions{Product: product, Bits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func verifier(t *testing.T, rootsPEM []byte, o snp.Options) *snp.Verifier {
	t.Helper()
	r, err := snp.ParseRoots(rootsPEM)
	if err != nil {
		t.Fatal(err)
	}
	o.Roots = r
	v, err := snp.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEvidenceVerifies(t *testing.T) {
	ca := newCA(t, "")
	v := verifier(t, ca.RootsPEM(), snp.Options{})
	for name, r := range map[string]snptest.Report{
		"zero":       {},
		"everything": {Measurement: bytes.Repeat([]byte{1}, 48), HostData: bytes.Repeat([]byte{2}, 32), Nonce: []byte("n"), UserData: []byte("u"), TCB: snptest.TCB(1, 2, 3, 4)},
		"vlek":       {VLEK: true},
		"version 2":  {Version: 2},
	} {
		ev, err := ca.Evidence(enclaveKey(), r)
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(ev, at)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Measurement == nil {
			r.Measurement = snptest.DefaultMeasurement
		}
		if !bytes.Equal(c.SNP.Measurement, r.Measurement) || c.SNP.Policy != snptest.DefaultPolicy || !bytes.Equal(c.PublicKeyDER, enclaveKey()) {
			t.Errorf("%s: claims %+v", name, c.SNP)
		}
	}
}

func TestEnvelope(t *testing.T) {
	ca := newCA(t, "")
	e, err := ca.Envelope(enclaveKey(), snptest.Report{Nonce: []byte("nonce")})
	if err != nil {
		t.Fatal(err)
	}
	if e.Format != attest.FormatSEVSNP || len(e.Report) != 1184 || e.VLEK != nil || !bytes.Equal(e.ASK, ca.ASK.Raw) || !bytes.Equal(e.ARK, ca.ARK.Raw) {
		t.Fatal("envelope shape")
	}
	if !bytes.Equal(e.Report[0x50:0x90], e.Binding(crypto.SHA512)) {
		t.Error("REPORT_DATA is not the binding")
	}
	vcek, err := x509.ParseCertificate(e.VCEK)
	if err != nil {
		t.Fatal(err)
	}
	exts, err := kds.VcekCertificateExtensions(vcek)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(exts.HWID, snptest.DefaultChipID) || uint64(exts.TCBVersion) != snptest.DefaultTCB || exts.ProductName != "Milan-B1" {
		t.Errorf("VCEK extensions %+v", exts)
	}
	if vcek.Subject.CommonName != "SEV-VCEK" || vcek.Issuer.CommonName != "SEV-Milan" || vcek.SignatureAlgorithm != x509.SHA384WithRSAPSS {
		t.Errorf("VCEK %s by %s, %s", vcek.Subject, vcek.Issuer, vcek.SignatureAlgorithm)
	}
	// One VCEK per chip and TCB, as AMD's KDS issues them.
	same, _ := ca.VCEK(snptest.DefaultChipID, snptest.DefaultTCB)
	other, _ := ca.VCEK(bytes.Repeat([]byte{9}, 64), snptest.DefaultTCB)
	newer, _ := ca.VCEK(snptest.DefaultChipID, snptest.TCB(3, 0, 9, 115))
	if !bytes.Equal(same.Raw, e.VCEK) || bytes.Equal(other.Raw, e.VCEK) || bytes.Equal(newer.Raw, e.VCEK) {
		t.Error("VCEKs are not one per chip and TCB")
	}
	if _, err := ca.VCEK(make([]byte, 63), 1); err == nil {
		t.Error("a 63-byte chip id")
	}
	// A VLEK envelope carries the ASVK.
	e, err = ca.Envelope(enclaveKey(), snptest.Report{VLEK: true})
	if err != nil {
		t.Fatal(err)
	}
	if e.VCEK != nil || e.VLEK == nil || !bytes.Equal(e.ASK, ca.ASVK.Raw) {
		t.Error("VLEK envelope shape")
	}
}

func TestSaveLoad(t *testing.T) {
	ca := newCA(t, "Genoa")
	dir := filepath.Join(t.TempDir(), "ca")
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{snptest.RootsFile: 0o644, snptest.ASKKeyFile: 0o600, snptest.ASVKKeyFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s has mode %v; want %v", name, fi.Mode().Perm(), mode)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("%d files; the ARK's key must not be saved", len(entries))
	}
	loaded, err := snptest.LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Product != "Genoa" || !bytes.Equal(loaded.RootsPEM(), ca.RootsPEM()) {
		t.Fatal("loaded CA differs")
	}
	// What the loaded CA signs verifies with the original's roots.
	v := verifier(t, ca.RootsPEM(), snp.Options{})
	for _, r := range []snptest.Report{{}, {VLEK: true}} {
		ev, err := loaded.Evidence(enclaveKey(), r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ev, at); err != nil {
			t.Fatal(err)
		}
	}
	// Save never overwrites.
	if err := ca.Save(dir); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Save: %v; want fs.ErrExist", err)
	}
	if err := loaded.Save(t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

func TestLoadCARefuses(t *testing.T) {
	ca := newCA(t, "")
	dir := t.TempDir()
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := snptest.LoadCA(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing directory")
	}
	swapped := t.TempDir()
	ca.Save(swapped)
	ask, _ := os.ReadFile(filepath.Join(swapped, snptest.ASKKeyFile))
	asvk, _ := os.ReadFile(filepath.Join(swapped, snptest.ASVKKeyFile))
	os.WriteFile(filepath.Join(swapped, snptest.ASKKeyFile), asvk, 0o600)
	os.WriteFile(filepath.Join(swapped, snptest.ASVKKeyFile), ask, 0o600)
	if _, err := snptest.LoadCA(swapped); err == nil || !strings.Contains(err.Error(), "is not the key of") {
		t.Errorf("swapped keys: %v", err)
	}
	two := t.TempDir()
	ca.Save(two)
	os.WriteFile(filepath.Join(two, snptest.RootsFile), ca.RootsPEM()[:len(ca.RootsPEM())/2], 0o644)
	if _, err := snptest.LoadCA(two); err == nil {
		t.Error("a truncated roots file")
	}
}

func TestNewCAWithRefuses(t *testing.T) {
	for _, o := range []snptest.CAOptions{{Product: "Rome"}, {Bits: 1024}} {
		if _, err := snptest.NewCAWith(o); err == nil || !strings.HasPrefix(err.Error(), "snptest: ") {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

// TestNewCA makes a CA as attestsim does: RSA-4096, as AMD's.
func TestNewCA(t *testing.T) {
	if testing.Short() {
		t.Skip("RSA-4096 keys take a second")
	}
	ca, err := snptest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	if ca.Product != "Milan" || ca.ARK.PublicKey.(*rsa.PublicKey).N.BitLen() != 4096 || ca.ARK.Subject.CommonName != "ARK-Milan" || ca.ASK.Subject.CommonName != "SEV-Milan" || ca.ASVK.Subject.CommonName != "SEV-VLEK-Milan" {
		t.Fatalf("CA %s %s %s", ca.ARK.Subject, ca.ASK.Subject, ca.ASVK.Subject)
	}
	ev, err := ca.Evidence(enclaveKey(), snptest.Report{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifier(t, ca.RootsPEM(), snp.Options{}).Verify(ev, at); err != nil {
		t.Fatal(err)
	}
}
