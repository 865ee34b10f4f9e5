package attesttest

// A test Intel TDX PCS: a root, PCK CA and PCK certificate with Intel's SGX
// extensions, a TCB signing certificate, quotes in the real binary layout
// (version 4) signed by an attestation key that a QE report signed by the
// PCK binds, and collateral (TCB Info, QE Identity, CRLs) in the layout of
// attest/tdx's collateral directory. Names say test; attest/tdx never
// imports this.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/google/go-tdx-guest/abi"
	"github.com/google/go-tdx-guest/pcs"
	pb "github.com/google/go-tdx-guest/proto/tdx"
)

// TDXTestCA is a test stand-in for Intel's PCK hierarchy and TCB signer.
type TDXTestCA struct {
	Root, PCKCA, PCK, TCBSigner             *x509.Certificate
	RootKey, PCKCAKey, PCKKey, TCBSignerKey *ecdsa.PrivateKey
	AttestationKey                          *ecdsa.PrivateKey
	FMSPC, PCEID                            []byte // 6 and 2 bytes
	CPUSVN                                  [16]byte
	PCESVN                                  uint16
	MRSignerSeam                            []byte // 48 bytes: the TDX module's signer, as TCB Info names it
	QEMRSigner                              []byte // 32 bytes: the TD QE's MRSIGNER
	QEISVSVN                                uint16
}

// NewTDXTestCA makes a hierarchy valid from notBefore for ten years, with
// FMSPC fmspc (6 bytes).
func NewTDXTestCA(notBefore time.Time, fmspc []byte) (*TDXTestCA, error) {
	ca := &TDXTestCA{FMSPC: fmspc, PCEID: []byte{0, 0}, PCESVN: 11, QEISVSVN: 4,
		MRSignerSeam: make([]byte, 48), QEMRSigner: make([]byte, 32)}
	for i := range ca.CPUSVN {
		ca.CPUSVN[i] = 5
	}
	for i := range ca.QEMRSigner {
		ca.QEMRSigner[i] = 0xdc
	}
	keys := make([]*ecdsa.PrivateKey, 5)
	for i := range keys {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	ca.RootKey, ca.PCKCAKey, ca.PCKKey, ca.TCBSignerKey, ca.AttestationKey = keys[0], keys[1], keys[2], keys[3], keys[4]
	notAfter := notBefore.AddDate(10, 0, 0)
	name := func(cn string) pkix.Name {
		return pkix.Name{CommonName: cn, Organization: []string{"Intel Corporation"}, Locality: []string{"Santa Clara"}, Province: []string{"CA"}, Country: []string{"US"}}
	}
	serial := int64(1)
	mk := func(cn string, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool, extra []pkix.Extension) (*x509.Certificate, error) {
		serial++
		ski := sha256.Sum256(elliptic.Marshal(elliptic.P256(), key.X, key.Y))
		t := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: name(cn), NotBefore: notBefore, NotAfter: notAfter,
			SubjectKeyId: ski[:20], BasicConstraintsValid: true, IsCA: isCA,
			KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, SignatureAlgorithm: x509.ECDSAWithSHA256,
			CRLDistributionPoints: []string{"https://tdx-test.invalid/crl/" + strings.ReplaceAll(cn, " ", "")},
			ExtraExtensions:       extra,
		}
		if isCA {
			t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
			t.MaxPathLen, t.MaxPathLenZero = 1, false
		}
		if parent == nil {
			parent, parentKey = t, key
		}
		der, err := x509.CreateCertificate(rand.Reader, t, parent, &key.PublicKey, parentKey)
		if err != nil {
			return nil, err
		}
		return x509.ParseCertificate(der)
	}
	var err error
	if ca.Root, err = mk("Intel SGX Root CA", ca.RootKey, nil, nil, true, nil); err != nil {
		return nil, err
	}
	if ca.PCKCA, err = mk("Intel SGX PCK Platform CA", ca.PCKCAKey, ca.Root, ca.RootKey, true, nil); err != nil {
		return nil, err
	}
	if ca.TCBSigner, err = mk("Intel SGX TCB Signing", ca.TCBSignerKey, ca.Root, ca.RootKey, false, nil); err != nil {
		return nil, err
	}
	sgx, err := ca.sgxExtension()
	if err != nil {
		return nil, err
	}
	if ca.PCK, err = mk("Intel SGX PCK Certificate", ca.PCKKey, ca.PCKCA, ca.PCKCAKey, false, []pkix.Extension{sgx}); err != nil {
		return nil, err
	}
	return ca, nil
}

