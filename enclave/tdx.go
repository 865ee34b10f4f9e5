package enclave

import (
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-tdx-guest/abi"
	"github.com/google/go-tdx-guest/client"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
)

// TDX is the Attestor of an Intel TDX trust domain: it asks the TDX module
// and the host's Quoting Enclave, through go-tdx-guest's quote provider
// (Linux's configfs-tsm, /sys/kernel/config/tsm/report, else the
// /dev/tdx_guest device), for a quote whose REPORTDATA is the envelope's
// binding (SHA-512 of the public key, nonce and user data, as SEV-SNP's
// REPORT_DATA), and returns a "tdx" evidence envelope with the quote.
//
// The quote carries its PCK certificate chain (certification data type 5,
// as every DCAP quote provider fills it); the collateral (TCB Info, QE
// Identity, CRLs) is attestkms's business (serve --tdx-collateral), so the
// envelope carries none.
type TDX struct {
	// Provider gets the raw quote; nil means client.GetQuoteProvider().
	Provider client.QuoteProvider
}

// tdxMaxQuote bounds the quote we send: a version 4 quote with a PCK chain
// of three certificates is about 5 KB; attestkms takes 16 KiB of evidence.
const tdxMaxQuote = 12 << 10

// tdxEnvelope is the "tdx" evidence envelope (docs/evidence.md), encoded
// here, in attest/envelope's deterministic CBOR, until that package knows
// the format.
type tdxEnvelope struct {
	Format    attest.Format `cbor:"format"`
	PublicKey []byte        `cbor:"public_key"`
	Nonce     []byte        `cbor:"nonce,omitempty"`
	UserData  []byte        `cbor:"user_data,omitempty"`
	Quote     []byte        `cbor:"quote"`
}

// Attest implements Attestor.
func (a TDX) Attest(publicKeyDER, nonce, userData []byte) ([]byte, error) {
	if len(nonce) == 0 {
		nonce = nil
	}
	if len(userData) == 0 {
		userData = nil
	}
	qp := a.Provider
	if qp == nil {
		p, err := client.GetQuoteProvider()
		if err != nil {
			return nil, fmt.Errorf("TDX (is this a TDX guest with configfs-tsm or /dev/tdx_guest?): %w", err)
		}
		qp = p
	}
	b := &envelope.Envelope{PublicKey: publicKeyDER, Nonce: nonce, UserData: userData}
	var reportData [64]byte
	copy(reportData[:], b.Binding(crypto.SHA512))
	raw, err := client.GetRawQuote(qp, reportData)
	if err != nil {
		return nil, fmt.Errorf("TDX quote (is this a TDX guest with configfs-tsm or /dev/tdx_guest?): %w", err)
	}
	quote, err := tdxTrim(raw)
	if err != nil {
		return nil, err
	}
	if _, err := abi.QuoteToProto(quote); err != nil {
		return nil, fmt.Errorf("TDX quote: %w", err)
	}
	e := tdxEnvelope{Format: "tdx", PublicKey: publicKeyDER, Nonce: nonce, UserData: userData, Quote: quote}
	m, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		return nil, err
	}
	return m.Marshal(&e)
}

// tdxTrim cuts what follows a version 4 quote's signed data (quote
// providers may pad their buffer; nothing after it is signed or read).
func tdxTrim(raw []byte) ([]byte, error) {
	const signedDataSizeOff = 48 + 584 // header, TD quote body
	if len(raw) < signedDataSizeOff+4 {
		return nil, fmt.Errorf("TDX quote: %d bytes, too short", len(raw))
	}
	if v := binary.LittleEndian.Uint16(raw); v != 4 {
		return nil, fmt.Errorf("TDX quote: version %d; attestkms takes version 4", v)
	}
	n := signedDataSizeOff + 4 + int(binary.LittleEndian.Uint32(raw[signedDataSizeOff:]))
	if n > len(raw) {
		return nil, fmt.Errorf("TDX quote: signed data of %d bytes runs past its %d bytes", n, len(raw))
	}
	if n > tdxMaxQuote {
		return nil, errors.New("TDX quote: larger than attestkms takes")
	}
	return raw[:n], nil
}
