package tpmtest_test

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
)

var at = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// testRSA is an RSA-2048 public key nobody holds: enough for an enclave key,
// whose shape is all a verifier judges.
var testRSA = &rsa.PublicKey{N: new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 2047), big.NewInt(12345)), E: 65537}

func enclaveKey(t *testing.T) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(testRSA)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func verify(t *testing.T, rootsPEM, ev []byte) (*attest.Claims, error) {
	t.Helper()
	r, err := tpm.ParseRoots(rootsPEM)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tpm.New(tpm.Options{Roots: r})
	if err != nil {
		t.Fatal(err)
	}
	return v.Verify(ev, at)
}

func TestSaveLoad(t *testing.T) {
	ca, err := tpmtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ca")
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, tpmtest.AKKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, mode %v", tpmtest.AKKeyFile, err, fi.Mode())
	}
	if err := ca.Save(dir); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Save: %v; want fs.ErrExist", err)
	}
	loaded, err := tpmtest.LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	roots, err := os.ReadFile(filepath.Join(dir, tpmtest.RootsFile))
	if err != nil {
		t.Fatal(err)
	}
	// The loaded CA quotes as the original, to the saved roots.
	ev, err := loaded.Evidence(enclaveKey(t), tpmtest.Quote{Nonce: []byte("n")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := verify(t, roots, ev)
	if err != nil || string(c.Nonce) != "n" {
		t.Fatalf("loaded CA's evidence: %v", err)
	}
	if string(loaded.AKPublic) != string(ca.AKPublic) || !loaded.AKCert.Equal(ca.AKCert) {
		t.Fatal("loaded AK differs")
	}

	if _, err := tpmtest.LoadCA(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("empty dir: %v; want fs.ErrNotExist", err)
	}
	// Parts of two CAs do not load as one.
	other, _ := tpmtest.NewCA()
	otherDir := filepath.Join(t.TempDir(), "other")
	if err := other.Save(otherDir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{tpmtest.AKKeyFile, tpmtest.AKPublicFile, tpmtest.AKCertFile, tpmtest.IntermediateFile} {
		mixed := filepath.Join(t.TempDir(), "mixed")
		if err := ca.Save(mixed); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(otherDir, f))
		if err := os.WriteFile(filepath.Join(mixed, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := tpmtest.LoadCA(mixed); err == nil {
			t.Errorf("another CA's %s loaded", f)
		}
	}
}

func TestEvidence(t *testing.T) {
	for _, k := range []tpmtest.AKKind{tpmtest.AKECDSAP256, tpmtest.AKECDSAP384, tpmtest.AKRSA2048, tpmtest.AKRSA2048PSS} {
		ca, err := tpmtest.NewCAWith(tpmtest.CAOptions{AK: k})
		if err != nil {
			t.Fatal(err)
		}
		for _, bank := range []crypto.Hash{0, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			ev, err := ca.Evidence(enclaveKey(t), tpmtest.Quote{Bank: bank, PCRs: nil})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := verify(t, ca.RootsPEM(), ev); err != nil {
				t.Fatalf("AK %d, bank %v: %v", k, bank, err)
			}
		}
		// Pinned rather than certified.
		ev, err := ca.Evidence(enclaveKey(t), tpmtest.Quote{OmitAKCert: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verify(t, ca.AKPublicKeyPEM(), ev); err != nil {
			t.Fatalf("AK %d pinned: %v", k, err)
		}
	}
	ca, _ := tpmtest.NewCA()
	for name, q := range map[string]tpmtest.Quote{
		"pcr 24":          {PCRs: map[int][]byte{24: make([]byte, 32)}},
		"pcr -1":          {PCRs: map[int][]byte{-1: make([]byte, 32)}},
		"short pcr":       {PCRs: map[int][]byte{0: make([]byte, 20)}},
		"no pcrs":         {PCRs: map[int][]byte{}},
		"md5 bank":        {Bank: crypto.MD5},
		"sha3 signatures": {SigHash: crypto.SHA3_256},
	} {
		if _, err := ca.Evidence(enclaveKey(t), q); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
