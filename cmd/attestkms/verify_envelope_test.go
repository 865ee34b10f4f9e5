package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/attest/snp/snptest"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
)

// TestVerifyEvidenceEnvelopes: verify-evidence explains SEV-SNP and TPM
// envelopes with the same trust flags as serve.
func TestVerifyEvidenceEnvelopes(t *testing.T) {
	dir := t.TempDir()
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	snpCA, err := snptest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	tpmCA, err := tpmtest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	snpRoots, tpmRoots := filepath.Join(dir, "snp.pem"), filepath.Join(dir, "tpm.pem")
	os.WriteFile(snpRoots, snpCA.RootsPEM(), 0o644)
	os.WriteFile(tpmRoots, tpmCA.RootsPEM(), 0o644)
	m := strings.Repeat("ab", 48)
	snpEv, err := snpCA.Evidence(der, snptest.Report{Measurement: []byte(strings.Repeat("\xab", 48)), Nonce: []byte("n")})
	if err != nil {
		t.Fatal(err)
	}
	tpmEv, err := tpmCA.Evidence(der, tpmtest.Quote{PCRs: map[int][]byte{7: make([]byte, 32)}})
	if err != nil {
		t.Fatal(err)
	}
	snpFile, tpmFile, b64File := filepath.Join(dir, "snp.cbor"), filepath.Join(dir, "tpm.cbor"), filepath.Join(dir, "snp.b64")
	os.WriteFile(snpFile, snpEv, 0o644)
	os.WriteFile(tpmFile, tpmEv, 0o644)
	os.WriteFile(b64File, []byte(base64.StdEncoding.EncodeToString(snpEv)+"\n"), 0o644)

	for _, in := range []string{snpFile, b64File} {
		code, out, errs := runCmd("verify-evidence", "--in", in, "--snp-roots", snpRoots)
		if code != 0 {
			t.Fatalf("%s: exit %d %s", in, code, errs)
		}
		var c claimsJSON
		if err := json.Unmarshal([]byte(out), &c); err != nil {
			t.Fatal(err)
		}
		if c.Format != "sev-snp" || c.SNP == nil || c.SNP.Measurement != m || c.SNP.Signer != "VCEK" || c.Nonce == nil || c.PCRs != nil || strings.Contains(out, "timestamp") {
			t.Fatalf("claims %s", out)
		}
	}
	code, out, errs := runCmd("verify-evidence", "--in", tpmFile, "--tpm-roots", tpmRoots)
	var c claimsJSON
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil || c.Format != "tpm2" || c.TPM == nil || c.TPM.PCRs["7"] != strings.Repeat("00", 32) || c.TPM.Bank != "SHA256" {
		t.Fatalf("tpm: exit %d %s %s", code, out, errs)
	}

	// Without the test roots: refused, with a hint naming the flag.
	if code, out, errs := runCmd("verify-evidence", "--in", snpFile); code != 1 || out != "" || !strings.Contains(errs, "--snp-roots") {
		t.Fatalf("snp without roots: exit %d %q %s", code, out, errs)
	}
	if code, _, errs := runCmd("verify-evidence", "--in", tpmFile); code != 1 || !strings.Contains(errs, "--tpm-roots") {
		t.Fatalf("tpm without roots: exit %d %s", code, errs)
	}
	// A debug guest's claims are shown, with the warning.
	dbg, _ := snpCA.Evidence(der, snptest.Report{Policy: snptest.DefaultPolicy | snptest.PolicyDebug})
	os.WriteFile(snpFile, dbg, 0o644)
	if code, out, errs := runCmd("verify-evidence", "--in", snpFile, "--snp-roots", snpRoots); code != 0 || !strings.Contains(out, `"debug": true`) || !strings.Contains(errs, "warning: ") {
		t.Fatalf("debug guest: exit %d %s %s", code, out, errs)
	}
	// --snp-min-tcb: a boot loader SVN above the report's is refused.
	if code, _, errs := runCmd("verify-evidence", "--in", snpFile, "--snp-roots", snpRoots, "--snp-min-tcb", "0xff00000000000000"); code != 1 || !strings.Contains(errs, "TCB") {
		t.Fatalf("--snp-min-tcb above the report's: exit %d %s", code, errs)
	}
	if code, _, errs := runCmd("verify-evidence", "--in", snpFile, "--snp-roots", snpRoots, "--snp-min-tcb", "0x0100000000000000"); code != 0 {
		t.Fatalf("--snp-min-tcb below the report's: exit %d %s", code, errs)
	}
	// Bad trust flags are usage errors or unreadable input.
	if code, _, _ := runCmd("verify-evidence", "--in", snpFile, "--snp-min-tcb", "tcb"); code != 2 {
		t.Fatalf("--snp-min-tcb tcb: exit %d", code)
	}
	if code, _, _ := runCmd("verify-evidence", "--in", snpFile, "--snp-max-vmpl", "4"); code != 2 {
		t.Fatalf("--snp-max-vmpl 4: exit %d", code)
	}
	if code, _, _ := runCmd("verify-evidence", "--in", snpFile, "--tpm-roots", snpFile); code != 3 {
		t.Fatalf("--tpm-roots of a non-PEM file: exit %d", code)
	}
}
