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
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/attestkms/attestkms/internal/testserver"
)

func writeCredential(t *testing.T, srv *testserver.Server) string {
	t.Helper()
	credFile := filepath.Join(t.TempDir(), "admin-credential.json")
	b, _ := json.Marshal(map[string]string{
		"access_key_id": srv.AccessKey, "secret_access_key": srv.Secret,
		"account_id": srv.Account.AccountID, "project_id": srv.Account.ProjectID,
	})
	if err := os.WriteFile(credFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return credFile
}

// TestQuickStart runs the README's Huawei example against a real server,
// twice as written (each run names its key afresh), then twice with one
// --alias: the second run is refused in Huawei's words and makes no key.
func TestQuickStart(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	cred := writeCredential(t, srv)
	for i := range 2 {
		var out bytes.Buffer
		if err := run(srv.URL, cred, "", false, &out); err != nil {
			t.Fatalf("run %d as written: %v", i+1, err)
		}
		if !strings.Contains(out.String(), "round trip ok (32-byte key") || !strings.Contains(out.String(), "as huawei-quick-start-") {
			t.Fatalf("output %q", out.String())
		}
	}
	var out bytes.Buffer
	if err := run(srv.URL, cred, "app", false, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "round trip ok (32-byte key") || !strings.Contains(out.String(), "as app") {
		t.Fatalf("output %q", out.String())
	}
	n := keyCount(t, srv)
	err := run(srv.URL, cred, "app", false, &out)
	if err == nil || !strings.Contains(err.Error(), "KMS.1104") {
		t.Fatalf("second run with --alias app: %v", err)
	}
	if keyCount(t, srv) != n {
		t.Fatal("a create-key refused for its alias left a key behind")
	}
}

// TestQuickStartTLS: the same over HTTPS with a test certificate.
func TestQuickStartTLS(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{TLS: true})
	var out bytes.Buffer
	if err := run(srv.URL, writeCredential(t, srv), "app", true, &out); err != nil {
		t.Fatal(err)
	}
}

// keyCount is how many keys the server holds, asked through the AWS dialect.
func keyCount(t *testing.T, srv *testserver.Server) int {
	t.Helper()
	c := awskms.New(awskms.Options{Region: srv.Region, BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.Secret, "")})
	l, err := c.ListKeys(context.Background(), &awskms.ListKeysInput{})
	if err != nil {
		t.Fatal(err)
	}
	return len(l.Keys)
}
