// Package softhsmtest gives tests a SoftHSM2 token: the one the
// environment names (ATTESTKMS_TEST_PKCS11_URI, ATTESTKMS_TEST_PKCS11_PIN_FILE,
// SOFTHSM2_CONF, as scripts/softhsm.sh init prints them), else a throwaway
// one made with that script when softhsm2-util is on PATH, else the test
// skips saying how to get one. SoftHSM2 reads SOFTHSM2_CONF when the
// module is initialised, once per process: every test of a process shares
// the token.
package softhsmtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	once     sync.Once
	theURI   string
	thePIN   string // the PIN file's path
	skipWhy  string
	tokenDir string
	tempDir  string // the throwaway token's, removed by Cleanup
)

// TokenDir is SoftHSM2's directory of the test token ("" if unknown): a
// test that takes the token away moves it.
func TokenDir() string { return tokenDir }

// Cleanup removes a throwaway token (call it from TestMain, after the
// tests).
func Cleanup() {
	if tempDir != "" {
		os.RemoveAll(tempDir)
	}
}

// Token is the test token's root key URI (object attestkms-root: give
// another object= for a key of the test's own) and its PIN file.
func Token(t testing.TB) (uri, pinFile string) {
	t.Helper()
	once.Do(setup)
	if skipWhy != "" {
		t.Skip(skipWhy)
	}
	return theURI, thePIN
}

// Object is the test token's URI naming the object label instead.
func Object(t testing.TB, label string) (string, string) {
	u, pin := Token(t)
	head, query, _ := strings.Cut(u, "?")
	var parts []string
	for _, p := range strings.Split(strings.TrimPrefix(head, "pkcs11:"), ";") {
		if !strings.HasPrefix(p, "object=") && !strings.HasPrefix(p, "id=") {
			parts = append(parts, p)
		}
	}
	parts = append(parts, "object="+label)
	return "pkcs11:" + strings.Join(parts, ";") + "?" + query, pin
}

// Remove takes the token away (its directory moved out of SoftHSM2's
// token directory) and returns what puts it back.
func Remove(t testing.TB) (restore func()) {
	t.Helper()
	Token(t)
	if tokenDir == "" {
		t.Skip("the SoftHSM2 token's directory is unknown: cannot take the token away")
	}
	away := filepath.Join(t.TempDir(), "away")
	if err := os.Rename(tokenDir, away); err != nil {
		t.Fatal(err)
	}
	var restored sync.Once
	restore = func() {
		restored.Do(func() {
			if err := os.Rename(away, tokenDir); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(restore) // back for the next test, whatever this one does
	return restore
}

func setup() {
	if os.Getenv("ATTESTKMS_TEST_PKCS11_URI") == "" {
		if _, err := exec.LookPath("softhsm2-util"); err != nil {
			skipWhy = "no PKCS#11 token: ATTESTKMS_TEST_PKCS11_URI is unset and softhsm2-util is not on PATH (apt-get install softhsm2; eval \"$(scripts/softhsm.sh init DIR)\")"
			return
		}
		dir, err := os.MkdirTemp("", "attestkms-softhsm")
		if err != nil {
			skipWhy = err.Error()
			return
		}
		tempDir = dir
		_, file, _, _ := runtime.Caller(0)
		script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "softhsm.sh")
		out, err := exec.Command(script, "init", dir).Output()
		if err != nil {
			skipWhy = fmt.Sprintf("scripts/softhsm.sh init: %v", err)
			return
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			name, val, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
			if ok {
				os.Setenv(name, strings.Trim(val, "'"))
			}
		}
	}
	theURI, thePIN = os.Getenv("ATTESTKMS_TEST_PKCS11_URI"), os.Getenv("ATTESTKMS_TEST_PKCS11_PIN_FILE")
	if conf, err := os.ReadFile(os.Getenv("SOFTHSM2_CONF")); err == nil {
		for _, line := range strings.Split(string(conf), "\n") {
			k, v, ok := strings.Cut(line, "=")
			if ok && strings.TrimSpace(k) == "directories.tokendir" {
				if ds, _ := filepath.Glob(filepath.Join(strings.TrimSpace(v), "*")); len(ds) == 1 {
					tokenDir = ds[0]
				}
			}
		}
	}
}

// PIN reads the PIN file.
func PIN(t testing.TB) string {
	_, f := Token(t)
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
