package attesttest

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// TDXTCBStatuses are the TCB statuses of TCB Info, each a TCB level of a
// TDXCA's collateral, in the order of its tcbLevels (highest first). A
// quote's TEE_TCB_SVN[0] (the TDX module's SVN) selects its level:
// TDXModuleSVN gives the SVN of each status.
var TDXTCBStatuses = []string{
	"UpToDate",
	"SWHardeningNeeded",
	"ConfigurationNeeded",
	"ConfigurationAndSWHardeningNeeded",
	"OutOfDate",
	"OutOfDateConfigurationNeeded",
	"Revoked",
}

// TDXModuleSVN returns the TEE_TCB_SVN[0] of quotes whose platform is at
// status in a TDXCA's TCB Info, and false for an unknown status. Below the
// SVN of the last level (0) no level matches.
func TDXModuleSVN(status string) (byte, bool) {
	for i, s := range TDXTCBStatuses {
		if s == status {
			return byte(len(TDXTCBStatuses) - i), true
		}
	}
	return 0, false
}

// TDXAdvisoryIDs are the (made-up) advisory ids of each status's TCB
// level but UpToDate's.
func TDXAdvisoryIDs(status string) []string {
	svn, ok := TDXModuleSVN(status)
	if !ok || status == "UpToDate" {
		return nil
	}
	return []string{fmt.Sprintf("INTEL-SA-9%04d", 100+int(svn)), "INTEL-SA-90001"}
}

// The TCB of TDX quotes and QE reports that name none.
const (
	TDXLateMicrocodeSVN = 5 // TEE_TCB_SVN[2]
	TDXQESVN            = 4 // the QE report's ISVSVN, UpToDate in QE Identity
	TDXQEProdID         = 2 // the TD QE's ISVPRODID
)

// TDXQEMRSigner is the MRSIGNER of Intel's Quoting Enclaves (Intel's QE
// Identity names it; a QE report carries it).
var TDXQEMRSigner, _ = hex.DecodeString("dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5")

// DefaultTDXTCBEvaluationDataNumber is the tcbEvaluationDataNumber of
// collateral that names none.
const DefaultTDXTCBEvaluationDataNumber = 17

// TDXCollateralOptions configure TDXCA.Collateral. The zero value is
// collateral issued now, valid 30 days (as Intel's TCB Info), for the CA's
// FMSPC, revoking nothing.
type TDXCollateralOptions struct {
	IssueDate               time.Time // zero: time.Now()
	NextUpdate              time.Time // zero: IssueDate + 30 days
	TCBEvaluationDataNumber int       // zero: DefaultTDXTCBEvaluationDataNumber
	FMSPC                   *[6]byte  // nil: the CA's (another FMSPC makes collateral of another platform)
	RevokePCK               bool      // the PCK CRL lists the CA's PCK certificate
	RevokePlatformCA        bool      // the root CRL lists the PCK Platform CA
	RevokeTCBSigning        bool      // the root CRL lists the TCB signing certificate
	// Restatus gives TCB levels another status: {"UpToDate": "OutOfDate"}
	// is TCB Info that has since demoted the platforms at the UpToDate
	// level (quotes of TCBStatus "UpToDate").
	Restatus map[string]string
	// Advisories replace TDXAdvisoryIDs for the TCB levels of these
	// statuses (after Restatus).
	Advisories map[string][]string
	// ModuleSVN and ModuleStatus are the one TCB level of the TDX module
	// identity TDX_01 (TDX 1.5 modules, quotes whose TEE_TCB_SVN[1] is 1);
	// zero: SVN 1, "UpToDate". NoModuleIdentity leaves it out.
	ModuleSVN        uint16
	ModuleStatus     string
	NoModuleIdentity bool
	// ModuleMRSigner is the TDX module identity's mrsigner (48 bytes)
	// instead of the tdxModule's (all zeros, Intel's).
	ModuleMRSigner []byte
}

// TDXCollateral is what Intel's PCS returns for a platform, bodies and
// issuer chains as its API serves them (issuer chains PEM, signing
// certificate then root).
type TDXCollateral struct {
	FMSPC            string // lower-case hex
	TCBInfo          []byte // {"tcbInfo":{...},"signature":"hex"}
	TCBInfoIssuer    []byte
	QEIdentity       []byte // {"enclaveIdentity":{...},"signature":"hex"}
	QEIdentityIssuer []byte
	PCKCRL           []byte // DER, issued by the PCK Platform CA
	PCKCRLIssuer     []byte
	RootCRL          []byte // DER, issued by the root
}

