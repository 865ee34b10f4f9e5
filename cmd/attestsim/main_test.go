package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// attestsim runs the command in-process.
func attestsim(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, env{stdout: &o, stderr: &e, now: func() time.Time { return now }})
	return code, o.String(), e.String()
}

var enclaveKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func writePEM(t *testing.T, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadRoots(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return []*x509.Certificate{c}
}

func verify(t *testing.T, format attest.Format, caDir, docPath string, at time.Time) (*attest.Claims, error) {
	t.Helper()
	// A document signed without --pcr 0=… is a debug-mode enclave's, which
	// the verifier admits only so (as verify-evidence does): the tests
	// check its claims, Debug among them.
	v, err := nitro.New(nitro.Options{Format: format, Roots: loadRoots(t, filepath.Join(caDir, "root.pem")), AllowDebug: true})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	return v.Verify(doc, at)
}

// TestNitroRoundTrip makes a CA, signs a document, and verifies it with
// attest/nitro trusting the CA's root.
func TestNitroRoundTrip(t *testing.T) {
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	code, out, errOut := attestsim(t, "nitro-ca", "--out", caDir)
	if code != 0 || !strings.Contains(out, "--nitro-roots "+filepath.Join(caDir, "root.pem")) {
		t.Fatalf("nitro-ca: %d %q %q", code, out, errOut)
	}
	keyDER, _ := x509.MarshalPKIXPublicKey(&enclaveKey().PublicKey)
	docPath := filepath.Join(dir, "doc.cbor")
	pcr0 := strings.Repeat("ab", 48)
	code, out, errOut = attestsim(t, "nitro", "--ca", caDir, "--public-key", writePEM(t, "PUBLIC KEY", keyDER),
		"--pcr", "0="+pcr0, "--pcr", "20="+strings.Repeat("01", 48), "--user-data", "aGVsbG8=", "--nonce", "bm9uY2U",
		"--module-id", "i-test-enc-test", "--out", docPath)
	if code != 0 || errOut != "" || !strings.Contains(out, "wrote "+docPath) {
		t.Fatalf("nitro: %d %q %q", code, out, errOut)
	}
	doc, _ := os.ReadFile(docPath)
	if doc[0] != 0x84 {
		t.Fatalf("document starts with %#x; the NSM's are untagged", doc[0])
	}
	c, err := verify(t, attest.FormatNitro, caDir, docPath, now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if c.ModuleID != "i-test-enc-test" || string(c.UserData) != "hello" || string(c.Nonce) != "nonce" || c.Debug ||
		c.Measurements()[attest.AttestationPrefix+"PCR0"] != pcr0 || len(c.PCRs) != 17 || !c.PublicKey.Equal(&enclaveKey().PublicKey) || !c.Time.Equal(now) {
		t.Fatalf("claims %+v", c)
	}
	// Not with the real AWS root.
	v, _ := nitro.New(nitro.Options{})
	if _, err := v.Verify(doc, now); err == nil {
		t.Fatal("a test document verified with the AWS root")
	}

	// Key forms: PKCS #1 public, PKCS #8 and PKCS #1 private; and the
	// timestamp flag; and stdout.
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(enclaveKey())
	for typ, der := range map[string][]byte{
		"RSA PUBLIC KEY":  x509.MarshalPKCS1PublicKey(&enclaveKey().PublicKey),
		"PRIVATE KEY":     pkcs8,
		"RSA PRIVATE KEY": x509.MarshalPKCS1PrivateKey(enclaveKey()),
	} {
		code, out, errOut := attestsim(t, "nitro", "--ca", caDir, "--public-key", writePEM(t, typ, der), "--timestamp", "2027-05-01T10:00:00Z", "--out", "-")
		if code != 0 || errOut != "" {
			t.Fatalf("%s: %d %q", typ, code, errOut)
		}
		path := filepath.Join(dir, "stdout.cbor")
		os.WriteFile(path, []byte(out), 0o644)
		c, err := verify(t, attest.FormatNitro, caDir, path, time.Date(2027, 5, 1, 10, 1, 0, 0, time.UTC))
		if err != nil || !c.PublicKey.Equal(&enclaveKey().PublicKey) || !c.Debug {
			t.Fatalf("%s: %v", typ, err)
		}
	}
}

func TestQingtianRoundTrip(t *testing.T) {
	dir := t.TempDir()
	caDir := filepath.Join(dir, "qt")
	if code, out, _ := attestsim(t, "nitro-ca", "--out", caDir, "--qingtian"); code != 0 || !strings.Contains(out, "--qingtian-roots") {
		t.Fatalf("nitro-ca --qingtian: %d %q", code, out)
	}
	keyDER, _ := x509.MarshalPKIXPublicKey(&enclaveKey().PublicKey)
	key := writePEM(t, "PUBLIC KEY", keyDER)
	for _, digest := range []string{"SHA256", "SHA384", "SHA512"} {
		docPath := filepath.Join(dir, digest+".cbor")
		if code, _, errOut := attestsim(t, "nitro", "--ca", caDir, "--qingtian", "--digest", digest, "--public-key", key, "--out", docPath); code != 0 {
			t.Fatalf("%s: %q", digest, errOut)
		}
		c, err := verify(t, attest.FormatQingtian, caDir, docPath, now)
		if err != nil || c.Digest != digest || c.Format != attest.FormatQingtian {
			t.Fatalf("%s: %v", digest, err)
		}
		// The AWS root does not trust it.
		aws, _ := nitro.New(nitro.Options{})
		b, _ := os.ReadFile(docPath)
		if _, err := aws.Verify(b, now); !errors.Is(err, attest.ErrChain) {
			t.Fatalf("%s: the Nitro verifier says %v", digest, err)
		}
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	if code, _, _ := attestsim(t, "nitro-ca", "--out", caDir); code != 0 {
		t.Fatal("nitro-ca failed")
	}
	keyDER, _ := x509.MarshalPKIXPublicKey(&enclaveKey().PublicKey)
	key := writePEM(t, "PUBLIC KEY", keyDER)
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader) // P-256 is an HPKE key; P-384 no key attestkms takes
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	doc := filepath.Join(dir, "doc.cbor")
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		stderr   []string // substrings
		noStdout bool
	}{
		{"no command", nil, 2, []string{"Usage:"}, true},
		{"unknown command", []string{"frob"}, 2, []string{`attestsim: error: unknown command "frob"`, `hint: run "attestsim --help"`}, true},
		{"unknown flag", []string{"nitro", "--frob"}, 2, []string{"attestsim: error: flag provided but not defined: -frob", `attestsim nitro --help`}, true},
		{"positional", []string{"nitro-ca", "--out", filepath.Join(dir, "x"), "extra"}, 2, []string{`unexpected argument "extra"`}, true},
		{"ca without out", []string{"nitro-ca"}, 2, []string{"--out is required"}, true},
		{"ca exists", []string{"nitro-ca", "--out", caDir}, 1, []string{"already holds a test CA", "hint: choose another --out"}, true},
		{"missing ca flag", []string{"nitro", "--public-key", key, "--out", doc}, 2, []string{"--ca is required"}, true},
		{"missing ca", []string{"nitro", "--ca", filepath.Join(dir, "none"), "--public-key", key, "--out", doc}, 1, []string{"no such file", "hint: make one with: attestsim nitro-ca --out"}, true},
		{"qingtian on a nitro ca", []string{"nitro", "--ca", caDir, "--qingtian", "--public-key", key, "--out", doc}, 1, []string{"is a nitro test CA, not a qingtian one", "hint: drop --qingtian"}, true},
		{"nitro sha256", []string{"nitro", "--ca", caDir, "--digest", "SHA256", "--public-key", key, "--out", doc}, 2, []string{"the digest of a Nitro document is SHA384", "hint: add --qingtian"}, true},
		{"bad digest", []string{"nitro", "--ca", caDir, "--digest", "MD5", "--public-key", key, "--out", doc}, 2, []string{`--digest "MD5"`}, true},
		{"bad pcr", []string{"nitro", "--ca", caDir, "--pcr", "32=00", "--public-key", key, "--out", doc}, 2, []string{"0 to 31"}, true},
		{"short pcr", []string{"nitro", "--ca", caDir, "--pcr", "1=00", "--public-key", key, "--out", doc}, 2, []string{"hint: SHA384 PCRs are 48 bytes"}, true},
		{"bad base64", []string{"nitro", "--ca", caDir, "--user-data", "!!", "--public-key", key, "--out", doc}, 2, []string{"--user-data is not base64"}, true},
		{"bad timestamp", []string{"nitro", "--ca", caDir, "--timestamp", "yesterday", "--public-key", key, "--out", doc}, 2, []string{"RFC 3339", "hint: for example"}, true},
		{"not a key", []string{"nitro", "--ca", caDir, "--public-key", filepath.Join(caDir, "root.pem"), "--out", doc}, 1, []string{`PEM "CERTIFICATE" block, not a key`}, true},
		{"ec key warns", []string{"nitro", "--ca", caDir, "--public-key", writePEM(t, "EC PRIVATE KEY", ecDER), "--out", doc}, 0, []string{"warning: ", "attestkms will refuse"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := attestsim(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d; want %d (stderr %q)", code, tc.code, stderr)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr %q lacks %q", stderr, s)
				}
			}
			for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
				if msg, ok := strings.CutPrefix(line, "attestsim: error: "); ok && (strings.HasSuffix(msg, ".") || msg != strings.ToLower(msg[:1])+msg[1:]) {
					t.Errorf("error line %q: capitalised or ends with a period", line)
				}
			}
			if tc.noStdout && stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"nitro-ca", "--help"}, {"nitro", "-h"}} {
		code, out, errOut := attestsim(t, args...)
		if code != 0 || errOut != "" || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: %d %q %q", args, code, out, errOut)
		}
		if args[0] != "--help" && args[0] != "help" && (!strings.Contains(out, "Examples:") || !strings.Contains(out, "--out")) {
			t.Errorf("%v: no examples or flags in %q", args, out)
		}
	}
}

