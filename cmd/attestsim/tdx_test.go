package main

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	tdxverify "github.com/google/go-tdx-guest/verify"

	"github.com/attestkms/attestkms/attest/attesttest"
)

// offlineGetter serves a collateral directory and nothing else.
type offlineGetter struct{ c *attesttest.TDXCollateral }

func (g offlineGetter) Get(u string) (map[string][]string, []byte, error) { return g.c.Get(u) }

// verifyTDXEvidence decodes a tdx envelope and runs go-tdx-guest's verifier
// on its quote with the CA's root and the collateral in colDir, at now + 1h.
func verifyTDXEvidence(t *testing.T, caDir, colDir string, ev []byte) (*attesttest.TDXEnvelope, *pb.QuoteV4, error) {
	t.Helper()
	var e attesttest.TDXEnvelope
	if err := cbor.Unmarshal(ev, &e); err != nil {
		t.Fatal(err)
	}
	q, err := abi.QuoteToProto(e.Quote)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	b, err := os.ReadFile(filepath.Join(caDir, "roots.pem"))
	if err != nil || !roots.AppendCertsFromPEM(b) {
		t.Fatalf("roots.pem: %v", err)
	}
	c, err := attesttest.LoadTDXCollateral(colDir, "0a7e57000000")
	if err != nil {
		t.Fatal(err)
	}
	at := now.Add(3600e9)
	err = tdxverify.TdxQuote(q, &tdxverify.Options{
		CheckRevocations: true, GetCollateral: true, Getter: offlineGetter{c}, TrustedRoots: roots,
		Now: &tdxverify.TimeSet{PckCertChain: at, TcbInfo: at, QeIdentity: at, PckCrl: at, RootCaCrl: at},
	})
	return &e, q.(*pb.QuoteV4), err
}

