package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/attestkms/attestkms/attest/tdx"
	"github.com/attestkms/attestkms/internal/pemfile"
)

const tdxCollateralUsage = `Usage: attestkms tdx-collateral check --dir DIR [--tdx-roots PEM] [--at RFC3339]

Reads an Intel TDX collateral directory (serve --tdx-collateral DIR; its
layout is in docs/evidence.md), verifies every signature in it to the
roots (Intel's SGX Root CA unless --tdx-roots), and prints what it holds:
the TCB Info per FMSPC with its tcbEvaluationDataNumber and nextUpdate, the
QE Identity, the CRLs, and until when all of it is current.

Exit status: 0 sound and current at --at (default now), 1 problems (a
signature that does not verify, a malformed file, collateral past its
nextUpdate, a certificate that signed it expired or not yet valid, or
revoked by the root CRL, a signer whose root's CRL is not held, no QE
Identity or CRLs), 2 usage, 3 unreadable directory.

Example:
  attestkms tdx-collateral check --dir /etc/attestkms/tdx-collateral
`

func runTDXCollateral(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, tdxCollateralUsage)
			return nil
		}
		return usageError("attestkms tdx-collateral check: the one tdx-collateral command")
	}
	flags := newFlagSet("tdx-collateral check", tdxCollateralUsage, stdout, stderr)
	dir := flags.String("dir", "", "the collateral `directory`")
	rootsFile := flags.String("tdx-roots", "", "the roots, a PEM `file` (default: Intel's SGX Root CA)")
	at := flags.String("at", "", "judge currency at this `time` (RFC 3339; default now)")
	if _, err := parseFlags(flags, args[1:], 0); err != nil {
		return err
	}
	if *dir == "" {
		return usageError("--dir is required")
	}
	now := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return usageError("--at %q is not RFC 3339", *at)
		}
		now = t
	}
	var parsed []*x509.Certificate
	if *rootsFile != "" {
		b, err := pemfile.ReadFile(*rootsFile)
		if err != nil {
			return readError(fmt.Errorf("reading --tdx-roots: %w", err))
		}
		if parsed, err = tdx.ParseRoots(b); err != nil {
			return usageError("--tdx-roots %s: %v", *rootsFile, err)
		}
	}
	c, err := tdx.LoadCollateralDir(*dir, parsed)
	var pe *fs.PathError
	switch {
	case errors.As(err, &pe):
		return readError(err)
	case err != nil:
		return &exitError{code: 1, err: err}
	}
	var problems []string
	for _, f := range c.FMSPCs() {
		i := c.TCBInfos[f].Info
		fmt.Fprintf(stdout, "tcb info   fmspc %s  evaluation %d  issued %s  next update %s\n", f, i.TcbEvaluationDataNumber, i.IssueDate.UTC().Format(time.RFC3339), i.NextUpdate.UTC().Format(time.RFC3339))
		if now.After(i.NextUpdate) {
			problems = append(problems, "tcb info for fmspc "+f+" is past its next update")
		}
		problems = appendInvalid(problems, "tcb info for fmspc "+f+": signing certificate", c.TCBInfos[f].Signer, now)
	}
	if len(c.TCBInfos) == 0 {
		problems = append(problems, "no tcb info")
	}
	if q := c.QEIdentity; q != nil {
		fmt.Fprintf(stdout, "qe identity  evaluation %d  issued %s  next update %s\n", q.Identity.TcbEvaluationDataNumber, q.Identity.IssueDate.UTC().Format(time.RFC3339), q.Identity.NextUpdate.UTC().Format(time.RFC3339))
		if now.After(q.Identity.NextUpdate) {
			problems = append(problems, "qe identity is past its next update")
		}
		problems = appendInvalid(problems, "qe identity: signing certificate", q.Signer, now)
	} else {
		problems = append(problems, "no qe identity")
	}
	for _, l := range c.PCKCRLs {
		fmt.Fprintf(stdout, "pck crl    %q  %d revoked  next update %s\n", l.Issuer.Subject.CommonName, len(l.List.RevokedCertificateEntries), l.List.NextUpdate.UTC().Format(time.RFC3339))
		if now.After(l.List.NextUpdate) {
			problems = append(problems, "pck crl of "+l.Issuer.Subject.CommonName+" is past its next update")
		}
		problems = appendInvalid(problems, "pck crl: issuer", l.Issuer, now)
	}
	if len(c.PCKCRLs) == 0 {
		problems = append(problems, "no pck crl")
	}
	if l := c.RootCRL; l != nil {
		fmt.Fprintf(stdout, "root crl   %d revoked  next update %s\n", len(l.List.RevokedCertificateEntries), l.List.NextUpdate.UTC().Format(time.RFC3339))
		if now.After(l.List.NextUpdate) {
			problems = append(problems, "root crl is past its next update")
		}
		problems = appendInvalid(problems, "root crl: issuer", l.Issuer, now)
	} else {
		problems = append(problems, "no root crl")
	}
	problems = appendRevoked(problems, c)
	if u := c.Until(); !u.IsZero() { // an empty directory holds nothing current
		fmt.Fprintf(stdout, "current until %s\n", u.UTC().Format(time.RFC3339))
	}
	if len(problems) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%s", strings.Join(problems, "; "))}
	}
	return nil
}

// appendInvalid adds to problems what makes c, a certificate that signed
// collateral, invalid at now: the server refuses collateral whose signer
// is expired or not yet valid, so a check that passed it would promise
// what the server does not do.
func appendInvalid(problems []string, what string, c *x509.Certificate, now time.Time) []string {
	switch {
	case now.Before(c.NotBefore):
		return append(problems, fmt.Sprintf("%s %q is not valid until %s", what, c.Subject.CommonName, c.NotBefore.UTC().Format(time.RFC3339)))
	case now.After(c.NotAfter):
		return append(problems, fmt.Sprintf("%s %q expired at %s", what, c.Subject.CommonName, c.NotAfter.UTC().Format(time.RFC3339)))
	}
	return problems
}

// appendRevoked adds to problems what the server would refuse for
// revocation: a collateral signer whose root has no CRL held (with several
// roots, the directory's root CRL may be another root's), or one the root
// CRL revokes, and a PCK CA the root CRL revokes.
func appendRevoked(problems []string, c *tdx.Collateral) []string {
	l := c.RootCRL
	if l == nil {
		return problems // "no root crl" is said already
	}
	signer := func(what string, s, root *x509.Certificate) {
		switch {
		case root != nil && !root.Equal(l.Issuer):
			problems = append(problems, fmt.Sprintf("%s: no CRL of its root %q is held (the root crl is %q's)", what, root.Subject.CommonName, l.Issuer.Subject.CommonName))
		case l.Revokes(s):
			problems = append(problems, fmt.Sprintf("%s %q (serial %x) is revoked by the root crl", what, s.Subject.CommonName, s.SerialNumber))
		}
	}
	for _, f := range c.FMSPCs() {
		signer("tcb info for fmspc "+f+": signing certificate", c.TCBInfos[f].Signer, c.TCBInfos[f].Root)
	}
	if q := c.QEIdentity; q != nil {
		signer("qe identity: signing certificate", q.Signer, q.Root)
	}
	for _, p := range c.PCKCRLs {
		if p.Issuer.CheckSignatureFrom(l.Issuer) == nil && l.Revokes(p.Issuer) {
			problems = append(problems, fmt.Sprintf("pck crl: issuer %q (serial %x) is revoked by the root crl", p.Issuer.Subject.CommonName, p.Issuer.SerialNumber))
		}
	}
	return problems
}
