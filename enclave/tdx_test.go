package enclave

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/attestkms/attestkms/attest/attesttest"
)

// fakeTDX stands in for configfs-tsm and the Quoting Enclave: it signs a
// quote with attesttest's TDX PKI for the REPORTDATA asked, padded as a
// quote provider's buffer may be.
type fakeTDX struct {
	ca          *attesttest.TDXCA
	unsupported bool
	pad         int
	asked       [64]byte
	err         error
}

func (f *fakeTDX) IsSupported() error {
	if f.unsupported {
		return errors.New("no configfs-tsm")
	}
	return nil
}

func (f *fakeTDX) GetRawQuote(reportData [64]byte) ([]byte, error) {
	f.asked = reportData
	if f.err != nil {
		return nil, f.err
	}
	q, err := f.ca.Quote(reportData[:], attesttest.TDXQuote{})
	if err != nil {
		return nil, err
	}
	return append(q, make([]byte, f.pad)...), nil
}

func TestTDXAttestor(t *testing.T) {
	ca, err := attesttest.NewTDXCA()
	if err != nil {
		t.Fatal(err)
	}
	key := []byte{0x30, 0x03, 0x02, 0x01, 0x07}
	f := &fakeTDX{ca: ca, pad: 100}
	ev, err := TDX{Provider: f}.Attest(key, []byte("nonce"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := attesttest.TDXBinding(key, []byte("nonce"), nil)
	if !bytes.Equal(f.asked[:], want) {
		t.Errorf("asked REPORTDATA %x, want the binding %x", f.asked, want)
	}
	var e attesttest.TDXEnvelope
	if err := cbor.Unmarshal(ev, &e); err != nil {
		t.Fatal(err)
	}
	if e.Format != "tdx" || !bytes.Equal(e.PublicKey, key) || string(e.Nonce) != "nonce" || e.UserData != nil {
		t.Errorf("envelope %+v", e)
	}
	if !bytes.Equal(e.Quote[attesttest.TDXReportDataOff:attesttest.TDXReportDataOff+64], want) {
		t.Error("the quote does not carry the binding")
	}
	// The padding is gone, and the envelope is what attestsim makes.
	direct, err := ca.Quote(want, attesttest.TDXQuote{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Quote) != len(direct) {
		t.Errorf("quote of %d bytes, want %d (trimmed)", len(e.Quote), len(direct))
	}
	same, err := attesttest.MarshalTDXEnvelope(&e)
	if err != nil || !bytes.Equal(same, ev) {
		t.Errorf("the envelope does not re-encode to itself: %v", err)
	}

	f.err = errors.New("quote generation failed")
	if _, err := (TDX{Provider: f}).Attest(key, nil, nil); err == nil || !strings.Contains(err.Error(), "quote generation failed") {
		t.Errorf("provider error: %v", err)
	}
	// configfs-tsm unsupported: go-tdx-guest falls back to /dev/tdx_guest,
	// which this machine has not.
	f.err, f.unsupported = nil, true
	if _, err := (TDX{Provider: f}).Attest(key, nil, nil); err == nil || !strings.Contains(err.Error(), "TDX quote") {
		t.Errorf("no configfs-tsm, no device: %v", err)
	}
	for name, raw := range map[string][]byte{
		"short":     make([]byte, 100),
		"version 5": append([]byte{5, 0}, make([]byte, 700)...),
		"overrun":   append(append([]byte{4, 0}, make([]byte, 630)...), 0xff, 0xff, 0, 0),
	} {
		if _, err := tdxTrim(raw); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
