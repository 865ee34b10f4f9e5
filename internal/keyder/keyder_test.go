package keyder

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// testCurves are the curves kms/internal/eckeys reads, in its order.
var testCurves = []Curve{
	{"P-256", asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}, 32},
	{"P-384", asn1.ObjectIdentifier{1, 3, 132, 0, 34}, 48},
	{"P-521", asn1.ObjectIdentifier{1, 3, 132, 0, 35}, 66},
	{"secp256k1", asn1.ObjectIdentifier{1, 3, 132, 0, 10}, 32},
	{"SM2", asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}, 32},
}

// key is an EC key pair in the shapes the encodings hold.
type key struct {
	curve         int
	scalar, point []byte
	// spki and pkcs8 are what crypto/x509 (NIST curves) or gmsm's smx509
	// (SM2) write for it; nil for secp256k1, which neither knows.
	spki, pkcs8 []byte
}

func newKey(t testing.TB, curve int) key {
	t.Helper()
	var priv *ecdsa.PrivateKey
	var err error
	switch testCurves[curve].Name {
	case "P-256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "P-384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "P-521":
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "SM2":
		var k *sm2.PrivateKey
		if k, err = sm2.GenerateKey(rand.Reader); err == nil {
			spki, _ := smx509.MarshalPKIXPublicKey(&k.PublicKey)
			p8, _ := smx509.MarshalPKCS8PrivateKey(k)
			return key{curve, k.D.FillBytes(make([]byte, 32)), elliptic.Marshal(k.Curve, k.X, k.Y), spki, p8}
		}
	case "secp256k1":
		// Any 32 bytes with 0x04 and 64 more are a point as far as this
		// package is concerned: whether it is on the curve is eckeys's check.
		s, p := make([]byte, 32), make([]byte, 65)
		rand.Read(s)
		rand.Read(p)
		p[0] = 4
		return key{curve: curve, scalar: s, point: p}
	}
	if err != nil {
		t.Fatal(err)
	}
	spki, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	p8, _ := x509.MarshalPKCS8PrivateKey(priv)
	size := testCurves[curve].Size
	return key{curve, priv.D.FillBytes(make([]byte, size)), elliptic.Marshal(priv.Curve, priv.X, priv.Y), spki, p8}
}

// TestMarshalMatches: what this package writes is what crypto/x509 and
// smx509 write, for public and private keys.
func TestMarshalMatches(t *testing.T) {
	for i, c := range testCurves {
		k := newKey(t, i)
		spki, err := MarshalECSPKI(c.OID, k.point)
		if err != nil {
			t.Fatal(err)
		}
		p8, err := MarshalECPKCS8(c.OID, k.scalar, k.point, false, true)
		if err != nil {
			t.Fatal(err)
		}
		if k.spki != nil && (!bytes.Equal(spki, k.spki) || !bytes.Equal(p8, k.pkcs8)) {
			t.Errorf("%s: MarshalECSPKI or MarshalECPKCS8 differs from the standard library's or smx509's", c.Name)
		}
		ci, point, err := ParseECSPKI(spki, testCurves)
		if err != nil || ci != i || !bytes.Equal(point, k.point) {
			t.Errorf("%s: ParseECSPKI = %d, %x, %v", c.Name, ci, point, err)
		}
		for _, v := range [][2]bool{{false, true}, {true, true}, {false, false}, {true, false}} {
			der, _ := MarshalECPKCS8(c.OID, k.scalar, k.point, v[0], v[1])
			ci, scalar, point, err := ParseECPKCS8(der, testCurves)
			wantPoint := k.point
			if !v[1] {
				wantPoint = nil
			}
			if err != nil || ci != i || !bytes.Equal(scalar, k.scalar) || !bytes.Equal(point, wantPoint) || (point == nil) != (wantPoint == nil) {
				t.Errorf("%s %v: ParseECPKCS8 = %d, %v", c.Name, v, ci, err)
			}
		}
	}
}

func spkiWith(alg asn1.ObjectIdentifier, params []byte, bitString []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(alg)
			b.AddBytes(params)
		})
		b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) { b.AddBytes(bitString) })
	})
	return b.BytesOrPanic()
}

func oidDER(oid asn1.ObjectIdentifier) []byte {
	der, err := asn1.Marshal(oid)
	if err != nil {
		panic(err)
	}
	return der
}

