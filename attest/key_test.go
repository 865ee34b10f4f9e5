package attest

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

// parseBoundKeyBefore is ParseBoundKey as it was before it parsed the key
// once instead of three times (crypto/x509 in ParseBoundKey, ParseEnclaveKey
// and KeyType): the reference ParseBoundKey must still agree with, result,
// type and message.
func parseBoundKeyBefore(der []byte) (*rsa.PublicKey, string, error) {
	if der == nil {
		return nil, "none", errors.New("no key")
	}
	if len(der) == hpkeKeyDigestLen {
		return nil, KeyTypeDigest, nil
	}
	pub, perr := x509.ParsePKIXPublicKey(der)
	if perr == nil {
		if ek, ok := pub.(*ecdsa.PublicKey); ok && ek.Curve.Params().Name == "P-256" {
			if _, err := ek.ECDH(); err != nil {
				return nil, "invalid", errors.New("not a valid P-256 point")
			}
			return nil, "EC P-256", nil
		}
	}
	k, err := parseEnclaveKeyBefore(der)
	if err != nil {
		if _, isRSA := pub.(*rsa.PublicKey); perr == nil && !isRSA {
			return nil, KeyType(der), errors.New("not RSA")
		}
		return nil, KeyType(der), err
	}
	return k, KeyType(der), nil
}

// parseEnclaveKeyBefore is ParseEnclaveKey, which judged every format's key
// before ParseBoundKey took P-256 keys and digests too, and then had no
// caller but parseBoundKeyBefore. It is kept whole here, its RSA rules and
// messages written out again instead of calling ParseBoundKey's (checkRSA,
// parseError), so that a mistake in those is a difference.
func parseEnclaveKeyBefore(der []byte) (*rsa.PublicKey, error) {
	if der == nil {
		return nil, fmt.Errorf("%w: the evidence carries no public_key", ErrKey)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		trailing := ""
		if strings.Contains(err.Error(), "trailing data") {
			trailing = ": it has trailing data"
		}
		return nil, fmt.Errorf("%w: public_key (%d bytes) is not the DER SubjectPublicKeyInfo of a supported key%s", ErrKey, len(der), trailing)
	}
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: public_key is not an RSA key", ErrKey)
	}
	if n := k.N.BitLen(); n < 2048 || n > 4096 {
		return nil, fmt.Errorf("%w: public_key is RSA-%d; want 2048 to 4096 bits", ErrKey, n)
	}
	if k.N.Bit(0) == 0 {
		return nil, fmt.Errorf("%w: public_key's RSA modulus is even", ErrKey)
	}
	if k.E < 3 || k.E%2 == 0 {
		return nil, fmt.Errorf("%w: public_key's RSA exponent %d is not an odd number of at least 3", ErrKey, k.E)
	}
	return k, nil
}

func sameBoundKey(t *testing.T, name string, der []byte) {
	t.Helper()
	k, typ, err := ParseBoundKey(der)
	rk, rtyp, rerr := parseBoundKeyBefore(der)
	switch {
	case (err == nil) != (rerr == nil):
		t.Fatalf("%s: ParseBoundKey says %v, before %v", name, err, rerr)
	case err != nil && (!errors.Is(err, ErrKey) || k != nil):
		t.Fatalf("%s: refusal with a key or of another kind: %v", name, err)
	case typ != rtyp:
		t.Fatalf("%s: type %q, before %q", name, typ, rtyp)
	case (k == nil) != (rk == nil) || k != nil && !k.Equal(rk):
		t.Fatalf("%s: key %v, before %v", name, k, rk)
	}
	// Where the old code returned parseEnclaveKeyBefore's own error, the text
	// is unchanged (not where it said "not RSA": ParseBoundKey says more).
	if rerr != nil && errors.Is(rerr, ErrKey) && err.Error() != rerr.Error() {
		t.Fatalf("%s: message %q, before %q", name, err, rerr)
	}
}

