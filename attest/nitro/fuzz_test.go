package nitro_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
)

// FuzzVerify feeds documents to verifiers of both formats, at the times
// their seeds verify (the real documents' and the generated ones'), so that
// mutations reach every stage. Properties: no panic; claims nil exactly
// when the error is not; every error wraps exactly one kind; accepted claims
// are consistent, and the same again (from the cache) and from a verifier
// that never saw the document; the input is not modified. Seeds: testdata/fuzz/FuzzVerify (written by
// testvectors/gen/nitro) and every document in testvectors/nitro.
func FuzzVerify(f *testing.F) {
	for _, dir := range []string{vectorDir, filepath.Join(vectorDir, "generated")} {
		docs, _ := filepath.Glob(filepath.Join(dir, "*.cose"))
		for _, path := range docs {
			b, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	type setup struct {
		opts nitro.Options
		at   time.Time
	}
	setups := []setup{
		{nitro.Options{AllowDebug: true}, debugDocTime.Add(time.Second)}, // the real document is of a debug-mode enclave
		{nitro.Options{}, maxFieldsTime.Add(time.Second)},
		{nitro.Options{Roots: readRoots(f, filepath.Join(vectorDir, "generated", "nitro_test_root.pem"))}, testVerifyTime},
		{nitro.Options{Format: attest.FormatQingtian, Roots: readRoots(f, filepath.Join(vectorDir, "generated", "qingtian_test_root.pem"))}, testVerifyTime},
		{nitro.Options{Format: attest.FormatNitroTPM, Roots: readRoots(f, filepath.Join(vectorDir, "generated", "nitro_test_root.pem"))}, testVerifyTime},
		{nitro.Options{}, realNitroTPMTime.Add(time.Second)}, // the real NitroTPM document
	}
	verifiers := make([]*nitro.Verifier, len(setups))
	for i, s := range setups {
		verifiers[i] = newVerifier(f, s.opts)
	}

	f.Fuzz(func(t *testing.T, doc []byte) {
		orig := bytes.Clone(doc)
		for i, s := range setups {
			c, err := verifiers[i].Verify(doc, s.at)
			checkFuzzResult(t, c, err)
			if c == nil {
				// Only documents that verified have their chain cached:
				// accepted ones, and those refused for debug mode, which
				// must be refused again, from the cache.
				if errors.Is(err, attest.ErrPolicy) {
					if c, err2 := verifiers[i].Verify(doc, s.at); !errors.Is(err2, attest.ErrPolicy) || c != nil {
						t.Fatalf("setup %d: refused by policy, then %v", i, err2)
					}
				}
				continue
			}
			checkClaims(t, c, s.opts.Format, s.at)
			// Accepted: so must it be again (from the cache, now) and by a
			// verifier that never saw it, with the same claims.
			again, err2 := verifiers[i].Verify(doc, s.at)
			fresh, err3 := newVerifier(t, s.opts).Verify(doc, s.at)
			if err2 != nil || err3 != nil || !reflect.DeepEqual(c, again) || !reflect.DeepEqual(c, fresh) {
				t.Fatalf("setup %d: accepted, then %v, %v, or other claims", i, err2, err3)
			}
		}
		if !bytes.Equal(doc, orig) {
			t.Fatal("Verify modified its input")
		}
	})
}

func checkFuzzResult(t *testing.T, c *attest.Claims, err error) {
	t.Helper()
	if (c == nil) == (err == nil) {
		t.Fatalf("claims %v with error %v", c != nil, err)
	}
	if err != nil && len(nitro.KindsOf(err)) != 1 {
		t.Fatalf("error %q wraps %d kinds", err, len(nitro.KindsOf(err)))
	}
}

// checkClaims checks what accepted claims must say, whatever the document.
func checkClaims(t *testing.T, c *attest.Claims, format attest.Format, at time.Time) {
	t.Helper()
	if format == "" {
		format = attest.FormatNitro
	}
	if c.Format == attest.FormatNitroTPM && (format == attest.FormatNitro || format == attest.FormatNitroTPM) {
		checkNitroTPMClaims(t, c, at)
		return
	}
	sizes := map[string]int{"SHA256": 32, "SHA384": 48, "SHA512": 64}
	size, ok := sizes[c.Digest]
	if c.Format != format || !ok || format == attest.FormatNitro && c.Digest != "SHA384" {
		t.Fatalf("format %s, digest %s", c.Format, c.Digest)
	}
	if c.ModuleID == "" || len(c.ModuleID) > 128 {
		t.Fatalf("module id %q", c.ModuleID)
	}
	if len(c.PCRs) == 0 || len(c.PCRs) > 32 {
		t.Fatalf("%d PCRs", len(c.PCRs))
	}
	for i, p := range c.PCRs {
		if i < 0 || i > 31 || len(p) != size {
			t.Fatalf("PCR%d of %d bytes", i, len(p))
		}
	}
	pcr0, has0 := c.PCRs[0]
	if c.Debug != (!has0 || bytes.Equal(pcr0, make([]byte, size))) {
		t.Fatalf("Debug %v with PCR0 %x", c.Debug, pcr0)
	}
	if c.PublicKey == nil {
		// An HPKE key (attest.ParseBoundKey): a P-256 key or a digest.
		if c.KeyType != "EC P-256" && (c.KeyType != attest.KeyTypeDigest || len(c.PublicKeyDER) != 32) {
			t.Fatalf("no RSA key, key type %q", c.KeyType)
		}
		return
	}
	if n := c.PublicKey.N.BitLen(); n < 2048 || n > 4096 || c.PublicKey.E < 3 || c.PublicKey.E%2 == 0 {
		t.Fatalf("key of %d bits, exponent %d", n, c.PublicKey.E)
	}
	k, err := x509.ParsePKIXPublicKey(c.PublicKeyDER)
	if err != nil || !c.PublicKey.Equal(k) {
		t.Fatalf("PublicKeyDER is not PublicKey: %v", err)
	}
	if c.Time.Before(at.Add(-5*time.Minute)) || c.Time.After(at.Add(time.Minute)) {
		t.Fatalf("time %s, verified at %s", c.Time, at)
	}
	if max := map[attest.Format]int{attest.FormatNitro: 1024, attest.FormatQingtian: 4096}[format]; len(c.UserData) > max || len(c.Nonce) > max {
		t.Fatalf("user data %d, nonce %d bytes", len(c.UserData), len(c.Nonce))
	}
}

// checkNitroTPMClaims checks what accepted NitroTPM claims must say.
func checkNitroTPMClaims(t *testing.T, c *attest.Claims, at time.Time) {
	t.Helper()
	if c.Digest != "SHA384" || c.Debug || c.PCRs != nil || len(c.NitroTPMPCRs) != 24 {
		t.Fatalf("digest %s, debug %v, %d pcrs, %d NitroTPM registers", c.Digest, c.Debug, len(c.PCRs), len(c.NitroTPMPCRs))
	}
	for i, p := range c.NitroTPMPCRs {
		if i < 0 || i > 23 || len(p) != 48 {
			t.Fatalf("NitroTPM register %d of %d bytes", i, len(p))
		}
	}
	if !strings.Contains(c.ModuleID, "-tpm") || !strings.HasPrefix(c.ModuleID, "i-") {
		t.Fatalf("module id %q", c.ModuleID)
	}
	hpkeKey := c.KeyType == "EC P-256" || c.KeyType == attest.KeyTypeDigest
	if (c.PublicKey == nil && !hpkeKey) == (c.KeyUnusable == nil) || c.KeyUnusable != nil && !errors.Is(c.KeyUnusable, attest.ErrKey) {
		t.Fatalf("key %v, unusable %v", c.PublicKey != nil, c.KeyUnusable)
	}
	if c.PublicKey != nil {
		k, err := x509.ParsePKIXPublicKey(c.PublicKeyDER)
		if err != nil || !c.PublicKey.Equal(k) {
			t.Fatalf("PublicKeyDER is not PublicKey: %v", err)
		}
	}
	if c.Time.Before(at.Add(-5*time.Minute)) || c.Time.After(at.Add(time.Minute)) {
		t.Fatalf("time %s, verified at %s", c.Time, at)
	}
	if len(c.UserData) > 1024 || len(c.Nonce) > 1024 {
		t.Fatalf("user data %d, nonce %d bytes", len(c.UserData), len(c.Nonce))
	}
	for k := range c.Measurements() {
		if k != attest.AttestationPrefix+"Format" && !strings.HasPrefix(k, attest.AttestationPrefix+"NitroTPMPCR") {
			t.Fatalf("a NitroTPM document gives condition key %s", k)
		}
	}
}
