// Package tpmtest makes TPM 2.0 quote evidence with a test AK CA, in pure Go
// and without a TPM or simulator, the way net/http/httptest serves HTTP: for
// unit tests, cmd/attestsim and the end-to-end tests. Nothing it makes chains
// to a real root. attest/tpm never imports it.
//
// A CA is an ECDSA P-256 root and intermediate and an attestation key (AK)
// certified by the intermediate, shaped like a Google Cloud vTPM's: a
// restricted signing key that never leaves its TPM (its TPMT_PUBLIC says
// so), whose certificate names its TPM in a critical subjectAltName of TCG
// TPM attributes. CA.Evidence quotes PCRs with that AK exactly as a TPM
// would (TPMS_ATTEST, TPMT_SIGNATURE) and wraps the quote in an
// envelope.Envelope whose extraData is the envelope's Binding. Quote has a
// knob to break each part, for hostile tests.
//
// Keys and ECDSA signatures are random (crypto/rand): what it makes
// verifies, but is not reproducible byte for byte.
package tpmtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-tpm/tpm2"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The files of a CA saved to a directory.
const (
	RootsFile        = "roots.pem"        // the root certificate: what a verifier trusts (--tpm-roots)
	IntermediateFile = "intermediate.pem" // the intermediate certificate, sent as ak_chain
	AKCertFile       = "ak.pem"           // the AK's certificate
	AKKeyFile        = "ak.key"           // the AK's private key, PKCS #8, mode 0600
	AKPublicFile     = "ak_public.bin"    // the AK's TPMT_PUBLIC
)

// Validity of the test certificates: fixed, so that tests can verify at
// any time between and test expiry past AKNotAfter.
var (
	CANotBefore = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	CANotAfter  = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	AKNotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	AKNotAfter  = time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)
)

const testOrganization = "attestkms test"

// AKKind is the kind of attestation key a CA makes.
type AKKind int

const (
	AKECDSAP256  AKKind = iota // ECDSA P-256, signing ECDSA-SHA256 (the default)
	AKECDSAP384                // ECDSA P-384, signing ECDSA-SHA384
	AKRSA2048                  // RSA-2048, signing RSASSA-SHA256 (as Google's vTPM AK)
	AKRSA2048PSS               // RSA-2048, signing RSAPSS-SHA256
)

// CAOptions make a CA for hostile tests; the zero value is NewCA's.
type CAOptions struct {
	AK AKKind
	// EditAKCert changes the AK certificate's template before the
	// intermediate signs it (its ExtraExtensions hold the TPM
	// subjectAltName; see TPMSubjectAltName).
	EditAKCert func(*x509.Certificate)
	// EditAKPublic changes the AK's TPMT_PUBLIC, its key already set (its
	// attributes or scheme, say). The AK still signs as its kind does.
	EditAKPublic func(*tpm2.TPMTPublic)
}

// CA is a test AK CA and its attestation key. It is safe for concurrent use.
type CA struct {
	Root         *x509.Certificate // trust this: tpm.ParseRoots(ca.RootsPEM())
	Intermediate *x509.Certificate // sent as ak_chain
	AKCert       *x509.Certificate // sent as ak_cert
	AKPublic     []byte            // the AK's TPMT_PUBLIC, sent as ak_public

	ak     crypto.Signer // *ecdsa.PrivateKey or *rsa.PrivateKey
	scheme tpm2.TPMAlgID // how the AK signs: its TPMT_PUBLIC's scheme
	hash   crypto.Hash
	name   []byte // the AK's TPM Name
}

// NewCA makes a CA with an ECDSA P-256 AK.
func NewCA() (*CA, error) { return NewCAWith(CAOptions{}) }

