package recipient

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"math/big"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// subjectKeyID checks that the evidence's SubjectPublicKeyInfo is the key it
// wraps to. isRSASPKIOf answers that for the one DER encoding of the key
// without crypto/x509; everything else still goes through crypto/x509. These
// tests hold subjectKeyID to subjectKeyIDBefore (crypto/x509 every time), and
// isRSASPKIOf to x509.MarshalPKIXPublicKey.

func subjectKeyIDBefore(pub *rsa.PublicKey, spkiDER []byte) ([]byte, error) {
	if spkiDER == nil {
		var err error
		if spkiDER, err = x509.MarshalPKIXPublicKey(pub); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKey, err)
		}
	} else {
		k, err := x509.ParsePKIXPublicKey(spkiDER)
		if err != nil {
			return nil, fmt.Errorf("%w: SubjectPublicKeyInfo: %v", ErrKey, err)
		}
		if rk, ok := k.(*rsa.PublicKey); !ok || !rk.Equal(pub) {
			return nil, fmt.Errorf("%w: SubjectPublicKeyInfo is not the public key's", ErrKey)
		}
	}
	h := sha256.Sum256(spkiDER)
	return h[:], nil
}

func sameSKI(t *testing.T, name string, pub *rsa.PublicKey, spki []byte) {
	t.Helper()
	got, err := subjectKeyID(pub, spki)
	want, werr := subjectKeyIDBefore(pub, spki)
	if (err == nil) != (werr == nil) || !bytes.Equal(got, want) || err != nil && err.Error() != werr.Error() {
		t.Fatalf("%s: subjectKeyID gives %x, %v; before %x, %v\n spki %x", name, got, err, want, werr, spki)
	}
	if isRSASPKIOf(pub, spki) {
		// Sound: what the stack encoder matches, crypto/x509 reads as pub.
		k, err := x509.ParsePKIXPublicKey(spki)
		if rk, ok := k.(*rsa.PublicKey); err != nil || !ok || !rk.Equal(pub) {
			t.Fatalf("%s: isRSASPKIOf matched an encoding crypto/x509 reads as %v, %v", name, k, err)
		}
	}
}

// oddModulus is an odd modulus of exactly bits bits (not a product of two
// primes: nothing here cares).
func oddModulus(t testing.TB, bits int) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
	if err != nil {
		t.Fatal(err)
	}
	return n.SetBit(n, bits-1, 1).SetBit(n, 0, 1)
}

func TestIsRSASPKIOfMatchesX509(t *testing.T) {
	var keys []*rsa.PublicKey
	for _, k := range []*rsa.PrivateKey{key2048(t), key3072(t), key4096(t)} {
		keys = append(keys, &k.PublicKey)
	}
	for _, bits := range []int{2048, 2049, 2055, 2056, 2057, 3072, 4095, 4096} {
		for _, e := range []int{3, 127, 128, 255, 256, 65537, 1<<31 - 1, 1 << 31, 1<<62 + 1} {
			keys = append(keys, &rsa.PublicKey{N: oddModulus(t, bits), E: e})
		}
	}
	for _, pub := range keys {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		if !isRSASPKIOf(pub, der) {
			t.Fatalf("RSA-%d e=%d: isRSASPKIOf does not match x509.MarshalPKIXPublicKey's %x", pub.N.BitLen(), pub.E, der)
		}
		sameSKI(t, "canonical", pub, der)
		sameSKI(t, "nil", pub, nil)
	}
}

func TestSubjectKeyIDMatchesBefore(t *testing.T) {
	pub := &key2048(t).PublicKey
	other := &key3072(t).PublicKey
	der := spkiOf(t, pub)
	otherDER := spkiOf(t, other)
	sameE := &rsa.PublicKey{N: pub.N, E: 3}
	neg := &rsa.PublicKey{N: new(big.Int).Neg(pub.N), E: pub.E}
	negDER := func() []byte { // the modulus as a negative INTEGER
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(rsaAlgorithmID)
			b.AddASN1BitString(func() []byte {
				var k cryptobyte.Builder
				k.AddASN1(cbasn1.SEQUENCE, func(k *cryptobyte.Builder) {
					k.AddASN1BigInt(neg.N)
					k.AddASN1Int64(int64(neg.E))
				})
				return k.BytesOrPanic()
			}())
		})
		return b.BytesOrPanic()
	}()
	longForm := append([]byte{0x30, 0x83, 0x00}, der[2:]...) // the outer length in 3 bytes
	cases := map[string]struct {
		pub  *rsa.PublicKey
		spki []byte
	}{
		"own":                  {pub, der},
		"another key's":        {pub, otherDER},
		"same modulus, e = 3":  {sameE, der},
		"negative modulus":     {neg, negDER},
		"negative key, |N|":    {neg, der},
		"trailing byte":        {pub, append(bytes.Clone(der), 0)},
		"truncated":            {pub, der[:len(der)-1]},
		"long-form length":     {pub, longForm},
		"empty":                {pub, []byte{}},
		"P-256":                {pub, unhexT(t, "3059301306072a8648ce3d020106082a8648ce3d030107034200046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5")},
		"modulus one bit more": {&rsa.PublicKey{N: new(big.Int).Add(pub.N, big.NewInt(2)), E: pub.E}, der},
	}
	for name, c := range cases {
		sameSKI(t, name, c.pub, c.spki)
	}
	for i := range der {
		for bit := range 8 {
			in := bytes.Clone(der)
			in[i] ^= 1 << bit
			sameSKI(t, "bit flip", pub, in)
		}
	}
}

// FuzzSubjectKeyID: for the 2048-bit test key, subjectKeyID accepts and
// names exactly what crypto/x509 did, and what isRSASPKIOf matches,
// crypto/x509 reads as the key. Seeds: testdata/fuzz/FuzzSubjectKeyID.
func FuzzSubjectKeyID(f *testing.F) {
	pub := &key2048(f).PublicKey
	f.Add(spkiOf(f, pub))
	f.Fuzz(func(t *testing.T, spki []byte) {
		sameSKI(t, "fuzz", pub, spki)
	})
}

// BenchmarkSubjectKeyID is WrapCMS's check of the evidence's RSA-2048
// SubjectPublicKeyInfo; "before" parses it with crypto/x509 every time.
func BenchmarkSubjectKeyID(b *testing.B) {
	pub := &key2048(b).PublicKey
	der := spkiOf(b, pub)
	for _, f := range []struct {
		name string
		ski  func(*rsa.PublicKey, []byte) ([]byte, error)
	}{{"now", subjectKeyID}, {"before", subjectKeyIDBefore}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.ski(pub, der); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
