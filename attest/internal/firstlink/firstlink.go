// Package firstlink is the gate before a verifier's budget for new
// certificate chains (attest.ColdChainRefused): what spends that budget must
// be something a forger cannot make.
//
// Evidence whose own signature verifies under the key of a certificate it
// carries proves nothing (the forger made the key and the certificate), nor
// does a certificate naming a root (anyone can build a CA under that name).
// So before a unit is taken, Known.Check verifies the first link of the
// chain that nothing yet vouches for: the certificate issued directly by a
// root, or by an intermediate already known to be genuine, checked with its
// issuer's key. That is one signature verification, bounded, like the
// evidence's own, by the per-access-key rate limit; a forged chain fails at
// its first forged link and spends nothing. The verifier's full
// verification (crypto/x509) still follows: this is an extra gate, never a
// reason to accept.
//
// An intermediate is known once its own link passed this gate or it lay on
// a path crypto/x509 verified (Learn). Without that memory a forger would
// copy a genuine intermediate (every real chain carries them) above forged
// certificates of its own: the link checked would be the genuine one, and
// the budget spent on every such piece of evidence. With it, each genuine
// intermediate the node has not seen lets a forger spend at most one unit,
// once: the next piece of evidence checks the link below it. Knowing an
// intermediate only chooses which link the gate checks, so a wrong entry
// could at worst let one forgery spend the budget, never make evidence
// verify. The memory is a bounded FIFO: a forger holding more genuine
// intermediates than its size can push old ones out and spend one unit again
// for each.
package firstlink

import (
	"bytes"
	"crypto/x509"
	"fmt"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/internal/fifo"
)

// Known are the intermediates a verifier knows to be genuine.
type Known struct {
	domain string
	cache  *fifo.Cache[fifo.ChainKey, struct{}]
}

// New remembers at most size intermediates; domain names the verifier's
// keys ("attestkms nitro known intermediate v1").
func New(domain string, size int) *Known {
	return &Known{domain: domain, cache: fifo.New[fifo.ChainKey, struct{}](size)}
}

func (k *Known) key(c *x509.Certificate) fifo.ChainKey { return fifo.KeyOf(k.domain, c.Raw, nil) }

// Learn remembers c, whose link Check or crypto/x509 has just verified, as
// a known intermediate, unless it is the leaf.
func (k *Known) Learn(c, leaf *x509.Certificate) {
	if c != leaf {
		k.cache.Put(k.key(c), struct{}{})
	}
}

// LearnPath remembers the intermediates of path, a chain crypto/x509 has
// just verified (leaf first, root last): all but its first and last
// certificates.
func (k *Known) LearnPath(path []*x509.Certificate) {
	for i := 1; i < len(path)-1; i++ {
		k.Learn(path[i], path[0])
	}
}

// Has reports whether c is a known intermediate.
func (k *Known) Has(c *x509.Certificate) bool {
	_, ok := k.cache.Get(k.key(c))
	return ok
}

// Names say, in Check's errors, what the evidence calls its certificates.
type Names struct {
	Leaf         string             // "certificate", "ak_cert"
	Intermediate func(i int) string // the i-th of Check's intermediates: "cabundle[3]"
	Root         string             // "the configured nitro root", "the trusted AK CA"
	Roots        string             // "a configured nitro root", "a trusted AK CA"
	Chain        string             // where intermediates come from: "the document", "ak_chain"
}

// Check checks the first link of leaf's chain that is not known to be
// genuine (the package doc). It walks up from leaf by issuer names through
// intermediates (in the order given: where two hold one name, which no
// device sends, a known one is taken, or else the first) until a root or a
// known intermediate names cur's issuer, then verifies cur's signature with
// that issuer's key, and learns cur. A certificate issued by a name found
// neither among roots nor in intermediates cannot chain (crypto/x509 finds
// parents by name only) and is refused too, as is a loop of names. Errors
// wrap attest.ErrChain.
func (k *Known) Check(leaf *x509.Certificate, intermediates, roots []*x509.Certificate, n Names) error {
	cur, name := leaf, n.Leaf
	for range len(intermediates) + 1 {
		var tried bool
		for _, root := range roots {
			if !bytes.Equal(cur.RawIssuer, root.RawSubject) {
				continue
			}
			tried = true
			if cur.CheckSignatureFrom(root) == nil {
				k.Learn(cur, leaf)
				return nil
			}
		}
		if tried {
			return fmt.Errorf("%w: %s %.64q is not signed by %s it names as its issuer", attest.ErrChain, name, cur.Subject.CommonName, n.Root)
		}
		var next *x509.Certificate
		var nextName string
		for i, c := range intermediates {
			// Only a CA can issue (crypto/x509 refuses any other as an
			// intermediate): else a forger would put a genuine leaf it
			// collected above one of its own, have the genuine leaf's
			// link checked, learned and a unit spent, for a chain that
			// can never verify.
			if c == cur || !c.BasicConstraintsValid || !c.IsCA || !bytes.Equal(cur.RawIssuer, c.RawSubject) {
				continue
			}
			if k.Has(c) {
				if err := cur.CheckSignatureFrom(c); err != nil {
					return fmt.Errorf("%w: %s %.64q is not signed by its issuer %s %.64q, an intermediate of this verifier's roots", attest.ErrChain, name, cur.Subject.CommonName, n.Intermediate(i), c.Subject.CommonName)
				}
				k.Learn(cur, leaf)
				return nil
			}
			if next == nil {
				next, nextName = c, n.Intermediate(i)
			}
		}
		if next == nil {
			return fmt.Errorf("%w: %s %.64q names an issuer that is neither %s nor in %s", attest.ErrChain, name, cur.Subject.CommonName, n.Roots, n.Chain)
		}
		cur, name = next, nextName
	}
	return fmt.Errorf("%w: %s's certificates name each other as issuers in a loop", attest.ErrChain, n.Chain)
}

// Len is how many intermediates are known.
func (k *Known) Len() int { return k.cache.Len() }

// Reset forgets every intermediate.
func (k *Known) Reset() { k.cache.Reset() }
