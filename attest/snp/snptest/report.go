package snptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
)

// Defaults of a Report's fields.
var (
	// DefaultMeasurement is the MEASUREMENT of reports that name none:
	// SHA-384("attestkms test guest").
	DefaultMeasurement = sha384("attestkms test guest")
	// DefaultChipID is the CHIP_ID of reports that name none:
	// SHA-512("attestkms test chip").
	DefaultChipID = sha512Sum("attestkms test chip")
)

const (
	// DefaultPolicy is the guest policy of reports that name none: ABI
	// 0.0, SMT allowed (bit 16), the reserved bit 17 set, debug (bit 19),
	// migration agent (18) and everything else off, as cloud guests have
	// it.
	DefaultPolicy uint64 = 1<<16 | 1<<17
	// PolicyDebug is the guest policy's DEBUG bit.
	PolicyDebug uint64 = 1 << 19
	// PolicyMigrateMA is the guest policy's MIGRATE_MA bit.
	PolicyMigrateMA uint64 = 1 << 18
	// DefaultTCB is the TCB of reports that name none: boot loader SPL 3,
	// TEE 0, SNP 8, microcode 115 (TCB_VERSION layout).
	DefaultTCB uint64 = 115<<56 | 8<<48 | 3
	// DefaultVersion is the report version of reports that name none:
	// version 3, the first to name the CPU (CPUID_FAM_ID and so on).
	DefaultVersion = 3
)

// reportIDMA is REPORT_ID_MA when the guest has no migration agent.
var reportIDMA = func() []byte {
	b := make([]byte, abi.ReportIDMASize)
	for i := range b {
		b[i] = 0xff
	}
	return b
}()

// Report is what evidence says: the report's fields, the envelope's nonce
// and user data, and knobs to break one part of it at a time. The zero
// Report is a genuine, VCEK-signed version 3 report at VMPL0 with the
// default policy, binding the key given to Evidence.
type Report struct {
	Measurement []byte // MEASUREMENT, 48 bytes; nil: DefaultMeasurement
	HostData    []byte // HOST_DATA, 32 bytes; nil: zero
	ReportID    []byte // REPORT_ID, 32 bytes; nil: random
	Policy      uint64 // the guest policy; 0: DefaultPolicy
	VMPL        uint32
	Nonce       []byte // the envelope's nonce, bound in REPORT_DATA; nil: absent
	UserData    []byte // the envelope's user_data, bound in REPORT_DATA; nil: absent
	// ChipID is CHIP_ID, 64 bytes, and the chip the VCEK is issued for;
	// nil: DefaultChipID for a VCEK-signed report, zero for a VLEK-signed one.
	ChipID []byte
	// TCB is REPORTED_TCB, CURRENT_TCB, COMMITTED_TCB and LAUNCH_TCB, and
	// the TCB the VCEK or VLEK is issued for; 0: DefaultTCB.
	TCB        uint64
	Version    uint32 // the report version, 2 to 5; 0: DefaultVersion
	VLEK       bool   // sign with a VLEK (certified by the ASVK) rather than a VCEK
	MaskChipID bool   // MASK_CHIP_ID: CHIP_ID all zero

	// Knobs, each breaking (or bending) one thing, for hostile tests.

	// ReportData is signed as REPORT_DATA (64 bytes) in place of the
	// envelope's binding.
	ReportData []byte
	// CertChipID and CertTCB, when set, are the chip and TCB the
	// certificate is issued for, in place of ChipID and TCB.
	CertChipID []byte
	CertTCB    uint64
	// CommittedTCB, when set, is COMMITTED_TCB (lower than TCB: provisional
	// firmware).
	CommittedTCB uint64
	// CertNotBefore and CertNotAfter, when set, are the certificate's
	// validity, in place of NotBefore and NotAfter.
	CertNotBefore, CertNotAfter time.Time
	// OmitChain leaves ask and ark out of the envelope; Chain puts that
	// CA's ASK (or ASVK) and ARK there instead of this one's.
	OmitChain bool
	Chain     *CA
	// EditReport changes the report's bytes after it is signed.
	EditReport func(report []byte)
	// EditEnvelope changes the envelope before it is encoded.
	EditEnvelope func(*envelope.Envelope)
}

