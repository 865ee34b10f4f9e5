package eckeys

import (
	"bytes"
	"crypto/rand"
	"math/big"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

// A textbook affine double-and-add over math/big, sharing no code with the
// ladder in secp256k1.go nor with decred's point arithmetic: the reference
// the constant-time code is checked against. nil is the identity.

var (
	refP = secp256k1.Params().P
	refN = secp256k1.Params().N
)

type refPoint struct{ x, y *big.Int }

func refAdd(a, b *refPoint) *refPoint {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	var lambda *big.Int
	if a.x.Cmp(b.x) == 0 {
		if new(big.Int).Add(a.y, b.y).Mod(new(big.Int).Add(a.y, b.y), refP).Sign() == 0 {
			return nil // a = -b
		}
		// λ = 3x² / 2y
		num := new(big.Int).Mul(a.x, a.x)
		num.Mul(num, big.NewInt(3))
		den := new(big.Int).Lsh(a.y, 1)
		lambda = num.Mul(num, den.ModInverse(den, refP))
	} else {
		// λ = (y2 - y1) / (x2 - x1)
		num := new(big.Int).Sub(b.y, a.y)
		den := new(big.Int).Sub(b.x, a.x)
		den.Mod(den, refP)
		lambda = num.Mul(num, den.ModInverse(den, refP))
	}
	lambda.Mod(lambda, refP)
	x := new(big.Int).Mul(lambda, lambda)
	x.Sub(x, a.x).Sub(x, b.x).Mod(x, refP)
	y := new(big.Int).Sub(a.x, x)
	y.Mul(y, lambda).Sub(y, a.y).Mod(y, refP)
	return &refPoint{x, y}
}

func refScalarMult(k []byte, p *refPoint) *refPoint {
	var q *refPoint
	for _, b := range k {
		for i := 7; i >= 0; i-- {
			q = refAdd(q, q)
			if b>>i&1 == 1 {
				q = refAdd(q, p)
			}
		}
	}
	return q
}

func toRef(a *k1Point) *refPoint {
	return &refPoint{new(big.Int).SetBytes(a.x.Bytes()[:]), new(big.Int).SetBytes(a.y.Bytes()[:])}
}

func refGenerator() *refPoint {
	return &refPoint{secp256k1.Params().Gx, secp256k1.Params().Gy}
}

func projToRef(t *testing.T, p *projPoint) *refPoint {
	t.Helper()
	a, ok := p.affine()
	if !ok {
		return nil
	}
	return toRef(&a)
}

func refEqual(a, b *refPoint) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.x.Cmp(b.x) == 0 && a.y.Cmp(b.y) == 0
}

func scalar32(v *big.Int) *[32]byte {
	var b [32]byte
	v.FillBytes(b[:])
	return &b
}

func TestK1GeneratorMatchesDecred(t *testing.T) {
	if !refEqual(toRef(&k1Generator), refGenerator()) {
		t.Fatal("k1Generator is not secp256k1's G")
	}
}

// Edge scalars: the window boundaries, the top of the range, and the values
// whose multiples of G hit the identity inside a naive window table.
func TestScalarMultEdgeScalars(t *testing.T) {
	nm1 := new(big.Int).Sub(refN, big.NewInt(1))
	nm2 := new(big.Int).Sub(refN, big.NewInt(2))
	half := new(big.Int).Rsh(refN, 1)
	scalars := []*big.Int{
		big.NewInt(1), big.NewInt(2), big.NewInt(3), big.NewInt(15), big.NewInt(16),
		big.NewInt(17), big.NewInt(255), big.NewInt(256), nm1, nm2, half,
		new(big.Int).Add(half, big.NewInt(1)), new(big.Int).Lsh(big.NewInt(1), 255),
		new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1)),
	}
	peer := mustGenerate(t, Secp256k1).Public()
	for _, s := range scalars {
		for _, base := range []*k1Point{&k1Generator, &peer.k1} {
			q := scalarMult(scalar32(s), base)
			want := refScalarMult(scalar32(s)[:], toRef(base))
			if got := projToRef(t, &q); !refEqual(got, want) {
				t.Errorf("scalarMult(%x) differs from the reference", s)
			}
		}
	}
	// n·P and 0·P are the identity: the formulas are complete.
	for _, s := range []*big.Int{refN, big.NewInt(0)} {
		q := scalarMult(scalar32(s), &k1Generator)
		if _, ok := q.affine(); ok {
			t.Errorf("%x·G is not the identity", s)
		}
	}
}

