package tpm

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Roots are what a Verifier trusts to vouch for an attestation key (AK):
// certificates that an AK certificate must chain to, and AK public keys
// pinned outright. Every certificate is a trust anchor, whether it is
// self-signed or not: to trust one intermediate CA of a vendor (say Google's
// vTPM AK signer) and not the others under its root, list that intermediate
// alone. Roots are immutable once made.
type Roots struct {
	certs []*x509.Certificate
	pool  *x509.CertPool
	// keys are the pinned AKs' SubjectPublicKeyInfo DER, as
	// x509.MarshalPKIXPublicKey encodes them (one canonical encoding per
	// key, so that comparing bytes compares keys).
	keys map[string]bool
}

// pemCertificate and pemPublicKey are the only PEM block types ParseRoots
// reads; anything else in the file is an error rather than something silently
// skipped, so a bundle never trusts less (or more) than its author thought.
const (
	pemCertificate = "CERTIFICATE"
	pemPublicKey   = "PUBLIC KEY"
)

// ParseRoots reads a PEM bundle, what --tpm-roots names: CERTIFICATE blocks
// (trusted AK CAs) and PUBLIC KEY blocks (pinned AK public keys, PKIX DER:
// RSA of 2048 to 4096 bits, or ECDSA P-256 or P-384). Nothing else may be in
// it but white space: no other block type, no PEM headers, no text between or
// after blocks. It must hold at least one root.
func ParseRoots(pemBytes []byte) (*Roots, error) {
	var certs []*x509.Certificate
	var keys []crypto.PublicKey
	rest := pemBytes
	for n := 1; ; n++ {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 {
			break
		}
		if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			return nil, fmt.Errorf("tpm: roots: block %d: text that is not a PEM block", n)
		}
		blk, after := pem.Decode(rest)
		// pem.Decode skips a block it cannot read and returns the next
		// one; refuse that rather than lose a root.
		if blk == nil || bytes.Count(rest[:len(rest)-len(after)], []byte("-----BEGIN")) != 1 {
			return nil, fmt.Errorf("tpm: roots: block %d is not valid PEM", n)
		}
		rest = after
		if len(blk.Headers) != 0 {
			return nil, fmt.Errorf("tpm: roots: block %d (%s) has PEM headers", n, blk.Type)
		}
		switch blk.Type {
		case pemCertificate:
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("tpm: roots: block %d: %w", n, err)
			}
			certs = append(certs, c)
		case pemPublicKey:
			k, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("tpm: roots: block %d: %w", n, err)
			}
			keys = append(keys, k)
		default:
			return nil, fmt.Errorf("tpm: roots: block %d is a %q; want %q or %q", n, blk.Type, pemCertificate, pemPublicKey)
		}
	}
	return NewRoots(certs, keys)
}

// NewRoots makes Roots from parsed certificates and pinned AK public keys
// (*rsa.PublicKey or *ecdsa.PublicKey, of the sizes ParseRoots accepts). It
// keeps its own copies. At least one of the two must be non-empty.
func NewRoots(certs []*x509.Certificate, keys []crypto.PublicKey) (*Roots, error) {
	if len(certs) == 0 && len(keys) == 0 {
		return nil, errors.New("tpm: roots: no certificate and no public key")
	}
	r := &Roots{pool: x509.NewCertPool(), keys: map[string]bool{}}
	for i, c := range certs {
		if c == nil {
			return nil, fmt.Errorf("tpm: roots: certificate %d is nil", i)
		}
		// Our own copy, so that a caller changing its certificate
		// later cannot change what we trust.
		own, err := x509.ParseCertificate(c.Raw)
		if err != nil {
			return nil, fmt.Errorf("tpm: roots: certificate %d: %w", i, err)
		}
		r.certs = append(r.certs, own)
		r.pool.AddCert(own)
	}
	for i, k := range keys {
		if err := checkAKKey(k); err != nil {
			return nil, fmt.Errorf("tpm: roots: public key %d: %s", i, err)
		}
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("tpm: roots: public key %d: %w", i, err)
		}
		r.keys[string(der)] = true
	}
	return r, nil
}

// Certificates returns copies of the trusted certificates.
func (r *Roots) Certificates() []*x509.Certificate {
	out := make([]*x509.Certificate, 0, len(r.certs))
	for _, c := range r.certs {
		own, err := x509.ParseCertificate(c.Raw)
		if err != nil {
			panic(err) // parsed once already
		}
		out = append(out, own)
	}
	return out
}

// NumKeys is how many AK public keys are pinned.
func (r *Roots) NumKeys() int { return len(r.keys) }

// pinned reports whether the AK key is one of the pinned keys: an exact
// comparison of canonical DER encodings (public values, so no need for
// constant time).
func (r *Roots) pinned(ak crypto.PublicKey) bool {
	der, err := x509.MarshalPKIXPublicKey(ak)
	return err == nil && r.keys[string(der)]
}
