package tdx

import (
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/pem"
	"fmt"
)

// intelRootPEM is Intel's SGX Root CA, the root of every PCK chain and of
// the TCB signing certificate, as go-tdx-guest embeds it
// (verify/trusted_root.pem) and Intel publishes it
// (https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.pem).
//
//go:embed intel_sgx_root_ca.pem
var intelRootPEM []byte

// intelRootSHA256 pins the embedded root: a change to the file is caught
// here, not trusted.
const intelRootSHA256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"

// IntelRoots returns Intel's SGX Root CA, checked against its pinned
// fingerprint.
func IntelRoots() ([]*x509.Certificate, error) {
	blk, _ := pem.Decode(intelRootPEM)
	if blk == nil {
		return nil, fmt.Errorf("tdx: embedded Intel root is not PEM")
	}
	if fp := sha256.Sum256(blk.Bytes); hex.EncodeToString(fp[:]) != intelRootSHA256 {
		return nil, fmt.Errorf("tdx: embedded Intel root has fingerprint %x, not the pinned %s", fp, intelRootSHA256)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("tdx: embedded Intel root: %v", err)
	}
	return []*x509.Certificate{c}, nil
}

// ParseRoots parses a PEM bundle of roots for Options.Roots (--tdx-roots):
// one to four CERTIFICATE blocks without headers, and nothing else but
// white space around them. A damaged block, a block of another type or
// text outside the blocks is an error, not read around.
func ParseRoots(pemBytes []byte) ([]*x509.Certificate, error) {
	certs, err := pemCerts(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("tdx roots: %v", err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("tdx roots: no certificate")
	}
	return certs, nil
}

func hexDecode(s string) ([]byte, error) { return hex.DecodeString(s) }
