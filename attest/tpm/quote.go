package tpm

import (
	"crypto"
	"crypto/subtle"
	"fmt"
	"slices"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/google/go-tpm/tpm2"
)

// bank is a PCR bank: the hash its PCRs are extended with.
type bank struct {
	name string // as attest.TPMClaims.Bank names it
	hash crypto.Hash
}

var banks = map[tpm2.TPMAlgID]bank{
	tpm2.TPMAlgSHA1:   {"SHA1", crypto.SHA1},
	tpm2.TPMAlgSHA256: {"SHA256", crypto.SHA256},
	tpm2.TPMAlgSHA384: {"SHA384", crypto.SHA384},
	tpm2.TPMAlgSHA512: {"SHA512", crypto.SHA512},
}

// quote is a TPMS_ATTEST of type TPM_ST_ATTEST_QUOTE, decoded and checked for
// shape, not yet verified.
type quote struct {
	attest   *tpm2.TPMSAttest
	bankAlg  tpm2.TPMAlgID
	bank     bank
	selected []int // the quoted PCRs, ascending
	digest   []byte
}

// parseQuote decodes a quote strictly (see decodeStrict): TPM_GENERATED_VALUE,
// the quote type, and a selection of PCRs in exactly one bank we know. A
// quote over several banks is refused: the envelope carries the values of
// one bank, and the claims name one.
func parseQuote(b []byte) (*quote, error) {
	a, err := decodeStrict[tpm2.TPMSAttest]("quote (TPMS_ATTEST)", b)
	if err != nil {
		return nil, err
	}
	if a.Magic != tpm2.TPMGeneratedValue {
		return nil, fmt.Errorf("%w: quote magic 0x%08x is not TPM_GENERATED_VALUE", attest.ErrMalformed, uint32(a.Magic))
	}
	if a.Type != tpm2.TPMSTAttestQuote {
		return nil, fmt.Errorf("%w: quote type 0x%04x is not TPM_ST_ATTEST_QUOTE", attest.ErrMalformed, uint16(a.Type))
	}
	info, err := a.Attested.Quote()
	if err != nil {
		return nil, fmt.Errorf("%w: quote: %v", attest.ErrMalformed, err)
	}
	sels := info.PCRSelect.PCRSelections
	if len(sels) != 1 {
		return nil, fmt.Errorf("%w: quote selects PCRs of %d banks; want 1", attest.ErrMalformed, len(sels))
	}
	bk, ok := banks[sels[0].Hash]
	if !ok {
		return nil, fmt.Errorf("%w: quote's PCR bank %s; want SHA1, SHA256, SHA384 or SHA512", attest.ErrMalformed, hashName(sels[0].Hash))
	}
	q := &quote{attest: a, bankAlg: sels[0].Hash, bank: bk, digest: info.PCRDigest.Buffer}
	for byteIdx, bits := range sels[0].PCRSelect {
		for bit := range 8 {
			if bits&(1<<bit) == 0 {
				continue
			}
			i := 8*byteIdx + bit
			if i >= envelope.MaxPCRs {
				return nil, fmt.Errorf("%w: quote selects PCR %d; at most %d", attest.ErrMalformed, i, envelope.MaxPCRs-1)
			}
			q.selected = append(q.selected, i)
		}
	}
	if len(q.selected) == 0 {
		return nil, fmt.Errorf("%w: quote selects no PCR", attest.ErrMalformed)
	}
	return q, nil
}

// checkPCRs checks that the envelope's pcrs are the quoted PCRs exactly, each
// a digest of the quoted bank.
func (q *quote) checkPCRs(pcrs map[int][]byte) error {
	for _, i := range q.selected {
		v, ok := pcrs[i]
		if !ok {
			return fmt.Errorf("%w: the quote selects PCR %d, which pcrs lacks", attest.ErrMalformed, i)
		}
		if len(v) != q.bank.hash.Size() {
			return fmt.Errorf("%w: pcrs[%d] is %d bytes; a %s PCR is %d", attest.ErrMalformed, i, len(v), q.bank.name, q.bank.hash.Size())
		}
	}
	if len(pcrs) != len(q.selected) {
		var extra []int
		for i := range pcrs {
			if !slices.Contains(q.selected, i) {
				extra = append(extra, i)
			}
		}
		slices.Sort(extra)
		return fmt.Errorf("%w: pcrs has PCRs %v, which the quote does not select", attest.ErrMalformed, extra)
	}
	return nil
}

// checkDigest checks the quote's pcrDigest against the envelope's PCR values
// (which checkPCRs has matched to the selection). A TPM makes pcrDigest with
// the hash of the signing scheme, not of the bank (TPM 2.0 Part 3,
// TPM2_Quote: "digest of the selected PCR using the hash of the signing
// key"), over the selected values concatenated in ascending index order:
// Google's vTPM signs its SHA-1 and SHA-384 quotes with RSASSA-SHA256 and
// their digests are SHA-256.
//
// A mismatch is refused as ErrSignature: the values are the envelope's
// unsigned claim, pcrDigest is what the signature covers, and values that do
// not hash to it are values the signature does not vouch for.
func (q *quote) checkDigest(pcrs map[int][]byte, h crypto.Hash) error {
	w := h.New()
	for _, i := range q.selected {
		w.Write(pcrs[i])
	}
	if subtle.ConstantTimeCompare(w.Sum(nil), q.digest) != 1 {
		return fmt.Errorf("%w: the %s PCR values do not hash to the quote's pcrDigest", attest.ErrSignature, q.bank.name)
	}
	return nil
}