// TestNitroTPMRoundTrip: attestsim nitro --nitrotpm signs a NitroTPM
// document with the Nitro test CA, with any key.
func TestNitroTPMRoundTrip(t *testing.T) {
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	if code, _, errOut := attestsim(t, "nitro-ca", "--out", caDir); code != 0 {
		t.Fatal(errOut)
	}
	keyDER, _ := x509.MarshalPKIXPublicKey(&enclaveKey().PublicKey)
	docPath := filepath.Join(dir, "tpm.cbor")
	pcr4 := strings.Repeat("4a", 48)
	code, out, errOut := attestsim(t, "nitro", "--ca", caDir, "--nitrotpm", "--public-key", writePEM(t, "PUBLIC KEY", keyDER),
		"--pcr", "4="+pcr4, "--user-data", "aGVsbG8=", "--out", docPath)
	if code != 0 || errOut != "" || !strings.Contains(out, "a nitrotpm document") || !strings.Contains(out, "-tpm") {
		t.Fatalf("nitro --nitrotpm: %d %q %q", code, out, errOut)
	}
	for _, format := range []attest.Format{attest.FormatNitro, attest.FormatNitroTPM} {
		c, err := verify(t, format, caDir, docPath, now.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		m := c.Measurements()
		if c.Format != attest.FormatNitroTPM || m[attest.AttestationPrefix+"NitroTPMPCR4"] != pcr4 || len(c.NitroTPMPCRs) != 24 ||
			m[attest.AttestationPrefix+"NitroTPMPCR0"] != strings.Repeat("00", 48) || string(c.UserData) != "hello" || c.Nonce != nil ||
			!c.PublicKey.Equal(&enclaveKey().PublicKey) {
			t.Fatalf("claims %+v", c)
		}
	}
	// An EC P-384 key: signed, with a warning; the document verifies, its
	// key unusable. (P-256 is an HPKE key: no warning, usable.)
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	code, _, errOut = attestsim(t, "nitro", "--ca", caDir, "--nitrotpm", "--public-key", writePEM(t, "PUBLIC KEY", ecDER), "--out", docPath)
	if code != 0 || !strings.Contains(errOut, "warning") {
		t.Fatalf("ec key: %d %q", code, errOut)
	}
	c, err := verify(t, attest.FormatNitro, caDir, docPath, now.Add(time.Second))
	if err != nil || c.PublicKey != nil || c.KeyType != "EC P-384" || !errors.Is(c.KeyUnusable, attest.ErrKey) {
		t.Fatalf("ec key: %v, %+v", err, c)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256DER, _ := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	code, _, errOut = attestsim(t, "nitro", "--ca", caDir, "--nitrotpm", "--public-key", writePEM(t, "PUBLIC KEY", p256DER), "--out", docPath)
	if code != 0 || errOut != "" {
		t.Fatalf("p-256 key: %d %q", code, errOut)
	}
	c, err = verify(t, attest.FormatNitro, caDir, docPath, now.Add(time.Second))
	if err != nil || c.PublicKey != nil || c.KeyType != "EC P-256" || c.KeyUnusable != nil {
		t.Fatalf("p-256 key: %v, %+v", err, c)
	}
	// The SHA-256 of an ML-KEM key, as enclavetool --key-type mlkem768x25519 sends it.
	digest := bytes.Repeat([]byte{0xab}, 32)
	code, _, errOut = attestsim(t, "nitro", "--ca", caDir, "--public-key", writePEM(t, "ATTESTKMS HPKE KEY DIGEST", digest), "--out", docPath)
	if code != 0 || errOut != "" {
		t.Fatalf("digest: %d %q", code, errOut)
	}
	c, err = verify(t, attest.FormatNitro, caDir, docPath, now.Add(time.Second))
	if err != nil || c.KeyType != attest.KeyTypeDigest || !bytes.Equal(c.PublicKeyDER, digest) {
		t.Fatalf("digest: %v, %+v", err, c)
	}
	// Usage errors.
	for _, args := range [][]string{
		{"--qingtian"},
		{"--pcr", "24=" + strings.Repeat("00", 48)},
		{"--pcr", "4=" + strings.Repeat("00", 47)},
	} {
		a := append([]string{"nitro", "--ca", caDir, "--nitrotpm", "--public-key", writePEM(t, "PUBLIC KEY", keyDER), "--out", docPath}, args...)
		if code, _, errOut := attestsim(t, a...); code != 2 || errOut == "" {
			t.Fatalf("%v: exit %d %q", args, code, errOut)
		}
	}
}
