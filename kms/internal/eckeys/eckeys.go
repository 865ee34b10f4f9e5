package eckeys

import (
	"bytes"
	"crypto/ecdh"
	cryptorand "crypto/rand"
	"crypto/subtle"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"

	gmecdh "github.com/emmansun/gmsm/ecdh"

	"github.com/attestkms/attestkms/internal/keyder"
)

// Curve names an elliptic curve as AWS KMS key specs do after their prefix
// (and as Huawei's key_spec names SM2).
type Curve string

// The supported curves.
const (
	P256      Curve = "P-256"
	P384      Curve = "P-384"
	P521      Curve = "P-521"
	Secp256k1 Curve = "secp256k1"
	// SM2 is the curve of GM/T 0003 (GB/T 32918), sm2p256v1: plain ECDH on
	// it, as Huawei KMS's DeriveSharedSecret does for key_spec SM2, not the
	// SM2 key-exchange protocol.
	SM2 Curve = "SM2"
)

// SecretSize is the length in bytes of a field element of c, hence of the
// shared secret ECDH returns and of each coordinate of a point: 32, 48, 66,
// 32, 32. It is 0 for a curve this package does not support.
func (c Curve) SecretSize() int {
	if p := c.params(); p != nil {
		return p.size
	}
	return 0
}

// Error kinds. Every error from ParseSPKI, ParsePKCS8 and ECDH wraps at
// least one of them; Generate and the Marshal methods fail otherwise only on
// a broken reader or an internal fault. The text after the kind says what
// failed and never holds a secret.
var (
	// ErrInvalidKey: a peer public key is unusable: not DER SubjectPublicKeyInfo,
	// not EC, unsupported curve (then ErrUnsupported is wrapped too), point not
	// on the curve, the identity, a compressed point (AWS requires uncompressed),
	// non-canonical DER or trailing bytes.
	ErrInvalidKey = errors.New("invalid public key")

	// ErrInvalidPrivateKey: bytes given to ParsePKCS8 are not a private key of
	// ours (see ParsePKCS8 for what is accepted).
	ErrInvalidPrivateKey = errors.New("invalid private key")

	// ErrCurveMismatch: ECDH between keys on two different curves.
	ErrCurveMismatch = errors.New("public key curve does not match")

	// ErrUnsupported: a curve this package does not handle.
	ErrUnsupported = errors.New("unsupported curve")

	// ErrDestroyed: the private key was destroyed, or is a zero PrivateKey.
	ErrDestroyed = errors.New("private key destroyed")
)

// curveParams is what this package knows of a curve. At most one of ecdh and
// sm2 is set; neither for secp256k1.
type curveParams struct {
	curve Curve
	size  int                   // bytes of a field element and of a scalar
	oid   asn1.ObjectIdentifier // namedCurve, RFC 5480, SEC 2, GM/T 0006
	ecdh  ecdh.Curve            // NIST curves
	sm2   gmecdh.Curve          // SM2
}

var (
	curves = []*curveParams{
		{P256, 32, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, ecdh.P256(), nil},
		{P384, 48, asn1.ObjectIdentifier{1, 3, 132, 0, 34}, ecdh.P384(), nil},
		{P521, 66, asn1.ObjectIdentifier{1, 3, 132, 0, 35}, ecdh.P521(), nil},
		{Secp256k1, 32, asn1.ObjectIdentifier{1, 3, 132, 0, 10}, nil, nil},
		// sm2p256v1 (GM/T 0006): gmsm's ecdh.P256() is this curve, not NIST's.
		{SM2, 32, asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}, nil, gmecdh.P256()},
	}
)

// derCurves are curves as internal/keyder reads them, in the same order.
var derCurves = func() []keyder.Curve {
	out := make([]keyder.Curve, len(curves))
	for i, p := range curves {
		out[i] = keyder.Curve{Name: string(p.curve), OID: p.oid, Size: p.size}
	}
	return out
}()

func (c Curve) params() *curveParams {
	for _, p := range curves {
		if p.curve == c {
			return p
		}
	}
	return nil
}

