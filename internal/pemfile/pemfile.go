// Package pemfile reads the certificate files the commands are given: the
// trust roots of attestkms (--nitro-roots, --qingtian-roots; and the bytes
// of --snp-roots and --tpm-roots, which attest's own parsers then read) and
// what enclavetool sends or trusts (--tpm-ak-chain, --snp-vcek, --ca-bundle).
//
// The files are the operator's, not an attacker's, but a wrong one must get
// an error, not a long parse or a silently smaller set of roots: a bundle is
// at most MaxBundle bytes and MaxCertificates certificates (attest/snp's
// bounds for AMD's roots, the largest bundle we know), holds nothing but
// CERTIFICATE blocks without PEM headers (text between blocks, as bundles
// with comments have, is allowed), every block decodes (encoding/pem skips
// a block it cannot read, which would drop a root unnoticed), every
// certificate parses, and there is at least one. A TLS trust store
// (enclavetool --ca-bundle, AWS_CA_BUNDLE) may be a system's whole CA bundle,
// and has bounds of its size instead (TrustStore).
package pemfile

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
)

const (
	// MaxBundle bounds a file: AMD's six SEV-SNP chains, the largest bundle
	// we know, are 28 KB of PEM (attest/snp's bound too).
	MaxBundle = 256 << 10
	// MaxCertificates bounds the certificates in a file: attest/snp's 32
	// pairs of roots.
	MaxCertificates = 64

	// MaxTrustStore and MaxTrustStoreCertificates bound a TLS trust store:
	// a system's CA bundle, which AWS_CA_BUNDLE often names, is some 150
	// certificates and 220 KB (Debian's, Mozilla's roots).
	MaxTrustStore             = 4 << 20
	MaxTrustStoreCertificates = 1024
)

// ReadFile reads path whole, refusing a file of more than MaxBundle bytes.
func ReadFile(path string) ([]byte, error) { return readFile(path, MaxBundle) }

func readFile(path string, maxBytes int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(maxBytes)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBytes {
		return nil, fmt.Errorf("%s: more than %d bytes, larger than any certificate bundle", path, maxBytes)
	}
	return b, nil
}

// Certificates reads the PEM CERTIFICATE blocks of the file at path, with
// the checks of the package doc.
func Certificates(path string) ([]*x509.Certificate, error) {
	b, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parsePEM(path, b, MaxCertificates)
}

// TrustStore reads a TLS trust store, such as a system's CA bundle, as
// Certificates reads a file but with MaxTrustStore and
// MaxTrustStoreCertificates as its bounds.
func TrustStore(path string) ([]*x509.Certificate, error) {
	b, err := readFile(path, MaxTrustStore)
	if err != nil {
		return nil, err
	}
	return parsePEM(path, b, MaxTrustStoreCertificates)
}

// CertificatesOrDER reads a file as Certificates does, or, if the whole
// file is one DER certificate (as AMD's KDS and TPM vendors serve them),
// that certificate.
func CertificatesOrDER(path string) ([]*x509.Certificate, error) {
	b, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	if c, err := x509.ParseCertificate(b); err == nil {
		return []*x509.Certificate{c}, nil
	}
	return parsePEM(path, b, MaxCertificates)
}

func parsePEM(path string, b []byte, maxCerts int) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		blk, rest := pem.Decode(b)
		if blk == nil {
			if bytes.Contains(b, []byte("-----BEGIN")) {
				return nil, fmt.Errorf("%s: block %d is not valid PEM", path, n)
			}
			break
		}
		// pem.Decode skips a block it cannot read, and the text before the
		// one it returns: one BEGIN line in what it consumed, or a block was
		// lost.
		if bytes.Count(b[:len(b)-len(rest)], []byte("-----BEGIN")) != 1 {
			return nil, fmt.Errorf("%s: block %d is not valid PEM", path, n)
		}
		b = rest
		switch {
		case blk.Type != "CERTIFICATE":
			return nil, fmt.Errorf("%s: a %q PEM block, want CERTIFICATE", path, blk.Type)
		case len(blk.Headers) != 0:
			return nil, fmt.Errorf("%s: certificate %d has PEM headers", path, n)
		case n > maxCerts:
			return nil, fmt.Errorf("%s: more than %d certificates", path, maxCerts)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", path, n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return certs, nil
}
