package attesttest

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	"github.com/google/go-tdx-guest/verify"
)

// tdxNow is the instant these tests verify at: inside the collateral's
// validity, which they sign at tdxIssue.
var (
	tdxIssue = time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	tdxNow   = tdxIssue.Add(24 * time.Hour)
)

var (
	tdxCAOnce sync.Once
	tdxCA     *TDXCA
	tdxCAErr  error
)

func testTDXCA(t testing.TB) *TDXCA {
	t.Helper()
	tdxCAOnce.Do(func() { tdxCA, tdxCAErr = NewTDXCA() })
	if tdxCAErr != nil {
		t.Fatal(tdxCAErr)
	}
	return tdxCA
}

// refusingGetter serves the collateral given, and fails the test on any
// other URL: go-tdx-guest must never reach the network.
type refusingGetter struct {
	t *testing.T
	c *TDXCollateral
}

func (g refusingGetter) Get(u string) (map[string][]string, []byte, error) {
	h, b, err := g.c.Get(u)
	if err != nil {
		g.t.Errorf("verifier asked for %s", u)
	}
	return h, b, err
}

// verifyTDX runs go-tdx-guest's own verifier, fully: PCK chain to root
// only, the collateral (TCB Info, QE Identity) fetched through g, CRLs
// checked, at tdxNow.
func verifyTDX(t *testing.T, ca *TDXCA, raw []byte, c *TDXCollateral) error {
	t.Helper()
	q, err := abi.QuoteToProto(raw)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Root)
	return verify.TdxQuote(q, &verify.Options{
		CheckRevocations: true,
		GetCollateral:    true,
		Getter:           refusingGetter{t, c},
		TrustedRoots:     roots,
		Now:              &verify.TimeSet{PckCertChain: tdxNow, TcbInfo: tdxNow, QeIdentity: tdxNow, PckCrl: tdxNow, RootCaCrl: tdxNow},
	})
}

