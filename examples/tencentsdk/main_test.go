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

// TestQuickStart runs the README's Tencent example against a real server.
func TestQuickStart(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	credFile := filepath.Join(t.TempDir(), "admin-credential.json")
	b, _ := json.Marshal(map[string]string{"access_key_id": srv.AccessKey, "secret_access_key": srv.Secret})
	if err := os.WriteFile(credFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(srv.URL, credFile, "app", &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"with alias app", "data key round trip ok (32-byte key)", "local RSA-2048 key round trip ok"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output %q lacks %q", out.String(), want)
		}
	}
	// The alias is taken now: a second run with it fails with Tencent's code,
	// and makes no key. (Within the same second as the first run, the SDK's
	// CreateKey carries the same signature, which is refused as a replay
	// after the alias check.)
	n := keyCount(t, srv)
	if err := run(srv.URL, credFile, "app", &out); err == nil || !strings.Contains(err.Error(), "AliasAlreadyExists") {
		t.Fatalf("second run: %v", err)
	}
	if keyCount(t, srv) != n {
		t.Fatal("a CreateKey refused for its alias left a key behind")
	}
	// As written (no --alias), it runs again and again, naming each key afresh.
	for i := range 2 {
		out.Reset()
		if err := run(srv.URL, credFile, "", &out); err != nil {
			t.Fatalf("run %d as written: %v", i+1, err)
		}
		if !strings.Contains(out.String(), "with alias quick-start-") || !strings.Contains(out.String(), "local RSA-2048 key round trip ok") {
			t.Fatalf("output %q", out.String())
		}
	}
	if err := run("127.0.0.1:1", credFile, "", &out); err == nil {
		t.Fatal("an endpoint without a scheme was accepted")
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
