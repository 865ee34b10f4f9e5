package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/attestkms/attestkms/internal/testserver"
)

func setup(t *testing.T) (*testserver.Server, options, *kms.Client) {
	t.Helper()
	srv := testserver.Start(t, testserver.Options{})
	credFile := filepath.Join(t.TempDir(), "admin-credential.json")
	b, _ := json.Marshal(map[string]string{"access_key_id": srv.AccessKey, "secret_access_key": srv.Secret})
	os.WriteFile(credFile, b, 0o600)
	c := kms.New(kms.Options{Region: srv.Region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.Secret, "")})
	return srv, options{endpoint: srv.URL, region: "us-east-1", credential: credFile}, c
}

func keyCount(t *testing.T, c *kms.Client) int {
	t.Helper()
	l, err := c.ListKeys(context.Background(), &kms.ListKeysInput{})
	if err != nil {
		t.Fatal(err)
	}
	return len(l.Keys)
}

// twice runs the example twice with o and returns both outputs.
func twice(t *testing.T, o options) (string, string) {
	t.Helper()
	var outs [2]string
	for i := range outs {
		var out bytes.Buffer
		if err := run(context.Background(), o, &out); err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out.String())
		}
		outs[i] = out.String()
	}
	return outs[0], outs[1]
}

// TestQuickStart runs the README's quick start against a real server, twice:
// without an alias each run makes a key; with one, the second run uses the
// key the first named, and no key is left without its alias.
func TestQuickStart(t *testing.T) {
	_, o, c := setup(t)
	first, second := twice(t, o)
	for _, out := range []string{first, second} {
		if !strings.Contains(out, "created arn:aws:kms:us-east-1:") || !strings.Contains(out, "data key round trip ok (32-byte key") {
			t.Fatalf("output %q", out)
		}
	}
	n := keyCount(t, c)
	o.alias = "alias/app"
	first, second = twice(t, o)
	if !strings.Contains(first, "named it alias/app") || !strings.Contains(first, "round trip ok") {
		t.Fatalf("first run with --alias: %q", first)
	}
	if !strings.Contains(second, "using arn:aws:kms:") || !strings.Contains(second, "named alias/app") || strings.Contains(second, "created") || !strings.Contains(second, "round trip ok") {
		t.Fatalf("second run with --alias: %q", second)
	}
	if got := keyCount(t, c); got != n+1 {
		t.Fatalf("two runs with one alias made %d keys; want 1", got-n)
	}
	// An alias naming a key of another spec is refused, and makes nothing.
	o.keySpec = "ECC_NIST_P256"
	if err := run(context.Background(), o, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "choose another --alias") {
		t.Fatalf("alias of a symmetric key with --key-spec ECC_NIST_P256: %v", err)
	}
	if got := keyCount(t, c); got != n+1 {
		t.Fatal("a refused run made a key")
	}
}

// TestKeyAgreement: --key-spec ECC_NIST_P256 makes a KEY_AGREEMENT key and
// agrees a secret with a local peer; again with the same alias.
func TestKeyAgreement(t *testing.T) {
	_, o, _ := setup(t)
	for _, spec := range []string{"ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521"} {
		o.keySpec, o.alias = kmstypes.KeySpec(spec), "alias/agree-"+strings.ToLower(spec)
		first, second := twice(t, o)
		for _, out := range []string{first, second} {
			if !strings.Contains(out, "shared secret agreed (") {
				t.Fatalf("%s: output %q", spec, out)
			}
		}
	}
	o.keySpec = "SM2"
	if err := run(context.Background(), o, new(bytes.Buffer)); err == nil {
		t.Fatal("--key-spec SM2 accepted")
	}
}

// TestPolicy: --policy with an enclave-only policy for the account makes
// the key (the lockout check passes: the account keeps kms:PutKeyPolicy),
// and the data key without a Recipient is refused, as the example says; a
// second run puts the policy on the same key.
func TestPolicy(t *testing.T) {
	srv, o, c := setup(t)
	acct := srv.Account.AccountID
	o.alias = "alias/enclave-only"
	o.policy = `{"Version":"2012-10-17","Statement":[
 {"Sid":"manage","Effect":"Allow","Principal":{"AWS":"` + acct + `"},
  "Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","kms:Encrypt"],"Resource":"*"},
 {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"` + acct + `"},
  "Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
  "Condition":{"StringEquals":{"kms:RecipientAttestation:Format":"nitro",
    "kms:RecipientAttestation:ImageSha384":"` + strings.Repeat("ab", 48) + `"}}}]}`
	n := keyCount(t, c)
	first, second := twice(t, o)
	for _, out := range []string{first, second} {
		if !strings.Contains(out, "data key without a Recipient: refused (AccessDeniedException)") {
			t.Fatalf("output %q", out)
		}
	}
	if got := keyCount(t, c); got != n+1 {
		t.Fatalf("made %d keys; want 1", got-n)
	}
	// The README's placeholder account locks the caller out: refused, with
	// nothing made.
	o.alias = "alias/other"
	o.policy = strings.ReplaceAll(o.policy, acct, "111122223333")
	if err := run(context.Background(), o, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "MalformedPolicyDocumentException") {
		t.Fatalf("a policy for another account: %v", err)
	}
	if got := keyCount(t, c); got != n+1 {
		t.Fatal("a refused policy made a key")
	}
}

// TestAliasRefused: an alias the server refuses once the key is made (AWS's
// CreateKey takes none) leaves that key scheduled for deletion, not unnamed
// and in use.
func TestAliasRefused(t *testing.T) {
	_, o, c := setup(t)
	o.alias = "alias/aws/reserved"
	err := run(context.Background(), o, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), "InvalidAliasNameException") {
		t.Fatalf("a reserved alias: %v", err)
	}
	l, err := c.ListKeys(context.Background(), &kms.ListKeysInput{})
	if err != nil || len(l.Keys) != 1 {
		t.Fatalf("keys: %v, %v", l, err)
	}
	d, err := c.DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: l.Keys[0].KeyId})
	if err != nil || d.KeyMetadata.KeyState != kmstypes.KeyStatePendingDeletion {
		t.Fatalf("the unnamed key: %v, %v; want PendingDeletion", d.KeyMetadata.KeyState, err)
	}
}
