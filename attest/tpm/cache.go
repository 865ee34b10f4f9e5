package tpm

import (
	"crypto/x509"
	"time"

	"github.com/attestkms/attestkms/attest/internal/fifo"
	"github.com/attestkms/attestkms/attest/internal/validity"
)

// The AK chain cache: a quote from a TPM already seen costs its own
// signature, not its AK certificate's parsing and chain (two or more
// signature verifications, and most of a certified quote's time).
//
// Soundness: an entry is keyed by the SHA-256 of the exact DER of ak_cert
// and of every ak_chain certificate on its issuer path, in order (keyOf of
// akPath's), and each Verifier has its own cache, whose roots never change.
// x509's verdict on a chain depends on nothing but those bytes, the roots
// and the time (it is given only the path's certificates); a hit is used only if
// every certificate of the verified path (leaf, intermediates, root) is
// valid at the new time, and otherwise the chain is verified again from
// scratch, which reports what is wrong. Everything else — ak_public against
// the cached leaf's key, the quote's signature with that key, the PCRs, the
// policy and the binding — is checked on every call. An entry is made only
// from a chain that verified to the roots, so an attacker can evict entries
// (with other genuinely certified AKs) but not add false ones. The cached
// leaf is shared between goroutines and never modified after it is cached.

type chainKey = fifo.ChainKey

func keyOf(leaf []byte, intermediates [][]byte) chainKey {
	return fifo.KeyOf("attestkms tpm ak chain v1", leaf, intermediates)
}

// verifiedChain is an ak_cert that chained to the roots, and the validity
// periods of the path it chained by.
type verifiedChain struct {
	leaf    *x509.Certificate
	windows []validity.Window
}

// validAt reports whether every certificate of the path is valid at now
// (never at the zero time).
func (c *verifiedChain) validAt(now time.Time) bool {
	for _, w := range c.windows {
		if !w.Contains(now) {
			return false
		}
	}
	return !now.IsZero()
}

func (c *verifiedChain) leafOrNil() *x509.Certificate {
	if c == nil {
		return nil
	}
	return c.leaf
}