// NewCAWith makes a CA as o says.
func NewCAWith(o CAOptions) (*CA, error) {
	root, rootKey, err := newCACert("root", nil, nil)
	if err != nil {
		return nil, err
	}
	inter, interKey, err := newCACert("intermediate", root, rootKey)
	if err != nil {
		return nil, err
	}
	var ak crypto.Signer
	switch o.AK {
	case AKECDSAP256:
		ak, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AKECDSAP384:
		ak, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case AKRSA2048, AKRSA2048PSS:
		ak, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("tpmtest: unknown AK kind %d", o.AK)
	}
	if err != nil {
		return nil, fmt.Errorf("tpmtest: %w", err)
	}
	pub, err := AKTemplate(o.AK, ak.Public())
	if err != nil {
		return nil, err
	}
	if o.EditAKPublic != nil {
		o.EditAKPublic(&pub)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "attestkms test AK", Organization: []string{testOrganization}},
		NotBefore:             AKNotBefore,
		NotAfter:              AKNotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage:    []asn1.ObjectIdentifier{{2, 23, 133, 8, 3}}, // tcg-kp-AIKCertificate
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{TPMSubjectAltName("id:41544B53", "attestkms-test-vTPM", "id:00000001")},
	}
	if o.EditAKCert != nil {
		o.EditAKCert(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, inter, ak.Public(), interKey)
	if err != nil {
		return nil, fmt.Errorf("tpmtest: %w", err)
	}
	akCert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("tpmtest: %w", err)
	}
	return newCA(root, inter, akCert, tpm2.Marshal(&pub), ak)
}

// newCA completes a CA from its parts, taking the AK's signing scheme from
// its TPMT_PUBLIC.
func newCA(root, inter, akCert *x509.Certificate, akPublic []byte, ak crypto.Signer) (*CA, error) {
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](akPublic)
	if err != nil {
		return nil, fmt.Errorf("tpmtest: ak_public: %w", err)
	}
	ca := &CA{Root: root, Intermediate: inter, AKCert: akCert, AKPublic: akPublic, ak: ak, scheme: tpm2.TPMAlgNull, hash: crypto.SHA256}
	var h tpm2.TPMIAlgHash
	switch pub.Type {
	case tpm2.TPMAlgRSA:
		p, err := pub.Parameters.RSADetail()
		if err != nil {
			return nil, fmt.Errorf("tpmtest: ak_public: %w", err)
		}
		ca.scheme = p.Scheme.Scheme
		switch ca.scheme {
		case tpm2.TPMAlgRSASSA:
			d, err := p.Scheme.Details.RSASSA()
			if err == nil {
				h = d.HashAlg
			}
		case tpm2.TPMAlgRSAPSS:
			d, err := p.Scheme.Details.RSAPSS()
			if err == nil {
				h = d.HashAlg
			}
		}
	case tpm2.TPMAlgECC:
		p, err := pub.Parameters.ECCDetail()
		if err != nil {
			return nil, fmt.Errorf("tpmtest: ak_public: %w", err)
		}
		ca.scheme = p.Scheme.Scheme
		if d, err := p.Scheme.Details.ECDSA(); err == nil && ca.scheme == tpm2.TPMAlgECDSA {
			h = d.HashAlg
		}
	}
	if h != 0 {
		if ca.hash, err = h.Hash(); err != nil {
			return nil, fmt.Errorf("tpmtest: ak_public: %w", err)
		}
	}
	if ca.scheme == tpm2.TPMAlgNull { // as the TPM would sign with a NULL-scheme key
		if _, ok := ak.(*rsa.PrivateKey); ok {
			ca.scheme = tpm2.TPMAlgRSASSA
		} else {
			ca.scheme = tpm2.TPMAlgECDSA
		}
	}
	name, err := tpm2.ObjectName(pub)
	if err != nil {
		return nil, fmt.Errorf("tpmtest: ak_public: %w", err)
	}
	ca.name = name.Buffer
	return ca, nil
}

