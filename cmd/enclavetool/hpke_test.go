package main

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/attest/snp"
	"github.com/attestkms/attestkms/attest/snp/snptest"
	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
	"github.com/attestkms/attestkms/internal/testserver"
)

// TestHPKEKeyTypes: with --key-type p256 and mlkem768x25519, through the
// simulated Nitro, SEV-SNP and TPM attestors (attestsim binds the P-256 key,
// or the ML-KEM key's SHA-256), every operation's secret is unwrapped in the
// enclave and is the one the plaintext path gives.
func TestHPKEKeyTypes(t *testing.T) {
	nca, err := nitrotest.NewTestCA(attest.FormatNitro, nil)
	if err != nil {
		t.Fatal(err)
	}
	snpCA, err := snptest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	tpmCA, err := tpmtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	nitroDir, snpDir, tpmDir := filepath.Join(t.TempDir(), "nitro"), filepath.Join(t.TempDir(), "snp"), filepath.Join(t.TempDir(), "tpm")
	for dir, save := range map[string]func(string) error{nitroDir: nca.Save, snpDir: snpCA.Save, tpmDir: tpmCA.Save} {
		if err := save(dir); err != nil {
			t.Fatal(err)
		}
	}
	nv, _ := nitro.New(nitro.Options{Roots: nca.Roots()})
	snpRoots, _ := snp.ParseRoots(snpCA.RootsPEM())
	sv, _ := snp.New(snp.Options{Roots: snpRoots})
	tpmRoots, _ := tpm.ParseRoots(tpmCA.RootsPEM())
	tv, _ := tpm.New(tpm.Options{Roots: tpmRoots})
	e := newEnvAttested(t, testserver.Options{Attestation: &attest.Set{COSE: []attest.Verifier{nv}, Envelopes: map[attest.Format]attest.Verifier{
		attest.FormatSEVSNP: sv, attest.FormatTPM2: tv}}})
	ctx := context.Background()
	sym, err := e.sdk.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	ka, err := e.sdk.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeKeyAgreement})
	if err != nil {
		t.Fatal(err)
	}
	gp, _ := e.sdk.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: ka.KeyMetadata.KeyId})
	kmsPub, _ := x509.ParsePKIXPublicKey(gp.PublicKey)
	kp, _ := kmsPub.(interface {
		ECDH() (*ecdh.PublicKey, error)
	}).ECDH()
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	want, _ := peer.ECDH(kp)
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	peerFile := filepath.Join(t.TempDir(), "peer.pem")
	os.WriteFile(peerFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: peerDER}), 0o600)

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
	for _, kt := range []string{"p256", "mlkem768x25519"} {
		for _, at := range [][]string{
			{"--attestor", "sim", "--sim-ca", nitroDir},
			{"--attestor", "sim-snp", "--sim-ca", snpDir},
			{"--attestor", "sim-tpm", "--sim-ca", tpmDir},
		} {
			name := kt + " " + at[1]
			a := append([]string{"--key-type", kt}, at...)
			keep := t.TempDir()
			v, code, stderr := run1(append([]string{"generate-data-key", "--key-id", *sym.KeyMetadata.KeyId, "--keep-ciphertext", keep}, a...)...)
			if code != 0 {
				t.Fatalf("%s generate-data-key: exit %d: %s", name, code, stderr)
			}
			back, err := e.sdk.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: v["CIPHERTEXT"]})
			if err != nil || !bytes.Equal(back.Plaintext, v["PLAINTEXT"]) || len(v["PLAINTEXT"]) != 32 {
				t.Fatalf("%s: data key is not the plaintext path's: %v", name, err)
			}
			d, code, stderr := run1(append([]string{"decrypt", "--ciphertext", base64.StdEncoding.EncodeToString(v["CIPHERTEXT"])}, a...)...)
			if code != 0 || !bytes.Equal(d["PLAINTEXT"], v["PLAINTEXT"]) {
				t.Fatalf("%s decrypt: exit %d %s", name, code, stderr)
			}
			r, code, stderr := run1(append([]string{"generate-random", "--number-of-bytes", "48"}, a...)...)
			if code != 0 || len(r["PLAINTEXT"]) != 48 {
				t.Fatalf("%s generate-random: exit %d %s", name, code, stderr)
			}
			s, code, stderr := run1(append([]string{"derive-shared-secret", "--key-id", *ka.KeyMetadata.KeyId, "--public-key", peerFile}, a...)...)
			if code != 0 || !bytes.Equal(s["SHARED_SECRET"], want) {
				t.Fatalf("%s derive-shared-secret: exit %d %s", name, code, stderr)
			}
			p, code, stderr := run1(append([]string{"generate-data-key-pair", "--key-id", *sym.KeyMetadata.KeyId, "--key-pair-spec", "RSA_2048"}, a...)...)
			if code != 0 {
				t.Fatalf("%s generate-data-key-pair: exit %d %s", name, code, stderr)
			}
			back, err = e.sdk.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: p["PRIVATE_KEY_CIPHERTEXT"]})
			if err != nil || !bytes.Equal(back.Plaintext, p["PRIVATE_KEY"]) {
				t.Fatalf("%s: private key blob: %v", name, err)
			}
			// What travelled is an HPKE frame, version 1, of the key's suite.
			kept, _ := filepath.Glob(filepath.Join(keep, "*"))
			if len(kept) != 1 {
				t.Fatalf("%s: kept %v", name, kept)
			}
			f, _ := os.ReadFile(kept[0])
			if wantAlg := map[string]byte{"p256": 1, "mlkem768x25519": 2}[kt]; len(f) < 8 || f[0] != 1 || f[1] != wantAlg {
				t.Fatalf("%s: CiphertextForRecipient starts %x", name, f[:min(8, len(f))])
			}
		}
	}
	if _, code, stderr := run1("generate-random", "--key-type", "ed25519", "--attestor", "sim", "--sim-ca", nitroDir); code != 2 || !strings.Contains(stderr, "--key-type must be rsa, p256 or mlkem768x25519") {
		t.Fatalf("--key-type ed25519: exit %d %s", code, stderr)
	}
}
