// Package nitrotest signs AWS Nitro Enclaves and Huawei QingTian attestation
// documents with test roots, the way net/http/httptest serves HTTP: for unit
// tests, the vector generators in testvectors/ and cmd/attestsim. Nothing it
// signs chains to a real root. attest/nitro never imports it.
//
// A CA is a P-384 root and intermediate; like the NSM, it gives each enclave
// (module id) a leaf certificate valid for three hours and signs documents
// with the leaf's key. Document has a field for each claim and a knob to
// break each part of a document, for hostile tests.
//
// Given a deterministic rand, everything is reproducible byte for byte: keys
// are drawn from rand (crypto/ecdsa.GenerateKey ignores its reader since Go
// 1.26), and every signature is deterministic (RFC 6979).
package nitrotest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/attestkms/attestkms/attest"
)

// The files of a CA saved to a directory.
const (
	RootFile             = "root.pem"         // the root certificate: what a verifier trusts
	IntermediateFile     = "intermediate.pem" // the intermediate certificate
	IntermediateKeyFile  = "intermediate.key" // its P-384 key, PKCS #8, mode 0600
	testOrganization     = "attestkms test"
	leafLifetime         = 3 * time.Hour    // as the NSM's leaf certificates
	leafBackdate         = 10 * time.Second // the NSM makes an enclave's leaf just before its first document
	caValidityStartYear  = 2000
	caValidityEndYear    = 2100
	defaultNitroModuleID = "i-0123456789abcdef0-enc0123456789abcdef"
)

// CA is a test attestation PKI: a root, an intermediate, and a leaf per
// enclave. It is safe for concurrent use.
type CA struct {
	Format       attest.Format     // attest.FormatNitro or attest.FormatQingtian
	Root         *x509.Certificate // trust this: nitro.Options{Roots: ca.Roots()}
	Intermediate *x509.Certificate

	key  *ecdsa.PrivateKey // the intermediate's
	rand io.Reader

	mu     sync.Mutex
	leaves map[string]*leaf // by module id and curve, reused while valid
}

type leaf struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewTestCA makes a P-384 root and intermediate for format. A nil rand means
// crypto/rand; a deterministic one makes the CA, and every document it
// signs, reproducible.
func NewTestCA(format attest.Format, rand io.Reader) (*CA, error) {
	if format == "" {
		format = attest.FormatNitro
	}
	if format != attest.FormatNitro && format != attest.FormatQingtian {
		return nil, fmt.Errorf("nitrotest: format %q is neither nitro nor qingtian", format)
	}
	rand = orCryptoRand(rand)
	root, rootKey, err := newCACert(format, rand, "root", nil, nil)
	if err != nil {
		return nil, err
	}
	inter, interKey, err := newCACert(format, rand, "intermediate", root, rootKey)
	if err != nil {
		return nil, err
	}
	return &CA{Format: format, Root: root, Intermediate: inter, key: interKey, rand: rand}, nil
}

// Roots returns the CA's root, for nitro.Options.Roots.
func (ca *CA) Roots() []*x509.Certificate { return []*x509.Certificate{ca.Root} }

// caName is the subject of a test CA certificate. The organizational unit
// records the format, so that LoadTestCA knows it.
func caName(format attest.Format, role string) pkix.Name {
	return pkix.Name{
		CommonName:         fmt.Sprintf("attestkms test %s %s", format, role),
		Organization:       []string{testOrganization},
		OrganizationalUnit: []string{string(format)},
	}
}

// newCACert makes a CA certificate, self-signed when parent is nil.
func newCACert(format attest.Format, rand io.Reader, role string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := newKey(elliptic.P384(), rand)
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial(rand)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               caName(format, role),
		NotBefore:             time.Date(caValidityStartYear, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(caValidityEndYear, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	c, err := createCertificate(tmpl, parent, &key.PublicKey, parentKey)
	return c, key, err
}

// createCertificate signs a certificate deterministically.
func createCertificate(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, rfc6979{signer})
	if err != nil {
		return nil, fmt.Errorf("nitrotest: %w", err)
	}
	return x509.ParseCertificate(der)
}

// rfc6979 signs deterministically, whatever reader it is given.
type rfc6979 struct{ *ecdsa.PrivateKey }

func (k rfc6979) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.PrivateKey.Sign(nil, digest, opts) // a nil reader selects RFC 6979
}

