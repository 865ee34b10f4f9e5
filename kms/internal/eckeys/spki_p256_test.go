package eckeys

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"math/big"
	"testing"
)

// The P-256 fast path of ParseSPKI (p256Point, parseP256Point) must decide
// exactly as the general path (parseSPKI), which stays the path of every
// other curve, and as crypto/x509: same acceptance, same curve, same point,
// and a refusal always ErrInvalidKey.

// sameParse fails t unless ParseSPKI and parseSPKI agree on in, and, for a
// P-256 input, crypto/x509 does too.
func sameParse(t *testing.T, name string, in []byte) {
	t.Helper()
	fast, ferr := ParseSPKI(in)
	var ref *PublicKey
	var rerr error
	if len(in) > maxSPKI {
		rerr = ErrInvalidKey // ParseSPKI's bound, before either path
	} else {
		ref, rerr = parseSPKI(in)
	}
	switch {
	case (ferr == nil) != (rerr == nil):
		t.Fatalf("%s: ParseSPKI says %v, the general path %v\n in %x", name, ferr, rerr, in)
	case ferr != nil:
		if fast != nil || !errors.Is(ferr, ErrInvalidKey) {
			t.Fatalf("%s: refusal with a key or of no kind: %v, %v", name, fast, ferr)
		}
	case !fast.Equal(ref) || (fast.nist == nil) != (ref.nist == nil) || fast.nist != nil && !fast.nist.Equal(ref.nist):
		t.Fatalf("%s: ParseSPKI read %s %x, the general path %s %x", name, fast.curve, fast.point, ref.curve, ref.point)
	}
	if _, ok := p256Point(in); !ok {
		return
	}
	// What p256Point takes, crypto/x509 must judge the same.
	k, xerr := x509.ParsePKIXPublicKey(in)
	if (xerr == nil) != (ferr == nil) {
		t.Fatalf("%s: crypto/x509 says %v, ParseSPKI %v\n in %x", name, xerr, ferr, in)
	}
	if xerr == nil {
		ek, ok := k.(*ecdsa.PublicKey)
		if !ok || ek.Curve.Params().Name != "P-256" {
			t.Fatalf("%s: crypto/x509 read %T", name, k)
		}
		pt, err := ek.Bytes()
		if err != nil || !bytes.Equal(pt, fast.point) {
			t.Fatalf("%s: crypto/x509 read point %x, ParseSPKI %x", name, pt, fast.point)
		}
	}
}

func TestParseSPKIP256Prefix(t *testing.T) {
	der, err := mustGenerate(t, P256).Public().MarshalSPKI()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(der[:len(p256SPKIPrefix)], p256SPKIPrefix) || len(der) != len(p256SPKIPrefix)+65 {
		t.Fatalf("MarshalSPKI writes %x, which p256SPKIPrefix does not match", der)
	}
	if _, ok := p256Point(der); !ok {
		t.Fatal("p256Point does not take MarshalSPKI's encoding")
	}
}

func TestParseSPKIFastPathMatchesGeneral(t *testing.T) {
	for _, c := range allCurves {
		for name, in := range hostileSPKIs(t, c) {
			sameParse(t, string(c)+" "+name, in)
		}
		for range 20 {
			der, err := mustGenerate(t, c).Public().MarshalSPKI()
			if err != nil {
				t.Fatal(err)
			}
			sameParse(t, string(c)+" valid", der)
		}
	}
	for name, in := range p256Edges(t) {
		sameParse(t, name, in)
	}
	// Every single-bit flip of a valid P-256 key, in the prefix (the
	// general path's business) and in the point (the fast path's).
	der, _ := mustGenerate(t, P256).Public().MarshalSPKI()
	for i := range der {
		for bit := range 8 {
			in := bytes.Clone(der)
			in[i] ^= 1 << bit
			sameParse(t, "bit flip", in)
		}
	}
}

// p256Edges are P-256 points of the shape the fast path takes, at the edges
// of what crypto/ecdh must refuse or accept.
func p256Edges(t *testing.T) map[string][]byte {
	params := ecdsaCurve(P256).Params()
	p := params.P.FillBytes(make([]byte, 32))
	pub := mustGenerate(t, P256).Public().point
	x, y := pub[1:33], pub[33:]
	negY := new(big.Int).Sub(params.P, new(big.Int).SetBytes(y)).FillBytes(make([]byte, 32))
	// A coordinate equal to p, and one above it (x + p would not fit 32
	// bytes for most x).
	above := bytes.Clone(p)
	above[31]++
	gx := params.Gx.FillBytes(make([]byte, 32))
	gy := params.Gy.FillBytes(make([]byte, 32))
	point := func(x, y []byte) []byte {
		return append(append(append(bytes.Clone(p256SPKIPrefix), 4), x...), y...)
	}
	return map[string][]byte{
		"generator":          point(gx, gy),
		"negated point":      point(x, negY),
		"x = p":              point(p, y),
		"y = p":              point(x, p),
		"x > p":              point(above, y),
		"y > p":              point(x, above),
		"all zero":           point(make([]byte, 32), make([]byte, 32)),
		"all ones":           point(bytes.Repeat([]byte{0xff}, 32), bytes.Repeat([]byte{0xff}, 32)),
		"x, y swapped":       point(y, x),
		"P-256 prefix, 0x06": append(append(bytes.Clone(p256SPKIPrefix), 6), pub[1:]...),
		"P-256 prefix, 0x00": append(append(bytes.Clone(p256SPKIPrefix), 0), pub[1:]...),
		"one byte short":     point(x, y[:31]),
		"one byte long":      point(x, append(bytes.Clone(y), 0)),
		"P-384 length":       append(bytes.Clone(p256SPKIPrefix), append(bytes.Clone(pub), make([]byte, 32)...)...),
	}
}

// FuzzParseSPKIP256: ParseSPKI, with its P-256 fast path, accepts exactly
// what the general path and crypto/x509 accept, and reads the same point.
// The seeds (testdata/fuzz/FuzzParseSPKIP256) are valid P-256 keys and the
// edges above; the fuzzer's mutations of a 91-byte input mostly keep its
// length, so they probe the fast path.
func FuzzParseSPKIP256(f *testing.F) {
	k, _ := ecdh.P256().GenerateKey(nil)
	der, _ := x509.MarshalPKIXPublicKey(k.PublicKey())
	f.Add(der)
	f.Fuzz(func(t *testing.T, in []byte) {
		sameParse(t, "fuzz", in)
	})
}