// TestParseECSPKIRefuses: every refusal, with what it says. Whether a point
// is on its curve is not this package's check (eckeys and recipient test
// that), so no case here is about it.
func TestParseECSPKIRefuses(t *testing.T) {
	sm2i := len(testCurves) - 1
	k := newKey(t, sm2i)
	sm2OID := oidDER(testCurves[sm2i].OID)
	with := func(point []byte) []byte { return spkiWith(OIDPublicKeyEC, sm2OID, append([]byte{0}, point...)) }
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsaSPKI, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edSPKI, _ := x509.MarshalPKIXPublicKey(edPub)
	xk, _ := ecdh.X25519().GenerateKey(rand.Reader)
	xSPKI, _ := x509.MarshalPKIXPublicKey(xk.PublicKey())
	compressed := append([]byte{2 + k.point[64]&1}, k.point[1:33]...)

	for _, tc := range []struct {
		name string
		in   []byte
		says string // "" for ErrNotSPKI; "curve" for a *CurveError
	}{
		{"nil", nil, ""},
		{"garbage", []byte("hello, world"), ""},
		{"BER long-form length", append([]byte{0x30, 0x81}, k.spki[1:]...), ""},
		{"BER indefinite length", append(append([]byte{0x30, 0x80}, k.spki[2:]...), 0, 0), ""},
		{"no algorithm OID", []byte{0x30, 0x04, 0x30, 0x02, 0x05, 0x00}, ""},
		{"trailing zero", append(bytes.Clone(k.spki), 0), "trailing data after the SubjectPublicKeyInfo"},
		{"trailing SPKI", append(bytes.Clone(k.spki), k.spki...), "trailing data after the SubjectPublicKeyInfo"},
		{"RSA", rsaSPKI, "is not id-ecPublicKey"},
		{"Ed25519", edSPKI, "is not id-ecPublicKey"},
		{"X25519", xSPKI, "is not id-ecPublicKey"},
		{"SM2 OID as algorithm", spkiWith(testCurves[sm2i].OID, sm2OID, append([]byte{0}, k.point...)), "is not id-ecPublicKey"},
		{"params absent", spkiWith(OIDPublicKeyEC, nil, append([]byte{0}, k.point...)), "not a named curve"},
		{"params NULL", spkiWith(OIDPublicKeyEC, []byte{5, 0}, append([]byte{0}, k.point...)), "not a named curve"},
		{"params explicit", spkiWith(OIDPublicKeyEC, []byte{0x30, 3, 2, 1, 1}, append([]byte{0}, k.point...)), "not a named curve"},
		{"params twice", spkiWith(OIDPublicKeyEC, append(bytes.Clone(sm2OID), sm2OID...), append([]byte{0}, k.point...)), "not one named curve"},
		{"curve OID malformed", spkiWith(OIDPublicKeyEC, []byte{6, 2, 0x2a, 0x80}, append([]byte{0}, k.point...)), "malformed curve OID"},
		{"secp224r1", spkiWith(OIDPublicKeyEC, oidDER(asn1.ObjectIdentifier{1, 3, 132, 0, 33}), append([]byte{0}, k.point...)), "curve"},
		{"unused bits", spkiWith(OIDPublicKeyEC, sm2OID, append([]byte{1}, k.point...)), "1 unused bits"},
		{"BIT STRING empty", spkiWith(OIDPublicKeyEC, sm2OID, nil), "malformed subjectPublicKey"},
		{"OCTET STRING for BIT STRING", func() []byte {
			d := bytes.Clone(k.spki)
			d[len(d)-len(k.point)-3] = 0x04
			return d
		}(), "malformed subjectPublicKey"},
		{"empty point", with(nil), "empty SM2 point"},
		{"infinity", with([]byte{0}), "SM2 point at infinity"},
		{"compressed", with(compressed), "only uncompressed points are accepted"},
		{"hybrid", with(append([]byte{6 | k.point[64]&1}, k.point[1:]...)), "65 bytes, uncompressed"},
		{"all zero", with(make([]byte, 65)), "65 bytes, uncompressed"},
		{"short", with(k.point[:64]), "not 65 bytes"},
		{"long", with(append(bytes.Clone(k.point), 0)), "not 65 bytes"},
	} {
		i, point, err := ParseECSPKI(tc.in, testCurves)
		if err == nil || i != 0 || point != nil {
			t.Errorf("%s: %d, %x, %v; want a refusal", tc.name, i, point, err)
			continue
		}
		var ce *CurveError
		switch {
		case tc.says == "":
			if !errors.Is(err, ErrNotSPKI) {
				t.Errorf("%s: %v; want ErrNotSPKI", tc.name, err)
			}
		case tc.says == "curve":
			if !errors.As(err, &ce) || !ce.OID.Equal(asn1.ObjectIdentifier{1, 3, 132, 0, 33}) {
				t.Errorf("%s: %v; want a CurveError", tc.name, err)
			}
		case !strings.Contains(err.Error(), tc.says):
			t.Errorf("%s: %q does not say %q", tc.name, err, tc.says)
		}
	}
	for n := range k.spki {
		if _, _, err := ParseECSPKI(k.spki[:n], testCurves); err == nil {
			t.Errorf("truncated to %d: accepted", n)
		}
	}
	// A curve the caller does not list is refused even if another caller's.
	if _, _, err := ParseECSPKI(k.spki, testCurves[:1]); !errors.As(err, new(*CurveError)) {
		t.Errorf("SM2 with only P-256 listed: %v", err)
	}
}

