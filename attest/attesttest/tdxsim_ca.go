package attesttest

// The Intel TDX test signer (files tdxsim_*.go): a test Intel SGX/TDX PKI,
// the collateral Intel's Provisioning Certification Service (PCS) signs,
// and TDX quotes (version 4) in the real binary layout, for unit tests,
// vectors and cmd/attestsim. Nothing it signs verifies with Intel's root;
// attest/tdx never imports it.
//
// A TDXCA is what Intel is to one TDX platform: the "Intel SGX Root CA"
// (ECDSA P-256, as Intel's), the "Intel SGX PCK Platform CA" under it, the
// platform's PCK certificate (its SGX extension carries FMSPC, PCEID and
// the TCB the platform was certified at) and the "Intel SGX TCB Signing"
// certificate that signs TCB Info and QE Identity. The names are Intel's,
// in Intel's order (go-tdx-guest checks the common names), each with a
// serialNumber attribute "attestkms test".

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Intel's URLs, which the certificates name and go-tdx-guest's verifier
// asks its getter for (it must never reach them: see TDXCollateral.Get).
const (
	TDXRootCRLURL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
	TDXPCKCRLURL  = "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der"
	tdxPCSBase    = "https://api.trustedservices.intel.com/tdx/certification/v4"
)

// The files of a TDXCA saved to a directory (mode 0600 for the keys).
const (
	TDXRootsFile       = "roots.pem"           // the test root: what a verifier trusts (--tdx-roots)
	TDXPCKChainFile    = "pck_chain.pem"       // PCK leaf, PCK Platform CA, root: the quote's certification data
	TDXTCBSigningFile  = "tcb_signing.pem"     // the TCB signing certificate
	TDXRootKeyFile     = "root.key"            // signs the root CRL
	TDXPlatformKeyFile = "pck_platform_ca.key" // signs the PCK CRL
	TDXTCBKeyFile      = "tcb_signing.key"     // signs TCB Info and QE Identity
	TDXPCKKeyFile      = "pck.key"             // the platform's PCK key: signs QE reports
	TDXCollateralDir   = "collateral"          // Save's collateral (TDXCollateral.Save), for --tdx-collateral
)

// DefaultTDXFMSPC is the FMSPC of a TDXCA's platform: a made-up one, so
// that test collateral never shadows Intel's for a real platform.
var DefaultTDXFMSPC = [6]byte{0x0a, 0x7e, 0x57, 0x00, 0x00, 0x00}

// TDXPCKSGXTCB is the platform's SGX TCB in its PCK certificate: the 16
// SGX TCB component SVNs (CPUSVN) and PCESVN, as on a Sapphire Rapids.
var (
	TDXPCKSGXTCB  = [16]byte{3, 3, 2, 2, 2, 1, 0, 2}
	TDXPCKPCESVN  = uint16(11)
	tdxTestSerial = "attestkms test"
)

