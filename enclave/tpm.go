package enclave

import (
	"crypto"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
)

// TPM is the Attestor of a TPM-measured host: it quotes PCRs with an
// attestation key (AK) and returns a tpm2 evidence envelope whose quote's
// extraData is the envelope's Binding (SHA-256 of the public key, nonce and
// user data).
//
// The AK: where the TPM holds a Google Cloud vTPM AK template and certificate
// in NV (the ECC pair at 0x01c10003/0x01c10002, else the RSA pair at
// 0x01c10001/0x01c10000), the AK is created from that template in the
// endorsement hierarchy and its certificate goes in the envelope (attestkms
// then needs Google's AK CA in --tpm-roots). Otherwise a restricted ECC
// P-256 signing key is created in the owner hierarchy and only its
// TPMT_PUBLIC is sent: the server must pin that key in --tpm-roots
// (enclavetool tpm-ak prints it). The primary is made afresh and flushed at
// each call; the TPM derives the same key from the same template.
type TPM struct {
	// Open opens the TPM; nil opens /dev/tpmrm0 (the kernel's resource
	// manager) on Linux.
	Open func() (transport.TPMCloser, error)
	// PCRs are the SHA-256 PCRs to quote; nil means 0 to 7 (the firmware's
	// and boot loader's measurements, PCR7 being Secure Boot's state).
	PCRs []uint
	// AKChain are the DER intermediates from the AK's certificate towards
	// the server's --tpm-roots, sent as ak_chain with a certificate from
	// NV (for Google's vTPM: its EK/AK intermediate). The TPM holds only the
	// AK's own certificate.
	AKChain [][]byte
}

// GCE vTPM NV indices of the attestation keys' certificates and templates.
const (
	gceAKCertRSA     = 0x01c10000
	gceAKTemplateRSA = 0x01c10001
	gceAKCertECC     = 0x01c10002
	gceAKTemplateECC = 0x01c10003
)

// akTemplateECC is a restricted ECDSA P-256 SHA-256 signing key, as the TCG
// and go-tpm-tools define an attestation key.
var akTemplateECC = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgECC,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, UserWithAuth: true,
		NoDA: true, Restricted: true, SignEncrypt: true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Scheme: tpm2.TPMTECCScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
		},
		CurveID: tpm2.TPMECCNistP256,
	}),
}

// Attest implements Attestor.
func (a TPM) Attest(publicKeyDER, nonce, userData []byte) ([]byte, error) {
	open := a.Open
	if open == nil {
		open = openTPM
	}
	t, err := open()
	if err != nil {
		return nil, fmt.Errorf("opening the TPM: %w", err)
	}
	defer t.Close()

	e := &envelope.Envelope{Format: attest.FormatTPM2, PublicKey: publicKeyDER, Nonce: nonce, UserData: userData}
	pcrs := a.PCRs
	if pcrs == nil {
		pcrs = []uint{0, 1, 2, 3, 4, 5, 6, 7}
	}
	sel := tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
		Hash: tpm2.TPMAlgSHA256, PCRSelect: tpm2.PCClientCompatible.PCRs(pcrs...),
	}}}

	ak, akPub, akCert, err := createAK(t)
	if err != nil {
		return nil, err
	}
	defer tpm2.FlushContext{FlushHandle: ak.Handle}.Execute(t)
	e.AKPublic, e.AKCert = akPub, akCert
	if akCert != nil && len(a.AKChain) > 0 {
		e.AKChain = a.AKChain
	}

	// A PCR extended between the quote and the read makes the values
	// disagree with the quoted digest, and the server refuses the
	// evidence; so read, quote, read again, and retry if they differ.
	for attempt := 0; ; attempt++ {
		before, err := readPCRs(t, pcrs)
		if err != nil {
			return nil, err
		}
		q, err := tpm2.Quote{
			SignHandle:     ak,
			QualifyingData: tpm2.TPM2BData{Buffer: e.Binding(crypto.SHA256)},
			InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
			PCRSelect:      sel,
		}.Execute(t)
		if err != nil {
			return nil, fmt.Errorf("TPM2_Quote: %w", err)
		}
		after, err := readPCRs(t, pcrs)
		if err != nil {
			return nil, err
		}
		if samePCRs(before, after) {
			e.Quote, e.Signature, e.PCRs = q.Quoted.Bytes(), tpm2.Marshal(q.Signature), after
			break
		}
		if attempt == 3 {
			return nil, errors.New("the PCRs kept changing while they were quoted")
		}
	}
	return e.Marshal()
}

