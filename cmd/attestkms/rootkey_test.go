package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
)

// TestRootKeyEnv: a root key in an environment variable serves a store
// whose data directory holds nothing key-like; the wrong one, or none, is
// refused with a clear message and changes nothing.
func TestRootKeyEnv(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	t.Setenv("TEST_ATTESTKMS_ROOT", base64.StdEncoding.EncodeToString(key))
	dir := filepath.Join(t.TempDir(), "data")
	out := filepath.Join(t.TempDir(), "admin.json")
	if code, _, errs := runCmd("init", "--data-dir", dir, "--root-key", "env:TEST_ATTESTKMS_ROOT", "--admin-credential-out", out); code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "root.key")); !os.IsNotExist(err) {
		t.Fatalf("root.key in the data directory: %v", err)
	}
	addr, stderr, stop := startServe(t, serveConfig{dataDir: dir, root: rootKeyFlags{spec: "env:TEST_ATTESTKMS_ROOT"}})
	if _, err := awsClient(t, addr, "us-east-1", credentialAt(t, out)).CreateKey(context.Background(), &awskms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	stop()
	if strings.Contains(stderr.String(), "root key is a file in the data directory") {
		t.Errorf("warned of a root key file: %s", stderr)
	}

	other := make([]byte, 32)
	rand.Read(other)
	t.Setenv("TEST_ATTESTKMS_OTHER", base64.StdEncoding.EncodeToString(other))
	t.Setenv("TEST_ATTESTKMS_SHORT", base64.StdEncoding.EncodeToString(other[:16]))
	before := snapshot(t, dir)
	for spec, want := range map[string]string{
		"env:TEST_ATTESTKMS_OTHER": "root key does not open this store",
		"env:TEST_ATTESTKMS_UNSET": "the variable is not set",
		"env:TEST_ATTESTKMS_SHORT": "is not 32 bytes of base64",
	} {
		code, _, errs := runCmd("store", "check", "--data-dir", dir, "--root-key", spec)
		if code == 0 || !strings.Contains(errs, want) || strings.Contains(errs, "goroutine") {
			t.Errorf("store check --root-key %s: exit %d, %q; want %q", spec, code, errs, want)
		}
	}
	if after := snapshot(t, dir); after != before {
		t.Error("a refused root key changed the data directory")
	}
}

func TestRootKeyFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"store", "check", "--data-dir", dir, "--root-key", "file:a", "--root-key-file", "b"}, "name the root key twice"},
		{[]string{"store", "check", "--data-dir", dir, "--root-key", "vault:x"}, "unknown provider"},
		{[]string{"store", "check", "--data-dir", dir, "--root-key", "a/root.key"}, "want file:PATH"},
		{[]string{"store", "check", "--data-dir", dir, "--root-key", "env:"}, "not a variable name"},
		{[]string{"serve", "--data-dir", dir, "--root-key", "file:x", "--pkcs11-pin-file", "p"}, "--pkcs11-pin-file goes with --root-key pkcs11:"},
	} {
		if code, _, errs := runCmd(tc.args...); code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 saying %q", tc.args, code, errs, tc.want)
		}
	}
}

// credentialAt reads a credential file.
func credentialAt(t *testing.T, path string) credentialJSON {
	t.Helper()
	var c credentialJSON
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &c); err != nil || c.AccessKeyID == "" {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}