// sgxExtension is the PCK certificate's SGX extension (Intel SGX PCK
// Certificate and CRL Profile): PPID, TCB (16 components, PCESVN, CPUSVN),
// PCE-ID, FMSPC.
func (ca *TDXTestCA) sgxExtension() (pkix.Extension, error) {
	type kv struct {
		ID    asn1.ObjectIdentifier
		Value any
	}
	var tcb []kv
	for i := 0; i < 16; i++ {
		tcb = append(tcb, kv{append(append(asn1.ObjectIdentifier{}, pcs.OidTCB...), i+1), int(ca.CPUSVN[i])})
	}
	tcb = append(tcb, kv{pcs.OidPCESvn, int(ca.PCESVN)}, kv{pcs.OidCPUSvn, ca.CPUSVN[:]})
	tcbDER, err := asn1.Marshal(tcb)
	if err != nil {
		return pkix.Extension{}, err
	}
	type kvRaw struct {
		ID    asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	v, err := asn1.Marshal([]any{
		kv{pcs.OidPPID, make([]byte, 16)},
		kvRaw{pcs.OidTCB, asn1.RawValue{FullBytes: tcbDER}},
		kv{pcs.OidPCEID, ca.PCEID},
		kv{pcs.OidFMSPC, ca.FMSPC},
	})
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: pcs.OidSgxExtension, Value: v}, nil
}

// RootsPEM is the root, for attest/tdx's Options.Roots (--tdx-roots).
func (ca *TDXTestCA) RootsPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root.Raw})
}