// AKTemplate is the TPMT_PUBLIC of an attestation key of kind k with public
// key pub: a restricted signing key made in and bound to its TPM
// (fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, restricted,
// sign), its key in the unique field.
func AKTemplate(k AKKind, pub crypto.PublicKey) (tpm2.TPMTPublic, error) {
	t := tpm2.TPMTPublic{
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, UserWithAuth: true,
			Restricted: true, SignEncrypt: true,
		},
	}
	switch k {
	case AKECDSAP256, AKECDSAP384:
		ec, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return t, fmt.Errorf("tpmtest: an ECDSA AK with a %T", pub)
		}
		curve, hash := tpm2.TPMECCNistP256, tpm2.TPMAlgSHA256
		if k == AKECDSAP384 {
			curve, hash = tpm2.TPMECCNistP384, tpm2.TPMAlgSHA384
		}
		b, err := ec.Bytes()
		if err != nil {
			return t, fmt.Errorf("tpmtest: %w", err)
		}
		size := (len(b) - 1) / 2
		t.Type = tpm2.TPMAlgECC
		t.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme: tpm2.TPMTECCScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: hash}),
			},
			CurveID: curve,
			KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		})
		t.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: b[1 : 1+size]},
			Y: tpm2.TPM2BECCParameter{Buffer: b[1+size:]},
		})
	case AKRSA2048, AKRSA2048PSS:
		r, ok := pub.(*rsa.PublicKey)
		if !ok {
			return t, fmt.Errorf("tpmtest: an RSA AK with a %T", pub)
		}
		scheme := tpm2.TPMTRSAScheme{
			Scheme:  tpm2.TPMAlgRSASSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSASSA, &tpm2.TPMSSigSchemeRSASSA{HashAlg: tpm2.TPMAlgSHA256}),
		}
		if k == AKRSA2048PSS {
			scheme = tpm2.TPMTRSAScheme{
				Scheme:  tpm2.TPMAlgRSAPSS,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSAPSS, &tpm2.TPMSSigSchemeRSAPSS{HashAlg: tpm2.TPMAlgSHA256}),
			}
		}
		exp := uint32(r.E)
		if r.E == 65537 {
			exp = 0 // the TPM's way of saying the default
		}
		t.Type = tpm2.TPMAlgRSA
		t.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    scheme,
			KeyBits:   tpm2.TPMKeyBits(r.N.BitLen()),
			Exponent:  exp,
		})
		t.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: r.N.FillBytes(make([]byte, r.Size()))})
	default:
		return t, fmt.Errorf("tpmtest: unknown AK kind %d", k)
	}
	return t, nil
}

// TPMSubjectAltName is the critical subjectAltName a TPM's AK and EK
// certificates carry (TCG EK Credential Profile): one directoryName of the
// TPM's manufacturer, model and version, one attribute per RDN, as Google's
// vTPM certificates have it.
func TPMSubjectAltName(manufacturer, model, version string) pkix.Extension {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
		b.AddASN1(cbasn1.Tag(4).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { // directoryName
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // RDNSequence
				for i, v := range []string{manufacturer, model, version} {
					b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{2, 23, 133, 2, i + 1})
							b.AddASN1(cbasn1.UTF8String, func(b *cryptobyte.Builder) { b.AddBytes([]byte(v)) })
						})
					})
				}
			})
		})
	})
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Critical: true, Value: b.BytesOrPanic()}
}

// RootsPEM is the CA's root certificate in PEM, for tpm.ParseRoots and
// --tpm-roots.
func (ca *CA) RootsPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root.Raw})
}