func TestTDX(t *testing.T) {
	dir := t.TempDir()
	caDir := filepath.Join(dir, "tdxca")
	if code, out, errOut := attestsim(t, "tdx-ca", "--out", caDir); code != 0 || !strings.Contains(out, "--tdx-roots "+caDir+"/roots.pem --tdx-collateral "+caDir+"/collateral") {
		t.Fatalf("tdx-ca: %d %q %q", code, out, errOut)
	}
	for _, f := range []string{"roots.pem", "collateral/tcbinfo-0a7e57000000.json", "collateral/tcbinfo.issuer.pem",
		"collateral/qe_identity.json", "collateral/qe_identity.issuer.pem", "collateral/pck_crl.der",
		"collateral/pck_crl.issuer.pem", "collateral/root_crl.der"} {
		if _, err := os.Stat(filepath.Join(caDir, f)); err != nil {
			t.Errorf("layout: %v", err)
		}
	}
	if code, _, errOut := attestsim(t, "tdx-ca", "--out", caDir); code != 1 || !strings.Contains(errOut, "already holds a test CA") {
		t.Errorf("second tdx-ca: %d %q", code, errOut)
	}
	der, err := x509.MarshalPKIXPublicKey(&enclaveKey().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := writePEM(t, "PUBLIC KEY", der)
	colDir := filepath.Join(caDir, "collateral")

	out := filepath.Join(dir, "ev.cbor")
	mrtd, rtmr2 := strings.Repeat("11", 48), strings.Repeat("22", 48)
	code, _, errOut := attestsim(t, "tdx", "--ca", caDir, "--public-key", keyFile, "--out", out,
		"--mrtd", mrtd, "--rtmr", "2="+rtmr2, "--nonce", base64.StdEncoding.EncodeToString([]byte("nonce")))
	if code != 0 {
		t.Fatalf("tdx: %d %q", code, errOut)
	}
	ev, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	e, q, err := verifyTDXEvidence(t, caDir, colDir, ev)
	if err != nil {
		t.Fatalf("go-tdx-guest refuses attestsim's quote: %v", err)
	}
	b := q.GetTdQuoteBody()
	if fmt.Sprintf("%x", b.GetMrTd()) != mrtd || fmt.Sprintf("%x", b.GetRtmrs()[2]) != rtmr2 {
		t.Errorf("MRTD %x RTMR2 %x", b.GetMrTd(), b.GetRtmrs()[2])
	}
	if !bytes.Equal(e.PublicKey, der) || string(e.Nonce) != "nonce" || e.UserData != nil {
		t.Errorf("envelope %+v", e)
	}
	// Issue 14 spells the command without --out: the envelope goes to
	// stdout.
	code, stdout, errOut := attestsim(t, "tdx", "--ca", caDir, "--public-key", keyFile)
	if code != 0 {
		t.Fatalf("tdx without --out: %d %q", code, errOut)
	}
	if _, _, err := verifyTDXEvidence(t, caDir, colDir, []byte(stdout)); err != nil {
		t.Fatalf("tdx without --out: what it printed is not a quote go-tdx-guest takes: %v", err)
	}
	if !bytes.Equal(b.GetReportData(), attesttest.TDXBinding(der, []byte("nonce"), nil)) {
		t.Error("REPORTDATA does not bind the key and nonce")
	}

	// --tcb-status, --debug, --break.
	for _, tt := range []struct {
		args []string
		want string // in go-tdx-guest's error; "" none
	}{
		{[]string{"--tcb-status", "SWHardeningNeeded"}, `found "SWHardeningNeeded"`},
		{[]string{"--tcb-status", "OutOfDate"}, "OutOfDate"},
		{[]string{"--debug"}, ""},
		{[]string{"--break", "quote-signature"}, "unable to verify message digest"},
		{[]string{"--break", "qe-report-key"}, "QE Report Data does not match"},
		{[]string{"--break", "qe-report-signer"}, "QE report's signature verification"},
	} {
		args := append([]string{"tdx", "--ca", caDir, "--public-key", keyFile, "--out", "-"}, tt.args...)
		var o, eo bytes.Buffer
		if code := run(args, env{stdout: &o, stderr: &eo, now: func() time.Time { return now }}); code != 0 {
			t.Fatalf("%v: %d %q", tt.args, code, eo.String())
		}
		_, q, err := verifyTDXEvidence(t, caDir, colDir, o.Bytes())
		if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
		if tt.args[0] == "--debug" && q.GetTdQuoteBody().GetTdAttributes()[0]&1 != 1 {
			t.Error("--debug: TD_ATTRIBUTES.DEBUG clear")
		}
	}
	code, _, errOut = attestsim(t, "tdx", "--ca", caDir, "--public-key", keyFile, "--out", "-", "--break", "report-data")
	if code != 0 {
		t.Fatal(errOut)
	}

	// tdx-collateral: revoked PCK, stale.
	revoked := filepath.Join(dir, "revoked")
	if code, _, errOut := attestsim(t, "tdx-collateral", "--ca", caDir, "--out", revoked, "--revoke-pck"); code != 0 {
		t.Fatal(errOut)
	}
	if _, _, err := verifyTDXEvidence(t, caDir, revoked, ev); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("revoked PCK: %v", err)
	}
	stale := filepath.Join(dir, "stale")
	if code, _, errOut := attestsim(t, "tdx-collateral", "--ca", caDir, "--out", stale, "--issue-date", "2025-01-01T00:00:00Z"); code != 0 {
		t.Fatal(errOut)
	}
	if _, _, err := verifyTDXEvidence(t, caDir, stale, ev); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("stale collateral: %v", err)
	}

	// tdx-ca's collateral flags shape the collateral it signs.
	other := filepath.Join(dir, "other")
	if code, _, errOut := attestsim(t, "tdx-ca", "--out", other, "--fmspc", "00112233aabb", "--tcb-evaluation-number", "5",
		"--next-update", now.Add(48*time.Hour).Format(time.RFC3339)); code != 0 {
		t.Fatal(errOut)
	}
	info, err := os.ReadFile(filepath.Join(other, "collateral", "tcbinfo-00112233aabb.json"))
	if err != nil || !bytes.Contains(info, []byte(`"tcbEvaluationDataNumber":5,`)) || !bytes.Contains(info, []byte(`"nextUpdate":"2026-03-03T12:00:00Z"`)) {
		t.Errorf("tdx-ca --fmspc --tcb-evaluation-number --next-update: %v %.300s", err, info)
	}

	// Usage errors.
	for _, args := range [][]string{
		{"tdx", "--ca", caDir, "--public-key", keyFile, "--out", "-", "--tcb-status", "Fine"},
		{"tdx", "--ca", caDir, "--public-key", keyFile, "--out", "-", "--rtmr", "4=00"},
		{"tdx", "--ca", caDir, "--public-key", keyFile, "--out", "-", "--mrtd", "00"},
		{"tdx", "--ca", caDir, "--public-key", keyFile, "--out", "-", "--break", "everything"},
		{"tdx-collateral", "--ca", caDir, "--out", stale, "--issue-date", "yesterday"},
		{"tdx-ca"},
	} {
		if code, _, _ := attestsim(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
