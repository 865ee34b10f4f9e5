package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
)

// attestsimIn runs the command in-process with stdin.
func attestsimIn(t *testing.T, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(args, env{stdout: &o, stderr: &e, now: func() time.Time { return now }, stdin: bytes.NewReader(stdin)})
	return code, o.String(), e.String()
}

// TestPublicKeyFromStdin: --public-key - reads the key from standard input,
// and with --out - the evidence alone goes to standard output, as
// enclavetool's simulated attestors run attestsim. Standard input is
// bounded like a file.
func TestPublicKeyFromStdin(t *testing.T) {
	dir := t.TempDir()
	keyDER, _ := x509.MarshalPKIXPublicKey(&enclaveKey().PublicKey)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: keyDER})
	caDir := filepath.Join(dir, "ca")
	if code, _, errOut := attestsim(t, "nitro-ca", "--out", caDir); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := attestsimIn(t, keyPEM, "nitro", "--ca", caDir, "--public-key", "-", "--out", "-", "--pcr", "0="+strings.Repeat("ab", 48))
	if code != 0 || errOut != "" {
		t.Fatalf("nitro: %d %q", code, errOut)
	}
	docPath := filepath.Join(dir, "doc.cbor")
	os.WriteFile(docPath, []byte(out), 0o644)
	c, err := verify(t, attest.FormatNitro, caDir, docPath, now.Add(time.Second))
	if err != nil || !c.PublicKey.Equal(&enclaveKey().PublicKey) || c.Debug {
		t.Fatalf("claims %+v, %v", c, err)
	}
	for _, kind := range []string{"snp", "tpm"} {
		ca := filepath.Join(dir, kind)
		if code, _, errOut := attestsim(t, kind+"-ca", "--out", ca); code != 0 {
			t.Fatal(errOut)
		}
		code, out, errOut := attestsimIn(t, keyPEM, kind, "--ca", ca, "--public-key", "-", "--out", "-")
		if code != 0 || errOut != "" || attest.Sniff([]byte(out)) != attest.Format(map[string]string{"snp": "sev-snp", "tpm": "tpm2"}[kind]) {
			t.Fatalf("%s: %d %q", kind, code, errOut)
		}
	}

	for name, in := range map[string][]byte{
		"empty":     nil,
		"not PEM":   []byte("hello"),
		"too large": append(bytes.Clone(keyPEM), make([]byte, maxPublicKeyFile)...),
	} {
		code, out, errOut := attestsimIn(t, in, "nitro", "--ca", caDir, "--public-key", "-", "--out", "-")
		if code != 1 || out != "" || !strings.Contains(errOut, "attestsim: error: standard input") {
			t.Errorf("%s: %d %q %q", name, code, out, errOut)
		}
	}
}