// createAK makes the attestation key: from Google's NV template when there is
// one (with its certificate), else from akTemplateECC.
func createAK(t transport.TPM) (tpm2.AuthHandle, []byte, []byte, error) {
	hierarchy, template := tpm2.TPMRHOwner, tpm2.New2B(akTemplateECC)
	var cert []byte
	for _, idx := range [][2]tpm2.TPMHandle{{gceAKTemplateECC, gceAKCertECC}, {gceAKTemplateRSA, gceAKCertRSA}} {
		tmpl, err := nvRead(t, idx[0])
		if err != nil {
			continue // no such index: not a Google vTPM
		}
		c, err := nvRead(t, idx[1])
		if err != nil {
			return tpm2.AuthHandle{}, nil, nil, fmt.Errorf("the TPM has an AK template at NV 0x%08x but no certificate at 0x%08x: %w", uint32(idx[0]), uint32(idx[1]), err)
		}
		hierarchy, template, cert = tpm2.TPMRHEndorsement, tpm2.BytesAs2B[tpm2.TPMTPublic](tmpl), c
		break
	}
	rsp, err := tpm2.CreatePrimary{PrimaryHandle: hierarchy, InPublic: template}.Execute(t)
	if err != nil {
		return tpm2.AuthHandle{}, nil, nil, fmt.Errorf("creating the attestation key: %w", err)
	}
	ak := tpm2.AuthHandle{Handle: rsp.ObjectHandle, Name: rsp.Name, Auth: tpm2.PasswordAuth(nil)}
	return ak, rsp.OutPublic.Bytes(), cert, nil
}

// nvRead reads a whole NV index (with its own authorisation, as Google's
// indices allow), in chunks the TPM accepts.
func nvRead(t transport.TPM, index tpm2.TPMHandle) ([]byte, error) {
	pub, err := tpm2.NVReadPublic{NVIndex: index}.Execute(t)
	if err != nil {
		return nil, err
	}
	nv, err := pub.NVPublic.Contents()
	if err != nil {
		return nil, err
	}
	const chunk = 512 // below every TPM's MAX_NV_BUFFER_SIZE
	out := make([]byte, 0, nv.DataSize)
	for off := uint16(0); off < nv.DataSize; {
		n := min(nv.DataSize-off, chunk)
		h := tpm2.AuthHandle{Handle: index, Name: pub.NVName, Auth: tpm2.PasswordAuth(nil)}
		r, err := tpm2.NVRead{AuthHandle: h, NVIndex: tpm2.NamedHandle{Handle: index, Name: pub.NVName}, Size: n, Offset: off}.Execute(t)
		if err != nil {
			return nil, err
		}
		if len(r.Data.Buffer) != int(n) {
			return nil, fmt.Errorf("TPM2_NV_Read of 0x%08x returned %d bytes at offset %d, not %d", uint32(index), len(r.Data.Buffer), off, n)
		}
		out = append(out, r.Data.Buffer...)
		off += n
	}
	return out, nil
}

// readPCRs reads SHA-256 PCRs; a TPM returns at most eight per call, and
// only those it could, so each call asks for what is still missing.
func readPCRs(t transport.TPM, pcrs []uint) (map[int][]byte, error) {
	out := map[int][]byte{}
	missing := append([]uint(nil), pcrs...)
	for len(missing) > 0 {
		rsp, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
			Hash: tpm2.TPMAlgSHA256, PCRSelect: tpm2.PCClientCompatible.PCRs(missing...),
		}}}}.Execute(t)
		if err != nil {
			return nil, fmt.Errorf("TPM2_PCR_Read: %w", err)
		}
		got := selected(rsp.PCRSelectionOut)
		if len(got) == 0 || len(got) != len(rsp.PCRValues.Digests) {
			return nil, fmt.Errorf("TPM2_PCR_Read returned no SHA-256 PCR of %v (is the bank allocated?)", missing)
		}
		for i, idx := range got {
			// Only the PCRs asked for: the envelope's pcrs must be the
			// quoted selection exactly.
			if slices.Contains(missing, idx) {
				out[int(idx)] = rsp.PCRValues.Digests[i].Buffer
			}
		}
		var rest []uint
		for _, p := range missing {
			if _, ok := out[int(p)]; !ok {
				rest = append(rest, p)
			}
		}
		// A TPM that answers with PCRs we did not ask for would otherwise
		// keep this loop asking for the same ones forever.
		if len(rest) == len(missing) {
			return nil, fmt.Errorf("TPM2_PCR_Read returned none of the SHA-256 PCRs %v asked for", missing)
		}
		missing = rest
	}
	return out, nil
}

// selected lists, in ascending order, the SHA-256 PCRs a selection selects.
func selected(l tpm2.TPMLPCRSelection) []uint {
	var idx []uint
	for _, s := range l.PCRSelections {
		if s.Hash != tpm2.TPMAlgSHA256 {
			continue
		}
		for b, byt := range s.PCRSelect {
			for bit := 0; bit < 8; bit++ {
				if byt&(1<<bit) != 0 {
					idx = append(idx, uint(b*8+bit))
				}
			}
		}
	}
	sort.Slice(idx, func(i, j int) bool { return idx[i] < idx[j] })
	return idx
}

func samePCRs(a, b map[int][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i, v := range a {
		if string(b[i]) != string(v) {
			return false
		}
	}
	return true
}
