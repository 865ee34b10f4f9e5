package tdx

import (
	"bytes"
	"testing"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
)

func TestSimulatedQuoteVerifies(t *testing.T) {
	ca := newSimCA(t)
	v := simVerifier(t, ca, writeCollateral(t, ca, attesttest.TDXCollateralOptions{}), Options{})
	mrtd := bytes.Repeat([]byte{0xaa}, 48)
	rtmr3 := bytes.Repeat([]byte{0x33}, 48)
	e := simEnvelope(t, ca, attesttest.TDXQuote{MRTD: mrtd, RTMR: [4][]byte{3: rtmr3}}, []byte("nonce"))
	c, err := v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, nil)
	if c.Format != attest.FormatTDX || !bytes.Equal(c.TDX.MRTD, mrtd) || !bytes.Equal(c.TDX.RTMR[3], rtmr3) ||
		c.TDX.TCBStatus != "UpToDate" || c.TDX.FMSPC != "00906ed50000" || c.Debug || string(c.Nonce) != "nonce" {
		t.Fatalf("claims %+v %+v", c, c.TDX)
	}
	m := c.Measurements()
	if m[attest.AttestationPrefix+"TdxMrTd"] != "aa"+string(bytes.Repeat([]byte("aa"), 47)) || m[attest.AttestationPrefix+"TdxTcbStatus"] != "UpToDate" {
		t.Fatalf("measurements %v", m)
	}
	if _, ok := m[attest.AttestationPrefix+"SnpMeasurement"]; ok {
		t.Fatal("TDX claims set an SNP key")
	}
}