// The validity of a TDXCA's certificates (Intel's root lives to 2049;
// these outlive any test).
var (
	TDXNotBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	TDXNotAfter  = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// TDXCA is a test Intel PKI for one TDX platform.
type TDXCA struct {
	Root       *x509.Certificate // Intel SGX Root CA: trust this (TDXRootsFile)
	PlatformCA *x509.Certificate // Intel SGX PCK Platform CA
	PCK        *x509.Certificate // Intel SGX PCK Certificate of the platform
	TCBSigning *x509.Certificate // Intel SGX TCB Signing
	FMSPC      [6]byte           // in the PCK certificate
	PCEID      [2]byte           // in the PCK certificate

	rootKey, platformKey, tcbKey, pckKey *ecdsa.PrivateKey
}

// TDXCAOptions configure NewTDXCAWith; the zero value is NewTDXCA's.
type TDXCAOptions struct {
	FMSPC *[6]byte // nil: DefaultTDXFMSPC
	// PCKNotAfter ends the PCK certificate's validity; zero: TDXNotAfter.
	PCKNotAfter time.Time
	// PlatformCANotAfter and RootNotAfter end the PCK Platform CA's and the
	// root's validity; zero: TDXNotAfter. (Intel's outlive the certificates
	// they sign; these let a test see each certificate's window checked.)
	PlatformCANotAfter, RootNotAfter time.Time
	// TCBSigningNotAfter ends the TCB signing certificate's validity (the
	// signer of TCB Info and QE Identity); zero: TDXNotAfter.
	TCBSigningNotAfter time.Time
	// TCBSigningNotBefore starts it; zero: TDXNotBefore.
	TCBSigningNotBefore time.Time
}

// NewTDXCA makes a TDXCA with fresh P-256 keys.
func NewTDXCA() (*TDXCA, error) { return NewTDXCAWith(TDXCAOptions{}) }

// NewTDXCAWith makes a TDXCA as o says.
func NewTDXCAWith(o TDXCAOptions) (*TDXCA, error) {
	ca := &TDXCA{FMSPC: DefaultTDXFMSPC}
	if o.FMSPC != nil {
		ca.FMSPC = *o.FMSPC
	}
	keys := make([]*ecdsa.PrivateKey, 4)
	for i := range keys {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("attesttest: %w", err)
		}
		keys[i] = k
	}
	ca.rootKey, ca.platformKey, ca.tcbKey, ca.pckKey = keys[0], keys[1], keys[2], keys[3]
	var err error
	if ca.Root, err = tdxCert(tdxCertSpec{cn: "Intel SGX Root CA", ca: 1, crl: TDXRootCRLURL, notAfter: o.RootNotAfter}, nil, ca.rootKey, ca.rootKey); err != nil {
		return nil, err
	}
	if ca.PlatformCA, err = tdxCert(tdxCertSpec{cn: "Intel SGX PCK Platform CA", ca: 0, crl: TDXRootCRLURL, notAfter: o.PlatformCANotAfter}, ca.Root, ca.rootKey, ca.platformKey); err != nil {
		return nil, err
	}
	if ca.TCBSigning, err = tdxCert(tdxCertSpec{cn: "Intel SGX TCB Signing", ca: -1, crl: TDXRootCRLURL, notAfter: o.TCBSigningNotAfter, notBefore: o.TCBSigningNotBefore}, ca.Root, ca.rootKey, ca.tcbKey); err != nil {
		return nil, err
	}
	sgx, err := tdxSGXExtension(ca.FMSPC, ca.PCEID, TDXPCKSGXTCB, TDXPCKPCESVN)
	if err != nil {
		return nil, err
	}
	if ca.PCK, err = tdxCert(tdxCertSpec{cn: "Intel SGX PCK Certificate", ca: -1, crl: TDXPCKCRLURL, sgx: sgx, notAfter: o.PCKNotAfter}, ca.PlatformCA, ca.platformKey, ca.pckKey); err != nil {
		return nil, err
	}
	return ca, nil
}

// tdxName is an Intel name, RDNs in Intel's order (CN, O, L, ST, C), plus
// the serialNumber that says test.
func tdxName(cn string) ([]byte, error) {
	attr := func(oid asn1.ObjectIdentifier, v string) pkix.RelativeDistinguishedNameSET {
		return pkix.RelativeDistinguishedNameSET{{Type: oid, Value: v}}
	}
	rdn := pkix.RDNSequence{
		attr(asn1.ObjectIdentifier{2, 5, 4, 3}, cn),
		attr(asn1.ObjectIdentifier{2, 5, 4, 10}, "Intel Corporation"),
		attr(asn1.ObjectIdentifier{2, 5, 4, 7}, "Santa Clara"),
		attr(asn1.ObjectIdentifier{2, 5, 4, 8}, "CA"),
		attr(asn1.ObjectIdentifier{2, 5, 4, 6}, "US"),
		attr(asn1.ObjectIdentifier{2, 5, 4, 5}, tdxTestSerial),
	}
	return asn1.Marshal(rdn)
}

type tdxCertSpec struct {
	cn       string
	ca       int    // path length of a CA; -1: not a CA
	crl      string // the CRL distribution point
	sgx      []byte // the SGX extension's value (PCK certificates)
	notAfter time.Time
	// notBefore, if not zero, replaces TDXNotBefore.
	notBefore time.Time
}

// tdxCert makes a certificate as Intel's: ECDSA with SHA-256, P-256, the
// key identifiers, a CRL distribution point; for a PCK certificate exactly
// the six extensions go-tdx-guest requires.
func tdxCert(s tdxCertSpec, parent *x509.Certificate, parentKey, key *ecdsa.PrivateKey) (*x509.Certificate, error) {
	name, err := tdxName(s.cn)
	if err != nil {
		return nil, fmt.Errorf("attesttest: %s: %w", s.cn, err)
	}
	serial, err := tdxSerial()
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("attesttest: %w", err)
	}
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		Key       asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, fmt.Errorf("attesttest: %w", err)
	}
	skid := sha1.Sum(info.Key.Bytes)
	notBefore, notAfter := TDXNotBefore, TDXNotAfter
	if !s.notBefore.IsZero() {
		notBefore = s.notBefore
	}
	if !s.notAfter.IsZero() {
		notAfter = s.notAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		RawSubject:            name,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
		SubjectKeyId:          skid[:],
		CRLDistributionPoints: []string{s.crl},
		BasicConstraintsValid: true,
	}
	if s.ca >= 0 {
		tmpl.IsCA = true
		tmpl.MaxPathLen = s.ca
		tmpl.MaxPathLenZero = s.ca == 0
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	}
	if s.sgx != nil {
		tmpl.ExtraExtensions = []pkix.Extension{{Id: tdxOIDSGX, Value: s.sgx}}
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, fmt.Errorf("attesttest: %s: %w", s.cn, err)
	}
	return x509.ParseCertificate(der)
}

