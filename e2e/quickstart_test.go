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

// quickStart is a fresh working directory with the binaries built in bin/.
type quickStart struct {
	t         *testing.T
	work, bin string
	endpoint  string
	serve     *exec.Cmd
	sdk       *awskms.Client
}

func newQuickStart(t *testing.T) *quickStart {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	work := t.TempDir()
	q := &quickStart{t: t, work: work, bin: filepath.Join(work, "bin")}
	build(t, q.bin)
	return q
}

// run runs a built command in the working directory and returns its stdout.
func (q *quickStart) run(name string, args ...string) string {
	q.t.Helper()
	cmd := exec.Command(filepath.Join(q.bin, name), args...)
	cmd.Dir = q.work
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		q.t.Fatalf("%s %v: %v\n%s", name, args, err, errb.String())
	}
	return out.String()
}

// start runs attestkms serve with args on a free port, and an AWS SDK
// client with the admin credential it wrote.
func (q *quickStart) start(args ...string) {
	t := q.t
	t.Helper()
	serve := exec.Command(filepath.Join(q.bin, "attestkms"), append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	serve.Dir = q.work
	stderr, _ := serve.StderrPipe()
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	q.serve = serve
	t.Cleanup(func() {
		if serve.ProcessState == nil {
			serve.Process.Kill()
			serve.Wait()
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		q.endpoint = "http://" + a
	case <-time.After(30 * time.Second):
		t.Fatal("attestkms serve did not start")
	}
	var cred struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
	}
	b, _ := os.ReadFile(filepath.Join(q.work, "attestkms-data", "admin-credential.json"))
	if err := json.Unmarshal(b, &cred); err != nil {
		t.Fatal(err)
	}
	q.sdk = awskms.New(awskms.Options{Region: "us-east-1", BaseEndpoint: aws.String(q.endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(cred.AccessKeyID, cred.SecretAccessKey, "")})
}

// alias makes a symmetric key named alias, as examples/awssdk --alias does
// on its first run.
func (q *quickStart) alias(name string) {
	ctx := context.Background()
	k, err := q.sdk.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		q.t.Fatal(err)
	}
	if _, err := q.sdk.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: k.KeyMetadata.KeyId}); err != nil {
		q.t.Fatal(err)
	}
}

// tool runs enclavetool against the server and returns its NAME: values.
func (q *quickStart) tool(args ...string) map[string][]byte {
	q.t.Helper()
	out := q.run("enclavetool", append(args, "--endpoint", q.endpoint, "--credential", "attestkms-data/admin-credential.json")...)
	vals := map[string][]byte{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			vals[k], _ = base64.StdEncoding.DecodeString(v)
		}
	}
	return vals
}

// TestAttestedQuickStart follows the README's "An enclave round trip,
// simulated" with the binaries, in a fresh working directory.
func TestAttestedQuickStart(t *testing.T) {
	q := newQuickStart(t)
	q.run("attestsim", "nitro-ca", "--out", "ca")
	q.start("--nitro-roots", "ca/root.pem")
	q.alias("alias/app")
	ctx := context.Background()
	sdk, run, serve := q.sdk, q.run, q.serve

	tool := func(args ...string) map[string][]byte {
		t.Helper()
		return q.tool(append(args, "--attestor", "sim", "--sim-ca", "ca")...)
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
	// enclavetool attest | attestkms verify-evidence --in -: what attest
	// prints is what verify-evidence reads.
	printed := run("enclavetool", "attest", "--attestor", "sim", "--sim-ca", "ca")
	if !strings.HasPrefix(printed, "DOCUMENT: ") {
		t.Fatalf("enclavetool attest printed %q", printed)
	}
	ve := exec.Command(filepath.Join(q.bin, "attestkms"), "verify-evidence", "--in", "-", "--nitro-roots", "ca/root.pem")
	ve.Dir, ve.Stdin = q.work, strings.NewReader(printed)
	if out, err := ve.CombinedOutput(); err != nil || !strings.Contains(string(out), `"format": "nitro"`) {
		t.Fatalf("enclavetool attest | attestkms verify-evidence --in -: %v\n%s", err, out)
	}

	// SIGTERM: graceful, exit 0.
	serve.Process.Signal(syscall.SIGTERM)
	if err := serve.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
}

// TestEnvelopeQuickStart follows the README's SEV-SNP and TPM section with
// the binaries: test CAs, serve trusting them, a data key for a simulated
// SNP guest and a simulated TPM host, each checked against Decrypt.
func TestEnvelopeQuickStart(t *testing.T) {
	q := newQuickStart(t)
	q.run("attestsim", "snp-ca", "--out", "snpca")
	q.run("attestsim", "tpm-ca", "--out", "tpmca")
	q.start("--snp-roots", "snpca/roots.pem", "--tpm-roots", "tpmca/roots.pem")
	q.alias("alias/vm")
	ctx := context.Background()
	for _, attestor := range [][]string{
		{"--attestor", "sim-snp", "--sim-ca", "snpca"},
		{"--attestor", "sim-tpm", "--sim-ca", "tpmca", "--sim-pcr", "7=" + strings.Repeat("0", 63) + "7"},
	} {
		dk := q.tool(append([]string{"generate-data-key", "--key-id", "alias/vm"}, attestor...)...)
		if len(dk["PLAINTEXT"]) != 32 || len(dk["CIPHERTEXT"]) == 0 {
			t.Fatalf("%v: generate-data-key printed %v", attestor, dk)
		}
		back, err := q.sdk.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: dk["CIPHERTEXT"]})
		if err != nil || !bytes.Equal(back.Plaintext, dk["PLAINTEXT"]) {
			t.Fatalf("%v: the guest's data key is not what Decrypt returns: %v", attestor, err)
		}
	}
	// verify-evidence explains both, with the README's flags.
	q.run("enclavetool", "attest", "--attestor", "sim-snp", "--sim-ca", "snpca", "--out", "snp.cbor")
	if out := q.run("attestkms", "verify-evidence", "--in", "snp.cbor", "--snp-roots", "snpca/roots.pem"); !strings.Contains(out, `"format": "sev-snp"`) {
		t.Fatalf("verify-evidence: %s", out)
	}
	q.run("enclavetool", "attest", "--attestor", "sim-tpm", "--sim-ca", "tpmca", "--out", "tpm.cbor")
	if out := q.run("attestkms", "verify-evidence", "--in", "tpm.cbor", "--tpm-roots", "tpmca/roots.pem"); !strings.Contains(out, `"format": "tpm2"`) {
		t.Fatalf("verify-evidence: %s", out)
	}
}
