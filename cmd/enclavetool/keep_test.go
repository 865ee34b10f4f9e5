package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKeepCiphertexts: a second run into the same directory keeps the
// first run's file, files are 0600, and a failure is said, not swallowed.
func TestKeepCiphertexts(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	keepCiphertexts(dir, &stderr)("Decrypt", []byte("first"))
	keepCiphertexts(dir, &stderr)("Decrypt", []byte("second"))
	for name, want := range map[string]string{"Decrypt-1.ber": "first", "Decrypt-2.ber": "second"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(b) != want {
			t.Fatalf("%s: %q, %v", name, b, err)
		}
		if fi, _ := os.Stat(filepath.Join(dir, name)); fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v", name, fi.Mode())
		}
	}
	if stderr.Len() != 0 {
		t.Fatalf("stderr %q", stderr.String())
	}
	keepCiphertexts(filepath.Join(dir, "missing"), &stderr)("Decrypt", []byte("x"))
	if !strings.Contains(stderr.String(), "warning: --keep-ciphertext") {
		t.Fatalf("no warning for a missing directory: %q", stderr.String())
	}
}
