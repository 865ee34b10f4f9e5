package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

// TestQuickStart runs the README's Huawei example against a real server.
func TestQuickStart(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	var out bytes.Buffer
	if err := run(srv.URL, writeCredential(t, srv), "app", false, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "round trip ok (32-byte key") || !strings.Contains(out.String(), "as app") {
		t.Fatalf("output %q", out.String())
	}
	// The alias is unique: a second run with it says so in Huawei's words.
	err := run(srv.URL, writeCredential(t, srv), "app", false, &out)
	if err == nil || !strings.Contains(err.Error(), "KMS.1104") {
		t.Fatalf("second run: %v", err)
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
