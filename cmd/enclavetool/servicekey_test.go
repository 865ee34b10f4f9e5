package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/attestkms/attestkms/kms"
)

// TestServiceKeyFlag: with --service-key (a PEM file as attestkms
// service-key prints it, or a fingerprint) every operation's signed answer
// is taken; pinned to another key, every answer is refused.
func TestServiceKeyFlag(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sym, err := e.sdk.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	keys := e.srv.Service.ServiceKeys()
	pemFile := filepath.Join(t.TempDir(), "service-key.pem")
	if err := os.WriteFile(pemFile, kms.FormatServiceKeys(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, pin := range []string{pemFile, keys[0].ID, "SHA256:" + strings.ToUpper(keys[0].ID)} {
		for _, args := range [][]string{
			{"generate-data-key", "--key-id", *sym.KeyMetadata.KeyId},
			{"generate-random", "--number-of-bytes", "16"},
			{"generate-data-key-pair", "--key-id", *sym.KeyMetadata.KeyId, "--key-pair-spec", "ECC_NIST_P256"},
		} {
			for _, kt := range []string{"rsa", "p256"} {
				if _, code, stderr := e.tool(t, append(args, "--service-key", pin, "--key-type", kt)...); code != 0 {
					t.Fatalf("%v pinned to %s (%s): exit %d %s", args, pin, kt, code, stderr)
				}
			}
		}
	}
	other := strings.Repeat("ab", 32)
	_, code, stderr := e.tool(t, "generate-data-key", "--key-id", *sym.KeyMetadata.KeyId, "--service-key", other)
	if code == 0 || !strings.Contains(stderr, "not the pinned service key") {
		t.Fatalf("pinned to another key: exit %d %s", code, stderr)
	}
	if _, code, stderr := e.tool(t, "generate-random", "--number-of-bytes", "16", "--service-key", filepath.Join(t.TempDir(), "none.pem")); code == 0 || !strings.Contains(stderr, "--service-key") {
		t.Fatalf("--service-key of no file: exit %d %s", code, stderr)
	}
}
