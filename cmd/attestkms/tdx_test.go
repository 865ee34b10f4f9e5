package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/envelope"
)

// tdxSim writes a test TDX CA's roots and collateral, and a simulated
// envelope, into a temporary directory.
func tdxSim(t *testing.T, debug bool) (roots, collateral, evidence string) {
	t.Helper()
	return tdxSimWith(t, debug, attesttest.TDXCAOptions{})
}

// tdxSimWith is tdxSim with a CA as o says (its FMSPC always 00906ed50000).
func tdxSimWith(t *testing.T, debug bool, o attesttest.TDXCAOptions) (roots, collateral, evidence string) {
	t.Helper()
	dir := t.TempDir()
	o.FMSPC = &[6]byte{0, 0x90, 0x6e, 0xd5, 0, 0}
	ca, err := attesttest.NewTDXCAWith(o)
	if err != nil {
		t.Fatal(err)
	}
	roots = filepath.Join(dir, "roots.pem")
	os.WriteFile(roots, ca.RootsPEM(), 0o644)
	collateral = filepath.Join(dir, "collateral")
	issue := time.Now().Add(-time.Hour)
	col, err := ca.Collateral(attesttest.TDXCollateralOptions{IssueDate: issue, NextUpdate: issue.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := col.Save(collateral); err != nil {
		t.Fatal(err)
	}
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	spki, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	q := attesttest.TDXQuote{Nonce: []byte("n"), MRTD: []byte(strings.Repeat("\xab", 48))}
	if debug {
		q.Debug = true
	}
	b, err := ca.Evidence(spki, q)
	if err != nil {
		t.Fatal(err)
	}
	evidence = filepath.Join(dir, "tdx.cbor")
	os.WriteFile(evidence, b, 0o644)
	return roots, collateral, evidence
}

func TestVerifyEvidenceTDX(t *testing.T) {
	roots, col, ev := tdxSim(t, false)
	code, out, errs := runCmd("verify-evidence", "--in", ev, "--tdx-roots", roots, "--tdx-collateral", col)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var c claimsJSON
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("not claims JSON: %v\n%s", err, out)
	}
	if c.Format != "tdx" || c.TDX == nil || c.TDX.MRTD != strings.Repeat("ab", 48) || c.TDX.TCBStatus != "UpToDate" ||
		c.TDX.FMSPC != "00906ed50000" || c.TDX.RTMR[3] != strings.Repeat("00", 48) || c.TDX.TDAttributes != "0000001000000000" /* attesttest.TDXDefaultAttributes: SEPT_VE_DISABLE */ {
		t.Fatalf("claims %s", out)
	}
	// Without the collateral: refused, saying so.
	code, _, errs = runCmd("verify-evidence", "--in", ev, "--tdx-roots", roots)
	if code != 1 || !strings.Contains(errs, "no TCB Info") || !strings.Contains(errs, "hint: TDX quotes are judged with Intel's collateral") {
		t.Fatalf("no collateral: exit %d %q", code, errs)
	}
	// With Intel's roots: the chain is untrusted.
	code, _, errs = runCmd("verify-evidence", "--in", ev, "--tdx-collateral", filepath.Join("..", "..", "testvectors", "tdx", "collateral"))
	if code != 1 || !strings.Contains(errs, "untrusted certificate chain") {
		t.Fatalf("intel roots: exit %d %q", code, errs)
	}
	// The collateral is stale a year and a day later, unless a grace admits it.
	later := time.Now().AddDate(1, 0, 1).UTC().Format(time.RFC3339)
	code, _, errs = runCmd("verify-evidence", "--in", ev, "--tdx-roots", roots, "--tdx-collateral", col, "--at", later)
	if code != 1 || !strings.Contains(errs, "expired or stale") {
		t.Fatalf("stale: exit %d %q", code, errs)
	}
	code, _, errs = runCmd("verify-evidence", "--in", ev, "--tdx-roots", roots, "--tdx-collateral", col, "--at", later, "--tdx-collateral-grace", "48h")
	if code != 0 {
		t.Fatalf("grace: exit %d %q", code, errs)
	}
	// An unknown status is a usage error.
	code, _, _ = runCmd("verify-evidence", "--in", ev, "--tdx-roots", roots, "--tdx-allow-tcb-status", "Fine")
	if code != 2 {
		t.Fatalf("unknown status: exit %d", code)
	}
	// Debug TDs: verify-evidence shows them (with its warning).
	roots, col, ev = tdxSim(t, true)
	code, out, errs = runCmd("verify-evidence", "--in", ev, "--tdx-roots", roots, "--tdx-collateral", col)
	if code != 0 || !strings.Contains(out, `"debug": true`) {
		t.Fatalf("debug: exit %d %q %q", code, out, errs)
	}
}

// The real Intel quote, with Intel's collateral, at the time go-tdx-guest's
// tests pin: genuine, but it binds no key of ours.
func TestVerifyEvidenceRealTDX(t *testing.T) {
	q, err := os.ReadFile(filepath.Join("..", "..", "testvectors", "tdx", "quote_SPR_E4.dat"))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	spki, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	b, _ := (&envelope.Envelope{Format: attest.FormatTDX, PublicKey: spki, Quote: q}).Marshal()
	ev := filepath.Join(t.TempDir(), "real.cbor")
	os.WriteFile(ev, b, 0o644)
	code, _, errs := runCmd("verify-evidence", "--in", ev, "--tdx-collateral", filepath.Join("..", "..", "testvectors", "tdx", "collateral"), "--at", "2023-07-01T01:00:00Z")
	if code != 1 || !strings.Contains(errs, "REPORTDATA is not the SHA-512 binding") {
		t.Fatalf("exit %d %q", code, errs)
	}
}

func TestTDXCollateralCheck(t *testing.T) {
	real := filepath.Join("..", "..", "testvectors", "tdx", "collateral")
	code, out, errs := runCmd("tdx-collateral", "check", "--dir", real, "--at", "2023-07-01T00:00:00Z")
	if code != 0 || !strings.Contains(out, "fmspc 50806f000000  evaluation 15") || !strings.Contains(out, "current until 2023-07-08T07:24:59Z") {
		t.Fatalf("exit %d %q %q", code, out, errs)
	}
	if code, _, errs := runCmd("tdx-collateral", "check", "--dir", real, "--at", "2023-07-09T00:00:00Z"); code != 1 || !strings.Contains(errs, "past its next update") {
		t.Fatalf("stale: exit %d %q", code, errs)
	}
	if code, _, _ := runCmd("tdx-collateral", "check", "--dir", filepath.Join(t.TempDir(), "none")); code != 3 {
		t.Fatalf("missing dir: exit %d", code)
	}
	if code, _, _ := runCmd("tdx-collateral", "check"); code != 2 {
		t.Fatalf("no --dir: exit %d", code)
	}
	if code, _, _ := runCmd("tdx-collateral", "frob"); code != 2 {
		t.Fatalf("unknown subcommand: exit %d", code)
	}
	// The simulated collateral, with its roots; with Intel's it does not verify.
	roots, col, _ := tdxSim(t, false)
	if code, out, errs := runCmd("tdx-collateral", "check", "--dir", col, "--tdx-roots", roots); code != 0 || !strings.Contains(out, "00906ed50000") {
		t.Fatalf("simulated: exit %d %q %q", code, out, errs)
	}
	if code, _, errs := runCmd("tdx-collateral", "check", "--dir", col); code != 1 || !strings.Contains(errs, "does not chain") {
		t.Fatalf("simulated with Intel's root: exit %d %q", code, errs)
	}
}

// TestTDXCollateralCheckCertificates: collateral whose signing certificate
// is expired, or not yet valid, at --at is not current: the server would
// refuse every quote judged by it, so the check fails (exit 1) saying so,
// though every signature verifies.
func TestTDXCollateralCheckCertificates(t *testing.T) {
	roots, col, _ := tdxSimWith(t, false, attesttest.TDXCAOptions{TCBSigningNotAfter: time.Now().Add(-time.Minute)})
	code, out, errs := runCmd("tdx-collateral", "check", "--dir", col, "--tdx-roots", roots)
	if code != 1 || !strings.Contains(errs, `tcb info for fmspc 00906ed50000: signing certificate "Intel SGX TCB Signing" expired at`) ||
		!strings.Contains(errs, `qe identity: signing certificate "Intel SGX TCB Signing" expired at`) {
		t.Fatalf("expired signer: exit %d %q", code, errs)
	}
	// What it holds is printed all the same, as for stale collateral.
	if !strings.Contains(out, "tcb info   fmspc 00906ed50000") || !strings.Contains(out, "current until") {
		t.Fatalf("expired signer: output %q", out)
	}
	// Before it was valid (--at before Intel's certificates' notBefore,
	// the real collateral's nextUpdate still ahead): also a failure, naming
	// every certificate: TCB signer, PCK CA, root.
	real := filepath.Join("..", "..", "testvectors", "tdx", "collateral")
	code, _, errs = runCmd("tdx-collateral", "check", "--dir", real, "--at", "2018-01-01T00:00:00Z")
	for _, want := range []string{
		`tcb info for fmspc 50806f000000: signing certificate "Intel SGX TCB Signing" is not valid until 2018-05-21T10:50:10Z`,
		`qe identity: signing certificate "Intel SGX TCB Signing" is not valid until`,
		`pck crl: issuer "Intel SGX PCK Platform CA" is not valid until`,
		`root crl: issuer "Intel SGX Root CA" is not valid until`,
	} {
		if code != 1 || !strings.Contains(errs, want) {
			t.Fatalf("not yet valid: exit %d %q; want %q", code, errs, want)
		}
	}
}

// TestTDXCollateralCheckRevokedSigner: a TCB signing certificate the root
// CRL revokes is a problem (exit 1): the server refuses every quote with
// such collateral, so the check may not call it current.
func TestTDXCollateralCheckRevokedSigner(t *testing.T) {
	dir := t.TempDir()
	ca, err := attesttest.NewTDXCAWith(attesttest.TDXCAOptions{FMSPC: &[6]byte{0, 0x90, 0x6e, 0xd5, 0, 0}})
	if err != nil {
		t.Fatal(err)
	}
	roots := filepath.Join(dir, "roots.pem")
	os.WriteFile(roots, ca.RootsPEM(), 0o644)
	issue := time.Now().Add(-time.Hour)
	for _, revoke := range []bool{false, true} {
		col, err := ca.Collateral(attesttest.TDXCollateralOptions{IssueDate: issue, NextUpdate: issue.AddDate(1, 0, 0), RevokeTCBSigning: revoke})
		if err != nil {
			t.Fatal(err)
		}
		d := filepath.Join(dir, fmt.Sprint(revoke))
		if err := col.Save(d); err != nil {
			t.Fatal(err)
		}
		code, _, errs := runCmd("tdx-collateral", "check", "--dir", d, "--tdx-roots", roots)
		switch {
		case !revoke && code != 0:
			t.Fatalf("sound collateral: exit %d %q", code, errs)
		case revoke && (code != 1 || !strings.Contains(errs, `tcb info for fmspc 00906ed50000: signing certificate "Intel SGX TCB Signing"`) || !strings.Contains(errs, "is revoked by the root crl")):
			t.Fatalf("revoked signer: exit %d %q", code, errs)
		}
	}
}
