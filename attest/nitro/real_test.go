package nitro_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
)

// The real documents' certificates expired long ago, so they verify only at
// their own time, which Verify takes as an argument, as go-sev-guest
// verifies its embedded report.

// The real document is of an enclave in debug mode: these tests admit it
// (AllowDebug), as verify-evidence does; TestDebugMode holds the default.

func TestRealDocument(t *testing.T) {
	v := newVerifier(t, nitro.Options{AllowDebug: true})
	doc := readVector(t, "nitro_doc_2024-01-24_debug_rsa2048.cose")
	orig := bytes.Clone(doc)
	c, err := v.Verify(doc, debugDocTime.Add(time.Second))
	checkResult(t, c, err, nil)
	if !bytes.Equal(doc, orig) {
		t.Fatal("Verify modified its input")
	}
	if c.Format != attest.FormatNitro || c.ModuleID != "i-0e4fe5de7ee5abe78-enc018d3cadd7d66279" || c.Digest != "SHA384" {
		t.Errorf("format %q, module id %q, digest %q", c.Format, c.ModuleID, c.Digest)
	}
	if !c.Time.Equal(debugDocTime) {
		t.Errorf("time %s; want %s", c.Time, debugDocTime)
	}
	if len(c.PCRs) != 16 {
		t.Errorf("%d PCRs; want 16", len(c.PCRs))
	}
	// Debug mode zeroes the image's measurements, PCR0 to PCR2; PCR3 and
	// PCR4 come from the host (its role and instance) and are set even so.
	for i, pcr := range c.PCRs {
		zero := bytes.Equal(pcr, make([]byte, 48))
		if len(pcr) != 48 || zero != (i != 3 && i != 4) {
			t.Errorf("PCR%d = %x", i, pcr)
		}
	}
	if !c.Debug {
		t.Error("Debug false for a debug-mode document")
	}
	if c.PublicKey == nil || c.PublicKey.N.BitLen() != 2048 || c.PublicKey.E != 65537 {
		t.Fatalf("public key %v", c.PublicKey)
	}
	if sum := sha256.Sum256(c.PublicKeyDER); !strings.HasPrefix(hex.EncodeToString(sum[:]), "7b3fd511") || len(c.PublicKeyDER) != 294 {
		t.Errorf("SHA-256(SPKI) = %x, %d bytes", sum, len(c.PublicKeyDER))
	}
	if string(c.UserData) != "Hello World!\n" || string(c.Nonce) != "Nonce\n" {
		t.Errorf("user data %q, nonce %q", c.UserData, c.Nonce)
	}
	if m := c.Measurements(); m[attest.AttestationPrefix+"ImageSha384"] != strings.Repeat("00", 48) || m[attest.AttestationPrefix+"PCR4"] == m[attest.AttestationPrefix+"PCR0"] {
		t.Errorf("measurements %v", m)
	}
}

