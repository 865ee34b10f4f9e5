package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// execAttestorScript writes the program of a user with no built-in
// attestor, as docs/vsock.md describes it, with attestsim in the place of
// the vendor's library: it reads the key (DER) from standard input, keeps
// a copy in dir/stdin and its environment's ATTESTKMS_* in dir/env, and
// writes attestsim's Nitro document (with ca, PCR0 not zero) for that key
// to standard output.
func execAttestorScript(t *testing.T, ca string) (path, dir string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the exec attestor is a shell script")
	}
	if _, err := exec.LookPath("base64"); err != nil {
		t.Skip("the exec attestor script needs base64")
	}
	dir = t.TempDir()
	script := fmt.Sprintf(`#!/bin/sh
set -e
cat > %[1]s/stdin
env | grep '^ATTESTKMS_[NU]' | sort > %[1]s/env
type="PUBLIC KEY"
if [ $(($(wc -c < %[1]s/stdin))) -eq 32 ]; then type="ATTESTKMS HPKE KEY DIGEST"; fi
{ echo "-----BEGIN $type-----"; base64 < %[1]s/stdin; echo "-----END $type-----"; } |
	"$%[2]s" nitro --ca %[3]s --pcr 0=%[4]x --public-key - --out -
`, dir, attestsimEnv, ca, defaultSimPCR0)
	path = filepath.Join(dir, "qtsm-attest")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

// TestExecAttestorEndToEnd: --attestor exec:PROGRAM gets its document
// from the program, which is given exactly the key's DER on standard input
// and empty ATTESTKMS_NONCE and ATTESTKMS_USER_DATA, and the document opens
// attestkms: the data key is the one Decrypt gives, for every key type.
func TestExecAttestorEndToEnd(t *testing.T) {
	e := newEnv(t)
	script, dir := execAttestorScript(t, e.caDir)
	ctx := context.Background()
	sym, err := e.sdk.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "enclave.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)}), 0o600)
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)

	for _, keyArgs := range [][]string{{"--key", keyFile}, {"--key-type", "p256"}, {"--key-type", "mlkem768x25519"}} {
		args := append([]string{"generate-data-key", "--key-id", *sym.KeyMetadata.KeyId, "--endpoint", e.srv.URL,
			"--credential", e.credFile, "--attestor", "exec:" + script}, keyArgs...)
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", keyArgs, code, errb.String())
		}
		v := map[string][]byte{}
		for line := range strings.Lines(out.String()) {
			if k, b64, ok := strings.Cut(strings.TrimSpace(line), ": "); ok {
				v[k], _ = base64.StdEncoding.DecodeString(b64)
			}
		}
		back, err := e.sdk.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: v["CIPHERTEXT"]})
		if err != nil || len(v["PLAINTEXT"]) != 32 || !bytes.Equal(back.Plaintext, v["PLAINTEXT"]) {
			t.Fatalf("%v: data key %x, Decrypt %x, %v", keyArgs, v["PLAINTEXT"], back.Plaintext, err)
		}
		stdin, _ := os.ReadFile(filepath.Join(dir, "stdin"))
		if keyArgs[0] == "--key" && !bytes.Equal(stdin, der) {
			t.Errorf("the program's standard input is not the key's DER: %x", stdin)
		}
		if keyArgs[1] == "mlkem768x25519" && len(stdin) != 32 {
			t.Errorf("mlkem768x25519: the program was given %d bytes, not the key's SHA-256", len(stdin))
		}
		// Every request's document gets a fresh 16-byte nonce (hex), no
		// user data.
		if env, _ := os.ReadFile(filepath.Join(dir, "env")); !regexp.MustCompile(`\AATTESTKMS_NONCE=[0-9a-f]{32}\nATTESTKMS_USER_DATA=\n\z`).Match(env) {
			t.Errorf("the program's environment: %q", env)
		}
	}
}

// TestExecAttestorRefusals: an empty program is a usage error; a program
// that fails fails the command with what it said; a missing one gets a hint.
func TestExecAttestorRefusals(t *testing.T) {
	if code, _, errOut := attestWith("--attestor", "exec:"); code != 2 || !strings.Contains(errOut, "enclavetool: error: --attestor exec:PROGRAM needs a program") {
		t.Errorf("exec with no program: exit %d %q", code, errOut)
	}
	if runtime.GOOS != "windows" {
		prog := filepath.Join(t.TempDir(), "qtsm-attest")
		os.WriteFile(prog, []byte("#!/bin/sh\necho 'qtsm_get_attestation: -16' >&2\nexit 5\n"), 0o755)
		code, out, errOut := attestWith("--attestor", "exec:"+prog)
		if want := "enclavetool: error: exec attestor " + prog + ": exit status 5: qtsm_get_attestation: -16\n"; code != 1 || out != "" || !strings.Contains(errOut, want) {
			t.Errorf("a failing program: exit %d %q %q; want %q", code, out, errOut, want)
		}
	}
	t.Setenv("PATH", t.TempDir())
	code, _, errOut := attestWith("--attestor", "exec:qtsm-attest")
	if code != 1 || !strings.Contains(errOut, "executable file not found") || !strings.Contains(errOut, "enclavetool: hint: --attestor exec:PROGRAM runs PROGRAM itself if it has a slash") {
		t.Errorf("a program not on PATH: exit %d %q", code, errOut)
	}
}
