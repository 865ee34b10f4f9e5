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

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/snp"
	"github.com/attestkms/attestkms/attest/snp/snptest"
	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
	"github.com/attestkms/attestkms/internal/testserver"
)

// TestEnvelopeAttestors: with --attestor sim-snp and sim-tpm, enclavetool
// gets data keys and shared secrets from a server trusting attestsim's
// SEV-SNP and TPM CAs (as serve --snp-roots/--tpm-roots does), and a key
// policy on SnpMeasurement or TpmPCR4 and TpmPCR7 admits the right guest
// only.
func TestEnvelopeAttestors(t *testing.T) {
	snpCA, err := snptest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	tpmCA, err := tpmtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	snpDir, tpmDir := filepath.Join(t.TempDir(), "snp"), filepath.Join(t.TempDir(), "tpm")
	if err := snpCA.Save(snpDir); err != nil {
		t.Fatal(err)
	}
	if err := tpmCA.Save(tpmDir); err != nil {
		t.Fatal(err)
	}
	snpRoots, err := snp.ParseRoots(snpCA.RootsPEM())
	if err != nil {
		t.Fatal(err)
	}
	sv, _ := snp.New(snp.Options{Roots: snpRoots})
	tpmRoots, err := tpm.ParseRoots(tpmCA.RootsPEM())
	if err != nil {
		t.Fatal(err)
	}
	tv, _ := tpm.New(tpm.Options{Roots: tpmRoots})
	e := newEnvAttested(t, testserver.Options{Attestation: &attest.Set{Envelopes: map[attest.Format]attest.Verifier{
		attest.FormatSEVSNP: sv, attest.FormatTPM2: tv}}})
	ctx := context.Background()

	measurement, pcr4, pcr7 := strings.Repeat("5e", 48), strings.Repeat("44", 32), strings.Repeat("77", 32)
	acct := e.srv.Account.AccountID
	pol := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","kms:Encrypt"],"Resource":"*"},
	 {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:GenerateDataKey","kms:Decrypt","kms:DeriveSharedSecret"],"Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation:SnpMeasurement":"` + measurement + `"}}},
	 {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:GenerateDataKey","kms:Decrypt","kms:DeriveSharedSecret"],"Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation:TpmPCR4":"` + pcr4 + `","kms:RecipientAttestation:TpmPCR7":"` + pcr7 + `"}}}]}`
	sym, err := e.sdk.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pol)})
	if err != nil {
		t.Fatal(err)
	}
	ka, err := e.sdk.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pol), KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeKeyAgreement})
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
	for _, g := range []struct {
		name        string
		good, wrong []string
	}{
		{"sev-snp", []string{"--attestor", "sim-snp", "--sim-ca", snpDir, "--sim-measurement", measurement},
			[]string{"--attestor", "sim-snp", "--sim-ca", snpDir}},
		{"tpm2", []string{"--attestor", "sim-tpm", "--sim-ca", tpmDir, "--sim-pcr", "4=" + pcr4, "--sim-pcr", "7=" + pcr7},
			[]string{"--attestor", "sim-tpm", "--sim-ca", tpmDir, "--sim-pcr", "4=" + pcr4, "--sim-pcr", "7=" + strings.Repeat("78", 32)}},
	} {
		v, code, stderr := run1(append([]string{"generate-data-key", "--key-id", *sym.KeyMetadata.KeyId}, g.good...)...)
		if code != 0 {
			t.Fatalf("%s generate-data-key: exit %d: %s", g.name, code, stderr)
		}
		back, code, stderr := run1(append([]string{"decrypt", "--ciphertext", base64.StdEncoding.EncodeToString(v["CIPHERTEXT"])}, g.good...)...)
		if code != 0 || !bytes.Equal(back["PLAINTEXT"], v["PLAINTEXT"]) || len(v["PLAINTEXT"]) != 32 {
			t.Fatalf("%s: the guest's data key is not what an attested Decrypt returns: exit %d %s", g.name, code, stderr)
		}
		// The key is attestation-bound: Decrypt without evidence is refused.
		if _, err := e.sdk.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: v["CIPHERTEXT"]}); err == nil || !strings.Contains(err.Error(), "attestation-bound") {
			t.Fatalf("%s: Decrypt without a Recipient: %v", g.name, err)
		}
		s, code, stderr := run1(append([]string{"derive-shared-secret", "--key-id", *ka.KeyMetadata.KeyId, "--public-key", peerFile}, g.good...)...)
		if code != 0 || !bytes.Equal(s["SHARED_SECRET"], want) {
			t.Fatalf("%s derive-shared-secret: exit %d %s", g.name, code, stderr)
		}
		_, code, stderr = run1(append([]string{"generate-data-key", "--key-id", *sym.KeyMetadata.KeyId}, g.wrong...)...)
		if code != 1 || !strings.Contains(stderr, "AccessDeniedException") {
			t.Fatalf("%s with the wrong measurement: exit %d %s", g.name, code, stderr)
		}
	}
	// Each simulated attestor needs its own kind of CA.
	_, code, stderr := run1("generate-random", "--attestor", "sim-snp", "--sim-ca", tpmDir)
	if code == 0 || !strings.Contains(stderr, "enclavetool: error:") {
		t.Fatalf("sim-snp with a TPM CA: exit %d %s", code, stderr)
	}
	// --tpm-ak-chain must hold certificates, and nothing else.
	for _, f := range []string{filepath.Join(snpDir, "ask.key"), filepath.Join(t.TempDir(), "none.pem")} {
		if _, code, stderr := run1("generate-random", "--attestor", "tpm", "--tpm-ak-chain", f); code != 1 || strings.Contains(stderr, "TPM") {
			t.Errorf("--tpm-ak-chain %s: exit %d %s; want 1 before the TPM is opened", f, code, stderr)
		}
	}
	if certs, err := readCertificates(filepath.Join(tpmDir, "roots.pem")); err != nil || len(certs) == 0 {
		t.Errorf("readCertificates(roots.pem) = %d, %v", len(certs), err)
	}
	if certs, err := readCertificates("../../testvectors/tpm/tpm_ek_intermediate_2.crt"); err != nil || len(certs) != 1 {
		t.Errorf("readCertificates(a DER certificate) = %d, %v", len(certs), err)
	}
	for _, args := range [][]string{{"generate-random", "--attestor", "sim-snp"}, {"generate-random", "--attestor", "sim-tpm"},
		{"generate-random", "--attestor", "sim-snp", "--sim-ca", snpDir, "--sim-measurement", "abc"},
		{"generate-random", "--attestor", "tpm", "--tpm-pcrs", "0,24"},
		{"generate-random", "--attestor", "sim-tpm", "--sim-ca", tpmDir, "--sim-pcr", "7=" + pcr7, "--sim-pcr", "7=" + pcr7}} {
		if _, code, stderr := run1(args...); code != 2 {
			t.Errorf("%v: exit %d %s; want 2", args, code, stderr)
		}
	}
}
