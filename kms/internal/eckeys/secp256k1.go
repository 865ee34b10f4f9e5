package eckeys

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// secp256k1 scalar multiplication in constant time.
//
// decred's ScalarMultNonConst and ScalarBaseMultNonConst branch on the digits
// of the scalar and index tables with them, which leaks a private scalar to
// anyone who can time us or watch our caches or page faults (the host, for a
// KMS in an enclave). Its field arithmetic (FieldVal: Mul, Add, Negate,
// Normalize, Inverse) is constant time, so the point arithmetic here is built
// on it: homogeneous projective coordinates, the complete formulas of Renes,
// Costello and Batina, "Complete addition formulas for prime order elliptic
// curves" (EUROCRYPT 2016), Algorithms 7 (addition) and 9 (doubling) for
// a = 0, which have no exceptional cases (identity, P = Q, P = -Q), and a
// fixed 4-bit window whose table entry is selected by a full scan. The
// sequence of operations and memory accesses depends only on the curve.
//
// Every FieldVal here has magnitude 1 between operations: products come out
// of Mul2 with magnitude 1, sums and differences are normalized. That keeps
// all of decred's magnitude preconditions (Mul inputs at most 8, Negate input
// at most its declared magnitude, MulInt result at most 32) trivially true.
// Only values that are compared or serialized need full normalization, and
// affine() does it.

type fieldVal = secp256k1.FieldVal

// k1Point is an affine point of a checked public key, coordinates normalized.
type k1Point struct{ x, y fieldVal }

// projPoint is (X:Y:Z) with x = X/Z, y = Y/Z; the identity is (0:1:0).
type projPoint struct{ x, y, z fieldVal }

func fmul(r, a, b *fieldVal) { r.Mul2(a, b) } // magnitude 1, not normalized
func fadd(r, a, b *fieldVal) { r.Add2(a, b).Normalize() }

func fsub(r, a, b *fieldVal) {
	var nb fieldVal
	nb.NegateVal(b, 1)         // magnitude 2
	r.Add2(a, &nb).Normalize() // magnitude 3 before normalizing
}

// fmulB3 sets r = 3·b·a = 21·a, b = 7 being secp256k1's constant.
func fmulB3(r, a *fieldVal) { r.Set(a).MulInt(21).Normalize() }

func (p *projPoint) setIdentity() {
	p.x.Zero()
	p.y.SetInt(1)
	p.z.Zero()
}

func (p *projPoint) setAffine(a *k1Point) {
	p.x.Set(&a.x)
	p.y.Set(&a.y)
	p.z.SetInt(1)
}

// add sets r = p + q for any p, q, including the identity and p = ±q
// (RCB16, Algorithm 7). r may alias p or q.
func (r *projPoint) add(p, q *projPoint) {
	var t0, t1, t2, t3, t4, x3, y3, z3 fieldVal
	fmul(&t0, &p.x, &q.x) // 1. t0 = X1·X2
	fmul(&t1, &p.y, &q.y) // 2. t1 = Y1·Y2
	fmul(&t2, &p.z, &q.z) // 3. t2 = Z1·Z2
	fadd(&t3, &p.x, &p.y) // 4. t3 = X1+Y1
	fadd(&t4, &q.x, &q.y) // 5. t4 = X2+Y2
	fmul(&t3, &t3, &t4)   // 6. t3 = t3·t4
	fadd(&t4, &t0, &t1)   // 7. t4 = t0+t1
	fsub(&t3, &t3, &t4)   // 8. t3 = t3-t4
	fadd(&t4, &p.y, &p.z) // 9. t4 = Y1+Z1
	fadd(&x3, &q.y, &q.z) // 10. X3 = Y2+Z2
	fmul(&t4, &t4, &x3)   // 11. t4 = t4·X3
	fadd(&x3, &t1, &t2)   // 12. X3 = t1+t2
	fsub(&t4, &t4, &x3)   // 13. t4 = t4-X3
	fadd(&x3, &p.x, &p.z) // 14. X3 = X1+Z1
	fadd(&y3, &q.x, &q.z) // 15. Y3 = X2+Z2
	fmul(&x3, &x3, &y3)   // 16. X3 = X3·Y3
	fadd(&y3, &t0, &t2)   // 17. Y3 = t0+t2
	fsub(&y3, &x3, &y3)   // 18. Y3 = X3-Y3
	fadd(&x3, &t0, &t0)   // 19. X3 = t0+t0
	fadd(&t0, &x3, &t0)   // 20. t0 = X3+t0
	fmulB3(&t2, &t2)      // 21. t2 = b3·t2
	fadd(&z3, &t1, &t2)   // 22. Z3 = t1+t2
	fsub(&t1, &t1, &t2)   // 23. t1 = t1-t2
	fmulB3(&y3, &y3)      // 24. Y3 = b3·Y3
	fmul(&x3, &t4, &y3)   // 25. X3 = t4·Y3
	fmul(&t2, &t3, &t1)   // 26. t2 = t3·t1
	fsub(&x3, &t2, &x3)   // 27. X3 = t2-X3
	fmul(&y3, &y3, &t0)   // 28. Y3 = Y3·t0
	fmul(&t1, &t1, &z3)   // 29. t1 = t1·Z3
	fadd(&y3, &t1, &y3)   // 30. Y3 = t1+Y3
	fmul(&t0, &t0, &t3)   // 31. t0 = t0·t3
	fmul(&z3, &z3, &t4)   // 32. Z3 = Z3·t4
	fadd(&z3, &z3, &t0)   // 33. Z3 = Z3+t0
	r.x, r.y, r.z = x3, y3, z3
}

