package nitro

import (
	"crypto/x509"
	"fmt"

	"github.com/attestkms/attestkms/attest/internal/firstlink"
)

// firstLink is the gate before the budget for new chains
// (Options.ColdChain; package firstlink has the rule and its threat
// model): the first link of the document's chain not known to be genuine,
// verified with its issuer's key. intermediates are the document's
// cabundle[1:], root first.
func (v *Verifier) firstLink(leaf *x509.Certificate, intermediates []*x509.Certificate) error {
	// Nearest the leaf first: where two certificates hold one name, the
	// one listed nearest the leaf is tried.
	n := len(intermediates)
	near := make([]*x509.Certificate, n)
	for i, c := range intermediates {
		near[n-1-i] = c
	}
	format := v.profile.format
	return v.known.Check(leaf, near, v.rootCerts, firstlink.Names{
		Leaf:         "certificate",
		Intermediate: func(i int) string { return fmt.Sprintf("cabundle[%d]", n-i) },
		Root:         fmt.Sprintf("the configured %s root", format),
		Roots:        fmt.Sprintf("a configured %s root", format),
		Chain:        "the document",
	})
}
