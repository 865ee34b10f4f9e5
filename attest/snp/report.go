package snp

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/attestkms/attestkms/attest"
	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
)

// unverifiedReport is an ATTESTATION_REPORT parsed, but not yet verified:
// nothing in it is AMD's word until verifyChain has checked its signature.
type unverifiedReport struct {
	raw    []byte // exactly abi.ReportSize bytes
	proto  *spb.Report
	signer abi.ReportSigner // abi.VcekReportSigner or abi.VlekReportSigner
	// product is the product line that the report's CPUID_FAM_ID,
	// CPUID_MOD_ID and CPUID_STEP name (report version 3 and later), or ""
	// when it names none (version 2), so that the certificate's
	// productName extension has to.
	product string
}

// parseReport parses an ATTESTATION_REPORT (SEV-SNP Firmware ABI, table
// 23) strictly: exactly abi.ReportSize bytes (abi.ReportToProto would
// ignore more), a version go-sev-guest knows (2 to 5), every reserved field
// zero, the ECDSA P-384 with SHA-384 signature algorithm, a VCEK or VLEK
// signer, and bytes that re-encode to themselves: go-sev-guest verifies
// the signature over its own re-encoding of the parsed report, so a field
// its parser dropped would be unsigned yet accepted, and a changed byte of
// the report could verify.
func parseReport(raw []byte) (*unverifiedReport, error) {
	if len(raw) != abi.ReportSize {
		return nil, fmt.Errorf("%w: report is %d bytes; an ATTESTATION_REPORT is exactly %d", attest.ErrMalformed, len(raw), abi.ReportSize)
	}
	if err := abi.ValidateReportFormat(raw); err != nil {
		return nil, fmt.Errorf("%w: report: %s", attest.ErrMalformed, brief(err))
	}
	p, err := abi.ReportToProto(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: report: %s", attest.ErrMalformed, brief(err))
	}
	if p.GetSignatureAlgo() != abi.SignEcdsaP384Sha384 {
		return nil, fmt.Errorf("%w: report's signature algorithm is %d; want %d (ECDSA P-384 with SHA-384)", attest.ErrMalformed, p.GetSignatureAlgo(), abi.SignEcdsaP384Sha384)
	}
	again, err := abi.ReportToAbiBytes(p)
	if err != nil || !bytes.Equal(again, raw) {
		return nil, fmt.Errorf("%w: report does not re-encode to its own bytes (a field the parser ignores is set)", attest.ErrMalformed)
	}
	info, err := abi.ParseSignerInfo(p.GetSignerInfo())
	if err != nil {
		return nil, fmt.Errorf("%w: report: %s", attest.ErrMalformed, brief(err))
	}
	if info.SigningKey != abi.VcekReportSigner && info.SigningKey != abi.VlekReportSigner {
		return nil, fmt.Errorf("%w: report's signing key is %v; want VCEK or VLEK", attest.ErrMalformed, info.SigningKey)
	}
	r := &unverifiedReport{raw: raw, proto: p, signer: info.SigningKey}
	if fms := p.GetCpuid1EaxFms(); fms != 0 {
		r.product = kds.ProductLineFromFms(fms) // "Unknown" for a CPU go-sev-guest does not know
	}
	return r, nil
}

// maxDetail bounds the text of a go-sev-guest error quoted in ours: some
// dump whole fields in hex.
const maxDetail = 240

// brief is err's text, cut to maxDetail bytes (on a rune boundary).
func brief(err error) string {
	s := err.Error()
	if len(s) <= maxDetail {
		return s
	}
	cut := maxDetail
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
