package main

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/snp"
	"github.com/attestkms/attestkms/attest/tpm"
)

// TestSNPAndTPMRoundTrip makes each test CA, signs evidence with the
// commands' flags, and verifies it with the verifiers trusting the CA's
// roots.pem, as attestkms serve --snp-roots/--tpm-roots does.
func TestSNPAndTPMRoundTrip(t *testing.T) {
	dir := t.TempDir()
	keyDER, _ := x509.MarshalPKIXPublicKey(&enclaveKey().PublicKey)
	key := writePEM(t, "PUBLIC KEY", keyDER)

	snpDir, tpmDir := filepath.Join(dir, "snpca"), filepath.Join(dir, "tpmca")
	if code, out, errs := attestsim(t, "snp-ca", "--out", snpDir); code != 0 || !strings.Contains(out, "--snp-roots "+snpDir+"/roots.pem") {
		t.Fatalf("snp-ca: %d %q %q", code, out, errs)
	}
	if code, out, errs := attestsim(t, "tpm-ca", "--out", tpmDir); code != 0 || !strings.Contains(out, "--tpm-roots "+tpmDir+"/roots.pem") {
		t.Fatalf("tpm-ca: %d %q %q", code, out, errs)
	}
	if fi, err := os.Stat(filepath.Join(snpDir, "roots.pem")); err != nil || fi.Size() == 0 {
		t.Fatalf("snp roots.pem: %v", err)
	}

	m, hd := strings.Repeat("ab", 48), strings.Repeat("cd", 32)
	ev := filepath.Join(dir, "snp.cbor")
	if code, _, errs := attestsim(t, "snp", "--ca", snpDir, "--public-key", key, "--measurement", m, "--host-data", hd,
		"--nonce", "bm9uY2U=", "--user-data", "aGk=", "--out", ev); code != 0 {
		t.Fatalf("snp: %d %q", code, errs)
	}
	rootsPEM, _ := os.ReadFile(filepath.Join(snpDir, "roots.pem"))
	roots, err := snp.ParseRoots(rootsPEM)
	if err != nil {
		t.Fatal(err)
	}
	sv, _ := snp.New(snp.Options{Roots: roots})
	b, _ := os.ReadFile(ev)
	c, err := sv.Verify(b, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != attest.FormatSEVSNP || c.Measurements()[attest.AttestationPrefix+"SnpMeasurement"] != m || c.Measurements()[attest.AttestationPrefix+"SnpHostData"] != hd ||
		string(c.Nonce) != "nonce" || string(c.UserData) != "hi" || !bytes.Equal(c.PublicKeyDER, keyDER) || c.Debug {
		t.Fatalf("snp claims %+v %+v", c, c.SNP)
	}
	// --policy with the debug bit makes a debug guest.
	if code, _, errs := attestsim(t, "snp", "--ca", snpDir, "--public-key", key, "--policy", "0xb0000", "--out", ev); code != 0 {
		t.Fatalf("snp --policy: %d %q", code, errs)
	}
	b, _ = os.ReadFile(ev)
	if _, err := sv.Verify(b, time.Now()); err == nil || !strings.Contains(err.Error(), "debug") {
		t.Fatalf("a debug guest verified: %v", err)
	}

	pcr7 := strings.Repeat("77", 32)
	ev = filepath.Join(dir, "tpm.cbor")
	if code, _, errs := attestsim(t, "tpm", "--ca", tpmDir, "--public-key", key, "--pcr", "7="+pcr7, "--pcr", "0="+strings.Repeat("00", 32), "--out", ev); code != 0 {
		t.Fatalf("tpm: %d %q", code, errs)
	}
	rootsPEM, _ = os.ReadFile(filepath.Join(tpmDir, "roots.pem"))
	troots, err := tpm.ParseRoots(rootsPEM)
	if err != nil {
		t.Fatal(err)
	}
	tv, _ := tpm.New(tpm.Options{Roots: troots})
	b, _ = os.ReadFile(ev)
	c, err = tv.Verify(b, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != attest.FormatTPM2 || c.Measurements()[attest.AttestationPrefix+"TpmPCR7"] != pcr7 || len(c.TPM.PCRs) != 2 || c.TPM.Bank != "SHA256" {
		t.Fatalf("tpm claims %+v %+v", c, c.TPM)
	}
}

func TestSNPAndTPMErrors(t *testing.T) {
	dir := t.TempDir()
	keyDER, _ := x509.MarshalPKIXPublicKey(&enclaveKey().PublicKey)
	key := writePEM(t, "PUBLIC KEY", keyDER)
	snpDir, tpmDir := filepath.Join(dir, "snpca"), filepath.Join(dir, "tpmca")
	attestsim(t, "snp-ca", "--out", snpDir)
	attestsim(t, "tpm-ca", "--out", tpmDir)
	ev := filepath.Join(dir, "ev.cbor")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"snp-ca exists", []string{"snp-ca", "--out", snpDir}, 1, "already holds a test CA"},
		{"tpm-ca without out", []string{"tpm-ca"}, 2, "--out is required"},
		{"snp missing ca", []string{"snp", "--ca", filepath.Join(dir, "none"), "--public-key", key, "--out", ev}, 1, "hint: make one with: attestsim snp-ca"},
		{"snp short measurement", []string{"snp", "--ca", snpDir, "--public-key", key, "--measurement", "abcd", "--out", ev}, 2, "48 bytes"},
		{"snp bad host data", []string{"snp", "--ca", snpDir, "--public-key", key, "--host-data", "zz", "--out", ev}, 2, "--host-data"},
		{"snp bad policy", []string{"snp", "--ca", snpDir, "--public-key", key, "--policy", "lots", "--out", ev}, 2, "--policy"},
		{"snp vmpl 4", []string{"snp", "--ca", snpDir, "--public-key", key, "--vmpl", "4", "--out", ev}, 2, "0 to 3"},
		{"snp with a tpm ca", []string{"snp", "--ca", tpmDir, "--public-key", key, "--out", ev}, 1, ""},
		{"tpm pcr 24", []string{"tpm", "--ca", tpmDir, "--public-key", key, "--pcr", "24=" + strings.Repeat("00", 32), "--out", ev}, 2, "0 to 23"},
		{"tpm sha-384 pcr", []string{"tpm", "--ca", tpmDir, "--public-key", key, "--pcr", "1=" + strings.Repeat("00", 48), "--out", ev}, 2, "32 bytes"},
		{"tpm missing public key", []string{"tpm", "--ca", tpmDir, "--out", ev}, 2, "--public-key is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := attestsim(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) || stdout != "" {
				t.Fatalf("exit %d stdout %q stderr %q; want %d and %q", code, stdout, stderr, tc.code, tc.stderr)
			}
		})
	}
	for _, cmd := range []string{"snp-ca", "snp", "tpm-ca", "tpm"} {
		if code, out, _ := attestsim(t, cmd, "--help"); code != 0 || !strings.Contains(out, "Examples:") {
			t.Errorf("%s --help: %d %q", cmd, code, out)
		}
	}
}
