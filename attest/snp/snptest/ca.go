// Package snptest makes AMD SEV-SNP evidence signed by test roots, the way
// net/http/httptest serves HTTP: for unit tests, the vector generators in
// testvectors/ and cmd/attestsim. Nothing it signs verifies with AMD's
// roots; attest/snp never imports it.
//
// A CA is what AMD's Key Distribution Service is for one product line: an
// ARK (root) with an ASK and an ASVK under it, RSA with RSASSA-PSS SHA-384
// signatures, which certify ECDSA P-384 endorsement keys: a VCEK per chip
// (CHIP_ID) and TCB, a VLEK per TCB. Evidence signs a 1184-byte
// ATTESTATION_REPORT with one and wraps it in an envelope.Envelope. The
// certificates carry AMD's names (O=Advanced Micro Devices, L=Santa Clara,
// CN=ARK-Milan, SEV-Milan, SEV-VCEK, ...) and the KDS extensions, because
// go-sev-guest checks them; each says "attestkms test" in its
// serialNumber attribute.
//
// This package is built on crypto/x509 rather than go-sev-guest's testing
// package, which shares one fixed key set between every user, reads
// process flags, and uses an unsynchronised math/rand.
package snptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-sev-guest/kds"
)

// The files of a CA saved to a directory. The ARK's key is not among them:
// like AMD's, it is needed only to make the CA, and is then forgotten.
const (
	RootsFile   = "roots.pem" // ASK, ARK, ASVK, ARK: what a verifier trusts (snp.ParseRoots, --snp-roots)
	ASKKeyFile  = "ask.key"   // the ASK's RSA key, PKCS #8 PEM, mode 0600: it certifies VCEKs
	ASVKKeyFile = "asvk.key"  // the ASVK's RSA key, PKCS #8 PEM, mode 0600: it certifies VLEKs
)

const (
	testSerial = "attestkms test" // the serialNumber attribute of every name
	// defaultBits is the size of AMD's ARK, ASK and ASVK keys.
	defaultBits = 4096
	// CSPID is the CSP_ID extension of the VLEKs a CA issues.
	CSPID = "attestkms-test"
)

// The validity of a CA's certificates, and by default of the endorsement
// key certificates it issues (AMD's VCEKs live seven years; these outlive
// any test).
var (
	NotBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	NotAfter  = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// product is what a CA knows of its product line: the CPUID family, model
// and stepping that a version 3 report names, and the productName of its
// VCEKs.
type product struct {
	family, model, stepping byte
	vcekName                string
}

var productsByLine = map[string]product{
	"Milan": {0x19, 0x01, 1, "Milan-B1"},
	"Genoa": {0x19, 0x11, 1, "Genoa-B1"},
	"Turin": {0x1a, 0x02, 0, "Turin-B0"},
}

// CA is a test AMD key distribution service for one product line. It is
// safe for concurrent use.
type CA struct {
	Product string            // "Milan", "Genoa" or "Turin"
	ARK     *x509.Certificate // the root: trust RootsPEM
	ASK     *x509.Certificate // certifies VCEKs
	ASVK    *x509.Certificate // certifies VLEKs

	askKey, asvkKey *rsa.PrivateKey

	mu   sync.Mutex
	keys map[string]*endorsementKey // by signer, chip, TCB and validity
}

type endorsementKey struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// CAOptions configure NewCAWith. The zero value is NewCA's.
type CAOptions struct {
	// Product is the product line, "Milan", "Genoa" or "Turin"; empty means
	// "Milan".
	Product string
	// Bits is the size of the ARK, ASK and ASVK's RSA keys; zero means
	// 4096, as AMD's. Tests may choose 2048, which is made ten times faster.
	Bits int
	// NotAfter ends the validity of the ARK, ASK and ASVK certificates;
	// zero means the package's NotAfter. (The endorsement key certificates
	// the CA issues keep their own validity.)
	NotAfter time.Time
}

// NewCA makes a Milan CA with RSA-4096 keys, as AMD's.
func NewCA() (*CA, error) { return NewCAWith(CAOptions{}) }

// NewCAWith makes a CA as o says.
func NewCAWith(o CAOptions) (*CA, error) {
	if o.Product == "" {
		o.Product = "Milan"
	}
	if _, ok := productsByLine[o.Product]; !ok {
		return nil, fmt.Errorf("snptest: product %q is not Milan, Genoa or Turin", o.Product)
	}
	if o.Bits == 0 {
		o.Bits = defaultBits
	}
	if o.Bits < 2048 {
		return nil, fmt.Errorf("snptest: %d-bit RSA keys; want at least 2048", o.Bits)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = NotAfter
	}
	keys := make([]*rsa.PrivateKey, 3)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, o.Bits)
		if err != nil {
			return nil, fmt.Errorf("snptest: %w", err)
		}
		keys[i] = k
	}
	arkKey, askKey, asvkKey := keys[0], keys[1], keys[2]
	ca := &CA{Product: o.Product, askKey: askKey, asvkKey: asvkKey}
	var err error
	if ca.ARK, err = caCert("ARK-"+o.Product, nil, arkKey, arkKey, o.NotAfter); err != nil {
		return nil, err
	}
	if ca.ASK, err = caCert("SEV-"+o.Product, ca.ARK, arkKey, askKey, o.NotAfter); err != nil {
		return nil, err
	}
	if ca.ASVK, err = caCert("SEV-VLEK-"+o.Product, ca.ARK, arkKey, asvkKey, o.NotAfter); err != nil {
		return nil, err
	}
	return ca, nil
}