// AKPublicKeyPEM is the AK's public key (PKIX) in PEM: a --tpm-roots that
// pins the AK itself rather than trusting its CA.
func (ca *CA) AKPublicKeyPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(ca.ak.Public())
	if err != nil {
		panic(err) // our own RSA or ECDSA key
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// AKKey is the AK's public key.
func (ca *CA) AKKey() crypto.PublicKey { return ca.ak.Public() }

func newCACert(role string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("tpmtest: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "attestkms test TPM AK CA " + role, Organization: []string{testOrganization}},
		NotBefore:             CANotBefore,
		NotAfter:              CANotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("tpmtest: %w", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("tpmtest: %w", err)
	}
	return c, key, nil
}

func newSerial() (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("tpmtest: %w", err)
	}
	b[0] = b[0]&0x7f | 0x40 // positive, 16 bytes long
	return new(big.Int).SetBytes(b), nil
}

// Save writes the CA to dir, creating it if need be: RootsFile,
// IntermediateFile, AKCertFile, AKPublicFile and AKKeyFile (mode 0600). The
// CA keys are not kept anywhere: a loaded CA quotes, it does not certify.
// Save refuses to overwrite a file (the error wraps fs.ErrExist).
func (ca *CA) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("tpmtest: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.ak)
	if err != nil {
		return fmt.Errorf("tpmtest: %w", err)
	}
	cert := func(c *x509.Certificate) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	for _, f := range []struct {
		name string
		b    []byte
		mode os.FileMode
	}{
		{AKKeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600},
		{AKPublicFile, ca.AKPublic, 0o644},
		{AKCertFile, cert(ca.AKCert), 0o644},
		{IntermediateFile, cert(ca.Intermediate), 0o644},
		{RootsFile, ca.RootsPEM(), 0o644},
	} {
		if err := writeNew(filepath.Join(dir, f.name), f.b, f.mode); err != nil {
			return err
		}
	}
	return nil
}

func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("tpmtest: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("tpmtest: %w", err)
	}
	return nil
}

// LoadCA reads a CA that Save wrote to dir, checking that its parts belong
// together: the intermediate signed by the root, the AK certificate by the
// intermediate, and the AK's key in its certificate, its TPMT_PUBLIC and its
// private key file. A missing file's error wraps fs.ErrNotExist.
func LoadCA(dir string) (*CA, error) {
	root, err := readCert(filepath.Join(dir, RootsFile))
	if err != nil {
		return nil, err
	}
	inter, err := readCert(filepath.Join(dir, IntermediateFile))
	if err != nil {
		return nil, err
	}
	akCert, err := readCert(filepath.Join(dir, AKCertFile))
	if err != nil {
		return nil, err
	}
	if err := inter.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("tpmtest: %s is not signed by %s: %w", IntermediateFile, RootsFile, err)
	}
	if err := akCert.CheckSignatureFrom(inter); err != nil {
		return nil, fmt.Errorf("tpmtest: %s is not signed by %s: %w", AKCertFile, IntermediateFile, err)
	}
	keyPath := filepath.Join(dir, AKKeyFile)
	blk, err := readPEM(keyPath, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("tpmtest: %s: %w", keyPath, err)
	}
	ak, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("tpmtest: %s holds a %T", keyPath, k)
	}
	if !keyEqual(ak.Public(), akCert.PublicKey) {
		return nil, fmt.Errorf("tpmtest: %s is not the key of %s", keyPath, AKCertFile)
	}
	akPublic, err := os.ReadFile(filepath.Join(dir, AKPublicFile))
	if err != nil {
		return nil, fmt.Errorf("tpmtest: %w", err)
	}
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](akPublic)
	if err != nil {
		return nil, fmt.Errorf("tpmtest: %s: %w", AKPublicFile, err)
	}
	if pk, err := tpm2.Pub(*pub); err != nil || !keyEqual(ak.Public(), pk) {
		return nil, fmt.Errorf("tpmtest: %s is not the TPMT_PUBLIC of %s", AKPublicFile, keyPath)
	}
	return newCA(root, inter, akCert, akPublic, ak)
}

func keyEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func readPEM(path, typ string) (*pem.Block, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tpmtest: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != typ {
		return nil, fmt.Errorf("tpmtest: %s holds no PEM %s", path, typ)
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
		return nil, fmt.Errorf("tpmtest: %s: %w", path, err)
	}
	return c, nil
}
