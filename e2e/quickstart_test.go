package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// build builds the three commands into dir.
func build(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", dir+"/", "../cmd/attestkms", "../cmd/attestsim", "../cmd/enclavetool")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}

var servingRE = regexp.MustCompile(`serving .* on http://(\S+) `)

// TestAttestedQuickStart follows the README's "An enclave round trip,
// simulated" with the binaries, in a fresh working directory.
func TestAttestedQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	work := t.TempDir()
	bin := filepath.Join(work, "bin")
	build(t, bin)
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = work
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, errb.String())
		}
		return out.String()
	}

	run("attestsim", "nitro-ca", "--out", "ca")
	serve := exec.Command(filepath.Join(bin, "attestkms"), "serve", "--nitro-roots", "ca/root.pem", "--listen", "127.0.0.1:0")
	serve.Dir = work
	stderr, _ := serve.StderrPipe()
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { serve.Process.Kill(); serve.Wait() }()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var endpoint string
	select {
	case a := <-addr:
		endpoint = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("attestkms serve did not start")
	}

	// A key named alias/app, as examples/awssdk --alias makes it.
	credFile := filepath.Join(work, "attestkms-data", "admin-credential.json")
	var cred struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
	}
	b, _ := os.ReadFile(credFile)
	if err := json.Unmarshal(b, &cred); err != nil {
		t.Fatal(err)
	}
	sdk := awskms.New(awskms.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(cred.AccessKeyID, cred.SecretAccessKey, "")})
	ctx := context.Background()
	k, err := sdk.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: k.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}

	tool := func(args ...string) map[string][]byte {
		t.Helper()
		out := run("enclavetool", append(args, "--endpoint", endpoint, "--attestor", "sim", "--sim-ca", "ca", "--credential", "attestkms-data/admin-credential.json")...)
		vals := map[string][]byte{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if k, v, ok := strings.Cut(line, ": "); ok {
				vals[k], _ = base64.StdEncoding.DecodeString(v)
			}
		}
		return vals
	}
	dk := tool("generate-data-key", "--key-id", "alias/app")
	if len(dk["PLAINTEXT"]) != 32 || len(dk["CIPHERTEXT"]) == 0 {
		t.Fatalf("generate-data-key printed %v", dk)
	}
	back, err := sdk.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: dk["CIPHERTEXT"]})
	if err != nil || !bytes.Equal(back.Plaintext, dk["PLAINTEXT"]) {
		t.Fatalf("the enclave's data key is not what Decrypt returns: %v", err)
	}
	dec := tool("decrypt", "--ciphertext", base64.StdEncoding.EncodeToString(dk["CIPHERTEXT"]))
	if !bytes.Equal(dec["PLAINTEXT"], dk["PLAINTEXT"]) {
		t.Fatal("enclavetool decrypt differs")
	}
	if r := tool("generate-random", "--number-of-bytes", "24"); len(r["PLAINTEXT"]) != 24 {
		t.Fatal("generate-random")
	}

	// verify-evidence explains the simulated document.
	run("enclavetool", "attest", "--attestor", "sim", "--sim-ca", "ca", "--out", "doc.cbor")
	if out := run("attestkms", "verify-evidence", "--in", "doc.cbor", "--nitro-roots", "ca/root.pem"); !strings.Contains(out, `"format": "nitro"`) {
		t.Fatalf("verify-evidence: %s", out)
	}

	// SIGTERM: graceful, exit 0.
	serve.Process.Signal(syscall.SIGTERM)
	if err := serve.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
}