// amdName is a name as AMD's certificates have them.
func amdName(cn string) pkix.Name {
	return pkix.Name{
		Country:            []string{"US"},
		Province:           []string{"CA"},
		Locality:           []string{"Santa Clara"},
		Organization:       []string{"Advanced Micro Devices"},
		OrganizationalUnit: []string{"Engineering"},
		CommonName:         cn,
		SerialNumber:       testSerial,
	}
}

// caCert makes an ARK (self-signed when parent is nil), ASK or ASVK
// certificate, as AMD's: RSASSA-PSS with SHA-384, a CA for any path length.
func caCert(cn string, parent *x509.Certificate, parentKey, key *rsa.PrivateKey, notAfter time.Time) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               amdName(cn),
		NotBefore:             NotBefore,
		NotAfter:              notAfter,
		SignatureAlgorithm:    x509.SHA384WithRSAPSS,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, fmt.Errorf("snptest: %s: %w", cn, err)
	}
	return x509.ParseCertificate(der)
}

func newSerial() (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("snptest: %w", err)
	}
	b[0] = b[0]&0x7f | 0x40 // positive, 16 bytes long
	return new(big.Int).SetBytes(b), nil
}

// RootsPEM returns the CA's ASK, ARK, ASVK and ARK certificates in PEM, for
// snp.ParseRoots and --snp-roots: a verifier that trusts them accepts the
// CA's VCEK- and VLEK-signed evidence.
func (ca *CA) RootsPEM() []byte {
	var b bytes.Buffer
	for _, c := range []*x509.Certificate{ca.ASK, ca.ARK, ca.ASVK, ca.ARK} {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// Save writes the CA to dir (which it makes, mode 0700, if missing): the
// ASK's and ASVK's keys, mode 0600, and its roots. It never overwrites a
// file: if dir already holds one of them, the error wraps fs.ErrExist.
func (ca *CA) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("snptest: %w", err)
	}
	files := []struct {
		name string
		key  *rsa.PrivateKey // nil: the roots
	}{{ASKKeyFile, ca.askKey}, {ASVKKeyFile, ca.asvkKey}, {RootsFile, nil}}
	for _, f := range files {
		b, mode := ca.RootsPEM(), os.FileMode(0o644)
		if f.key != nil {
			der, err := x509.MarshalPKCS8PrivateKey(f.key)
			if err != nil {
				return fmt.Errorf("snptest: %w", err)
			}
			b, mode = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600
		}
		if err := writeNew(filepath.Join(dir, f.name), b, mode); err != nil {
			return err
		}
	}
	return nil
}

// writeNew writes a file that must not exist yet, with mode (less the
// umask).
func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("snptest: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("snptest: %w", err)
	}
	return nil
}