func TestRealDocumentExpiresNow(t *testing.T) {
	v := newVerifier(t, nitro.Options{})
	for _, name := range []string{"nitro_doc_2024-01-24_debug_rsa2048.cose", "nitro_doc_2024-09-07_maxfields.cose"} {
		c, err := v.Verify(readVector(t, name), time.Now())
		checkResult(t, c, err, attest.ErrExpired)
		if !strings.Contains(err.Error(), "expired at") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Before its leaf was issued, too.
	c, err := v.Verify(readVector(t, "nitro_doc_2024-01-24_debug_rsa2048.cose"), debugDocTime.Add(-time.Minute))
	checkResult(t, c, err, attest.ErrExpired)
}

// TestRealDocumentEveryByte changes each byte of a real document in turn:
// every change must be refused, without a panic.
func TestRealDocumentEveryByte(t *testing.T) {
	v := newVerifier(t, nitro.Options{AllowDebug: true})
	doc := readVector(t, "nitro_doc_2024-01-24_debug_rsa2048.cose")
	at := debugDocTime.Add(time.Second)
	if _, err := v.Verify(doc, at); err != nil {
		t.Fatal(err)
	}
	kinds := map[error]int{}
	for i := range doc {
		d := bytes.Clone(doc)
		d[i] ^= 0xff
		c, err := v.Verify(d, at)
		if err == nil {
			t.Fatalf("byte %d changed: still verifies", i)
		}
		checkResult(t, c, err, nitro.KindsOf(err)[0])
		kinds[nitro.KindsOf(err)[0]]++
	}
	t.Logf("%d changes refused: %v", len(doc), kinds)
	if kinds[attest.ErrSignature] == 0 || kinds[attest.ErrMalformed] == 0 {
		t.Errorf("kinds %v: want signature and parse failures", kinds)
	}
}

func TestRealDocumentOtherRoot(t *testing.T) {
	ca := testCA(t, attest.FormatNitro, 1)
	v := newVerifier(t, nitro.Options{Roots: ca.Roots()})
	c, err := v.Verify(readVector(t, "nitro_doc_2024-01-24_debug_rsa2048.cose"), debugDocTime.Add(time.Second))
	checkResult(t, c, err, attest.ErrChain)
	// Nor does a QingTian verifier trust AWS's root.
	v = newVerifier(t, nitro.Options{Format: attest.FormatQingtian, Roots: ca.Roots()})
	c, err = v.Verify(readVector(t, "nitro_doc_2024-01-24_debug_rsa2048.cose"), debugDocTime.Add(time.Second))
	checkResult(t, c, err, attest.ErrChain)
}

func TestRealMaxFieldsDocument(t *testing.T) {
	v := newVerifier(t, nitro.Options{})
	c, err := v.Verify(readVector(t, "nitro_doc_2024-09-07_maxfields.cose"), maxFieldsTime.Add(time.Second))
	checkResult(t, c, err, attest.ErrKey)
	if !strings.Contains(err.Error(), "SubjectPublicKeyInfo") {
		t.Errorf("error %q does not say why", err)
	}
	// It got that far: its chain verified.
	if nitro.ChainVerifications(v) != 1 {
		t.Errorf("%d chain verifications", nitro.ChainVerifications(v))
	}
}

func TestEmbeddedRoot(t *testing.T) {
	shared := readVector(t, "aws_nitro_enclaves_root_g1.pem")
	if !bytes.Equal(nitro.AWSRootPEM, shared) {
		t.Fatal("attest/nitro/aws_nitro_enclaves_root_g1.pem differs from testvectors/nitro's copy")
	}
	root, err := nitro.ParseAWSRoot(nitro.AWSRootPEM)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(root.Raw); hex.EncodeToString(sum[:]) != "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b" || nitro.AWSRootG1SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("root fingerprint %x", sum)
	}
	if root.Subject.CommonName != "aws.nitro-enclaves" || !root.IsCA {
		t.Fatalf("root %s", root.Subject)
	}
	// Another certificate in its place is refused.
	other := testCA(t, attest.FormatNitro, 1).Root
	if _, err := nitro.ParseAWSRoot(pemCert(other.Raw)); err == nil || !strings.Contains(err.Error(), "641a0321") {
		t.Fatalf("a different root: %v", err)
	}
}

func TestNewOptions(t *testing.T) {
	ca := testCA(t, attest.FormatQingtian, 1)
	for name, opts := range map[string]nitro.Options{
		"qingtian without roots": {Format: attest.FormatQingtian},
		"empty roots":            {Roots: ca.Roots()[:0]},
		"nil root":               {Roots: []*x509Certificate{nil}},
		"unknown format":         {Format: attest.FormatSEVSNP},
		"negative max age":       {MaxAge: -time.Second},
		"negative cache size":    {CacheSize: -1},
	} {
		if _, err := nitro.New(opts); err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.HasPrefix(err.Error(), "N") || !strings.HasPrefix(err.Error(), "nitro: ") {
			t.Errorf("%s: error %q", name, err)
		}
	}
	if _, err := nitro.New(nitro.Options{Format: attest.FormatQingtian, Roots: ca.Roots()}); err != nil {
		t.Fatal(err)
	}
	var zero nitro.Options
	v := newVerifier(t, zero)
	// Five minutes old, the default maximum: fresh enough, and so judged
	// by the mode, which the zero Options refuse in debug.
	c, err := v.Verify(readVector(t, "nitro_doc_2024-01-24_debug_rsa2048.cose"), debugDocTime.Add(5*time.Minute))
	checkResult(t, c, err, attest.ErrPolicy)
	c, err = v.Verify(readVector(t, "nitro_doc_2024-01-24_debug_rsa2048.cose"), debugDocTime.Add(5*time.Minute+time.Millisecond))
	checkResult(t, c, err, attest.ErrExpired)
	v = newVerifier(t, nitro.Options{MaxAge: time.Hour, AllowDebug: true})
	c, err = v.Verify(readVector(t, "nitro_doc_2024-01-24_debug_rsa2048.cose"), debugDocTime.Add(59*time.Minute))
	checkResult(t, c, err, nil)
	// The zero time is refused rather than replaced by the clock.
	c, err = v.Verify(readVector(t, "nitro_doc_2024-01-24_debug_rsa2048.cose"), time.Time{})
	checkResult(t, c, err, attest.ErrExpired)
	if errors.Is(err, attest.ErrChain) {
		t.Fatal(err)
	}
}
