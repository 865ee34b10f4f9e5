//go:build pkcs11 && cgo

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/internal/softhsmtest"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// TestPKCS11SDKRoundTrip: init with a root key generated in the token,
// serve from it, and the AWS SDK's round trip; the data directory holds no
// root key; a wrong PIN file is refused clearly.
func TestPKCS11SDKRoundTrip(t *testing.T) {
	uri, pinFile := softhsmtest.Object(t, "cmd-"+time.Now().Format("150405.000"))
	dir := filepath.Join(t.TempDir(), "data")
	out := filepath.Join(t.TempDir(), "admin.json")
	if code, _, errs := runCmd("init", "--data-dir", dir, "--root-key", uri, "--pkcs11-pin-file", pinFile, "--admin-credential-out", out); code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "root.key")); !os.IsNotExist(err) {
		t.Fatalf("root.key with a pkcs11: root key: %v", err)
	}
	addr, stderr, stop := startServe(t, serveConfig{dataDir: dir, root: rootKeyFlags{spec: uri, pinFile: pinFile}})
	defer stop()
	if strings.Contains(stderr.String(), "root key is a file") {
		t.Errorf("serve warned of a root key file: %s", stderr)
	}
	c := awsClient(t, addr, "us-east-1", credentialAt(t, out))
	ctx := context.Background()
	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	dk, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: k.KeyMetadata.KeyId, KeySpec: types.DataKeySpecAes256})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: dk.CiphertextBlob})
	if err != nil || !bytes.Equal(d.Plaintext, dk.Plaintext) {
		t.Fatalf("Decrypt: %v", err)
	}
	stop()

	bad := filepath.Join(t.TempDir(), "bad-pin")
	os.WriteFile(bad, []byte("0000\n"), 0o600)
	if code, _, errs := runCmd("store", "check", "--data-dir", dir, "--root-key", uri, "--pkcs11-pin-file", bad); code == 0 || strings.Contains(errs, "0000") || strings.Contains(errs, "goroutine") {
		t.Errorf("a wrong PIN: exit %d, %q", code, errs)
	}
	if code, _, errs := runCmd("store", "check", "--data-dir", dir, "--root-key", uri); code == 0 || !strings.Contains(errs, "PIN") {
		t.Errorf("no PIN: exit %d, %q", code, errs)
	}
}
