package tpm

import (
	"bytes"
	"crypto/x509"
	"fmt"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/internal/fifo"
)

// The gate before the budget for new chains (Options.ColdChain).
//
// The budget is shared by every client of the node, so what spends it must
// be something a forger cannot make: a quote whose signature verifies with
// the AK of ak_cert proves nothing (the forger made the AK and its
// certificate), nor does a certificate naming a root (anyone can build a CA
// under that name). So before a unit is taken, firstLink verifies the first
// link of the chain that nothing yet vouches for: the certificate issued
// directly by a root certificate, or by an intermediate already known to be
// genuine, checked with its issuer's key. That is one signature
// verification, bounded, like the quote's own, by the per-access-key rate
// limit; a forged chain fails at its first forged link and spends nothing.
// The full verification (verifyPath, crypto/x509) still follows: this is an
// extra gate, never a reason to accept.
//
// An intermediate is known once its own link passed this gate or it lay on
// a path crypto/x509 verified. Without that memory a forger would copy a
// genuine intermediate (a vendor's AK CA is in every chain it issues) above
// its own forged AK certificate: the link checked would be the genuine one,
// and the budget spent on every such quote. With it, each genuine
// intermediate the node has not seen lets a forger spend at most one unit,
// once: the next quote checks the link below it. Knowing an intermediate
// only chooses which link the gate checks, so a wrong entry could at worst
// let one forgery spend the budget, never make a quote verify.

// knownCA names an intermediate by the SHA-256 of its exact DER.
type knownCA = fifo.ChainKey

func knownKey(c *x509.Certificate) knownCA {
	return fifo.KeyOf("attestkms tpm known intermediate v1", c.Raw, nil)
}

// firstLink checks the first link of the AK certificate's chain that is not
// known to be genuine (see above). An ak_cert that is itself a root
// certificate needs no link. Otherwise it walks up from leaf by issuer
// names through intermediates (ak_chain) until a root certificate or a known
// intermediate names cur's issuer, then verifies cur's signature with that
// issuer's key; a certificate issued by a name found neither among the roots
// nor in ak_chain cannot chain (crypto/x509 finds parents by name only), and
// is refused here too. Where ak_chain holds two certificates of one name, a
// known one is taken, or else the first listed.
func (v *Verifier) firstLink(leaf *x509.Certificate, intermediates []*x509.Certificate) error {
	for _, root := range v.roots.certs {
		if bytes.Equal(leaf.Raw, root.Raw) {
			return nil
		}
	}
	cur, name := leaf, "ak_cert"
	for range len(intermediates) + 1 {
		var tried bool
		for _, root := range v.roots.certs {
			if !bytes.Equal(cur.RawIssuer, root.RawSubject) {
				continue
			}
			tried = true
			if cur.CheckSignatureFrom(root) == nil {
				v.learn(cur, leaf)
				return nil
			}
		}
		if tried {
			return fmt.Errorf("%w: %s %.64q is not signed by the trusted AK CA it names as its issuer", attest.ErrChain, name, cur.Subject.CommonName)
		}
		var next *x509.Certificate
		var nextName string
		for i, c := range intermediates {
			if c == cur || !bytes.Equal(cur.RawIssuer, c.RawSubject) {
				continue
			}
			if _, ok := v.known.Get(knownKey(c)); ok {
				if err := cur.CheckSignatureFrom(c); err != nil {
					return fmt.Errorf("%w: %s %.64q is not signed by its issuer ak_chain[%d] %.64q, an intermediate of this verifier's roots", attest.ErrChain, name, cur.Subject.CommonName, i, c.Subject.CommonName)
				}
				v.learn(cur, leaf)
				return nil
			}
			if next == nil {
				next, nextName = c, fmt.Sprintf("ak_chain[%d]", i)
			}
		}
		if next == nil {
			return fmt.Errorf("%w: %s %.64q names an issuer that is neither a trusted AK CA nor in ak_chain", attest.ErrChain, name, cur.Subject.CommonName)
		}
		cur, name = next, nextName
	}
	return fmt.Errorf("%w: ak_cert and ak_chain name each other as issuers in a loop", attest.ErrChain)
}

// learn remembers c, whose link firstLink or crypto/x509 has just verified,
// as a known intermediate, unless it is the leaf.
func (v *Verifier) learn(c, leaf *x509.Certificate) {
	if c != leaf {
		v.known.Put(knownKey(c), struct{}{})
	}
}