// The collateral files in a directory (Save; attestkms serve
// --tdx-collateral): the TCB Info per FMSPC, QE Identity, the PCK and root
// CRLs, and the issuer chains of each as the PCS response headers carry
// them.
const (
	TDXTCBInfoFilePrefix     = "tcbinfo-" // + FMSPC in lower-case hex + ".json"
	TDXTCBInfoIssuerFile     = "tcbinfo.issuer.pem"
	TDXQEIdentityFile        = "qe_identity.json"
	TDXQEIdentityIssuerFile  = "qe_identity.issuer.pem"
	TDXPCKCRLFile            = "pck_crl.der"
	TDXPCKCRLIssuerFile      = "pck_crl.issuer.pem"
	TDXRootCRLFile           = "root_crl.der"
	tdxCollateralValidPeriod = 30 * 24 * time.Hour
)

type tdxTCBComponent struct {
	SVN      byte   `json:"svn"`
	Category string `json:"category,omitempty"`
	Type     string `json:"type,omitempty"`
}

type tdxTCB struct {
	SGX    []tdxTCBComponent `json:"sgxtcbcomponents,omitempty"`
	PCESVN *uint16           `json:"pcesvn,omitempty"`
	TDX    []tdxTCBComponent `json:"tdxtcbcomponents,omitempty"`
	ISVSVN *uint16           `json:"isvsvn,omitempty"`
}

type tdxTCBLevel struct {
	TCB         tdxTCB   `json:"tcb"`
	TCBDate     string   `json:"tcbDate"`
	TCBStatus   string   `json:"tcbStatus"`
	AdvisoryIDs []string `json:"advisoryIDs,omitempty"`
}

type tdxModule struct {
	MRSigner       string `json:"mrsigner"`
	Attributes     string `json:"attributes"`
	AttributesMask string `json:"attributesMask"`
}

type tdxModuleIdentity struct {
	ID string `json:"id"`
	tdxModule
	TCBLevels []tdxTCBLevel `json:"tcbLevels"`
}

type tdxTCBInfo struct {
	ID                      string              `json:"id"`
	Version                 int                 `json:"version"`
	IssueDate               string              `json:"issueDate"`
	NextUpdate              string              `json:"nextUpdate"`
	FMSPC                   string              `json:"fmspc"`
	PCEID                   string              `json:"pceId"`
	TCBType                 int                 `json:"tcbType"`
	TCBEvaluationDataNumber int                 `json:"tcbEvaluationDataNumber"`
	TDXModule               tdxModule           `json:"tdxModule"`
	TDXModuleIdentities     []tdxModuleIdentity `json:"tdxModuleIdentities,omitempty"`
	TCBLevels               []tdxTCBLevel       `json:"tcbLevels"`
}

type tdxEnclaveIdentity struct {
	ID                      string        `json:"id"`
	Version                 int           `json:"version"`
	IssueDate               string        `json:"issueDate"`
	NextUpdate              string        `json:"nextUpdate"`
	TCBEvaluationDataNumber int           `json:"tcbEvaluationDataNumber"`
	MiscSelect              string        `json:"miscselect"`
	MiscSelectMask          string        `json:"miscselectMask"`
	Attributes              string        `json:"attributes"`
	AttributesMask          string        `json:"attributesMask"`
	MRSigner                string        `json:"mrsigner"`
	ISVProdID               int           `json:"isvprodid"`
	TCBLevels               []tdxTCBLevel `json:"tcbLevels"`
}

// The SEAM module's MRSIGNER and attributes in TCB Info: Intel's TDX
// module is signed by all zeros.
var (
	tdxSeamMRSigner   = strings.Repeat("0", 96)
	tdxSeamAttributes = "0000000000000000"
)

func tdxTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// Collateral signs TCB Info, QE Identity and the two CRLs as o says.
func (ca *TDXCA) Collateral(o TDXCollateralOptions) (*TDXCollateral, error) {
	issue := o.IssueDate
	if issue.IsZero() {
		issue = time.Now()
	}
	issue = issue.UTC().Truncate(time.Second)
	next := o.NextUpdate
	if next.IsZero() {
		next = issue.Add(tdxCollateralValidPeriod)
	}
	next = next.UTC().Truncate(time.Second)
	evalNum := o.TCBEvaluationDataNumber
	if evalNum == 0 {
		evalNum = DefaultTDXTCBEvaluationDataNumber
	}
	fmspc := ca.FMSPC
	if o.FMSPC != nil {
		fmspc = *o.FMSPC
	}
	pcesvn := TDXPCKPCESVN
	sgx := make([]tdxTCBComponent, 16)
	for i := range sgx {
		sgx[i] = tdxTCBComponent{SVN: TDXPCKSGXTCB[i]}
	}
	sgx[0].Category, sgx[0].Type = "BIOS", "Early Microcode Update"
	sgx[1].Category, sgx[1].Type = "OS/VMM", "SGX Late Microcode Update"
	info := tdxTCBInfo{
		ID: "TDX", Version: 3, IssueDate: tdxTime(issue), NextUpdate: tdxTime(next),
		FMSPC: hex.EncodeToString(fmspc[:]), PCEID: hex.EncodeToString(ca.PCEID[:]),
		TCBEvaluationDataNumber: evalNum,
		TDXModule:               tdxModule{tdxSeamMRSigner, tdxSeamAttributes, "FFFFFFFFFFFFFFFF"},
	}
	moduleSVN, moduleStatus := o.ModuleSVN, o.ModuleStatus
	if moduleSVN == 0 {
		moduleSVN = 1
	}
	if moduleStatus == "" {
		moduleStatus = "UpToDate"
	}
	if !o.NoModuleIdentity {
		info.TDXModuleIdentities = []tdxModuleIdentity{{
			ID: "TDX_01", tdxModule: info.TDXModule,
			TCBLevels: []tdxTCBLevel{{TCB: tdxTCB{ISVSVN: &moduleSVN}, TCBDate: "2024-03-13T00:00:00Z", TCBStatus: moduleStatus}},
		}}
		if o.ModuleMRSigner != nil {
			if len(o.ModuleMRSigner) != 48 {
				return nil, fmt.Errorf("attesttest: ModuleMRSigner is %d bytes, want 48", len(o.ModuleMRSigner))
			}
			info.TDXModuleIdentities[0].MRSigner = hex.EncodeToString(o.ModuleMRSigner)
		}
	}
	for i, status := range TDXTCBStatuses {
		svn, _ := TDXModuleSVN(status)
		tdx := make([]tdxTCBComponent, 16)
		tdx[0] = tdxTCBComponent{SVN: svn, Category: "OS/VMM", Type: "TDX Module"}
		tdx[1] = tdxTCBComponent{SVN: 0, Category: "OS/VMM", Type: "TDX Module"}
		tdx[2] = tdxTCBComponent{SVN: TDXLateMicrocodeSVN, Category: "OS/VMM", Type: "TDX Late Microcode Update"}
		advisories := TDXAdvisoryIDs(status)
		if s, ok := o.Restatus[status]; ok {
			status = s
		}
		if a, ok := o.Advisories[status]; ok {
			advisories = a
		}
		info.TCBLevels = append(info.TCBLevels, tdxTCBLevel{
			TCB:         tdxTCB{SGX: sgx, PCESVN: &pcesvn, TDX: tdx},
			TCBDate:     tdxTime(time.Date(2024, 3, 13, 0, 0, 0, 0, time.UTC).AddDate(0, -3*i, 0)),
			TCBStatus:   status,
			AdvisoryIDs: advisories,
		})
	}
	qeUpToDate, qeOutOfDate := uint16(TDXQESVN), uint16(TDXQESVN-2)
	qe := tdxEnclaveIdentity{
		ID: "TD_QE", Version: 2, IssueDate: tdxTime(issue), NextUpdate: tdxTime(next),
		TCBEvaluationDataNumber: evalNum,
		MiscSelect:              "00000000", MiscSelectMask: "FFFFFFFF",
		Attributes: "11000000000000000000000000000000", AttributesMask: "FBFFFFFFFFFFFFFF0000000000000000",
		MRSigner: strings.ToUpper(hex.EncodeToString(TDXQEMRSigner)), ISVProdID: TDXQEProdID,
		TCBLevels: []tdxTCBLevel{
			{TCB: tdxTCB{ISVSVN: &qeUpToDate}, TCBDate: "2024-03-13T00:00:00Z", TCBStatus: "UpToDate"},
			{TCB: tdxTCB{ISVSVN: &qeOutOfDate}, TCBDate: "2023-02-15T00:00:00Z", TCBStatus: "OutOfDate", AdvisoryIDs: []string{"INTEL-SA-90002"}},
		},
	}
	c := &TDXCollateral{
		FMSPC:            info.FMSPC,
		TCBInfoIssuer:    tdxPEM(ca.TCBSigning, ca.Root),
		QEIdentityIssuer: tdxPEM(ca.TCBSigning, ca.Root),
		PCKCRLIssuer:     tdxPEM(ca.PlatformCA, ca.Root),
	}
	var err error
	if c.TCBInfo, err = tdxSignedJSON("tcbInfo", info, ca.tcbKey); err != nil {
		return nil, err
	}
	if c.QEIdentity, err = tdxSignedJSON("enclaveIdentity", qe, ca.tcbKey); err != nil {
		return nil, err
	}
	var revokedPCK, revokedCA []*x509.Certificate
	if o.RevokePCK {
		revokedPCK = append(revokedPCK, ca.PCK)
	}
	if o.RevokePlatformCA {
		revokedCA = append(revokedCA, ca.PlatformCA)
	}
	if o.RevokeTCBSigning {
		revokedCA = append(revokedCA, ca.TCBSigning)
	}
	if c.PCKCRL, err = tdxCRL(ca.PlatformCA, ca.platformKey, issue, next, evalNum, revokedPCK); err != nil {
		return nil, err
	}
	if c.RootCRL, err = tdxCRL(ca.Root, ca.rootKey, issue, issue.AddDate(1, 0, 0), evalNum, revokedCA); err != nil {
		return nil, err
	}
	return c, nil
}

