package main

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/snp"
	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/internal/pemfile"
)

// evidenceFlags are the trust settings serve and verify-evidence share, so
// that verify-evidence runs exactly the server's verification.
type evidenceFlags struct {
	nitroRoots    string
	qingtianRoots string
	maxAge        time.Duration
	snpRoots      string
	snpMaxVMPL    uint
	snpMinTCB     string
	tpmRoots      string
	tpmAllowSHA1  bool
	tdx           tdxFlags
	// allowDebug is serve's --allow-debug-enclaves (verify-evidence: true,
	// so that it shows a debug guest's claims, with a warning): the
	// verifiers admit evidence of debug-mode enclaves and guests, which
	// they otherwise refuse (attest.ErrPolicy). Nothing else judges it.
	allowDebug bool
	// coldChain is serve's budget for certificate chains the verifiers
	// have not verified before (--cold-chain-limit; attest.ErrThrottled
	// when spent); nil, verify-evidence's, admits every chain.
	coldChain func() bool
}

func (f *evidenceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.nitroRoots, "nitro-roots", "", "replace the embedded AWS Nitro Enclaves root G1 with the roots in this PEM `file` (e.g. attestsim nitro-ca's root.pem)")
	fs.StringVar(&f.qingtianRoots, "qingtian-roots", "", "trust Huawei Qingtian attestation documents chaining to the roots in this PEM `file` (no default)")
	fs.DurationVar(&f.maxAge, "attestation-max-age", 5*time.Minute, "refuse Nitro and Qingtian attestation documents older than this `duration` (SEV-SNP reports and TPM quotes carry no time: docs/evidence.md)")
	fs.StringVar(&f.snpRoots, "snp-roots", "", "replace the embedded AMD roots (Milan, Genoa, Turin) with the ASK and ARK certificates, in that order, in this PEM `file` (e.g. attestsim snp-ca's roots.pem; VLEK-signed reports need their ASVK and ARK here)")
	fs.UintVar(&f.snpMaxVMPL, "snp-max-vmpl", 0, "accept SEV-SNP reports requested at this `VMPL` or a more privileged one (0 to 3)")
	fs.StringVar(&f.snpMinTCB, "snp-min-tcb", "", "refuse SEV-SNP reports whose REPORTED_TCB is below this `TCB_VERSION` (hex, e.g. 0xdb18000000000004) in any component (default: no minimum)")
	fs.StringVar(&f.tpmRoots, "tpm-roots", "", "trust TPM quotes whose attestation key's certificate chains to a CERTIFICATE, or whose key is a PUBLIC KEY, in this PEM `file` (no default: without it, TPM evidence is refused)")
	fs.BoolVar(&f.tpmAllowSHA1, "tpm-allow-sha1", false, "accept TPM quotes over the SHA-1 PCR bank (collisions in SHA-1 are practical: tests and legacy hosts only)")
	f.tdx.register(fs)
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
	v, err := nitro.New(nitro.Options{Format: attest.FormatNitro, Roots: nitroRoots, MaxAge: f.maxAge, AllowDebug: f.allowDebug, ColdChain: f.coldChain})
	if err != nil {
		return nil, err
	}
	set.COSE = append(set.COSE, v)
	if f.qingtianRoots != "" {
		roots, err := loadRoots(f.qingtianRoots)
		if err != nil {
			return nil, err
		}
		v, err := nitro.New(nitro.Options{Format: attest.FormatQingtian, Roots: roots, MaxAge: f.maxAge, AllowDebug: f.allowDebug, ColdChain: f.coldChain})
		if err != nil {
			return nil, err
		}
		set.COSE = append(set.COSE, v)
	}
	set.Envelopes = map[attest.Format]attest.Verifier{}
	if f.snpMaxVMPL > 3 {
		return nil, usageError("--snp-max-vmpl must be 0 to 3")
	}
	snpOpts := snp.Options{AllowDebug: f.allowDebug, MaxVMPL: uint32(f.snpMaxVMPL), ColdChain: f.coldChain}
	if f.snpMinTCB != "" {
		tcb, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(f.snpMinTCB), "0x"), 16, 64)
		if err != nil {
			return nil, usageError("--snp-min-tcb %q is not a 64-bit hex TCB_VERSION", f.snpMinTCB)
		}
		snpOpts.MinTCB = tcb
	}
	if f.snpRoots != "" {
		b, err := pemfile.ReadFile(f.snpRoots)
		if err != nil {
			return nil, fmt.Errorf("reading --snp-roots: %w", err)
		}
		if snpOpts.Roots, err = snp.ParseRoots(b); err != nil {
			return nil, fmt.Errorf("--snp-roots %s: %w", f.snpRoots, err)
		}
	}
	sv, err := snp.New(snpOpts)
	if err != nil {
		return nil, err
	}
	set.Envelopes[attest.FormatSEVSNP] = sv
	if f.tpmRoots != "" {
		b, err := pemfile.ReadFile(f.tpmRoots)
		if err != nil {
			return nil, fmt.Errorf("reading --tpm-roots: %w", err)
		}
		roots, err := tpm.ParseRoots(b)
		if err != nil {
			return nil, fmt.Errorf("--tpm-roots %s: %w", f.tpmRoots, err)
		}
		tv, err := tpm.New(tpm.Options{Roots: roots, AllowSHA1: f.tpmAllowSHA1, ColdChain: f.coldChain})
		if err != nil {
			return nil, err
		}
		set.Envelopes[attest.FormatTPM2] = tv
	}
	tdxv, err := f.tdx.verifier(f.allowDebug, f.coldChain)
	if err != nil {
		return nil, err
	}
	set.Envelopes[attest.FormatTDX] = tdxv
	return set, nil
}

// loadRoots reads the CERTIFICATE blocks of a PEM file (internal/pemfile:
// bounded, nothing but certificates, at least one); "" is nil (the format's
// default).
func loadRoots(path string) ([]*x509.Certificate, error) {
	if path == "" {
		return nil, nil
	}
	certs, err := pemfile.Certificates(path)
	var pe *fs.PathError
	switch {
	case errors.As(err, &pe):
		return nil, fmt.Errorf("reading roots: %w", err)
	case err != nil:
		return nil, fmt.Errorf("roots %w", err)
	}
	return certs, nil
}
