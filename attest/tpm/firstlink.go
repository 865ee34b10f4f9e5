package tpm

import (
	"bytes"
	"crypto/x509"

	"github.com/attestkms/attestkms/attest/internal/firstlink"
)

// firstLink is the gate before the budget for new chains
// (Options.ColdChain; package firstlink has the rule and its threat
// model): the first link of the AK certificate's chain not known to be
// genuine, verified with its issuer's key. An ak_cert that is itself a root
// certificate needs no link. intermediates are akPath's, names their
// names in ak_chain.
func (v *Verifier) firstLink(leaf *x509.Certificate, intermediates []*x509.Certificate, names []string) error {
	for _, root := range v.roots.certs {
		if bytes.Equal(leaf.Raw, root.Raw) {
			return nil
		}
	}
	return v.known.Check(leaf, intermediates, v.roots.certs, firstlink.Names{
		Leaf:         "ak_cert",
		Intermediate: func(i int) string { return names[i] },
		Root:         "the trusted AK CA",
		Roots:        "a trusted AK CA",
		Chain:        "ak_chain",
	})
}
