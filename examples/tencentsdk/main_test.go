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
	// The alias is taken now: a second run with it fails with Tencent's code.
	// (Within the same second as the first run, the SDK's CreateKey carries
	// the same signature, which is refused as a replay after the alias check.)
	if err := run(srv.URL, credFile, "app", &out); err == nil || !strings.Contains(err.Error(), "AliasAlreadyExists") {
		t.Fatalf("second run: %v", err)
	}
	if err := run("127.0.0.1:1", credFile, "", &out); err == nil {
		t.Fatal("an endpoint without a scheme was accepted")
	}
}