func TestScalarMultRandom(t *testing.T) {
	for range 32 {
		var s [32]byte
		rand.Read(s[:])
		peer := mustGenerate(t, Secp256k1).Public()
		q := scalarMult(&s, &peer.k1)
		want := refScalarMult(s[:], toRef(&peer.k1))
		if got := projToRef(t, &q); !refEqual(got, want) {
			t.Fatalf("scalarMult(%x) differs from the reference", s)
		}
	}
}

func TestPointFormulas(t *testing.T) {
	var id, p, q, r, s projPoint
	id.setIdentity()
	p.setAffine(&mustGenerate(t, Secp256k1).Public().k1)
	q.setAffine(&mustGenerate(t, Secp256k1).Public().k1)

	// Doubling agrees with adding a point to itself, and with the reference.
	r.double(&p)
	s.add(&p, &p)
	if !refEqual(projToRef(t, &r), projToRef(t, &s)) {
		t.Error("double(P) != P + P")
	}
	pr := projToRef(t, &p)
	if !refEqual(projToRef(t, &r), refAdd(pr, pr)) {
		t.Error("double(P) differs from the reference")
	}
	// Addition agrees with the reference, also on non-normalized Z.
	r.add(&p, &q)
	if !refEqual(projToRef(t, &r), refAdd(pr, projToRef(t, &q))) {
		t.Error("P + Q differs from the reference")
	}
	s.double(&r) // Z != 1
	r.add(&s, &p)
	want := refAdd(refAdd(refAdd(pr, projToRef(t, &q)), refAdd(pr, projToRef(t, &q))), pr)
	if !refEqual(projToRef(t, &r), want) {
		t.Error("2(P+Q) + P differs from the reference")
	}
	// Identity cases.
	r.add(&p, &id)
	if !refEqual(projToRef(t, &r), pr) {
		t.Error("P + O != P")
	}
	r.add(&id, &p)
	if !refEqual(projToRef(t, &r), pr) {
		t.Error("O + P != P")
	}
	r.add(&id, &id)
	if _, ok := r.affine(); ok {
		t.Error("O + O != O")
	}
	r.double(&id)
	if _, ok := r.affine(); ok {
		t.Error("2·O != O")
	}
	neg := p
	neg.y.Negate(1).Normalize()
	r.add(&p, &neg)
	if _, ok := r.affine(); ok {
		t.Error("P + (-P) != O")
	}
}

func TestSelectFrom(t *testing.T) {
	var table [16]projPoint
	table[0].setIdentity()
	table[1].setAffine(&k1Generator)
	for i := 2; i < 16; i++ {
		table[i].add(&table[i-1], &table[1])
	}
	for i := range table {
		var r projPoint
		r.selectFrom(&table, uint8(i))
		if r != table[i] {
			t.Errorf("selectFrom(%d) returned another entry", i)
		}
	}
}

func TestParseK1PointRejects(t *testing.T) {
	good := mustGenerate(t, Secp256k1).Public().point
	prime := refP.FillBytes(make([]byte, 32))
	cases := map[string][]byte{
		"compressed":   secp256k1PubCompressed(t, good),
		"hybrid":       append([]byte{6 | good[64]&1}, good[1:]...),
		"x = p":        append(append([]byte{4}, prime...), good[33:]...),
		"y = p":        append(append([]byte{4}, good[1:33]...), prime...),
		"all zero":     append([]byte{4}, make([]byte, 64)...),
		"short":        good[:64],
		"not on curve": append(append([]byte{}, good[:64]...), good[64]^1),
	}
	for name, point := range cases {
		if p, err := parseK1Point(point); err == nil || p != nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if p, err := parseK1Point(good); err != nil || !bytes.Equal(p.point, good) {
		t.Errorf("good point: %v", err)
	}
}

func secp256k1PubCompressed(t *testing.T, point []byte) []byte {
	pk, err := secp256k1.ParsePubKey(point)
	if err != nil {
		t.Fatal(err)
	}
	return pk.SerializeCompressed()
}
