package tpmtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // SHA-1 PCR banks
	"crypto/sha256"
	_ "crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/google/go-tpm/tpm2"
)

// Quote says what to quote; every field may be left zero.
type Quote struct {
	// PCRs are the quoted PCRs' values, index (0 to 23) → a digest of
	// Bank's size. Nil means DefaultPCRs(Bank): PCR0 to PCR7.
	PCRs map[int][]byte
	// Bank is the PCR bank: crypto.SHA1, SHA256, SHA384 or SHA512; zero
	// means SHA-256.
	Bank crypto.Hash
	// Nonce and UserData go in the envelope, bound by the quote's
	// extraData (see envelope.Envelope.Binding).
	Nonce, UserData []byte
	// Clock, ResetCount and RestartCount are the quote's clockInfo.
	Clock                    uint64
	ResetCount, RestartCount uint32

	// Knobs that break the evidence, for hostile tests. Zero values make
	// genuine evidence.

	// ExtraData is the quote's extraData instead of the envelope's binding.
	ExtraData []byte
	// SigHash is the hash the AK signs with (and pcrDigest is made with)
	// instead of the one its TPMT_PUBLIC names.
	SigHash crypto.Hash
	// EditAttest changes the TPMS_ATTEST before it is marshalled and
	// signed (its magic, type, selection, digest...).
	EditAttest func(*tpm2.TPMSAttest)
	// QuoteSuffix is appended to the marshalled quote before it is signed,
	// so that the signature covers bytes the TPM never wrote.
	QuoteSuffix []byte
	// EditSignature changes the TPMT_SIGNATURE after signing.
	EditSignature func(*tpm2.TPMTSignature)
	// OmitAKCert leaves out ak_cert and ak_chain; OmitAKPublic leaves out
	// ak_public.
	OmitAKCert, OmitAKPublic bool
	// EditEnvelope changes the envelope last, before Evidence marshals it.
	EditEnvelope func(*envelope.Envelope)
}

// tpmAlgs are the TPM's names of the hashes.
var tpmAlgs = map[crypto.Hash]tpm2.TPMAlgID{
	crypto.SHA1:   tpm2.TPMAlgSHA1,
	crypto.SHA256: tpm2.TPMAlgSHA256,
	crypto.SHA384: tpm2.TPMAlgSHA384,
	crypto.SHA512: tpm2.TPMAlgSHA512,
}

// DefaultPCRs are the PCRs a Quote with nil PCRs quotes: PCR0 to PCR7 of
// bank, each H_bank("attestkms tpmtest PCR" || index).
func DefaultPCRs(bank crypto.Hash) map[int][]byte {
	if bank == 0 {
		bank = crypto.SHA256
	}
	m := make(map[int][]byte, 8)
	for i := range 8 {
		h := bank.New()
		h.Write([]byte("attestkms tpmtest PCR"))
		h.Write([]byte{byte(i)})
		m[i] = h.Sum(nil)
	}
	return m
}

// Evidence quotes q with the CA's AK, as a TPM would, and returns the tpm2
// evidence envelope (envelope.Envelope.Marshal) binding publicKeyDER, q.Nonce
// and q.UserData, with ak_cert, ak_chain and ak_public.
func (ca *CA) Evidence(publicKeyDER []byte, q Quote) ([]byte, error) {
	e, err := ca.Envelope(publicKeyDER, q)
	if err != nil {
		return nil, err
	}
	b, err := e.Marshal()
	if err != nil {
		return nil, fmt.Errorf("tpmtest: %w", err)
	}
	return b, nil
}