func testCollateral(t *testing.T, ca *TDXCA, o TDXCollateralOptions) *TDXCollateral {
	t.Helper()
	if o.IssueDate.IsZero() {
		o.IssueDate = tdxIssue
	}
	c, err := ca.Collateral(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTDXQuoteVerifiesWithGoTDXGuest proves the simulator's quotes real:
// go-tdx-guest's verify.TdxQuote, with the test root as its only root and
// the collateral served offline, accepts a quote of an UpToDate platform,
// and parses every field where the quote put it.
func TestTDXQuoteVerifiesWithGoTDXGuest(t *testing.T) {
	ca := testTDXCA(t)
	c := testCollateral(t, ca, TDXCollateralOptions{})
	rd := bytes.Repeat([]byte{0xab}, 64)
	mrtd := bytes.Repeat([]byte{1}, 48)
	rtmr3 := bytes.Repeat([]byte{3}, 48)
	raw, err := ca.Quote(rd, TDXQuote{MRTD: mrtd, RTMR: [4][]byte{3: rtmr3}})
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyTDX(t, ca, raw, c); err != nil {
		t.Fatalf("go-tdx-guest refuses the quote: %v", err)
	}
	p, err := abi.QuoteToProto(raw)
	if err != nil {
		t.Fatal(err)
	}
	b := p.(*pb.QuoteV4).GetTdQuoteBody()
	if !bytes.Equal(b.GetReportData(), rd) || !bytes.Equal(b.GetMrTd(), mrtd) || !bytes.Equal(b.GetRtmrs()[3], rtmr3) {
		t.Errorf("fields misplaced: reportdata %x mrtd %x rtmr3 %x", b.GetReportData(), b.GetMrTd(), b.GetRtmrs()[3])
	}
	if !bytes.Equal(raw[TDXReportDataOff:TDXReportDataOff+64], rd) {
		t.Errorf("TDXReportDataOff is wrong")
	}
	if b.GetTdAttributes()[0]&1 != 0 {
		t.Errorf("a debug TD by default")
	}
}

// TestTDXTCBStatus: each --tcb-status selects the TCB level of that status;
// go-tdx-guest (which accepts UpToDate only) names the status it found.
func TestTDXTCBStatus(t *testing.T) {
	ca := testTDXCA(t)
	c := testCollateral(t, ca, TDXCollateralOptions{})
	for _, s := range TDXTCBStatuses {
		raw, err := ca.Quote(make([]byte, 64), TDXQuote{TCBStatus: s})
		if err != nil {
			t.Fatal(err)
		}
		err = verifyTDX(t, ca, raw, c)
		switch {
		case s == "UpToDate":
			if err != nil {
				t.Errorf("%s: %v", s, err)
			}
		case s == "OutOfDate":
			if !errors.Is(err, verify.ErrTdxTcbStatus) && (err == nil || !strings.Contains(err.Error(), "OutOfDate")) {
				t.Errorf("%s: %v", s, err)
			}
		case err == nil || !strings.Contains(err.Error(), `found "`+s+`"`):
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := ca.Quote(make([]byte, 64), TDXQuote{TCBStatus: "Fine"}); err == nil {
		t.Error("unknown status accepted")
	}
}

// TestTDXHostile: each knob, and each kind of hostile collateral, is
// refused by go-tdx-guest for the reason it breaks.
func TestTDXHostile(t *testing.T) {
	ca := testTDXCA(t)
	good := testCollateral(t, ca, TDXCollateralOptions{})
	other, err := NewTDXCA()
	if err != nil {
		t.Fatal(err)
	}
	otherFMSPC := [6]byte{1, 2, 3, 4, 5, 6}
	rd := make([]byte, 64)
	tests := []struct {
		name string
		q    TDXQuote
		c    *TDXCollateral
		flip int // flip this byte of the quote (0: none)
		want string
	}{
		{"quote signature", TDXQuote{BadQuoteSignature: true}, good, 0, "unable to verify message digest"},
		{"flipped MRTD", TDXQuote{}, good, TDXHeaderSize + 136 + 5, "unable to verify message digest"},
		{"QE report of another key", TDXQuote{QEReportOtherKey: true}, good, 0, "QE Report Data does not match"},
		{"QE report not by the PCK", TDXQuote{QEReportNotByPCK: true}, good, 0, "QE report's signature verification"},
		{"PCK chain to another root", TDXQuote{PCKChain: other.PCKChainPEM()}, good, 0, "certificate signed by unknown authority"},
		{"revoked PCK", TDXQuote{}, testCollateral(t, ca, TDXCollateralOptions{RevokePCK: true}), 0, "PCK Leaf certificate in PCK certificate chain was revoked"},
		{"revoked platform CA", TDXQuote{}, testCollateral(t, ca, TDXCollateralOptions{RevokePlatformCA: true}), 0, "intermediate certificate in PCK certificate chain was revoked"},
		{"collateral of another FMSPC", TDXQuote{}, testCollateral(t, ca, TDXCollateralOptions{FMSPC: &otherFMSPC}), 0, "no network"},
		{"stale collateral", TDXQuote{}, testCollateral(t, ca, TDXCollateralOptions{IssueDate: tdxNow.AddDate(0, -2, 0)}), 0, "tcbInfo has expired"},
		{"collateral of another CA", TDXQuote{}, testCollateral(t, other, TDXCollateralOptions{}), 0, "CRL signature verification failed"},
		{"QE out of date", TDXQuote{QESVN: TDXQESVN - 1}, good, 0, "OutOfDate"},
		{"no TCB level", TDXQuote{TEETCBSVN: make([]byte, 16)}, good, 0, "no matching TCB level"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := ca.Quote(rd, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if tt.flip != 0 {
				raw[tt.flip] ^= 1
			}
			g := &quietGetter{c: tt.c}
			err = verifyTDXWith(ca, raw, g)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v; want one saying %q", err, tt.want)
			}
		})
	}
}

// quietGetter is refusingGetter for cases that expect a refused URL.
type quietGetter struct{ c *TDXCollateral }

func (g *quietGetter) Get(u string) (map[string][]string, []byte, error) { return g.c.Get(u) }

func verifyTDXWith(ca *TDXCA, raw []byte, g *quietGetter) error {
	q, err := abi.QuoteToProto(raw)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Root)
	return verify.TdxQuote(q, &verify.Options{
		CheckRevocations: true, GetCollateral: true, Getter: g, TrustedRoots: roots,
		Now: &verify.TimeSet{PckCertChain: tdxNow, TcbInfo: tdxNow, QeIdentity: tdxNow, PckCrl: tdxNow, RootCaCrl: tdxNow},
	})
}

// TestTDXCASaveLoad: a saved CA loads back, signs quotes that verify with
// the collateral Save wrote (read from its files, as the server will), in
// the layout the server reads.
func TestTDXCASaveLoad(t *testing.T) {
	ca := testTDXCA(t)
	dir := filepath.Join(t.TempDir(), "tdxca")
	if err := ca.Save(dir, tdxIssue); err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(dir, tdxIssue); !errors.Is(err, os.ErrExist) {
		t.Errorf("second Save: %v, want fs.ErrExist", err)
	}
	for _, f := range []string{TDXRootKeyFile, TDXPlatformKeyFile, TDXTCBKeyFile, TDXPCKKeyFile} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, st.Mode(), err)
		}
	}
	loaded, err := LoadTDXCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.FMSPC != ca.FMSPC || !loaded.Root.Equal(ca.Root) {
		t.Fatal("loaded CA differs")
	}
	c, err := LoadTDXCollateral(filepath.Join(dir, TDXCollateralDir), "0a7e57000000")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := loaded.Quote(make([]byte, 64), TDXQuote{})
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyTDX(t, loaded, raw, c); err != nil {
		t.Fatalf("go-tdx-guest refuses a loaded CA's quote with the saved collateral: %v", err)
	}
	if roots, _ := os.ReadFile(filepath.Join(dir, TDXRootsFile)); !bytes.Equal(roots, ca.RootsPEM()) {
		t.Error("roots.pem is not the root")
	}
}