// Evidence returns the encoded envelope of r for the enclave key
// publicKeyDER (a DER SubjectPublicKeyInfo, put in the envelope as is): a
// report signed by the CA's VCEK for its chip and TCB (or its VLEK), with
// REPORT_DATA = the envelope's Binding(SHA-512), and the certificate, ASK
// (or ASVK) and ARK.
func (ca *CA) Evidence(publicKeyDER []byte, r Report) ([]byte, error) {
	e, err := ca.Envelope(publicKeyDER, r)
	if err != nil {
		return nil, err
	}
	b, err := e.Marshal()
	if err != nil {
		return nil, fmt.Errorf("snptest: %w", err)
	}
	return b, nil
}

// Envelope is Evidence before encoding.
func (ca *CA) Envelope(publicKeyDER []byte, r Report) (*envelope.Envelope, error) {
	e := &envelope.Envelope{
		Format:    attest.FormatSEVSNP,
		PublicKey: publicKeyDER,
		Nonce:     r.Nonce,
		UserData:  r.UserData,
	}
	chip := r.ChipID
	if chip == nil && !r.VLEK {
		chip = DefaultChipID
	}
	req := certRequest{vlek: r.VLEK, chipID: r.CertChipID, tcb: r.CertTCB, notBefore: r.CertNotBefore, notAfter: r.CertNotAfter}
	if req.chipID == nil {
		req.chipID = chip
	}
	if r.ChipID = chip; chip == nil || r.MaskChipID {
		r.ChipID = make([]byte, abi.ChipIDSize)
	}
	if r.TCB == 0 {
		r.TCB = DefaultTCB
	}
	if req.tcb == 0 {
		req.tcb = r.TCB
	}
	if req.notBefore.IsZero() {
		req.notBefore = NotBefore
	}
	if req.notAfter.IsZero() {
		req.notAfter = NotAfter
	}
	ek, err := ca.endorsementKey(req)
	if err != nil {
		return nil, err
	}
	reportData := r.ReportData
	if reportData == nil {
		reportData = e.Binding(crypto.SHA512)
	}
	report, err := ca.report(r, reportData)
	if err != nil {
		return nil, err
	}
	if err := sign(report, ek.key); err != nil {
		return nil, err
	}
	if r.EditReport != nil {
		r.EditReport(report)
	}
	e.Report = report
	ica := ca.ASK
	if r.VLEK {
		e.VLEK, ica = ek.cert.Raw, ca.ASVK
	} else {
		e.VCEK = ek.cert.Raw
	}
	chain := ca
	if r.Chain != nil {
		chain = r.Chain
		if ica = chain.ASK; r.VLEK {
			ica = chain.ASVK
		}
	}
	if !r.OmitChain {
		e.ASK, e.ARK = ica.Raw, chain.ARK.Raw
	}
	if r.EditEnvelope != nil {
		r.EditEnvelope(e)
	}
	return e, nil
}

// VCEK returns the CA's VCEK certificate for chipID (64 bytes) and tcb, with
// the default validity: the one Evidence puts in the envelope for them.
func (ca *CA) VCEK(chipID []byte, tcb uint64) (*x509.Certificate, error) {
	if len(chipID) != abi.ChipIDSize {
		return nil, fmt.Errorf("snptest: chip id of %d bytes; want %d", len(chipID), abi.ChipIDSize)
	}
	ek, err := ca.endorsementKey(certRequest{chipID: chipID, tcb: tcb, notBefore: NotBefore, notAfter: NotAfter})
	if err != nil {
		return nil, err
	}
	return ek.cert, nil
}