func tdxSerial() (*big.Int, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("attesttest: %w", err)
	}
	b[0] = b[0]&0x7f | 0x40 // positive, 20 bytes long
	return new(big.Int).SetBytes(b), nil
}

// The SGX extension of PCK certificates (Intel's "PCK Certificate and CRL
// Profile"): 1.2.840.113741.1.13.1 and its members.
var (
	tdxOIDSGX      = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	tdxOIDPPID     = append(tdxOIDSGX[:len(tdxOIDSGX):len(tdxOIDSGX)], 1)
	tdxOIDTCB      = append(tdxOIDSGX[:len(tdxOIDSGX):len(tdxOIDSGX)], 2)
	tdxOIDPCEID    = append(tdxOIDSGX[:len(tdxOIDSGX):len(tdxOIDSGX)], 3)
	tdxOIDFMSPC    = append(tdxOIDSGX[:len(tdxOIDSGX):len(tdxOIDSGX)], 4)
	tdxOIDSGXType  = append(tdxOIDSGX[:len(tdxOIDSGX):len(tdxOIDSGX)], 5)
	tdxOIDPlatform = append(tdxOIDSGX[:len(tdxOIDSGX):len(tdxOIDSGX)], 6)
	tdxOIDConfig   = append(tdxOIDSGX[:len(tdxOIDSGX):len(tdxOIDSGX)], 7)
)

type tdxExtValue struct {
	ID    asn1.ObjectIdentifier
	Value any
}

// tdxSGXExtension is the SGX extension's value, as a Platform CA issues it:
// PPID, TCB (16 component SVNs, PCESVN, CPUSVN), PCE-ID, FMSPC, SGX type
// (1, scalable), platform instance ID and configuration.
func tdxSGXExtension(fmspc [6]byte, pceid [2]byte, comps [16]byte, pcesvn uint16) ([]byte, error) {
	ppid := make([]byte, 16)
	instance := make([]byte, 16)
	if _, err := rand.Read(ppid); err != nil {
		return nil, fmt.Errorf("attesttest: %w", err)
	}
	if _, err := rand.Read(instance); err != nil {
		return nil, fmt.Errorf("attesttest: %w", err)
	}
	var tcb []tdxExtValue
	for i, c := range comps {
		tcb = append(tcb, tdxExtValue{append(tdxOIDTCB[:len(tdxOIDTCB):len(tdxOIDTCB)], i+1), int(c)})
	}
	tcb = append(tcb,
		tdxExtValue{append(tdxOIDTCB[:len(tdxOIDTCB):len(tdxOIDTCB)], 17), int(pcesvn)},
		tdxExtValue{append(tdxOIDTCB[:len(tdxOIDTCB):len(tdxOIDTCB)], 18), comps[:]})
	cfgOID := func(n int) asn1.ObjectIdentifier {
		return append(tdxOIDConfig[:len(tdxOIDConfig):len(tdxOIDConfig)], n)
	}
	ext := []tdxExtValue{
		{tdxOIDPPID, ppid},
		{tdxOIDTCB, tcb},
		{tdxOIDPCEID, pceid[:]},
		{tdxOIDFMSPC, fmspc[:]},
		{tdxOIDSGXType, asn1.Enumerated(1)},
		{tdxOIDPlatform, instance},
		{tdxOIDConfig, []tdxExtValue{{cfgOID(1), true}, {cfgOID(2), false}, {cfgOID(3), true}}},
	}
	b, err := asn1.Marshal(ext)
	if err != nil {
		return nil, fmt.Errorf("attesttest: SGX extension: %w", err)
	}
	return b, nil
}

// PCKChainPEM is the PCK certificate chain as a quote's certification data
// (type 5) carries it: the PCK leaf, the PCK Platform CA and the root, PEM.
func (ca *TDXCA) PCKChainPEM() []byte {
	return tdxPEM(ca.PCK, ca.PlatformCA, ca.Root)
}

// RootsPEM is the test root, for --tdx-roots.
func (ca *TDXCA) RootsPEM() []byte { return tdxPEM(ca.Root) }

// FMSPCHex is the FMSPC in lower-case hex, as collateral file names have it.
func (ca *TDXCA) FMSPCHex() string { return hex.EncodeToString(ca.FMSPC[:]) }

func tdxPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// Save writes the CA to dir (made, mode 0700, if missing): the root, the
// PCK chain, the TCB signing certificate, the four keys (mode 0600) and, in
// dir/collateral, collateral signed now (TDXCollateralOptions{}). It never
// overwrites a file: if one exists, the error wraps fs.ErrExist.
func (ca *TDXCA) Save(dir string, now time.Time) error {
	col, err := ca.Collateral(TDXCollateralOptions{IssueDate: now})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("attesttest: %w", err)
	}
	files := []struct {
		name string
		b    []byte
		key  *ecdsa.PrivateKey
	}{
		{TDXRootsFile, ca.RootsPEM(), nil},
		{TDXPCKChainFile, ca.PCKChainPEM(), nil},
		{TDXTCBSigningFile, tdxPEM(ca.TCBSigning), nil},
		{TDXRootKeyFile, nil, ca.rootKey},
		{TDXPlatformKeyFile, nil, ca.platformKey},
		{TDXTCBKeyFile, nil, ca.tcbKey},
		{TDXPCKKeyFile, nil, ca.pckKey},
	}
	for _, f := range files {
		b, mode := f.b, os.FileMode(0o644)
		if f.key != nil {
			der, err := x509.MarshalPKCS8PrivateKey(f.key)
			if err != nil {
				return fmt.Errorf("attesttest: %w", err)
			}
			b, mode = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600
		}
		if err := tdxWriteNew(filepath.Join(dir, f.name), b, mode); err != nil {
			return err
		}
	}
	return col.Save(filepath.Join(dir, TDXCollateralDir))
}

func tdxWriteNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("attesttest: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("attesttest: %w", err)
	}
	return nil
}

// LoadTDXCA reads a TDXCA that Save wrote (its collateral stays on disk).
func LoadTDXCA(dir string) (*TDXCA, error) {
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("attesttest: %w", err)
		}
		return b, nil
	}
	b, err := read(TDXPCKChainFile)
	if err != nil {
		return nil, err
	}
	certs, err := tdxParseCerts(b)
	if err != nil || len(certs) != 3 {
		return nil, fmt.Errorf("attesttest: %s: want the PCK leaf, PCK Platform CA and root (%v)", TDXPCKChainFile, err)
	}
	ca := &TDXCA{PCK: certs[0], PlatformCA: certs[1], Root: certs[2]}
	if b, err = read(TDXTCBSigningFile); err != nil {
		return nil, err
	}
	if certs, err = tdxParseCerts(b); err != nil || len(certs) != 1 {
		return nil, fmt.Errorf("attesttest: %s: want one certificate (%v)", TDXTCBSigningFile, err)
	}
	ca.TCBSigning = certs[0]
	for _, f := range []struct {
		name string
		cert *x509.Certificate
		key  **ecdsa.PrivateKey
	}{{TDXRootKeyFile, ca.Root, &ca.rootKey}, {TDXPlatformKeyFile, ca.PlatformCA, &ca.platformKey},
		{TDXTCBKeyFile, ca.TCBSigning, &ca.tcbKey}, {TDXPCKKeyFile, ca.PCK, &ca.pckKey}} {
		b, err := read(f.name)
		if err != nil {
			return nil, err
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("attesttest: %s: no PEM block", f.name)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("attesttest: %s: %w", f.name, err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok || !ek.PublicKey.Equal(f.cert.PublicKey) {
			return nil, fmt.Errorf("attesttest: %s is not the key of %q", f.name, f.cert.Subject.CommonName)
		}
		*f.key = ek
	}
	ext, err := tdxPCKFields(ca.PCK)
	if err != nil {
		return nil, err
	}
	ca.FMSPC, ca.PCEID = ext.fmspc, ext.pceid
	return ca, nil
}

func tdxParseCerts(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return certs, nil
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
}

type tdxPCKExt struct {
	fmspc [6]byte
	pceid [2]byte
}

// tdxPCKFields reads FMSPC and PCE-ID back from a PCK certificate we made.
func tdxPCKFields(c *x509.Certificate) (*tdxPCKExt, error) {
	for _, e := range c.Extensions {
		if !e.Id.Equal(tdxOIDSGX) {
			continue
		}
		var members []struct {
			ID    asn1.ObjectIdentifier
			Value asn1.RawValue
		}
		if _, err := asn1.Unmarshal(e.Value, &members); err != nil {
			return nil, fmt.Errorf("attesttest: SGX extension: %w", err)
		}
		var out tdxPCKExt
		for _, m := range members {
			switch {
			case m.ID.Equal(tdxOIDFMSPC) && len(m.Value.Bytes) == 6:
				copy(out.fmspc[:], m.Value.Bytes)
			case m.ID.Equal(tdxOIDPCEID) && len(m.Value.Bytes) == 2:
				copy(out.pceid[:], m.Value.Bytes)
			}
		}
		return &out, nil
	}
	return nil, fmt.Errorf("attesttest: the PCK certificate has no SGX extension")
}