// double sets r = 2p for any p, including the identity (RCB16, Algorithm 9).
// r may alias p.
func (r *projPoint) double(p *projPoint) {
	var t0, t1, t2, x3, y3, z3 fieldVal
	fmul(&t0, &p.y, &p.y) // 1. t0 = Y·Y
	fadd(&z3, &t0, &t0)   // 2. Z3 = t0+t0
	fadd(&z3, &z3, &z3)   // 3. Z3 = Z3+Z3
	fadd(&z3, &z3, &z3)   // 4. Z3 = Z3+Z3
	fmul(&t1, &p.y, &p.z) // 5. t1 = Y·Z
	fmul(&t2, &p.z, &p.z) // 6. t2 = Z·Z
	fmulB3(&t2, &t2)      // 7. t2 = b3·t2
	fmul(&x3, &t2, &z3)   // 8. X3 = t2·Z3
	fadd(&y3, &t0, &t2)   // 9. Y3 = t0+t2
	fmul(&z3, &t1, &z3)   // 10. Z3 = t1·Z3
	fadd(&t1, &t2, &t2)   // 11. t1 = t2+t2
	fadd(&t2, &t1, &t2)   // 12. t2 = t1+t2
	fsub(&t0, &t0, &t2)   // 13. t0 = t0-t2
	fmul(&y3, &t0, &y3)   // 14. Y3 = t0·Y3
	fadd(&y3, &x3, &y3)   // 15. Y3 = X3+Y3
	fmul(&t1, &p.x, &p.y) // 16. t1 = X·Y
	fmul(&x3, &t0, &t1)   // 17. X3 = t0·t1
	fadd(&x3, &x3, &x3)   // 18. X3 = X3+X3
	r.x, r.y, r.z = x3, y3, z3
}

// selectFrom sets r = table[idx], reading every entry: each is multiplied by
// 1 if it is the one wanted and by 0 otherwise, and the products are summed.
// Only one term is nonzero, so the sum has exactly the chosen entry's limbs.
func (r *projPoint) selectFrom(table *[16]projPoint, idx uint8) {
	var t fieldVal
	r.x.Zero()
	r.y.Zero()
	r.z.Zero()
	for i := range table {
		bit := uint8(subtle.ConstantTimeByteEq(uint8(i), idx))
		r.x.Add(t.Set(&table[i].x).MulInt(bit))
		r.y.Add(t.Set(&table[i].y).MulInt(bit))
		r.z.Add(t.Set(&table[i].z).MulInt(bit))
	}
}

// scalarMult returns k·p, k a big-endian scalar (any 256-bit value; callers
// pass one in [1, n-1]).
func scalarMult(k *[32]byte, p *k1Point) projPoint {
	var table [16]projPoint // table[i] = i·p; public, as p is
	table[0].setIdentity()
	table[1].setAffine(p)
	for i := 2; i < len(table); i++ {
		table[i].add(&table[i-1], &table[1])
	}
	var q, s projPoint
	q.setIdentity()
	for _, b := range k {
		for _, nibble := range [2]uint8{b >> 4, b & 0x0f} {
			q.double(&q)
			q.double(&q)
			q.double(&q)
			q.double(&q)
			s.selectFrom(&table, nibble)
			q.add(&q, &s)
		}
	}
	s = projPoint{}
	return q
}

// affine returns (x, y) of p, ok false if p is the identity.
func (p *projPoint) affine() (a k1Point, ok bool) {
	var zinv fieldVal
	zinv.Set(&p.z).Normalize()
	if zinv.IsZero() {
		return a, false
	}
	zinv.Inverse()
	a.x.Mul2(&p.x, &zinv).Normalize()
	a.y.Mul2(&p.y, &zinv).Normalize()
	return a, true
}

var k1Generator = func() k1Point {
	var g k1Point
	params := secp256k1.Params()
	g.x.SetByteSlice(params.Gx.Bytes())
	g.y.SetByteSlice(params.Gy.Bytes())
	return g
}()