// PublicKey is a point on a supported curve that passed every check in the
// package documentation. It is immutable and safe for concurrent use.
type PublicKey struct {
	curve Curve
	point []byte            // SEC 1 uncompressed: 0x04 || X || Y
	nist  *ecdh.PublicKey   // NIST curves
	sm2   *gmecdh.PublicKey // SM2
	k1    k1Point           // secp256k1, affine, normalized
}

// PrivateKey is a scalar in [1, n-1] ([1, n-2] for SM2) and its public key. Its methods may be
// called concurrently, except Destroy, which must be the last call. A zero
// PrivateKey behaves like a destroyed one.
type PrivateKey struct {
	curve Curve
	pub   *PublicKey
	nist  *ecdh.PrivateKey   // NIST curves
	sm2   *gmecdh.PrivateKey // SM2
	k1    *[32]byte          // secp256k1: the big-endian scalar
}

// Generate makes a new key pair on c.
//
// For secp256k1 the scalar is drawn from rand (crypto/rand if nil) by
// rejection sampling; for SM2 gmsm's ecdh draws it from rand the same way.
// For NIST curves crypto/ecdh decides: since Go 1.26 it always uses a secure
// source and ignores rand unless GODEBUG=cryptocustomrand=1.
func Generate(c Curve, rand io.Reader) (*PrivateKey, error) {
	p := c.params()
	if p == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnsupported, string(c))
	}
	if rand == nil {
		rand = cryptorand.Reader
	}
	switch {
	case p.ecdh != nil:
		k, err := p.ecdh.GenerateKey(rand)
		if err != nil {
			return nil, fmt.Errorf("generating %s key: %w", c, err)
		}
		return newNISTPrivateKey(p, k), nil
	case p.sm2 != nil:
		k, err := p.sm2.GenerateKey(rand)
		if err != nil {
			return nil, fmt.Errorf("generating %s key: %w", c, err)
		}
		return newSM2PrivateKey(p, k), nil
	}
	return generateK1(rand)
}

// newPrivateKey makes a key from a big-endian scalar of exactly c's size. It
// returns ErrInvalidPrivateKey if the scalar is 0 or not below the group
// order n (for SM2: not below n-1; see the package documentation).
func newPrivateKey(p *curveParams, scalar []byte) (*PrivateKey, error) {
	if len(scalar) != p.size {
		return nil, fmt.Errorf("%w: %s scalar is %d bytes, want %d", ErrInvalidPrivateKey, p.curve, len(scalar), p.size)
	}
	switch {
	case p.ecdh != nil:
		k, err := p.ecdh.NewPrivateKey(scalar)
		if err != nil {
			return nil, fmt.Errorf("%w: %s scalar is zero or not below the group order", ErrInvalidPrivateKey, p.curve)
		}
		return newNISTPrivateKey(p, k), nil
	case p.sm2 != nil:
		k, err := p.sm2.NewPrivateKey(scalar)
		if err != nil {
			return nil, fmt.Errorf("%w: %s scalar is zero or not below n-1 (GB/T 32918.1 keeps SM2 private keys in [1, n-2])", ErrInvalidPrivateKey, p.curve)
		}
		return newSM2PrivateKey(p, k), nil
	}
	return newK1PrivateKey(scalar)
}

func newNISTPrivateKey(p *curveParams, k *ecdh.PrivateKey) *PrivateKey {
	pub := k.PublicKey()
	return &PrivateKey{
		curve: p.curve,
		nist:  k,
		pub:   &PublicKey{curve: p.curve, point: pub.Bytes(), nist: pub},
	}
}

// newSM2PrivateKey derives the public key with gmsm's constant-time base
// point multiplication.
func newSM2PrivateKey(p *curveParams, k *gmecdh.PrivateKey) *PrivateKey {
	pub := k.PublicKey()
	return &PrivateKey{
		curve: p.curve,
		sm2:   k,
		pub:   &PublicKey{curve: p.curve, point: pub.Bytes(), sm2: pub},
	}
}

// Curve returns the key's curve, "" for a zero PrivateKey.
func (k *PrivateKey) Curve() Curve { return k.curve }