// TestTDXEvidence: the envelope holds the key, nonce, user data and a quote
// whose REPORTDATA is their SEV-SNP-style binding under SHA-512.
func TestTDXEvidence(t *testing.T) {
	ca := testTDXCA(t)
	key := []byte{0x30, 0x03, 0x02, 0x01, 0x01} // any DER value
	ev, err := ca.Evidence(key, TDXQuote{Nonce: []byte("n"), UserData: []byte("u"), Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	var e TDXEnvelope
	if err := cbor.Unmarshal(ev, &e); err != nil {
		t.Fatal(err)
	}
	if e.Format != "tdx" || !bytes.Equal(e.PublicKey, key) || string(e.Nonce) != "n" || string(e.UserData) != "u" {
		t.Fatalf("envelope %+v", e)
	}
	if got, want := e.Quote[TDXReportDataOff:TDXReportDataOff+64], TDXBinding(key, []byte("n"), []byte("u")); !bytes.Equal(got, want) {
		t.Errorf("REPORTDATA %x, want %x", got, want)
	}
	if e.Quote[TDXHeaderSize+120]&1 != 1 {
		t.Error("Debug did not set TD_ATTRIBUTES.DEBUG")
	}
	if err := verifyTDX(t, ca, e.Quote, testCollateral(t, ca, TDXCollateralOptions{})); err != nil {
		t.Fatal(err)
	}
}

// TestTDXCollateralKnobs: Restatus and Advisories restate TCB levels, the
// module identity knobs shape TDX_01, and QEMRSigner names another QE.
func TestTDXCollateralKnobs(t *testing.T) {
	ca := testTDXCA(t)
	c := testCollateral(t, ca, TDXCollateralOptions{
		Restatus:   map[string]string{"UpToDate": "OutOfDate"},
		Advisories: map[string][]string{"OutOfDate": {"INTEL-SA-1"}},
		ModuleSVN:  3, ModuleStatus: "Revoked",
	})
	var info struct {
		TCBInfo tdxTCBInfo `json:"tcbInfo"`
	}
	if err := json.Unmarshal(c.TCBInfo, &info); err != nil {
		t.Fatal(err)
	}
	l := info.TCBInfo.TCBLevels
	if l[0].TCBStatus != "OutOfDate" || len(l[0].AdvisoryIDs) != 1 || l[4].TCBStatus != "OutOfDate" || l[4].AdvisoryIDs[0] != "INTEL-SA-1" {
		t.Fatalf("levels %+v", l)
	}
	m := info.TCBInfo.TDXModuleIdentities
	if len(m) != 1 || *m[0].TCBLevels[0].TCB.ISVSVN != 3 || m[0].TCBLevels[0].TCBStatus != "Revoked" {
		t.Fatalf("module identities %+v", m)
	}
	raw, err := ca.Quote(make([]byte, 64), TDXQuote{})
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyTDX(t, ca, raw, c); err == nil || !strings.Contains(err.Error(), "OutOfDate") {
		t.Fatalf("restated UpToDate: %v", err)
	}
	c = testCollateral(t, ca, TDXCollateralOptions{NoModuleIdentity: true})
	if strings.Contains(string(c.TCBInfo), "tdxModuleIdentities") {
		t.Fatal("module identity not left out")
	}
	if raw, err = ca.Quote(make([]byte, 64), TDXQuote{QEMRSigner: make([]byte, 32)}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw[TDXHeaderSize+TDXBodySize+4+128+6+128:][:32], make([]byte, 32)) {
		t.Fatal("QE report's MRSIGNER not set")
	}
	if _, err := ca.Quote(make([]byte, 64), TDXQuote{QEMRSigner: make([]byte, 31)}); err == nil {
		t.Fatal("a 31-byte MRSIGNER accepted")
	}
}