// report lays out r's unsigned ATTESTATION_REPORT.
func (ca *CA) report(r Report, reportData []byte) ([]byte, error) {
	p := &spb.Report{
		Version:         r.Version,
		Policy:          r.Policy,
		FamilyId:        make([]byte, abi.FamilyIDSize),
		ImageId:         make([]byte, abi.ImageIDSize),
		Vmpl:            r.VMPL,
		SignatureAlgo:   abi.SignEcdsaP384Sha384,
		CurrentTcb:      r.TCB,
		PlatformInfo:    1, // SMT enabled
		ReportData:      reportData,
		Measurement:     r.Measurement,
		HostData:        r.HostData,
		IdKeyDigest:     make([]byte, abi.IDKeyDigestSize),
		AuthorKeyDigest: make([]byte, abi.AuthorKeyDigestSize),
		ReportId:        r.ReportID,
		ReportIdMa:      reportIDMA,
		ReportedTcb:     r.TCB,
		ChipId:          r.ChipID,
		CommittedTcb:    r.TCB,
		CurrentBuild:    21,
		CurrentMinor:    55,
		CurrentMajor:    1,
		CommittedBuild:  21,
		CommittedMinor:  55,
		CommittedMajor:  1,
		LaunchTcb:       r.TCB,
		Signature:       make([]byte, abi.SignatureSize),
	}
	if p.Version == 0 {
		p.Version = DefaultVersion
	}
	if p.Policy == 0 {
		p.Policy = DefaultPolicy
	}
	if p.Measurement == nil {
		p.Measurement = DefaultMeasurement
	}
	if p.HostData == nil {
		p.HostData = make([]byte, abi.HostDataSize)
	}
	if p.ReportId == nil {
		p.ReportId = make([]byte, abi.ReportIDSize)
		if _, err := rand.Read(p.ReportId); err != nil {
			return nil, fmt.Errorf("snptest: %w", err)
		}
	}
	if r.CommittedTCB != 0 {
		p.CommittedTcb = r.CommittedTCB
	}
	info := abi.SignerInfo{MaskChipKey: r.MaskChipID}
	if r.VLEK {
		info.SigningKey = abi.VlekReportSigner
	}
	p.SignerInfo = abi.ComposeSignerInfo(info)
	if p.Version >= abi.ReportVersion3 {
		pr := productsByLine[ca.Product]
		p.Cpuid1EaxFms = abi.FmsToCpuid1Eax(pr.family, pr.model, pr.stepping)
	}
	b, err := abi.ReportToAbiBytes(p)
	if err != nil {
		return nil, fmt.Errorf("snptest: report: %w", err)
	}
	return b, nil
}

// sign signs report in place, as the AMD secure processor does: ECDSA P-384
// over SHA-384 of its first 0x2A0 bytes, R and S little-endian.
func sign(report []byte, key *ecdsa.PrivateKey) error {
	digest := sha512.Sum384(abi.SignedComponent(report))
	der, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return fmt.Errorf("snptest: %w", err)
	}
	var sig struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &sig); err != nil {
		return fmt.Errorf("snptest: %w", err)
	}
	return abi.SetSignature(sig.R, sig.S, report)
}

func sha384(s string) []byte {
	h := sha512.Sum384([]byte(s))
	return h[:]
}

func sha512Sum(s string) []byte {
	h := sha512.Sum512([]byte(s))
	return h[:]
}

// TCB composes a TCB_VERSION from its security patch levels, for
// Report.TCB and snp.Options.MinTCB.
func TCB(bootLoader, tee, snp, microcode uint8) uint64 {
	v, err := kds.ComposeTCBParts(kds.TCBParts{BlSpl: bootLoader, TeeSpl: tee, SnpSpl: snp, UcodeSpl: microcode})
	if err != nil {
		panic("snptest: " + err.Error())
	}
	return uint64(v)
}
