package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/internal/testserver"
)

// TestNitroTPMAttestor: with --attestor sim-nitrotpm, enclavetool gets a
// data key from a server trusting the Nitro test CA, under a key policy on
// NitroTPMPCR4 that admits the right register value only; --sim-pcr is
// checked as attestsim would.
func TestNitroTPMAttestor(t *testing.T) {
	ca, err := nitrotest.NewTestCA(attest.FormatNitro, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ca")
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	v, _ := nitro.New(nitro.Options{Roots: ca.Roots()})
	e := newEnvAttested(t, testserver.Options{Attestation: &attest.Set{COSE: []attest.Verifier{v}}})
	ctx := context.Background()
	pcr4 := strings.Repeat("4a", 48)
	acct := e.srv.Account.AccountID
	pol := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Create*","kms:Describe*","kms:Put*","kms:Get*"],"Resource":"*"},
	 {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation:NitroTPMPCR4":"` + pcr4 + `"}}}]}`
	sym, err := e.sdk.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pol)})
	if err != nil {
		t.Fatal(err)
	}
	run1 := func(args ...string) (map[string][]byte, int, string) {
		t.Helper()
		args = append(args, "--endpoint", e.srv.URL, "--credential", e.credFile)
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		vals := map[string][]byte{}
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if k, v, ok := strings.Cut(line, ": "); ok {
				vals[k], _ = base64.StdEncoding.DecodeString(v)
			}
		}
		return vals, code, errb.String()
	}
	good := []string{"--attestor", "sim-nitrotpm", "--sim-ca", dir, "--sim-pcr", "4=" + pcr4}
	got, code, stderr := run1(append([]string{"generate-data-key", "--key-id", *sym.KeyMetadata.KeyId}, good...)...)
	if code != 0 || len(got["PLAINTEXT"]) != 32 {
		t.Fatalf("generate-data-key: exit %d: %s", code, stderr)
	}
	back, code, stderr := run1(append([]string{"decrypt", "--ciphertext", base64.StdEncoding.EncodeToString(got["CIPHERTEXT"])}, good...)...)
	if code != 0 || !bytes.Equal(back["PLAINTEXT"], got["PLAINTEXT"]) {
		t.Fatalf("decrypt: exit %d: %s", code, stderr)
	}
	// An EC P-256 key, as real NitroTPM deployments bind, and an ML-KEM
	// key's digest: HPKE Recipients (docs/hpke.md).
	for _, kt := range []string{"p256", "mlkem768x25519"} {
		back, code, stderr := run1(append([]string{"decrypt", "--key-type", kt, "--ciphertext", base64.StdEncoding.EncodeToString(got["CIPHERTEXT"])}, good...)...)
		if code != 0 || !bytes.Equal(back["PLAINTEXT"], got["PLAINTEXT"]) {
			t.Fatalf("decrypt --key-type %s: exit %d: %s", kt, code, stderr)
		}
	}
	for _, wrong := range [][]string{
		{"--attestor", "sim-nitrotpm", "--sim-ca", dir, "--sim-pcr", "4=" + strings.Repeat("4b", 48)},
		{"--attestor", "sim", "--sim-ca", dir, "--sim-pcr", "4=" + pcr4}, // a Nitro Enclave with that PCR4
	} {
		if _, code, stderr := run1(append([]string{"generate-data-key", "--key-id", *sym.KeyMetadata.KeyId}, wrong...)...); code != 1 || !strings.Contains(stderr, "AccessDeniedException") {
			t.Fatalf("%v: exit %d %s", wrong, code, stderr)
		}
	}
	for _, bad := range []string{"24=" + pcr4, "4=" + strings.Repeat("4a", 32)} {
		if _, code, _ := run1("generate-random", "--attestor", "sim-nitrotpm", "--sim-ca", dir, "--sim-pcr", bad); code != 2 {
			t.Fatalf("--sim-pcr %s: exit %d; want 2", bad, code)
		}
	}
	if _, code, _ := run1("generate-random", "--attestor", "sim-nitrotpm"); code != 2 {
		t.Fatalf("sim-nitrotpm without --sim-ca: exit %d", code)
	}
}
