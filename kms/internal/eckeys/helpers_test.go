package eckeys

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var allCurves = []Curve{P256, P384, P521, Secp256k1, SM2}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// scalarOf returns a copy of k's big-endian scalar.
func scalarOf(t testing.TB, k *PrivateKey) []byte {
	t.Helper()
	switch {
	case k.nist != nil:
		return k.nist.Bytes()
	case k.sm2 != nil:
		return k.sm2.Bytes()
	case k.k1 != nil:
		return append([]byte(nil), k.k1[:]...)
	}
	t.Fatal("scalarOf: destroyed key")
	return nil
}

func mustGenerate(t testing.TB, c Curve) *PrivateKey {
	t.Helper()
	k, err := Generate(c, rand.Reader)
	if err != nil {
		t.Fatalf("Generate(%s): %v", c, err)
	}
	return k
}

// keyFromScalar builds a key from a big-endian integer of any length with
// leading zeros (as test vectors write them), padded or trimmed to c's size.
func keyFromScalar(t testing.TB, c Curve, s []byte) *PrivateKey {
	t.Helper()
	size := c.SecretSize()
	for len(s) > size && s[0] == 0 {
		s = s[1:]
	}
	if len(s) < size {
		s = append(make([]byte, size-len(s)), s...)
	}
	k, err := newPrivateKey(c.params(), s)
	if err != nil {
		t.Fatalf("newPrivateKey(%s): %v", c, err)
	}
	return k
}

// publicFromPoint builds a checked public key from an uncompressed point by
// wrapping it in a SubjectPublicKeyInfo and parsing that.
func publicFromPoint(t testing.TB, c Curve, point []byte) *PublicKey {
	t.Helper()
	der, err := marshalSPKI(c.params(), point)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseSPKI(der)
	if err != nil {
		t.Fatalf("ParseSPKI(%s point %x): %v", c, point, err)
	}
	return p
}

// The ECPrivateKey's optional fields' tags, for hand-built hostile PKCS #8.
var (
	tagECParameters = cbasn1.Tag(0).Constructed().ContextSpecific() // ECPrivateKey parameters [0]
	tagECPublicKey  = cbasn1.Tag(1).Constructed().ContextSpecific() // ECPrivateKey publicKey [1]
)

// addBitString adds a BIT STRING of whole bytes.
func addBitString(b *cryptobyte.Builder, bits []byte) {
	b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
		b.AddUint8(0) // no unused bits
		b.AddBytes(bits)
	})
}
