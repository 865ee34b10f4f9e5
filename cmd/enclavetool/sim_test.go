package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
)

// fakeAttestsim writes a shell script standing in for attestsim, which
// records its environment, arguments and standard input in dir and then
// runs body, and points enclavetool at it.
func fakeAttestsim(t *testing.T, body string) (dir string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake attestsim is a shell script")
	}
	dir = t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\nenv > %[1]s/env\nfor a in \"$@\"; do echo \"$a\"; done > %[1]s/args\ncat > %[1]s/stdin\n%[2]s\n", dir, body)
	path := filepath.Join(dir, "attestsim")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(attestsimEnv, path)
	return dir
}

// attestWith runs enclavetool attest with args and returns exit code,
// stdout and stderr.
func attestWith(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"attest"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestSimChildGetsNoSecret: attestsim is given the public key, the CA and
// the --sim-* options, and nothing else: no environment (where
// AWS_SECRET_ACCESS_KEY may be), no credential, no private key. What it
// writes is the document.
func TestSimChildGetsNoSecret(t *testing.T) {
	dir := fakeAttestsim(t, "printf 'fake-evidence'")
	const envSecret, flagSecret, fileSecret = "env-secret-0123", "flag-secret-4567", "file-secret-89ab"
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", envSecret)
	cred := filepath.Join(t.TempDir(), "cred.json")
	b, _ := json.Marshal(map[string]string{"access_key_id": "AKIAFILE", "secret_access_key": fileSecret})
	os.WriteFile(cred, b, 0o600)

	for _, args := range [][]string{
		{"--attestor", "sim", "--sim-ca", "the-ca", "--credential", cred, "--sim-pcr", "3=" + strings.Repeat("33", 48)},
		{"--attestor", "sim-snp", "--sim-ca", "the-ca", "--secret-access-key", flagSecret},
		{"--attestor", "sim-tpm", "--sim-ca", "the-ca", "--sim-pcr", "7=" + strings.Repeat("77", 32)},
	} {
		code, out, errOut := attestWith(args...)
		if code != 0 || out != "DOCUMENT: "+base64.StdEncoding.EncodeToString([]byte("fake-evidence"))+"\n" {
			t.Fatalf("%v: exit %d %q %q", args, code, out, errOut)
		}
		env, _ := os.ReadFile(filepath.Join(dir, "env"))
		argv, _ := os.ReadFile(filepath.Join(dir, "args"))
		stdin, _ := os.ReadFile(filepath.Join(dir, "stdin"))
		for _, secret := range []string{envSecret, flagSecret, fileSecret, "AKIA", "AWS_"} {
			if bytes.Contains(env, []byte(secret)) || bytes.Contains(argv, []byte(secret)) || bytes.Contains(stdin, []byte(secret)) {
				t.Errorf("%v: attestsim was given %q:\nenv %s\nargs %s", args, secret, env, argv)
			}
		}
		if blk, rest := pem.Decode(stdin); blk == nil || blk.Type != "PUBLIC KEY" || len(rest) != 0 {
			t.Errorf("%v: attestsim's standard input is not one PUBLIC KEY: %q", args, stdin)
		}
		want := map[string]string{
			"sim":     "nitro\n--ca\nthe-ca\n--public-key\n-\n--out\n-\n--pcr\n0=" + fmt.Sprintf("%x", defaultSimPCR0) + "\n--pcr\n3=" + strings.Repeat("33", 48) + "\n",
			"sim-snp": "snp\n--ca\nthe-ca\n--public-key\n-\n--out\n-\n--measurement\n" + fmt.Sprintf("%x", defaultSimMeasurement) + "\n",
			"sim-tpm": "tpm\n--ca\nthe-ca\n--public-key\n-\n--out\n-\n--pcr\n7=" + strings.Repeat("77", 32) + "\n",
		}[args[1]]
		if string(argv) != want {
			t.Errorf("%v: attestsim's arguments\n%s\nwant\n%s", args, argv, want)
		}
	}
}

// TestSimChildBounded: what attestsim writes is bounded, a refusal says
// what attestsim said, and a child that hangs is stopped.
func TestSimChildBounded(t *testing.T) {
	fakeAttestsim(t, fmt.Sprintf("head -c %d /dev/zero", attest.MaxEvidence+1))
	if code, out, errOut := attestWith("--attestor", "sim", "--sim-ca", "ca"); code != 1 || out != "" || !strings.Contains(errOut, fmt.Sprintf("more than %d bytes", attest.MaxEvidence)) {
		t.Errorf("oversized evidence: exit %d %q %q", code, out, errOut)
	}
	fakeAttestsim(t, fmt.Sprintf("head -c %d /dev/zero", attest.MaxEvidence))
	if code, out, errOut := attestWith("--attestor", "sim", "--sim-ca", "ca"); code != 0 || len(out) < attest.MaxEvidence {
		t.Errorf("evidence of the largest size: exit %d %q", code, errOut)
	}

	fakeAttestsim(t, "echo 'attestsim: error: ca/intermediate.key: no such file or directory' >&2\necho 'attestsim: hint: make one with: attestsim nitro-ca --out ca' >&2\nexit 1")
	code, out, errOut := attestWith("--attestor", "sim", "--sim-ca", "ca")
	if code != 1 || out != "" || !strings.Contains(errOut, "enclavetool: error: --attestor sim: attestsim nitro: ca/intermediate.key: no such file or directory\n") ||
		!strings.Contains(errOut, "enclavetool: hint: --attestor sim signs with a CA that attestsim nitro-ca made") {
		t.Errorf("attestsim's refusal: exit %d %q %q", code, out, errOut)
	}

	fakeAttestsim(t, "exec sleep 30")
	defer func(d time.Duration) { simTimeout = d }(simTimeout)
	simTimeout = 200 * time.Millisecond
	start := time.Now()
	if code, _, errOut := attestWith("--attestor", "sim", "--sim-ca", "ca"); code != 1 || !strings.Contains(errOut, "did not answer within 200ms") || time.Since(start) > 10*time.Second {
		t.Errorf("a hanging attestsim: exit %d %q after %v", code, errOut, time.Since(start))
	}
}

// TestAttestsimNotFound: without attestsim, the simulated attestors say so
// and how to fix it; the others never look for it.
func TestAttestsimNotFound(t *testing.T) {
	t.Setenv(attestsimEnv, "")
	t.Setenv("PATH", t.TempDir())
	for _, a := range []string{"sim", "sim-snp", "sim-tpm"} {
		code, out, errOut := attestWith("--attestor", a, "--sim-ca", "ca")
		if code != 1 || out != "" || !strings.Contains(errOut, "enclavetool: error: attestsim not found at ") ||
			!strings.Contains(errOut, "enclavetool: hint: build it next to enclavetool (go build -o bin/ ./cmd/...), put it on PATH, or set ATTESTKMS_ATTESTSIM") {
			t.Errorf("%s: exit %d %q %q", a, code, out, errOut)
		}
	}
	t.Setenv(attestsimEnv, filepath.Join(t.TempDir(), "missing"))
	if code, _, errOut := attestWith("--attestor", "sim", "--sim-ca", "ca"); code != 1 || !strings.Contains(errOut, "$ATTESTKMS_ATTESTSIM is ") {
		t.Errorf("$ATTESTKMS_ATTESTSIM names no file: exit %d %q", code, errOut)
	}
}

// TestSimOptions: the --sim-* options are checked before attestsim runs.
func TestSimOptions(t *testing.T) {
	fakeAttestsim(t, "echo ran > /dev/null; exit 3")
	for _, args := range [][]string{
		{"--attestor", "sim", "--sim-ca", "ca", "--sim-pcr", "0=abcd"},
		{"--attestor", "sim-snp", "--sim-ca", "ca", "--sim-measurement", strings.Repeat("00", 32)},
		{"--attestor", "sim-tpm", "--sim-ca", "ca", "--sim-pcr", "24=" + strings.Repeat("00", 32)},
		{"--attestor", "sim-tpm", "--sim-ca", "ca", "--sim-pcr", "7=" + strings.Repeat("00", 48)},
	} {
		if code, _, errOut := attestWith(args...); code != 2 || !strings.Contains(errOut, "enclavetool: error: --sim-") {
			t.Errorf("%v: exit %d %q; want 2", args, code, errOut)
		}
	}
}
