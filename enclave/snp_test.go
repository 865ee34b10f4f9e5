package enclave

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-sev-guest/abi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/uuid"

	"github.com/attestkms/attestkms/attest/snp"
	"github.com/attestkms/attestkms/attest/snp/snptest"
)

// fakeSNP stands in for the AMD secure processor: it signs a report with
// snptest's chain for the REPORT_DATA asked, and returns it with a
// certificate table holding what the host supplies.
type fakeSNP struct {
	ca       *snptest.CA
	vlek     bool
	noCerts  bool
	gotAsked [64]byte
}

func (f *fakeSNP) IsSupported() bool        { return true }
func (f *fakeSNP) Product() *spb.SevProduct { return nil }
func (f *fakeSNP) GetRawQuote(reportData [64]byte) ([]byte, error) {
	f.gotAsked = reportData
	e, err := f.ca.Envelope(make([]byte, 1), snptest.Report{ReportData: reportData[:], VLEK: f.vlek})
	if err != nil {
		return nil, err
	}
	raw := append([]byte(nil), e.Report...)
	if f.noCerts {
		return raw, nil
	}
	var table abi.CertTable
	add := func(guid string, b []byte) {
		if b != nil {
			table.Entries = append(table.Entries, abi.CertTableEntry{GUID: uuid.MustParse(guid), RawCert: b})
		}
	}
	add(abi.VcekGUID, e.VCEK)
	add(abi.VlekGUID, e.VLEK)
	add(abi.AskGUID, e.ASK)
	add(abi.ArkGUID, e.ARK)
	return append(raw, table.Marshal()...), nil
}

// TestSNPAttestor: the attestor asks for REPORT_DATA = the binding and
// builds an envelope the server's verifier accepts, for VCEK- and
// VLEK-signed reports; without the host's certificates it needs --snp-vcek.
func TestSNPAttestor(t *testing.T) {
	ca, err := snptest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	roots, err := snp.ParseRoots(ca.RootsPEM())
	if err != nil {
		t.Fatal(err)
	}
	v, err := snp.New(snp.Options{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKey(2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, vlek := range []bool{false, true} {
		f := &fakeSNP{ca: ca, vlek: vlek}
		ev, err := SNP{Provider: f}.Attest(k.PublicKeyDER(), []byte("nonce"), []byte("ud"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(ev, time.Now())
		if err != nil {
			t.Fatalf("vlek=%v: the server refuses the attestor's envelope: %v", vlek, err)
		}
		if string(c.Nonce) != "nonce" || string(c.UserData) != "ud" || c.SNP.Signer != map[bool]string{false: "VCEK", true: "VLEK"}[vlek] {
			t.Fatalf("vlek=%v: claims %+v %+v", vlek, c, c.SNP)
		}
	}
	// The host supplied no certificate: an error naming --snp-vcek, unless
	// the VCEK is given.
	f := &fakeSNP{ca: ca, noCerts: true}
	if _, err := (SNP{Provider: f}).Attest(k.PublicKeyDER(), nil, nil); err == nil || !strings.Contains(err.Error(), "--snp-vcek") {
		t.Fatalf("no certificates: %v", err)
	}
	vcek, err := ca.VCEK(snptest.DefaultChipID, snptest.DefaultTCB)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := SNP{Provider: f, VCEK: vcek.Raw}.Attest(k.PublicKeyDER(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ev, time.Now()); err != nil {
		t.Fatalf("with --snp-vcek: %v", err)
	}
}
