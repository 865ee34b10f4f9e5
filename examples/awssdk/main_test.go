package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/internal/testserver"
)

// TestQuickStart runs the README's quick start against a real server.
func TestQuickStart(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	credFile := filepath.Join(t.TempDir(), "admin-credential.json")
	b, _ := json.Marshal(map[string]string{"access_key_id": srv.AccessKey, "secret_access_key": srv.Secret})
	os.WriteFile(credFile, b, 0o600)
	var out bytes.Buffer
	if err := run(context.Background(), srv.URL, "us-east-1", credFile, "alias/app", &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "round trip ok") || !strings.Contains(out.String(), "named it alias/app") {
		t.Fatalf("output %q", out.String())
	}
}