// maxScalarDraws bounds rejection sampling: a uniform 256-bit draw is outside
// [1, n-1] with probability below 2^-127, so failing 16 times in a row means
// the reader is broken, not unlucky.
const maxScalarDraws = 16

func generateK1(rand io.Reader) (*PrivateKey, error) {
	scalar := new([32]byte)
	for range maxScalarDraws {
		if _, err := io.ReadFull(rand, scalar[:]); err != nil {
			clear(scalar[:])
			return nil, fmt.Errorf("generating secp256k1 key: %w", err)
		}
		if validK1Scalar(scalar) {
			return k1PrivateKey(scalar)
		}
	}
	clear(scalar[:])
	return nil, fmt.Errorf("generating secp256k1 key: %d draws from rand were all outside [1, n-1]", maxScalarDraws)
}

// validK1Scalar reports whether 1 <= s < n, in constant time.
func validK1Scalar(s *[32]byte) bool {
	var m secp256k1.ModNScalar
	overflow := m.SetBytes(s)
	bad := overflow | m.IsZeroBit()
	m.Zero()
	return bad == 0
}

func newK1PrivateKey(b []byte) (*PrivateKey, error) {
	scalar := new([32]byte)
	copy(scalar[:], b) // len(b) == 32, checked by newPrivateKey
	if !validK1Scalar(scalar) {
		clear(scalar[:])
		return nil, fmt.Errorf("%w: secp256k1 scalar is zero or not below the group order", ErrInvalidPrivateKey)
	}
	return k1PrivateKey(scalar)
}

// k1PrivateKey takes ownership of a valid scalar and derives its public key.
func k1PrivateKey(scalar *[32]byte) (*PrivateKey, error) {
	q := scalarMult(scalar, &k1Generator)
	a, ok := q.affine()
	if !ok { // impossible for 1 <= scalar < n
		clear(scalar[:])
		return nil, fmt.Errorf("%w: secp256k1 public key is the identity", ErrInvalidPrivateKey)
	}
	pub := k1PublicKey(&a)
	if !secp256k1.NewPublicKey(&a.x, &a.y).IsOnCurve() { // a fault, not an input
		clear(scalar[:])
		return nil, fmt.Errorf("%w: derived secp256k1 public key is not on the curve", ErrInvalidPrivateKey)
	}
	return &PrivateKey{curve: Secp256k1, pub: pub, k1: scalar}, nil
}

func k1PublicKey(a *k1Point) *PublicKey {
	point := make([]byte, 65)
	point[0] = 4
	a.x.PutBytesUnchecked(point[1:33])
	a.y.PutBytesUnchecked(point[33:65])
	return &PublicKey{curve: Secp256k1, point: point, k1: *a}
}

// parseK1Point checks a 65-byte uncompressed SEC 1 point. checkPointEncoding
// has already refused other shapes with a precise message; the shape is
// checked again here because decred's ParsePubKey would also take compressed
// and hybrid (0x06, 0x07) encodings, which AWS does not.
func parseK1Point(point []byte) (*PublicKey, error) {
	if len(point) != 65 || point[0] != 4 {
		return nil, fmt.Errorf("%w: secp256k1 point is not 65-byte uncompressed", ErrInvalidKey)
	}
	pk, err := secp256k1.ParsePubKey(point)
	if err != nil {
		switch {
		case errors.Is(err, secp256k1.ErrPubKeyNotOnCurve):
			return nil, fmt.Errorf("%w: secp256k1 point not on curve", ErrInvalidKey)
		case errors.Is(err, secp256k1.ErrPubKeyXTooBig), errors.Is(err, secp256k1.ErrPubKeyYTooBig):
			return nil, fmt.Errorf("%w: secp256k1 coordinate not below the field prime", ErrInvalidKey)
		}
		return nil, fmt.Errorf("%w: secp256k1 point refused: %v", ErrInvalidKey, err)
	}
	if !pk.IsOnCurve() {
		return nil, fmt.Errorf("%w: secp256k1 point is not on the curve", ErrInvalidKey)
	}
	var j secp256k1.JacobianPoint
	pk.AsJacobian(&j) // Z = 1, X and Y normalized by ParsePubKey
	a := k1Point{x: j.X, y: j.Y}
	a.x.Normalize()
	a.y.Normalize()
	return k1PublicKey(&a), nil
}

func ecdhK1(scalar *[32]byte, peer *k1Point) ([]byte, error) {
	q := scalarMult(scalar, peer)
	a, ok := q.affine()
	q = projPoint{}
	if !ok { // impossible for a checked peer in a prime-order group
		return nil, fmt.Errorf("%w: secp256k1 shared point is the identity", ErrInvalidKey)
	}
	secret := make([]byte, 32)
	a.x.PutBytesUnchecked(secret)
	a = k1Point{}
	return secret, nil
}
