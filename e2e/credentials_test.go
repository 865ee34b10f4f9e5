package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	"github.com/aws/smithy-go"
)

// runCode runs a built command in the working directory: its exit status,
// stdout and stderr.
func (q *quickStart) runCode(name string, args ...string) (int, string, string) {
	q.t.Helper()
	cmd := exec.Command(filepath.Join(q.bin, name), args...)
	cmd.Dir = q.work
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	case err != nil:
		q.t.Fatal(err)
	}
	return 0, out.String(), errb.String()
}

var credentialFileRE = regexp.MustCompile(`^\{\n  "access_key_id": "AKIA[A-Z2-7]{16}",\n  "secret_access_key": "[A-Za-z0-9+/]{40}",\n  "account_id": "[0-9]{12}",\n  "project_id": "[0-9a-f]{32}"\n\}\n$`)

// TestCredentialsWhileServing is the README's "Credentials" section with
// the real binaries: a scoped credential issued by the running server works
// at once through the AWS SDK, within its identity policy, and is refused
// as soon as credential delete returns.
func TestCredentialsWhileServing(t *testing.T) {
	q := newQuickStart(t)
	q.start()
	q.alias("alias/ci")
	ctx := context.Background()
	admin := "attestkms-data/admin-credential.json"
	if err := os.WriteFile(filepath.Join(q.work, "ci-policy.json"), []byte(`{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"kms:Decrypt","Resource":"*",
   "Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/ci"}}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := q.runCode("attestkms", "credential", "create", "--endpoint", q.endpoint, "--credential", admin,
		"--name", "ci", "--policy", "ci-policy.json", "--expires-in", "720h")
	if code != 0 || !credentialFileRE.MatchString(out) {
		t.Fatalf("credential create --endpoint: exit %d %q %q", code, out, errs)
	}
	os.WriteFile(filepath.Join(q.work, "ci.json"), []byte(out), 0o600)
	var ci struct {
		AccessKeyID     string `json:"access_key_id"`
		SecretAccessKey string `json:"secret_access_key"`
	}
	json.Unmarshal([]byte(out), &ci)
	sdk := awskms.New(awskms.Options{Region: "us-east-1", BaseEndpoint: aws.String(q.endpoint), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(ci.AccessKeyID, ci.SecretAccessKey, "")})

	enc, err := q.sdk.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/ci"), Plaintext: []byte("build secret")})
	if err != nil {
		t.Fatal(err)
	}
	if dec, err := sdk.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil || string(dec.Plaintext) != "build secret" {
		t.Fatalf("ci decrypts under alias/ci: %v", err)
	}
	var ae smithy.APIError
	if _, err := sdk.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/ci"), Plaintext: []byte("x")}); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Fatalf("ci encrypts: %v", err)
	}
	// A non-admin cannot manage credentials: exit 1.
	if code, _, errs := q.runCode("attestkms", "credential", "list", "--endpoint", q.endpoint, "--credential", "ci.json"); code != 1 || !strings.Contains(errs, "AccessDeniedException") {
		t.Fatalf("list by ci: exit %d %q", code, errs)
	}
	// list shows the expiry.
	code, out, _ = q.runCode("attestkms", "credential", "list", "--endpoint", q.endpoint, "--credential", admin)
	if code != 0 || !strings.Contains(out, `"expires_at": "`) || !strings.Contains(out, `"name": "ci"`) {
		t.Fatalf("list: exit %d %s", code, out)
	}
	// Revoked while serving: refused within a second of the command's return.
	code, out, errs = q.runCode("attestkms", "credential", "delete", "--endpoint", q.endpoint, "--credential", admin, ci.AccessKeyID)
	if code != 0 || out != "" {
		t.Fatalf("delete: exit %d %q %q", code, out, errs)
	}
	deleted := time.Now()
	_, err = sdk.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidSignatureException" || time.Since(deleted) > time.Second {
		t.Fatalf("ci after its deletion: %v (%v later)", err, time.Since(deleted))
	}
	// Usage is exit 2; the last admin stays (exit 1).
	if code, _, _ := q.runCode("attestkms", "credential", "list", "--endpoint", q.endpoint); code != 2 {
		t.Fatalf("--endpoint without --credential: exit %d", code)
	}
	var list []struct {
		AccessKeyID string `json:"access_key_id"`
	}
	_, out, _ = q.runCode("attestkms", "credential", "list", "--endpoint", q.endpoint, "--credential", admin)
	json.Unmarshal([]byte(out), &list)
	if code, _, errs := q.runCode("attestkms", "credential", "delete", "--endpoint", q.endpoint, "--credential", admin, list[0].AccessKeyID); code != 1 || !strings.Contains(errs, "last admin credential") {
		t.Fatalf("deleting the last admin: exit %d %q", code, errs)
	}
}
