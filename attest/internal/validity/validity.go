// Package validity judges a certificate's validity window at the time a
// verifier was given: the one check, and the one wording, that every format
// (nitro, snp, tpm) uses for the certificates its evidence carries, its
// roots, and what its cache of verified chains remembers of them.
//
// The window includes both ends, as crypto/x509 has it (a certificate is
// valid at its NotBefore and at its NotAfter). The zero time is within no
// window: a verifier that was given no time must not be read as "now" (x509
// would read the clock), nor pass a certificate that claims year 1.
package validity

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/attestkms/attestkms/attest"
)

// A Window is a certificate's validity period, with the name errors call
// the certificate by ("ak_cert", "VCEK certificate", `root "..."`).
type Window struct {
	Name                string
	NotBefore, NotAfter time.Time
}

// Of returns c's window, named name.
func Of(name string, c *x509.Certificate) Window {
	return Window{Name: name, NotBefore: c.NotBefore, NotAfter: c.NotAfter}
}

// Contains reports whether t is within w (and not zero).
func (w Window) Contains(t time.Time) bool {
	return !t.IsZero() && !t.Before(w.NotBefore) && !t.After(w.NotAfter)
}

// Check returns nil when t is within w, and otherwise an attest.ErrExpired
// error that names the certificate, the end of the window it is outside
// and t.
func (w Window) Check(t time.Time) error {
	switch {
	case t.IsZero():
		return fmt.Errorf("%w: %s: no verification time given", attest.ErrExpired, w.Name)
	case t.Before(w.NotBefore):
		return fmt.Errorf("%w: %s is not valid before %s (verifying at %s)", attest.ErrExpired, w.Name, w.NotBefore.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339Nano))
	case t.After(w.NotAfter):
		return fmt.Errorf("%w: %s expired at %s (verifying at %s)", attest.ErrExpired, w.Name, w.NotAfter.UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339Nano))
	}
	return nil
}