// Envelope is Evidence before marshalling, for tests that verify envelopes
// envelope.Decode would refuse.
func (ca *CA) Envelope(publicKeyDER []byte, q Quote) (*envelope.Envelope, error) {
	bank := q.Bank
	if bank == 0 {
		bank = crypto.SHA256
	}
	bankAlg, ok := tpmAlgs[bank]
	if !ok {
		return nil, fmt.Errorf("tpmtest: bank %v; want SHA-1, SHA-256, SHA-384 or SHA-512", bank)
	}
	pcrs := q.PCRs
	if pcrs == nil {
		pcrs = DefaultPCRs(bank)
	}
	if len(pcrs) == 0 {
		return nil, errors.New("tpmtest: no PCRs to quote")
	}
	var sel [3]byte
	for i, v := range pcrs {
		if i < 0 || i > 23 {
			return nil, fmt.Errorf("tpmtest: PCR %d; a TPM has PCR0 to PCR23", i)
		}
		if len(v) != bank.Size() {
			return nil, fmt.Errorf("tpmtest: PCR %d is %d bytes; a %v PCR is %d", i, len(v), bank, bank.Size())
		}
		sel[i/8] |= 1 << (i % 8)
	}
	sigHash := ca.hash
	if q.SigHash != 0 {
		sigHash = q.SigHash
	}
	sigAlg, ok := tpmAlgs[sigHash]
	if !ok {
		return nil, fmt.Errorf("tpmtest: signature hash %v", sigHash)
	}

	e := &envelope.Envelope{
		Format:    attest.FormatTPM2,
		PublicKey: publicKeyDER,
		Nonce:     q.Nonce,
		UserData:  q.UserData,
		PCRs:      make(map[int][]byte, len(pcrs)),
	}
	for i, v := range pcrs {
		e.PCRs[i] = slices.Clone(v)
	}
	extra := q.ExtraData
	if extra == nil {
		extra = e.Binding(crypto.SHA256)
	}
	// TPM2_Quote: pcrDigest is made with the signing scheme's hash over
	// the selected PCRs in ascending order.
	d := sigHash.New()
	for _, i := range slices.Sorted(maps.Keys(pcrs)) {
		d.Write(pcrs[i])
	}
	a := tpm2.TPMSAttest{
		Magic:           tpm2.TPMGeneratedValue,
		Type:            tpm2.TPMSTAttestQuote,
		QualifiedSigner: tpm2.TPM2BName{Buffer: ca.qualifiedName()},
		ExtraData:       tpm2.TPM2BData{Buffer: extra},
		ClockInfo: tpm2.TPMSClockInfo{
			Clock: q.Clock, ResetCount: q.ResetCount, RestartCount: q.RestartCount, Safe: true,
		},
		FirmwareVersion: 0x2023_0001_0000_0000,
		Attested: tpm2.NewTPMUAttest(tpm2.TPMSTAttestQuote, &tpm2.TPMSQuoteInfo{
			PCRSelect: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: bankAlg, PCRSelect: sel[:]}}},
			PCRDigest: tpm2.TPM2BDigest{Buffer: d.Sum(nil)},
		}),
	}
	if q.EditAttest != nil {
		q.EditAttest(&a)
	}
	e.Quote = append(tpm2.Marshal(&a), q.QuoteSuffix...)
	sig, err := ca.sign(e.Quote, sigHash, sigAlg)
	if err != nil {
		return nil, err
	}
	if q.EditSignature != nil {
		q.EditSignature(sig)
	}
	e.Signature = tpm2.Marshal(sig)
	if !q.OmitAKCert {
		e.AKCert = ca.AKCert.Raw
		e.AKChain = [][]byte{ca.Intermediate.Raw}
	}
	if !q.OmitAKPublic {
		e.AKPublic = slices.Clone(ca.AKPublic)
	}
	if q.EditEnvelope != nil {
		q.EditEnvelope(e)
	}
	return e, nil
}

// sign signs msg as a TPM signs with the AK: the digest of msg under the
// AK's scheme, in a TPMT_SIGNATURE (ECDSA's r and s each the curve's size).
func (ca *CA) sign(msg []byte, h crypto.Hash, alg tpm2.TPMAlgID) (*tpm2.TPMTSignature, error) {
	w := h.New()
	w.Write(msg)
	digest := w.Sum(nil)
	switch k := ca.ak.(type) {
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			return nil, fmt.Errorf("tpmtest: %w", err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		return &tpm2.TPMTSignature{
			SigAlg: tpm2.TPMAlgECDSA,
			Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA, &tpm2.TPMSSignatureECC{
				Hash:       alg,
				SignatureR: tpm2.TPM2BECCParameter{Buffer: r.FillBytes(make([]byte, size))},
				SignatureS: tpm2.TPM2BECCParameter{Buffer: s.FillBytes(make([]byte, size))},
			}),
		}, nil
	case *rsa.PrivateKey:
		var sig []byte
		var err error
		if ca.scheme == tpm2.TPMAlgRSAPSS {
			sig, err = rsa.SignPSS(rand.Reader, k, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(nil, k, h, digest)
		}
		if err != nil {
			return nil, fmt.Errorf("tpmtest: %w", err)
		}
		return &tpm2.TPMTSignature{
			SigAlg:    ca.scheme,
			Signature: tpm2.NewTPMUSignature(ca.scheme, &tpm2.TPMSSignatureRSA{Hash: alg, Sig: tpm2.TPM2BPublicKeyRSA{Buffer: sig}}),
		}, nil
	}
	return nil, fmt.Errorf("tpmtest: AK of type %T", ca.ak)
}

// qualifiedName is the AK's Qualified Name as a primary key of the
// endorsement hierarchy, where Google's vTPM makes it: nameAlg ||
// SHA-256(TPM_RH_ENDORSEMENT || Name).
func (ca *CA) qualifiedName() []byte {
	var h [4]byte
	binary.BigEndian.PutUint32(h[:], uint32(tpm2.TPMRHEndorsement))
	d := sha256.Sum256(append(h[:], ca.name...))
	return append([]byte{0, 0x0b}, d[:]...)
}
