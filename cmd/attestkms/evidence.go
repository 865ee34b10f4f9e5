package main

import (
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
)

// evidenceFlags are the trust settings serve and verify-evidence share, so
// that verify-evidence runs exactly the server's verification.
type evidenceFlags struct {
	nitroRoots    string
	qingtianRoots string
	maxAge        time.Duration
}

func (f *evidenceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.nitroRoots, "nitro-roots", "", "replace the embedded AWS Nitro Enclaves root G1 with the roots in this PEM `file` (e.g. attestsim nitro-ca's root.pem)")
	fs.StringVar(&f.qingtianRoots, "qingtian-roots", "", "trust Huawei Qingtian attestation documents chaining to the roots in this PEM `file` (no default)")
	fs.DurationVar(&f.maxAge, "attestation-max-age", 5*time.Minute, "refuse attestation documents older than this `duration`")
}

// verifiers builds the format → verifier set from the flags: the one place the
// trusted evidence formats are wired.
func (f *evidenceFlags) verifiers() (*attest.Set, error) {
	if f.maxAge <= 0 {
		return nil, usageError("--attestation-max-age must be positive")
	}
	set := &attest.Set{}
	nitroRoots, err := loadRoots(f.nitroRoots)
	if err != nil {
		return nil, err
	}
	v, err := nitro.New(nitro.Options{Format: attest.FormatNitro, Roots: nitroRoots, MaxAge: f.maxAge})
	if err != nil {
		return nil, err
	}
	set.COSE = append(set.COSE, v)
	if f.qingtianRoots != "" {
		roots, err := loadRoots(f.qingtianRoots)
		if err != nil {
			return nil, err
		}
		v, err := nitro.New(nitro.Options{Format: attest.FormatQingtian, Roots: roots, MaxAge: f.maxAge})
		if err != nil {
			return nil, err
		}
		set.COSE = append(set.COSE, v)
	}
	return set, nil
}

// loadRoots reads the CERTIFICATE blocks of a PEM file; "" is nil (the
// format's default). A file with anything else, or no certificate, is an error.
func loadRoots(path string) ([]*x509.Certificate, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading roots: %w", err)
	}
	var certs []*x509.Certificate
	for len(b) > 0 {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("roots %s: a %q PEM block, want CERTIFICATE", path, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("roots %s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("roots %s: no PEM certificate in it", path)
	}
	return certs, nil
}
