package main

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	"github.com/google/go-tdx-guest/verify"

	"github.com/attestkms/attestkms/attest/attesttest"
)

// TestSimTDXArgs: --attestor sim-tdx runs "attestsim tdx" with
// --sim-measurement as the MRTD and --sim-pcr N as RTMR N, and checks them
// first.
func TestSimTDXArgs(t *testing.T) {
	dir := fakeAttestsim(t, "printf 'fake-evidence'")
	mrtd, rtmr3 := strings.Repeat("4d", 48), strings.Repeat("33", 48)
	code, _, errOut := attestWith("--attestor", "sim-tdx", "--sim-ca", "the-ca", "--sim-measurement", mrtd, "--sim-pcr", "3="+rtmr3)
	if code != 0 {
		t.Fatalf("exit %d %q", code, errOut)
	}
	argv, _ := os.ReadFile(filepath.Join(dir, "args"))
	if want := "tdx\n--ca\nthe-ca\n--public-key\n-\n--out\n-\n--mrtd\n" + mrtd + "\n--rtmr\n3=" + rtmr3 + "\n"; string(argv) != want {
		t.Errorf("attestsim's arguments\n%s\nwant\n%s", argv, want)
	}
	for _, args := range [][]string{
		{"--attestor", "sim-tdx", "--sim-ca", "ca", "--sim-measurement", strings.Repeat("00", 32)},
		{"--attestor", "sim-tdx", "--sim-ca", "ca", "--sim-pcr", "4=" + strings.Repeat("00", 48)},
		{"--attestor", "sim-tdx", "--sim-ca", "ca", "--sim-pcr", "0=" + strings.Repeat("00", 32)},
		{"--attestor", "sim-tdx"},
	} {
		if code, _, errOut := attestWith(args...); code != 2 {
			t.Errorf("%v: exit %d %q; want 2", args, code, errOut)
		}
	}
}

// TestTDXNoGuest: --attestor tdx outside a TDX guest (no configfs-tsm
// report provider tdx_guest, no /dev/tdx_guest, as here) says so.
func TestTDXNoGuest(t *testing.T) {
	if _, err := os.Stat("/dev/tdx_guest"); err == nil {
		t.Skip("a TDX guest")
	}
	code, out, errOut := attestWith("--attestor", "tdx")
	if code != 1 || out != "" || !strings.Contains(errOut, "enclavetool: error: TDX quote (is this a TDX guest with configfs-tsm or /dev/tdx_guest?)") {
		t.Errorf("exit %d %q %q", code, out, errOut)
	}
}

// TestSimTDX: enclavetool attest --attestor sim-tdx, through the real
// attestsim, returns a tdx envelope binding its key whose quote
// go-tdx-guest's verifier accepts with the CA's root and collateral.
func TestSimTDX(t *testing.T) {
	ca, err := attesttest.NewTDXCA()
	if err != nil {
		t.Fatal(err)
	}
	caDir := filepath.Join(t.TempDir(), "tdxca")
	issued := time.Now()
	if err := ca.Save(caDir, issued); err != nil {
		t.Fatal(err)
	}
	rtmr1 := strings.Repeat("11", 48)
	code, out, errOut := attestWith("--attestor", "sim-tdx", "--sim-ca", caDir, "--sim-pcr", "1="+rtmr1)
	if code != 0 {
		t.Fatalf("exit %d %q", code, errOut)
	}
	doc, err := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.TrimPrefix(out, "DOCUMENT: ")))
	if err != nil {
		t.Fatalf("%q: %v", out, err)
	}
	var e attesttest.TDXEnvelope
	if err := cbor.Unmarshal(doc, &e); err != nil || e.Format != "tdx" {
		t.Fatalf("envelope %v %q", err, e.Format)
	}
	q, err := abi.QuoteToProto(e.Quote)
	if err != nil {
		t.Fatal(err)
	}
	body := q.(*pb.QuoteV4).GetTdQuoteBody()
	if !bytes.Equal(body.GetReportData(), attesttest.TDXBinding(e.PublicKey, e.Nonce, e.UserData)) {
		t.Error("REPORTDATA does not bind the envelope")
	}
	if got := body.GetRtmrs()[1]; string(got) != string(bytes.Repeat([]byte{0x11}, 48)) {
		t.Errorf("RTMR1 %x", got)
	}
	c, err := attesttest.LoadTDXCollateral(filepath.Join(caDir, "collateral"), ca.FMSPCHex())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Root)
	at := issued.Add(time.Minute)
	if err := verify.TdxQuote(q, &verify.Options{CheckRevocations: true, GetCollateral: true, Getter: c, TrustedRoots: roots,
		Now: &verify.TimeSet{PckCertChain: at, TcbInfo: at, QeIdentity: at, PckCrl: at, RootCaCrl: at}}); err != nil {
		t.Fatalf("go-tdx-guest refuses: %v", err)
	}
}