// tdxSignedJSON is Intel's signed JSON: {"<name>":<body>,"signature":"<hex
// r||s>"}, the ECDSA P-256 signature over SHA-256 of body's exact bytes.
func tdxSignedJSON(name string, v any, key *ecdsa.PrivateKey) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("attesttest: %s: %w", name, err)
	}
	sig, err := tdxSignRaw(key, body)
	if err != nil {
		return nil, err
	}
	return []byte(fmt.Sprintf(`{"%s":%s,"signature":"%s"}`, name, body, hex.EncodeToString(sig))), nil
}

// tdxSignRaw signs SHA-256(msg) and returns r||s, 32 bytes each, as Intel's
// quotes and collateral carry ECDSA signatures.
func tdxSignRaw(key *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, key, h[:])
	if err != nil {
		return nil, fmt.Errorf("attesttest: %w", err)
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}

func tdxCRL(issuer *x509.Certificate, key *ecdsa.PrivateKey, this, next time.Time, number int, revoked []*x509.Certificate) ([]byte, error) {
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(int64(number)),
		ThisUpdate: this,
		NextUpdate: next,
	}
	for _, c := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: c.SerialNumber, RevocationTime: this,
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
	if err != nil {
		return nil, fmt.Errorf("attesttest: CRL of %q: %w", issuer.Subject.CommonName, err)
	}
	return der, nil
}

// Save writes the collateral to dir (made, mode 0755, if missing) in the
// layout attestkms serve --tdx-collateral reads, replacing the files of
// the same names.
func (c *TDXCollateral) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("attesttest: %w", err)
	}
	for name, b := range map[string][]byte{
		TDXTCBInfoFilePrefix + c.FMSPC + ".json": c.TCBInfo,
		TDXTCBInfoIssuerFile:                     c.TCBInfoIssuer,
		TDXQEIdentityFile:                        c.QEIdentity,
		TDXQEIdentityIssuerFile:                  c.QEIdentityIssuer,
		TDXPCKCRLFile:                            c.PCKCRL,
		TDXPCKCRLIssuerFile:                      c.PCKCRLIssuer,
		TDXRootCRLFile:                           c.RootCRL,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("attesttest: %w", err)
		}
	}
	return nil
}

// Get answers as Intel's PCS (and certificate server) would the URLs
// go-tdx-guest's verifier asks for this collateral, and refuses every
// other: it never touches the network. It has the signature of
// go-tdx-guest's trust.HTTPSGetter.
func (c *TDXCollateral) Get(u string) (map[string][]string, []byte, error) {
	hdr := func(k string, chain []byte) map[string][]string {
		return map[string][]string{k: {url.QueryEscape(string(chain))}}
	}
	switch u {
	case tdxPCSBase + "/tcb?fmspc=" + c.FMSPC:
		return hdr("Tcb-Info-Issuer-Chain", c.TCBInfoIssuer), c.TCBInfo, nil
	case tdxPCSBase + "/qe/identity":
		return hdr("Sgx-Enclave-Identity-Issuer-Chain", c.QEIdentityIssuer), c.QEIdentity, nil
	case TDXPCKCRLURL:
		return hdr("Sgx-Pck-Crl-Issuer-Chain", c.PCKCRLIssuer), c.PCKCRL, nil
	case TDXRootCRLURL:
		return map[string][]string{}, c.RootCRL, nil
	}
	return nil, nil, fmt.Errorf("attesttest: no network: %s is not in this collateral", u)
}

// LoadTDXCollateral reads the collateral that Save wrote to dir for fmspc
// (lower-case hex). It checks nothing: it reads files.
func LoadTDXCollateral(dir, fmspc string) (*TDXCollateral, error) {
	c := &TDXCollateral{FMSPC: fmspc}
	for _, f := range []struct {
		name string
		to   *[]byte
	}{
		{TDXTCBInfoFilePrefix + fmspc + ".json", &c.TCBInfo},
		{TDXTCBInfoIssuerFile, &c.TCBInfoIssuer},
		{TDXQEIdentityFile, &c.QEIdentity},
		{TDXQEIdentityIssuerFile, &c.QEIdentityIssuer},
		{TDXPCKCRLFile, &c.PCKCRL},
		{TDXPCKCRLIssuerFile, &c.PCKCRLIssuer},
		{TDXRootCRLFile, &c.RootCRL},
	} {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return nil, fmt.Errorf("attesttest: %w", err)
		}
		*f.to = b
	}
	return c, nil
}
