package nitro

import (
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/internal/fifo"
	"github.com/attestkms/attestkms/attest/internal/validity"
)

// chainEntry is a certificate chain verified to a Verifier's roots: all a
// later document carrying the same certificates needs.
type chainEntry struct {
	key         chainKey
	leaf        *x509.Certificate // until verifyChain is done
	leafName    string            // for messages
	leafKeyName string            // "ECDSA P-384", for messages
	leafSuite   *suite            // the suite the leaf's key signs with; nil if none
	leafKey     *ecdsa.PublicKey  // set with leafSuite; crypto/x509 put its point on the curve
	// windows are the validity periods of the leaf, of every intermediate
	// the document carries (cabundle[1:]) and of the root the chain
	// reached: on a cache hit, the only checks that depend on the time.
	windows []validity.Window
}

func (c *chainEntry) checkValidity(now time.Time) error {
	for _, w := range c.windows {
		if err := w.Check(now); err != nil {
			return err
		}
	}
	return nil
}

// chainKey names a chain in the cache: the SHA-256 of the DER of the leaf
// and of every intermediate, in order, each prefixed with its length so that
// no two lists of certificates share a key. cabundle[0] is not part of it:
// it is never read.
type chainKey = fifo.ChainKey

func keyOf(leaf []byte, intermediates [][]byte) chainKey {
	return fifo.KeyOf("attestkms nitro chain v1", leaf, intermediates)
}

// lookup returns the document's chain from the cache, its validity checked
// again at now, or, when the same certificates were not verified before, an
// entry with the leaf's key only, which verifyChain must complete: checking
// the document's signature (one ECDSA verification) before the chain (four
// or more) makes a forged or damaged document cheap to refuse.
func (v *Verifier) lookup(d *document, now time.Time) (c *chainEntry, cached bool, err error) {
	key := keyOf(d.certificate, d.cabundle[1:])
	if c, ok := v.cache.Get(key); ok {
		if err := c.checkValidity(now); err != nil {
			return nil, false, err
		}
		return c, true, nil
	}
	leaf, err := x509.ParseCertificate(d.certificate)
	if err != nil {
		return nil, false, fmt.Errorf("%w: certificate: %v", attest.ErrChain, err)
	}
	c = &chainEntry{key: key, leaf: leaf, leafName: leaf.Subject.CommonName, leafKeyName: leaf.PublicKeyAlgorithm.String()}
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); ok {
		c.leafKeyName = "ECDSA " + pub.Curve.Params().Name
		for _, s := range suites {
			if pub.Curve == s.curve {
				c.leafSuite = s
			}
		}
		if c.leafSuite != nil {
			c.leafKey = pub
		}
	}
	return c, false, nil
}

// verifyChain completes a new entry: it verifies certificate →
// cabundle[1:] → a configured root at now. cabundle[0], the root the
// document names, is ignored: trusting it would let any document bring its
// own root. After the checks that cost no signature, and before the whole
// chain, it verifies the chain's first link not known to be genuine
// (firstLink) and only then asks Options.ColdChain.
func (v *Verifier) verifyChain(c *chainEntry, d *document, now time.Time) error {
	if now.IsZero() {
		// x509 would read the clock instead.
		return fmt.Errorf("%w: no verification time given", attest.ErrExpired)
	}
	type named struct {
		name string
		cert *x509.Certificate
	}
	certs := []named{{fmt.Sprintf("certificate %.64q", c.leafName), c.leaf}}
	pool := x509.NewCertPool()
	for i, der := range d.cabundle[1:] {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("%w: cabundle[%d]: %v", attest.ErrChain, i+1, err)
		}
		pool.AddCert(cert)
		certs = append(certs, named{fmt.Sprintf("cabundle[%d] %.64q", i+1, cert.Subject.CommonName), cert})
	}
	if algs := v.profile.certSigAlgs; algs != nil {
		for _, n := range certs {
			if !slices.Contains(algs, n.cert.SignatureAlgorithm) {
				return fmt.Errorf("%w: %s is signed with %s; the %s PKI signs with %s", attest.ErrChain, n.name, n.cert.SignatureAlgorithm, v.profile.format, algs[0])
			}
		}
	}
	if ku := c.leaf.KeyUsage; ku != 0 && ku&x509.KeyUsageDigitalSignature == 0 {
		return fmt.Errorf("%w: %s may not sign (no digitalSignature key usage)", attest.ErrChain, certs[0].name)
	}
	windows := make([]validity.Window, 0, len(certs)+1)
	for _, n := range certs {
		w := validity.Of(n.name, n.cert)
		if err := w.Check(now); err != nil {
			return err
		}
		windows = append(windows, w)
	}

	// Only now, the one link that shows the chain is not a forgery
	// (firstlink.go), then the budget, then the whole chain.
	intermediates := make([]*x509.Certificate, 0, len(certs)-1)
	for _, n := range certs[1:] {
		intermediates = append(intermediates, n.cert)
	}
	if err := v.firstLink(c.leaf, intermediates); err != nil {
		return err
	}
	if v.coldChain != nil && !v.coldChain() {
		return attest.ColdChainRefused("document's certificate chain")
	}

	v.chainVerifications.Add(1)
	chains, err := c.leaf.Verify(x509.VerifyOptions{
		Roots:         v.roots,
		Intermediates: pool,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		var invalid x509.CertificateInvalidError
		if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
			return fmt.Errorf("%w: %v", attest.ErrExpired, err)
		}
		return fmt.Errorf("%w: %s does not chain to a configured %s root: %v", attest.ErrChain, certs[0].name, v.profile.format, err)
	}
	path := chains[0]
	v.known.LearnPath(path)
	root := path[len(path)-1]
	c.windows = append(windows, validity.Of(fmt.Sprintf("root %.64q", root.Subject.CommonName), root))
	c.leaf = nil // what a cache hit needs is in the entry
	return nil
}