// Public returns the public key; it stays usable after Destroy. It is nil for
// a zero PrivateKey.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// Equal reports, in constant time for keys on the same curve, whether k and x
// hold the same scalar. Destroyed keys equal nothing.
func (k *PrivateKey) Equal(x *PrivateKey) bool {
	if k == nil || x == nil || k.curve != x.curve {
		return false
	}
	switch {
	case k.nist != nil && x.nist != nil:
		return k.nist.Equal(x.nist)
	case k.sm2 != nil && x.sm2 != nil:
		return k.sm2.Equal(x.sm2)
	case k.k1 != nil && x.k1 != nil:
		return subtle.ConstantTimeCompare(k.k1[:], x.k1[:]) == 1
	}
	return false
}

// ECDH returns the shared secret with peer: the x-coordinate of k·peer,
// big-endian, exactly k.Curve().SecretSize() bytes. It is not a key; see the
// package documentation. The caller owns the returned slice and should zero it
// when done.
//
// It never returns an all-zero secret: that would be k·peer with x = 0, which
// a peer cannot steer to without knowing k (see the comment in the body), and
// is refused as ErrInvalidKey. Wycheproof counts that case as valid; this is a
// deliberate divergence.
func (k *PrivateKey) ECDH(peer *PublicKey) ([]byte, error) {
	if k.nist == nil && k.sm2 == nil && k.k1 == nil {
		return nil, ErrDestroyed
	}
	if peer == nil || peer.point == nil {
		return nil, fmt.Errorf("%w: nil or zero PublicKey", ErrInvalidKey)
	}
	if peer.curve != k.curve {
		return nil, fmt.Errorf("%w: peer is on %s, key on %s", ErrCurveMismatch, peer.curve, k.curve)
	}
	var secret []byte
	var err error
	switch {
	case k.nist != nil:
		// crypto/ecdh refuses a result at infinity; with a checked peer
		// and a prime-order group it cannot happen.
		if secret, err = k.nist.ECDH(peer.nist); err != nil {
			return nil, fmt.Errorf("%w: %s ecdh: %v", ErrInvalidKey, k.curve, err)
		}
	case k.sm2 != nil:
		// gmsm's ecdh multiplies in constant time (the same fixed-window,
		// table-scanning design as crypto/ecdh's P-256) and, like it,
		// refuses a result at infinity.
		if secret, err = k.sm2.ECDH(peer.sm2); err != nil {
			return nil, fmt.Errorf("%w: %s ecdh: %v", ErrInvalidKey, k.curve, err)
		}
	default:
		if secret, err = ecdhK1(k.k1, &peer.k1); err != nil {
			return nil, err
		}
	}
	// An all-zero secret is the x-coordinate of a point with x = 0. The NIST
	// curves and SM2 have such points, their b being squares mod p
	// (Wycheproof builds one from a private key chosen for it; secp256k1 has
	// none, as 7 is not a square mod p), but a peer can steer k·peer there
	// only by knowing k, so an honest or hostile peer hits one with
	// probability about 2^-256. Refusing it costs nothing and keeps
	// the promise that no all-zero secret leaves this package.
	if len(secret) != k.curve.SecretSize() || subtle.ConstantTimeCompare(secret, make([]byte, len(secret))) == 1 {
		clear(secret)
		return nil, fmt.Errorf("%w: %s shared secret is degenerate", ErrInvalidKey, k.curve)
	}
	return secret, nil
}

// Destroy zeroes the scalar bytes this package owns (secp256k1) and drops
// every reference to the scalar (all curves). It is best effort: see the
// package documentation. After Destroy, ECDH and MarshalPKCS8 return
// ErrDestroyed; Curve and Public still work. Destroy is idempotent.
func (k *PrivateKey) Destroy() {
	if k.k1 != nil {
		clear(k.k1[:])
		k.k1 = nil
	}
	k.nist = nil
	k.sm2 = nil
}

// Curve returns the key's curve, "" for a zero PublicKey.
func (p *PublicKey) Curve() Curve { return p.curve }

// Equal reports whether p and q are the same point on the same curve.
func (p *PublicKey) Equal(q *PublicKey) bool {
	return p != nil && q != nil && p.curve == q.curve && p.point != nil && bytes.Equal(p.point, q.point)
}
