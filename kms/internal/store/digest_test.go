package store

import (
	"crypto/rand"
	"math/big"
	"testing"
)

// TestDigestSum: add and sub are addition and subtraction modulo 2^256
// (math/big as the reference), and each undoes the other.
func TestDigestSum(t *testing.T) {
	mod := new(big.Int).Lsh(big.NewInt(1), 256)
	for i := 0; i < 1000; i++ {
		var s digestSum
		var x [32]byte
		rand.Read(s[:])
		rand.Read(x[:])
		if i%3 == 0 {
			for j := range s {
				s[j], x[j] = 0xff, 0xff // every carry
			}
			x[31] = byte(i)
		}
		a, b := new(big.Int).SetBytes(s[:]), new(big.Int).SetBytes(x[:])
		orig := s
		s.add(&x)
		if want := new(big.Int).Mod(new(big.Int).Add(a, b), mod); new(big.Int).SetBytes(s[:]).Cmp(want) != 0 {
			t.Fatalf("add: %x + %x = %x, want %x", orig, x, s, want)
		}
		s.sub(&x)
		if s != orig {
			t.Fatalf("sub does not undo add: %x, want %x", s, orig)
		}
		s.sub(&x)
		if want := new(big.Int).Mod(new(big.Int).Sub(a, b), mod); new(big.Int).SetBytes(s[:]).Cmp(want) != 0 {
			t.Fatalf("sub: %x - %x = %x, want %x", orig, x, s, want)
		}
	}
}

// TestDigestElement: an element binds its record's type, id and MAC, and
// the root key; the digest's own MAC binds its sum, count and generation.
func TestDigestElement(t *testing.T) {
	a, b := testSealer(t, 1), testSealer(t, 2)
	mac := []byte("0123456789abcdef0123456789abcdef")
	base := element(a, "key", "k1", mac)
	for what, e := range map[string]*[32]byte{
		"type":     element(a, "alias", "k1", mac),
		"id":       element(a, "key", "k2", mac),
		"MAC":      element(a, "key", "k1", append([]byte{1}, mac[1:]...)),
		"root key": element(b, "key", "k1", mac),
		"boundary": element(a, "key", "k", append([]byte("1"), mac...)),
	} {
		if *e == *base {
			t.Errorf("an element does not change with its %s", what)
		}
	}
	d := &RecordsDigest{Sum: make([]byte, 32), Counts: Counts{Keys: 3, Aliases: 2, Credentials: 1}, Generation: 7}
	SetMAC(a, d)
	for what, change := range map[string]func(*RecordsDigest){
		"sum":         func(d *RecordsDigest) { d.Sum[0] ^= 1 },
		"keys":        func(d *RecordsDigest) { d.Keys++ },
		"aliases":     func(d *RecordsDigest) { d.Aliases++ },
		"credentials": func(d *RecordsDigest) { d.Credentials-- },
		"generation":  func(d *RecordsDigest) { d.Generation-- },
	} {
		c := *d
		c.Sum = append([]byte(nil), d.Sum...)
		change(&c)
		if err := VerifyMAC(&c, true, a); err == nil {
			t.Errorf("the digest's MAC does not cover its %s", what)
		}
	}
	if err := VerifyMAC(d, true, a); err != nil {
		t.Fatal(err)
	}
}
