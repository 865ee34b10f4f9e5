package enclave

import (
	"crypto"
	"errors"
	"fmt"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/client"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
)

// SNP is the Attestor of an AMD SEV-SNP confidential VM: it asks the AMD
// secure processor, through go-sev-guest's quote provider (Linux's
// configfs-tsm, else /dev/sev-guest), for an attestation report whose
// REPORT_DATA is the envelope's Binding (SHA-512 of the public key, nonce and
// user data), and returns a sev-snp evidence envelope with the report and
// the certificates the host supplied with it.
//
// attestkms verifies offline and needs the certificate of the key that
// signed the report (VCEK or VLEK). Hosts that load it into the extended
// report's certificate table (many do) need nothing more; others leave the
// table empty, and then VCEK must be given: the DER certificate from AMD's
// KDS (https://kdsintf.amd.com/vcek/v1/{product}/{hwid}?{tcb}), fetched
// once per chip and TCB outside the guest.
type SNP struct {
	// VCEK, if not nil, is the signing key's certificate (DER) to send when
	// the host supplies none.
	VCEK []byte
	// Provider gets the raw extended report; nil means
	// client.GetQuoteProvider().
	Provider client.QuoteProvider
}

// Attest implements Attestor.
func (a SNP) Attest(publicKeyDER, nonce, userData []byte) ([]byte, error) {
	qp := a.Provider
	if qp == nil {
		p, err := client.GetQuoteProvider()
		if err != nil {
			return nil, fmt.Errorf("SEV-SNP (is this an SNP guest with configfs-tsm or /dev/sev-guest?): %w", err)
		}
		qp = p
	}
	e := &envelope.Envelope{Format: attest.FormatSEVSNP, PublicKey: publicKeyDER, Nonce: nonce, UserData: userData}
	var reportData [abi.ReportDataSize]byte
	copy(reportData[:], e.Binding(crypto.SHA512))
	raw, err := qp.GetRawQuote(reportData)
	if err != nil {
		return nil, fmt.Errorf("SEV-SNP report: %w", err)
	}
	if len(raw) < abi.ReportSize {
		return nil, fmt.Errorf("SEV-SNP report: %d bytes, want at least %d", len(raw), abi.ReportSize)
	}
	e.Report = raw[:abi.ReportSize]
	if len(raw) > abi.ReportSize {
		var table abi.CertTable
		if err := table.Unmarshal(raw[abi.ReportSize:]); err != nil {
			return nil, fmt.Errorf("SEV-SNP certificate table: %w", err)
		}
		for _, c := range []struct {
			guid string
			to   *[]byte
		}{{abi.VcekGUID, &e.VCEK}, {abi.VlekGUID, &e.VLEK}, {abi.AskGUID, &e.ASK}, {abi.ArkGUID, &e.ARK}} {
			if b, err := table.GetByGUIDString(c.guid); err == nil && len(b) > 0 {
				*c.to = b
			}
		}
	}
	// Send the certificate of the key that signed the report, as the
	// report's SIGNING_KEY says, and not the other.
	rep, err := abi.ReportToProto(e.Report)
	if err != nil {
		return nil, fmt.Errorf("SEV-SNP report: %w", err)
	}
	si, err := abi.ParseSignerInfo(rep.GetSignerInfo())
	if err != nil {
		return nil, fmt.Errorf("SEV-SNP report: %w", err)
	}
	switch si.SigningKey {
	case abi.VcekReportSigner:
		e.VLEK = nil
	case abi.VlekReportSigner:
		if e.VLEK == nil {
			return nil, errors.New("SEV-SNP: the report is signed by a VLEK, and the host supplied no VLEK certificate")
		}
		e.VCEK = nil
	default:
		return nil, fmt.Errorf("SEV-SNP: the report is signed by %v, neither a VCEK nor a VLEK", si.SigningKey)
	}
	if e.VCEK == nil && e.VLEK == nil {
		if a.VCEK == nil {
			return nil, errors.New("SEV-SNP: the host supplied no VCEK or VLEK certificate; fetch the VCEK from AMD's KDS and pass it (enclavetool --snp-vcek FILE)")
		}
		e.VCEK = a.VCEK
	}
	return e.Marshal()
}
