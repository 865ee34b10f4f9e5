package nitro

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
// be something a forger cannot make: a document whose own signature
// verifies under its leaf's key proves nothing (the forger made the leaf),
// nor does a certificate naming the root (anyone can build a CA under that
// name). So before a unit is taken, firstLink verifies the first link of
// the chain that nothing yet vouches for: the certificate issued directly
// by a root, or by an intermediate already known to be genuine, checked
// with its issuer's key. That is one signature verification, bounded, like
// the document's own, by the per-access-key rate limit; a forged chain
// fails at its first forged link and spends nothing. The full verification
// (verifyChain, crypto/x509) still follows: this is an extra gate, never a
// reason to accept.
//
// An intermediate is known once its own link passed this gate or it lay on
// a path crypto/x509 verified. Without that memory a forger would copy a
// genuine intermediate (every real document carries them) above its own
// forged ones: the link checked would be the genuine one, and the budget
// spent on every such document. With it, each genuine intermediate the
// node has not seen lets a forger spend at most one unit, once: the next
// document checks the link below it. Knowing an intermediate only chooses
// which link the gate checks, so a wrong entry could at worst let one
// forgery spend the budget, never make a document verify.

// knownCA names an intermediate by the SHA-256 of its exact DER.
type knownCA = fifo.ChainKey

func knownKey(c *x509.Certificate) knownCA {
	return fifo.KeyOf("attestkms nitro known intermediate v1", c.Raw, nil)
}

// firstLink checks the first link of the document's chain that is not known
// to be genuine (see above). It walks up from leaf by issuer names through
// intermediates (the document's cabundle[1:], root first) until a root or a
// known intermediate names cur's issuer, then verifies cur's signature with
// that issuer's key; a certificate issued by a name found neither among
// the roots nor in the document cannot chain (crypto/x509 finds parents by
// name only), and is refused here too. Where the document holds two
// certificates of one name, which no device sends, a known one is taken,
// or else the one listed nearest the leaf.
func (v *Verifier) firstLink(leaf *x509.Certificate, intermediates []*x509.Certificate) error {
	cur, name := leaf, "certificate"
	for range len(intermediates) + 1 {
		var tried bool
		for _, root := range v.rootCerts {
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
			return fmt.Errorf("%w: %s %.64q is not signed by the configured %s root it names as its issuer", attest.ErrChain, name, cur.Subject.CommonName, v.profile.format)
		}
		var next *x509.Certificate
		var nextName string
		for i := len(intermediates) - 1; i >= 0; i-- {
			c := intermediates[i]
			if c == cur || !bytes.Equal(cur.RawIssuer, c.RawSubject) {
				continue
			}
			if _, ok := v.known.Get(knownKey(c)); ok {
				if err := cur.CheckSignatureFrom(c); err != nil {
					return fmt.Errorf("%w: %s %.64q is not signed by its issuer cabundle[%d] %.64q, an intermediate of this verifier's roots", attest.ErrChain, name, cur.Subject.CommonName, i+1, c.Subject.CommonName)
				}
				v.learn(cur, leaf)
				return nil
			}
			if next == nil {
				next, nextName = c, fmt.Sprintf("cabundle[%d]", i+1)
			}
		}
		if next == nil {
			return fmt.Errorf("%w: %s %.64q names an issuer that is neither a configured %s root nor in the document", attest.ErrChain, name, cur.Subject.CommonName, v.profile.format)
		}
		cur, name = next, nextName
	}
	return fmt.Errorf("%w: the document's certificates name each other as issuers in a loop", attest.ErrChain)
}

// learn remembers c, whose link firstLink or crypto/x509 has just verified,
// as a known intermediate, unless it is the leaf.
func (v *Verifier) learn(c, leaf *x509.Certificate) {
	if c != leaf {
		v.known.Put(knownKey(c), struct{}{})
	}
}
