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

// quickStart is a fresh working directory with the binaries built in bin/,
// for tests that drive the binaries beyond the README (TestREADME runs the
// README itself).
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
	cmd.Dir, cmd.Env = q.work, withoutAWSSettings()
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

// alias creates a key with the SDK and names it.
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

// withoutAWSSettings is this process's environment without the AWS_*
// settings enclavetool reads (a developer's or a machine's AWS_CA_BUNDLE,
// AWS_REGION, AWS_ENDPOINT_URL): the tests say where the server is.
func withoutAWSSettings() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}