// ChainPEM is the PCK chain as a quote carries it: PCK, PCK CA, root.
func (ca *TDXTestCA) ChainPEM() []byte {
	var b []byte
	for _, c := range []*x509.Certificate{ca.PCK, ca.PCKCA, ca.Root} {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
}

// TDXTestQuote is what a test quote says; zero fields are zeros (RTMRs,
// MRTD...) or the CA's (TEE_TCB_SVN: 03 00 05 00...).
type TDXTestQuote struct {
	ReportData                               []byte // 64 bytes
	MRTD, MRConfigID, MROwner, MROwnerConfig []byte // 48 bytes each
	RTMR                                     [4][]byte
	TDAttributes, XFAM                       []byte // 8 bytes each
	TeeTCBSVN                                []byte // 16 bytes
	// ChainPEM replaces the CA's PCK chain; PCKKey the key that signs the
	// QE report; QEMRSigner the QE's MRSIGNER; AttestationKey the key the
	// QE report binds (and that signs, unless SigningKey is set).
	ChainPEM                   []byte
	PCKKey                     *ecdsa.PrivateKey
	QEMRSigner                 []byte
	AttestationKey, SigningKey *ecdsa.PrivateKey
	// QEBinds, if set, is the key the QE report binds instead of the
	// quote's attestation key.
	QEBinds *ecdsa.PrivateKey
}

func orZero(b []byte, n int) []byte {
	if b == nil {
		return make([]byte, n)
	}
	return b
}

// Quote makes a signed version 4 quote.
func (ca *TDXTestCA) Quote(q TDXTestQuote) ([]byte, error) {
	ak := ca.AttestationKey
	if q.AttestationKey != nil {
		ak = q.AttestationKey
	}
	signing := ak
	if q.SigningKey != nil {
		signing = q.SigningKey
	}
	pckKey := ca.PCKKey
	if q.PCKKey != nil {
		pckKey = q.PCKKey
	}
	chain := ca.ChainPEM()
	if q.ChainPEM != nil {
		chain = q.ChainPEM
	}
	tcbSVN := q.TeeTCBSVN
	if tcbSVN == nil {
		tcbSVN = []byte{3, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	}
	var rtmrs [][]byte
	for _, r := range q.RTMR {
		rtmrs = append(rtmrs, orZero(r, 48))
	}
	akRaw := append(pad32(ak.X), pad32(ak.Y)...)
	authData := make([]byte, 32)
	bound := akRaw
	if q.QEBinds != nil {
		bound = append(pad32(q.QEBinds.X), pad32(q.QEBinds.Y)...)
	}
	qeRD := sha256.Sum256(append(append([]byte{}, bound...), authData...))
	qeMRSigner := ca.QEMRSigner
	if q.QEMRSigner != nil {
		qeMRSigner = q.QEMRSigner
	}
	qeAttrs := make([]byte, 16)
	qeAttrs[0] = 0x11
	report := &pb.EnclaveReport{
		CpuSvn: make([]byte, 16), Reserved1: make([]byte, 28), Attributes: qeAttrs, MrEnclave: make([]byte, 32),
		Reserved2: make([]byte, 32), MrSigner: qeMRSigner, Reserved3: make([]byte, 96), IsvProdId: 2, IsvSvn: uint32(ca.QEISVSVN),
		Reserved4: make([]byte, 60), ReportData: append(qeRD[:], make([]byte, 32)...),
	}
	reportBytes, err := abi.EnclaveReportToAbiBytes(report)
	if err != nil {
		return nil, err
	}
	reportSig, err := signRS(pckKey, reportBytes)
	if err != nil {
		return nil, err
	}
	qeCert := &pb.QEReportCertificationData{
		QeReport: report, QeReportSignature: reportSig,
		QeAuthData:              &pb.QeAuthData{ParsedDataSize: uint32(len(authData)), Data: authData},
		PckCertificateChainData: &pb.PCKCertificateChainData{CertificateDataType: 5, Size: uint32(len(chain)), PckCertChain: chain},
	}
	certSize := uint32(384 + 64 + 2 + len(authData) + 6 + len(chain))
	quote := &pb.QuoteV4{
		Header: &pb.Header{Version: 4, AttestationKeyType: 2, TeeType: abi.TeeTDX, QeSvn: []byte{0, 0}, PceSvn: []byte{byte(ca.PCESVN), 0},
			QeVendorId: []byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}, UserData: make([]byte, 20)},
		TdQuoteBody: &pb.TDQuoteBody{
			TeeTcbSvn: tcbSVN, MrSeam: make([]byte, 48), MrSignerSeam: ca.MRSignerSeam, SeamAttributes: make([]byte, 8),
			TdAttributes: orZero(q.TDAttributes, 8), Xfam: orZero(q.XFAM, 8), MrTd: orZero(q.MRTD, 48),
			MrConfigId: orZero(q.MRConfigID, 48), MrOwner: orZero(q.MROwner, 48), MrOwnerConfig: orZero(q.MROwnerConfig, 48),
			Rtmrs: rtmrs, ReportData: orZero(q.ReportData, 64),
		},
		SignedDataSize: 128 + 6 + certSize,
		SignedData: &pb.Ecdsa256BitQuoteV4AuthData{
			Signature: make([]byte, 64), EcdsaAttestationKey: akRaw,
			CertificationData: &pb.CertificationData{CertificateDataType: 6, Size: certSize, QeReportCertificationData: qeCert},
		},
	}
	header, err := abi.HeaderToAbiBytes(quote.Header)
	if err != nil {
		return nil, err
	}
	body, err := abi.TdQuoteBodyToAbiBytes(quote.TdQuoteBody)
	if err != nil {
		return nil, err
	}
	if quote.SignedData.Signature, err = signRS(signing, append(header, body...)); err != nil {
		return nil, err
	}
	return abi.QuoteToAbiBytes(quote)
}

func pad32(x *big.Int) []byte {
	b := make([]byte, 32)
	x.FillBytes(b)
	return b
}

func signRS(k *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
	if err != nil {
		return nil, err
	}
	return append(pad32(r), pad32(s)...), nil
}

// TDXTestCollateral says what test collateral holds. Zero Evaluation is
// 17; zero Issue and Next are the CA's NotBefore and a year later; empty
// Status is UpToDate; FMSPC "" is the CA's.
type TDXTestCollateral struct {
	FMSPC            string
	Evaluation       int
	Issue, Next      time.Time
	Status           string
	Advisories       []string
	QEStatus         string
	RevokedPCKSerial []*big.Int
	// ModuleStatus, if set, adds a TDX module identity "TDX_01" (for
	// quotes whose TEE_TCB_SVN[1] is 1) with one level at SVN 3 of this
	// status.
	ModuleStatus string
}

// Collateral returns the files of a collateral directory (attest/tdx's
// layout), signed by the CA's TCB signer, PCK CA and root.
func (ca *TDXTestCA) Collateral(o TDXTestCollateral) (map[string][]byte, error) {
	if o.FMSPC == "" {
		o.FMSPC = hex.EncodeToString(ca.FMSPC)
	}
	if o.Evaluation == 0 {
		o.Evaluation = 17
	}
	if o.Issue.IsZero() {
		o.Issue = ca.Root.NotBefore
	}
	if o.Next.IsZero() {
		o.Next = o.Issue.AddDate(1, 0, 0)
	}
	if o.Status == "" {
		o.Status = "UpToDate"
	}
	if o.QEStatus == "" {
		o.QEStatus = "UpToDate"
	}
	type comp struct {
		SVN int `json:"svn"`
	}
	comps := func(svn []byte) []comp {
		var c []comp
		for _, s := range svn {
			c = append(c, comp{int(s)})
		}
		return c
	}
	type level struct {
		TCB struct {
			SGX    []comp `json:"sgxtcbcomponents,omitempty"`
			PCESVN int    `json:"pcesvn,omitempty"`
			TDX    []comp `json:"tdxtcbcomponents,omitempty"`
			ISVSVN *int   `json:"isvsvn,omitempty"`
		} `json:"tcb"`
		TCBDate    string   `json:"tcbDate"`
		Status     string   `json:"tcbStatus"`
		Advisories []string `json:"advisoryIDs,omitempty"`
	}
	date := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
	var pl level
	pl.TCB.SGX, pl.TCB.PCESVN = comps(ca.CPUSVN[:]), int(ca.PCESVN)
	pl.TCB.TDX = comps([]byte{3, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	pl.TCBDate, pl.Status, pl.Advisories = date(o.Issue), o.Status, o.Advisories
	info := map[string]any{
		"id": "TDX", "version": 3, "issueDate": date(o.Issue), "nextUpdate": date(o.Next), "fmspc": o.FMSPC,
		"pceId": hex.EncodeToString(ca.PCEID), "tcbType": 0, "tcbEvaluationDataNumber": o.Evaluation,
		"tdxModule": map[string]string{"mrsigner": strings.ToUpper(hex.EncodeToString(ca.MRSignerSeam)), "attributes": "0000000000000000", "attributesMask": "FFFFFFFFFFFFFFFF"},
		"tcbLevels": []level{pl},
	}
	if o.ModuleStatus != "" {
		var ml level
		svn := 3
		ml.TCB.ISVSVN, ml.TCBDate, ml.Status = &svn, date(o.Issue), o.ModuleStatus
		info["tdxModuleIdentities"] = []map[string]any{{"id": "TDX_01", "mrsigner": strings.ToUpper(hex.EncodeToString(ca.MRSignerSeam)),
			"attributes": "0000000000000000", "attributesMask": "FFFFFFFFFFFFFFFF", "tcbLevels": []level{ml}}}
	}
	tcbInfo, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	var ql level
	isv := int(ca.QEISVSVN)
	ql.TCB.ISVSVN, ql.TCBDate, ql.Status = &isv, date(o.Issue), o.QEStatus
	qeID, err := json.Marshal(map[string]any{
		"id": "TD_QE", "version": 2, "issueDate": date(o.Issue), "nextUpdate": date(o.Next), "tcbEvaluationDataNumber": o.Evaluation,
		"miscselect": "00000000", "miscselectMask": "FFFFFFFF", "attributes": "11000000000000000000000000000000",
		"attributesMask": "FBFFFFFFFFFFFFFF0000000000000000", "mrsigner": strings.ToUpper(hex.EncodeToString(ca.QEMRSigner)),
		"isvprodid": 2, "tcbLevels": []level{ql},
	})
	if err != nil {
		return nil, err
	}
	signed := func(field string, body []byte) ([]byte, error) {
		sig, err := signRS(ca.TCBSignerKey, body)
		if err != nil {
			return nil, err
		}
		return []byte(fmt.Sprintf(`{"%s":%s,"signature":"%x"}`, field, body, sig)), nil
	}
	files := map[string][]byte{}
	if files["tcbinfo-"+o.FMSPC+".json"], err = signed("tcbInfo", tcbInfo); err != nil {
		return nil, err
	}
	if files["qe_identity.json"], err = signed("enclaveIdentity", qeID); err != nil {
		return nil, err
	}
	issuer := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.TCBSigner.Raw}), ca.RootsPEM()...)
	files["tcbinfo-"+o.FMSPC+".issuer.pem"] = issuer
	files["qe_identity.issuer.pem"] = issuer
	crl := func(issuer *x509.Certificate, key *ecdsa.PrivateKey, revoked []*big.Int) ([]byte, error) {
		t := &x509.RevocationList{Number: big.NewInt(int64(o.Evaluation)), ThisUpdate: o.Issue, NextUpdate: o.Next}
		for _, s := range revoked {
			t.RevokedCertificateEntries = append(t.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: o.Issue})
		}
		return x509.CreateRevocationList(rand.Reader, t, issuer, key)
	}
	if files["pck_crl-platform.der"], err = crl(ca.PCKCA, ca.PCKCAKey, o.RevokedPCKSerial); err != nil {
		return nil, err
	}
	files["pck_crl-platform.issuer.pem"] = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.PCKCA.Raw}), ca.RootsPEM()...)
	if files["root_crl.der"], err = crl(ca.Root, ca.RootKey, nil); err != nil {
		return nil, err
	}
	return files, nil
}