// p8 describes a PKCS #8 encoding field by field, for hostile variants.
type p8 struct {
	version    int64
	algOID     asn1.ObjectIdentifier
	algParams  []byte // DER, nil: absent
	ecVersion  int64
	scalar     []byte
	params     []byte // DER inside [0], nil: absent
	point      []byte // inside [1], nil: absent
	unused     byte
	attributes bool
	swap       bool
	extra      []byte
}

func (x p8) der() []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(x.version)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(x.algOID)
			b.AddBytes(x.algParams)
		})
		b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(x.ecVersion)
				b.AddASN1OctetString(x.scalar)
				params := func() {
					if x.params != nil {
						b.AddASN1(tagECParameters, func(b *cryptobyte.Builder) { b.AddBytes(x.params) })
					}
				}
				point := func() {
					if x.point != nil {
						b.AddASN1(tagECPublicKey, func(b *cryptobyte.Builder) {
							b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
								b.AddUint8(x.unused)
								b.AddBytes(x.point)
							})
						})
					}
				}
				if x.swap {
					point()
					params()
				} else {
					params()
					point()
				}
				b.AddBytes(x.extra)
			})
		})
		if x.attributes {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(*cryptobyte.Builder) {})
		}
	})
	return b.BytesOrPanic()
}

func TestParseECPKCS8Refuses(t *testing.T) {
	for i, c := range testCurves {
		k := newKey(t, i)
		other := testCurves[(i+1)%len(testCurves)]
		good := p8{algOID: OIDPublicKeyEC, algParams: oidDER(c.OID), ecVersion: 1, scalar: k.scalar, point: k.point}
		der := good.der()
		if want, _ := MarshalECPKCS8(c.OID, k.scalar, k.point, false, true); !bytes.Equal(der, want) {
			t.Fatalf("%s: the test's builder and MarshalECPKCS8 disagree", c.Name)
		}
		mod := func(f func(*p8)) []byte {
			x := good
			f(&x)
			return x.der()
		}
		rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
		rsaP8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
		cases := map[string][]byte{
			"empty":                     nil,
			"trailing zero":             append(bytes.Clone(der), 0),
			"BER long-form length":      append([]byte{0x30, 0x82, 0}, der[1:]...),
			"PKCS #8 version 1":         mod(func(x *p8) { x.version = 1 }),
			"ECPrivateKey version 0":    mod(func(x *p8) { x.ecVersion = 0 }),
			"attributes":                mod(func(x *p8) { x.attributes = true }),
			"public key unused bits":    mod(func(x *p8) { x.unused = 1 }),
			"inner params other curve":  mod(func(x *p8) { x.params = oidDER(other.OID) }),
			"inner fields out of order": mod(func(x *p8) { x.params = oidDER(c.OID); x.swap = true }),
			"inner trailing NULL":       mod(func(x *p8) { x.extra = []byte{5, 0} }),
			"inner params NULL":         mod(func(x *p8) { x.params = []byte{5, 0} }),
			"inner params twice":        mod(func(x *p8) { x.params = append(oidDER(c.OID), oidDER(c.OID)...) }),
			"inner params unsupported":  mod(func(x *p8) { x.params = oidDER(asn1.ObjectIdentifier{1, 3, 132, 0, 33}) }),
			"outer params absent":       mod(func(x *p8) { x.algParams = nil }),
			"outer params explicit":     mod(func(x *p8) { x.algParams = []byte{0x30, 3, 2, 1, 1} }),
			"outer params unsupported":  mod(func(x *p8) { x.algParams = oidDER(asn1.ObjectIdentifier{1, 3, 132, 0, 33}) }),
			"algorithm id-ecDH":         mod(func(x *p8) { x.algOID = asn1.ObjectIdentifier{1, 3, 132, 1, 12} }),
			"RSA":                       rsaP8,
		}
		for n := range der {
			cases[fmt.Sprint("truncated to ", n)] = der[:n]
		}
		for name, in := range cases {
			ci, scalar, point, err := ParseECPKCS8(in, testCurves)
			if err == nil || ci != 0 || scalar != nil || point != nil {
				t.Errorf("%s %s: accepted", c.Name, name)
			}
			if strings.HasSuffix(name, "unsupported") && !errors.As(err, new(*CurveError)) {
				t.Errorf("%s %s: %v; want a CurveError", c.Name, name, err)
			}
		}
		// Present but empty, the public key is returned empty, not nil, so
		// that the caller compares it with the scalar's (and refuses it).
		_, _, point, err := ParseECPKCS8(mod(func(x *p8) { x.point = []byte{} }), testCurves)
		if err != nil || point == nil || len(point) != 0 {
			t.Errorf("%s: empty public key: %x, %v", c.Name, point, err)
		}
	}
}