// newKey draws an ECDSA key from rand: the same bytes give the same key.
func newKey(curve elliptic.Curve, rand io.Reader) (*ecdsa.PrivateKey, error) {
	b := make([]byte, (curve.Params().BitSize+7)/8)
	for range 64 {
		if _, err := io.ReadFull(rand, b); err != nil {
			return nil, fmt.Errorf("nitrotest: reading randomness: %w", err)
		}
		if extra := len(b)*8 - curve.Params().BitSize; extra > 0 {
			b[0] &= 0xff >> extra
		}
		if k, err := ecdsa.ParseRawPrivateKey(curve, b); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("nitrotest: no valid key in 64 draws from rand")
}

func newSerial(rand io.Reader) (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(rand, b); err != nil {
		return nil, fmt.Errorf("nitrotest: reading randomness: %w", err)
	}
	b[0] = b[0]&0x7f | 0x40 // positive, 16 bytes long
	return new(big.Int).SetBytes(b), nil
}

func orCryptoRand(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

// leafFor returns the leaf certificate of the enclave moduleID for a
// document made at t: the one issued before, if still valid, or a new one,
// valid from just before t for three hours, as the NSM does.
func (ca *CA) leafFor(moduleID string, curve elliptic.Curve, t time.Time) (*leaf, error) {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	id := moduleID + "/" + curve.Params().Name
	if l := ca.leaves[id]; l != nil && !t.Before(l.cert.NotBefore) && t.Before(l.cert.NotAfter) {
		return l, nil
	}
	start := t.Truncate(time.Second).Add(-leafBackdate)
	l, err := ca.newLeaf(moduleID, curve, start, start.Add(leafLifetime), ca.Intermediate, ca.key)
	if err != nil {
		return nil, err
	}
	if ca.leaves == nil {
		ca.leaves = make(map[string]*leaf)
	}
	ca.leaves[id] = l
	return l, nil
}

// newLeaf issues a leaf certificate, like the NSM's: CN the module id, for
// digital signatures only.
func (ca *CA) newLeaf(moduleID string, curve elliptic.Curve, notBefore, notAfter time.Time, issuer *x509.Certificate, issuerKey *ecdsa.PrivateKey) (*leaf, error) {
	key, err := newKey(curve, ca.rand)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial(ca.rand)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         moduleID + ".attestkms.test",
			Organization:       []string{testOrganization},
			OrganizationalUnit: []string{string(ca.Format)},
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
	}
	c, err := createCertificate(tmpl, issuer, &key.PublicKey, issuerKey)
	if err != nil {
		return nil, err
	}
	return &leaf{c, key}, nil
}

// Save writes the CA to dir, creating it if need be: RootFile,
// IntermediateFile and IntermediateKeyFile (mode 0600). The root's key is
// not kept anywhere. Save refuses to overwrite a file.
func (ca *CA) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("nitrotest: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return fmt.Errorf("nitrotest: %w", err)
	}
	files := []struct {
		name string
		blk  *pem.Block
		mode os.FileMode
	}{
		{IntermediateKeyFile, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}, 0o600},
		{IntermediateFile, &pem.Block{Type: "CERTIFICATE", Bytes: ca.Intermediate.Raw}, 0o644},
		{RootFile, &pem.Block{Type: "CERTIFICATE", Bytes: ca.Root.Raw}, 0o644},
	}
	for _, f := range files {
		if err := writeNew(filepath.Join(dir, f.name), pem.EncodeToMemory(f.blk), f.mode); err != nil {
			return err
		}
	}
	return nil
}

func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("nitrotest: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("nitrotest: %w", err)
	}
	return nil
}

// LoadTestCA reads a CA that Save wrote to dir. A nil rand means
// crypto/rand; it draws the keys of the leaves.
func LoadTestCA(dir string, rand io.Reader) (*CA, error) {
	root, err := readCert(filepath.Join(dir, RootFile))
	if err != nil {
		return nil, err
	}
	inter, err := readCert(filepath.Join(dir, IntermediateFile))
	if err != nil {
		return nil, err
	}
	keyPath := filepath.Join(dir, IntermediateKeyFile)
	blk, err := readPEM(keyPath, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("nitrotest: %s: %w", keyPath, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(inter.PublicKey) {
		return nil, fmt.Errorf("nitrotest: %s is not the key of %s", keyPath, filepath.Join(dir, IntermediateFile))
	}
	if err := inter.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("nitrotest: %s is not signed by %s: %w", IntermediateFile, RootFile, err)
	}
	var format attest.Format
	if ou := root.Subject.OrganizationalUnit; len(root.Subject.Organization) == 1 && root.Subject.Organization[0] == testOrganization && len(ou) == 1 {
		format = attest.Format(ou[0])
	}
	if format != attest.FormatNitro && format != attest.FormatQingtian {
		return nil, fmt.Errorf("nitrotest: %s is not the root of a nitrotest CA (subject %s)", filepath.Join(dir, RootFile), root.Subject)
	}
	return &CA{Format: format, Root: root, Intermediate: inter, key: key, rand: orCryptoRand(rand)}, nil
}

func readPEM(path, typ string) (*pem.Block, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nitrotest: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != typ {
		return nil, fmt.Errorf("nitrotest: %s holds no PEM %s", path, typ)
	}
	return blk, nil
}

func readCert(path string) (*x509.Certificate, error) {
	blk, err := readPEM(path, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("nitrotest: %s: %w", path, err)
	}
	return c, nil
}
