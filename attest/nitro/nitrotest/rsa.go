package nitrotest

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// NewTestRSAKey makes an RSA key with exponent 65537 from rand: the same
// bytes give the same key, which crypto/rsa.GenerateKey no longer does (it
// ignores its reader since Go 1.26). For test enclaves and vectors only: it
// is slow (math/big) and makes no effort against side channels.
func NewTestRSAKey(rand io.Reader, bits int) (*rsa.PrivateKey, error) {
	if bits < 512 || bits%2 != 0 {
		return nil, fmt.Errorf("nitrotest: RSA-%d: want an even size of 512 bits or more", bits)
	}
	rand = orCryptoRand(rand)
	e := big.NewInt(65537)
	for range 16 {
		p, err := testPrime(rand, bits/2, e)
		if err != nil {
			return nil, err
		}
		q, err := testPrime(rand, bits/2, e)
		if err != nil {
			return nil, err
		}
		if p.Cmp(q) == 0 {
			continue
		}
		n := new(big.Int).Mul(p, q)
		if n.BitLen() != bits {
			continue
		}
		pm1 := new(big.Int).Sub(p, big.NewInt(1))
		qm1 := new(big.Int).Sub(q, big.NewInt(1))
		phi := new(big.Int).Mul(pm1, qm1)
		d := new(big.Int).ModInverse(e, phi)
		if d == nil {
			continue
		}
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: int(e.Int64())}, D: d, Primes: []*big.Int{p, q}}
		k.Precompute()
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("nitrotest: %w", err)
		}
		return k, nil
	}
	return nil, errors.New("nitrotest: no RSA key in 16 tries")
}

// testPrime returns a prime of exactly bits bits, its two top bits set (so
// that two of them make a modulus of twice the size), with p-1 prime to e:
// the first such prime from a random odd start.
func testPrime(rand io.Reader, bits int, e *big.Int) (*big.Int, error) {
	b := make([]byte, (bits+7)/8)
	if _, err := io.ReadFull(rand, b); err != nil {
		return nil, fmt.Errorf("nitrotest: reading randomness: %w", err)
	}
	if extra := len(b)*8 - bits; extra > 0 {
		b[0] &= 0xff >> extra
	}
	p := new(big.Int).SetBytes(b)
	p.SetBit(p, bits-1, 1)
	p.SetBit(p, bits-2, 1)
	p.SetBit(p, 0, 1)
	two, one, g := big.NewInt(2), big.NewInt(1), new(big.Int)
	for ; p.BitLen() == bits; p.Add(p, two) {
		if !p.ProbablyPrime(20) {
			continue
		}
		if g.GCD(nil, nil, new(big.Int).Sub(p, one), e).Cmp(one) == 0 {
			return p, nil
		}
	}
	return nil, errors.New("nitrotest: no prime before the size overflowed")
}