// LoadCA reads a CA that Save wrote.
func LoadCA(dir string) (*CA, error) {
	b, err := os.ReadFile(filepath.Join(dir, RootsFile))
	if err != nil {
		return nil, fmt.Errorf("snptest: %w", err)
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("snptest: %s: %w", RootsFile, err)
		}
		certs = append(certs, c)
	}
	if len(certs) != 4 || !bytes.Equal(certs[1].Raw, certs[3].Raw) {
		return nil, fmt.Errorf("snptest: %s: want ASK, ARK, ASVK, ARK", RootsFile)
	}
	ca := &CA{ASK: certs[0], ARK: certs[1], ASVK: certs[2]}
	var ok bool
	if ca.Product, ok = strings.CutPrefix(ca.ARK.Subject.CommonName, "ARK-"); !ok {
		return nil, fmt.Errorf("snptest: %s: the ARK is named %q", RootsFile, ca.ARK.Subject.CommonName)
	}
	if _, ok := productsByLine[ca.Product]; !ok {
		return nil, fmt.Errorf("snptest: %s: product %q", RootsFile, ca.Product)
	}
	for _, f := range []struct {
		name string
		cert *x509.Certificate
		key  **rsa.PrivateKey
	}{{ASKKeyFile, ca.ASK, &ca.askKey}, {ASVKKeyFile, ca.ASVK, &ca.asvkKey}} {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			return nil, fmt.Errorf("snptest: %w", err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("snptest: %s: not a PEM PRIVATE KEY", f.name)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("snptest: %s: %w", f.name, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok || !rk.PublicKey.Equal(f.cert.PublicKey) {
			return nil, fmt.Errorf("snptest: %s is not the key of %s", f.name, f.cert.Subject.CommonName)
		}
		*f.key = rk
	}
	return ca, nil
}

// certRequest says which endorsement key certificate to issue.
type certRequest struct {
	vlek      bool
	chipID    []byte // VCEK only, 64 bytes
	tcb       uint64
	notBefore time.Time
	notAfter  time.Time
}

// endorsementKey returns the VCEK or VLEK for req, issuing it the first
// time, as AMD's KDS issues one VCEK per chip and TCB.
func (ca *CA) endorsementKey(req certRequest) (*endorsementKey, error) {
	id := fmt.Sprintf("%v/%x/%x/%d/%d", req.vlek, req.chipID, req.tcb, req.notBefore.Unix(), req.notAfter.Unix())
	ca.mu.Lock()
	defer ca.mu.Unlock()
	if k := ca.keys[id]; k != nil {
		return k, nil
	}
	k, err := ca.issue(req)
	if err != nil {
		return nil, err
	}
	if ca.keys == nil {
		ca.keys = make(map[string]*endorsementKey)
	}
	ca.keys[id] = k
	return k, nil
}

// issue makes an endorsement key and its certificate as AMD's KDS does:
// CN=SEV-VCEK or SEV-VLEK, RSASSA-PSS SHA-384 by the ASK or ASVK, a P-384
// key, and the KDS extensions (struct version, productName, the TCB's
// security patch levels, and HWID for a VCEK or CSP_ID for a VLEK), the
// HWID raw, without a DER header, as the KDS writes it.
func (ca *CA) issue(req certRequest) (*endorsementKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("snptest: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tcb := kds.DecomposeTCBVersion(kds.TCBVersion(req.tcb))
	name, cn, parent, parentKey := productsByLine[ca.Product].vcekName, "SEV-VCEK", ca.ASK, ca.askKey
	if req.vlek {
		name, cn, parent, parentKey = ca.Product, "SEV-VLEK", ca.ASVK, ca.asvkKey
	}
	if parentKey == nil {
		return nil, errors.New("snptest: the CA has no key to certify with")
	}
	exts := []pkix.Extension{
		{Id: kds.OidStructVersion, Value: mustASN1(1, "")},
		{Id: kds.OidProductName1, Value: mustASN1(name, "ia5")},
		{Id: kds.OidBlSpl, Value: mustASN1(int(tcb.BlSpl), "")},
		{Id: kds.OidTeeSpl, Value: mustASN1(int(tcb.TeeSpl), "")},
		{Id: kds.OidSnpSpl, Value: mustASN1(int(tcb.SnpSpl), "")},
		{Id: kds.OidSpl4, Value: mustASN1(int(tcb.Spl4), "")},
		{Id: kds.OidSpl5, Value: mustASN1(int(tcb.Spl5), "")},
		{Id: kds.OidSpl6, Value: mustASN1(int(tcb.Spl6), "")},
		{Id: kds.OidSpl7, Value: mustASN1(int(tcb.Spl7), "")},
		{Id: kds.OidUcodeSpl, Value: mustASN1(int(tcb.UcodeSpl), "")},
	}
	if req.vlek {
		exts = append(exts, pkix.Extension{Id: kds.OidCspID, Value: mustASN1(CSPID, "ia5")})
	} else {
		exts = append(exts, pkix.Extension{Id: kds.OidHwid, Value: bytes.Clone(req.chipID)})
	}
	tmpl := &x509.Certificate{
		SerialNumber:       serial,
		Subject:            amdName(cn),
		NotBefore:          req.notBefore,
		NotAfter:           req.notAfter,
		SignatureAlgorithm: x509.SHA384WithRSAPSS,
		ExtraExtensions:    exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, fmt.Errorf("snptest: %s for chip %s…: %w", cn, hex.EncodeToString(req.chipID[:min(8, len(req.chipID))]), err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("snptest: %w", err)
	}
	return &endorsementKey{cert: cert, key: key}, nil
}

func mustASN1(v any, params string) []byte {
	b, err := asn1.MarshalWithParams(v, params)
	if err != nil {
		panic(err)
	}
	return b
}