// fakeRSA is the SubjectPublicKeyInfo of an RSA key with modulus of bits
// bits (odd unless even) and exponent e: x509 does not check the modulus is
// a product of primes, and neither does ParseBoundKey.
func fakeRSA(t testing.TB, bits int, even bool, e int) []byte {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
	if err != nil {
		t.Fatal(err)
	}
	n.SetBit(n, bits-1, 1)
	n.SetBit(n, 0, 1)
	if even {
		n.SetBit(n, 0, 0)
	}
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: n, E: e})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func boundKeyInputs(t testing.TB) map[string][]byte {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256DER, _ := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKIXPublicKey(edPub)
	xk, _ := ecdh.X25519().GenerateKey(rand.Reader)
	xDER, _ := x509.MarshalPKIXPublicKey(xk.PublicKey())
	offCurve := bytes.Clone(p256DER)
	offCurve[len(offCurve)-1] ^= 1
	in := map[string][]byte{
		"nil":             nil,
		"empty":           {},
		"32 bytes":        make([]byte, 32),
		"RSA-2048":        rsaDER,
		"RSA-1024":        fakeRSA(t, 1024, false, 65537),
		"RSA-2047":        fakeRSA(t, 2047, false, 65537),
		"RSA-3072":        fakeRSA(t, 3072, false, 65537),
		"RSA-4096":        fakeRSA(t, 4096, false, 65537),
		"RSA-4097":        fakeRSA(t, 4097, false, 65537),
		"RSA-8192":        fakeRSA(t, 8192, false, 65537),
		"even modulus":    fakeRSA(t, 2048, true, 65537),
		"exponent 1":      fakeRSA(t, 2048, false, 1),
		"exponent 2":      fakeRSA(t, 2048, false, 2),
		"exponent 3":      fakeRSA(t, 2048, false, 3),
		"exponent 65536":  fakeRSA(t, 2048, false, 65536),
		"P-256":           p256DER,
		"P-256 off curve": offCurve,
		"P-384":           p384DER,
		"Ed25519":         edDER,
		"X25519":          xDER,
		"RSA, trailing":   append(bytes.Clone(rsaDER), 0),
		"RSA, truncated":  rsaDER[:len(rsaDER)-1],
		"garbage":         bytes.Repeat([]byte{0x30}, 300),
	}
	return in
}

func TestParseBoundKeyMatchesBefore(t *testing.T) {
	for name, der := range boundKeyInputs(t) {
		sameBoundKey(t, name, der)
		// And each byte of the key's first 64 flipped.
		for i := range min(len(der), 64) {
			d := bytes.Clone(der)
			d[i] ^= 0xa5
			sameBoundKey(t, name+" flipped", d)
		}
	}
}

// FuzzParseBoundKey: ParseBoundKey, parsing once, decides as it did when it
// parsed three times: same acceptance, key, type, kind (and text where the
// old one had parseEnclaveKeyBefore's). Seeds: testdata/fuzz/FuzzParseBoundKey.
func FuzzParseBoundKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, der []byte) {
		sameBoundKey(t, "fuzz", der)
	})
}

// FuzzParseRSASPKI: the RSA fast path accepts only what crypto/x509 does,
// with the same key; on the shapes enclaves send it does accept. Seeds:
// RSA keys of three sizes (each with bytes flipped, cut and appended is
// tried by TestParseRSASPKI). It is also the guard against a later Go's
// crypto/x509 refusing what the fast path still takes.
func FuzzParseRSASPKI(f *testing.F) {
	for _, bits := range []int{2048, 3072, 4096} {
		f.Add(fakeRSA(f, bits, false, 65537))
	}
	f.Fuzz(func(t *testing.T, der []byte) { sameRSASPKI(t, der) })
}

func sameRSASPKI(t *testing.T, der []byte) {
	t.Helper()
	k := parseRSASPKI(der)
	if k == nil {
		return
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	xk, ok := pub.(*rsa.PublicKey)
	if err != nil || !ok || xk.N.Cmp(k.N) != 0 || xk.E != k.E {
		t.Fatalf("parseRSASPKI accepted %x as (%v, %d); crypto/x509: %v, %v", der, k.N, k.E, pub, err)
	}
}

// TestParseRSASPKI: every RSA key x509.MarshalPKIXPublicKey writes takes
// the fast path; no mutation of one is accepted that x509 refuses, or read
// otherwise.
func TestParseRSASPKI(t *testing.T) {
	for _, bits := range []int{1024, 2048, 3072, 4096, 8192} {
		der := fakeRSA(t, bits, false, 65537)
		if k := parseRSASPKI(der); k == nil || k.N.BitLen() != bits || k.E != 65537 {
			t.Fatalf("RSA-%d: the fast path declined or misread the canonical encoding", bits)
		}
		for i := range der {
			for _, x := range []byte{0x01, 0x80, 0xff} {
				d := bytes.Clone(der)
				d[i] ^= x
				sameRSASPKI(t, d)
			}
			sameRSASPKI(t, der[:i])
		}
		sameRSASPKI(t, append(bytes.Clone(der), 0))
	}
	for name, der := range boundKeyInputs(t) {
		sameRSASPKI(t, der)
		if strings.HasPrefix(name, "P-") || name == "Ed25519" || name == "X25519" {
			if parseRSASPKI(der) != nil {
				t.Errorf("%s: taken for an RSA key", name)
			}
		}
	}
}

// BenchmarkParseBoundKey judges an RSA-2048 enclave key, as every attested
// request with RSAES_OAEP_SHA_256 does; "before" is the three-parse version.
func BenchmarkParseBoundKey(b *testing.B) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	for _, f := range []struct {
		name  string
		parse func([]byte) (*rsa.PublicKey, string, error)
	}{{"now", ParseBoundKey}, {"before", parseBoundKeyBefore}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := f.parse(der); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
