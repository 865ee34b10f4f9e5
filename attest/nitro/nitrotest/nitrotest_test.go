package nitrotest_test

import (
	"bytes"
	crand "crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func seeded(b byte) *rand.ChaCha8 { return rand.NewChaCha8([32]byte{b}) }

// testKey is an enclave key, made once.
var testKey = sync.OnceValue(func() []byte {
	k, err := rsa.GenerateKey(crand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		panic(err)
	}
	return der
})

// TestDeterministic: the same seed gives the same CA and documents, byte for
// byte; another seed does not.
func TestDeterministic(t *testing.T) {
	key := testKey()
	mk := func(seed byte) [][]byte {
		ca, err := nitrotest.NewTestCA(attest.FormatNitro, seeded(seed))
		if err != nil {
			t.Fatal(err)
		}
		out := [][]byte{ca.Root.Raw, ca.Intermediate.Raw}
		for _, d := range []nitrotest.Document{
			{Timestamp: t0, PublicKey: key},
			{Timestamp: t0, PublicKey: key, Digest: "SHA512", ForeignCA: true},
			{Timestamp: t0, ExpiredLeaf: true, SignWithOtherKey: true},
		} {
			b, err := ca.Sign(d)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	a, b, c := mk(1), mk(1), mk(2)
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Errorf("item %d differs with the same seed", i)
		}
		if bytes.Equal(a[i], c[i]) {
			t.Errorf("item %d is the same with another seed", i)
		}
	}
}

func TestSaveLoad(t *testing.T) {
	for _, format := range []attest.Format{attest.FormatNitro, attest.FormatQingtian} {
		t.Run(string(format), func(t *testing.T) {
			ca, err := nitrotest.NewTestCA(format, nil)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "ca")
			if err := ca.Save(dir); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(filepath.Join(dir, nitrotest.IntermediateKeyFile))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("key file: %v %v", fi.Mode(), err)
			}
			if err := ca.Save(dir); err == nil {
				t.Fatal("Save overwrote a CA")
			}
			loaded, err := nitrotest.LoadTestCA(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if loaded.Format != format || !loaded.Root.Equal(ca.Root) || !loaded.Intermediate.Equal(ca.Intermediate) {
				t.Fatal("loaded CA differs")
			}
			doc, err := loaded.Sign(nitrotest.Document{Timestamp: t0, PublicKey: testKey()})
			if err != nil {
				t.Fatal(err)
			}
			// Without PCRs the document is a debug-mode enclave's.
			v, err := nitro.New(nitro.Options{Format: format, Roots: ca.Roots(), AllowDebug: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(doc, t0); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	a, _ := nitrotest.NewTestCA(attest.FormatNitro, seeded(1))
	b, _ := nitrotest.NewTestCA(attest.FormatNitro, seeded(2))
	da, db := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	if err := a.Save(da); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(db); err != nil {
		t.Fatal(err)
	}
	if _, err := nitrotest.LoadTestCA(filepath.Join(t.TempDir(), "none"), nil); err == nil {
		t.Error("loaded a missing CA")
	}
	// a's root with b's intermediate and key.
	for _, f := range []string{nitrotest.IntermediateFile, nitrotest.IntermediateKeyFile} {
		data, _ := os.ReadFile(filepath.Join(db, f))
		os.WriteFile(filepath.Join(da, f), data, 0o600)
	}
	if _, err := nitrotest.LoadTestCA(da, nil); err == nil {
		t.Error("loaded an intermediate its root did not sign")
	}
	// c's certificates with b's key.
	c, _ := nitrotest.NewTestCA(attest.FormatNitro, seeded(3))
	dc := filepath.Join(t.TempDir(), "c")
	c.Save(dc)
	key, _ := os.ReadFile(filepath.Join(db, nitrotest.IntermediateKeyFile))
	os.WriteFile(filepath.Join(dc, nitrotest.IntermediateKeyFile), key, 0o600)
	if _, err := nitrotest.LoadTestCA(dc, nil); err == nil {
		t.Error("loaded a key that is not the intermediate's")
	}
}

func TestNewTestRSAKey(t *testing.T) {
	a, err := nitrotest.NewTestRSAKey(seeded(5), 1024)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := nitrotest.NewTestRSAKey(seeded(5), 1024)
	c, _ := nitrotest.NewTestRSAKey(seeded(6), 1024)
	if !a.Equal(b) || a.Equal(c) || a.N.BitLen() != 1024 || a.E != 65537 {
		t.Fatal("not deterministic, or the wrong size")
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	msg := []byte("secret")
	ct, err := rsa.EncryptOAEP(sha256.New(), crand.Reader, &a.PublicKey, msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := rsa.DecryptOAEP(sha256.New(), nil, a, ct, nil)
	if err != nil || !bytes.Equal(pt, msg) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := nitrotest.NewTestRSAKey(nil, 1023); err == nil {
		t.Fatal("odd size accepted")
	}
}

func TestSignNeedsTime(t *testing.T) {
	ca, _ := nitrotest.NewTestCA(attest.FormatNitro, nil)
	if _, err := ca.Sign(nitrotest.Document{}); err == nil {
		t.Fatal("signed without a timestamp")
	}
	if _, err := ca.Sign(nitrotest.Document{Timestamp: t0, DuplicateKey: "nope"}); err == nil {
		t.Fatal("duplicated a key that is not there")
	}
	if _, err := nitrotest.NewTestCA("sev-snp", nil); err == nil {
		t.Fatal("made a CA for another format")
	}
}

// TestLeafReuse: like the NSM, one leaf per enclave while it is valid.
func TestLeafReuse(t *testing.T) {
	ca, _ := nitrotest.NewTestCA(attest.FormatNitro, seeded(1))
	leaf := func(d nitrotest.Document) []byte {
		doc, err := ca.Sign(d)
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(doc, []byte("certificate"))
		return doc[i : i+200]
	}
	first := leaf(nitrotest.Document{Timestamp: t0})
	if !bytes.Equal(first, leaf(nitrotest.Document{Timestamp: t0.Add(time.Hour)})) {
		t.Error("a new leaf within three hours")
	}
	if bytes.Equal(first, leaf(nitrotest.Document{Timestamp: t0.Add(4 * time.Hour)})) {
		t.Error("the same leaf after it expired")
	}
	if bytes.Equal(first, leaf(nitrotest.Document{Timestamp: t0, ModuleID: "other"})) {
		t.Error("the same leaf for another enclave")
	}
}
