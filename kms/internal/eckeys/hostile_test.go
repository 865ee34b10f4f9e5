package eckeys

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// spkiWith builds an SPKI from raw parts, for encodings MarshalSPKI refuses
// to write. params is the DER of the algorithm parameters (nil: absent).
func spkiWith(t testing.TB, algOID asn1.ObjectIdentifier, params, bitString []byte) []byte {
	t.Helper()
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(algOID)
			b.AddBytes(params)
		})
		b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) { b.AddBytes(bitString) })
	})
	der, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func oidDER(t testing.TB, oid asn1.ObjectIdentifier) []byte {
	t.Helper()
	der, err := asn1.Marshal(oid)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// pointSPKI wraps any point bytes in a SubjectPublicKeyInfo for curve c.
func pointSPKI(t testing.TB, c Curve, point []byte) []byte {
	return spkiWith(t, oidPublicKeyEC, oidDER(t, c.params().oid), append([]byte{0}, point...))
}

func compressed(t testing.TB, c Curve, point []byte) []byte {
	if c == Secp256k1 {
		return secp256k1PubCompressed(t.(*testing.T), point)
	}
	size := c.SecretSize()
	x, y := new(big.Int).SetBytes(point[1:1+size]), new(big.Int).SetBytes(point[1+size:])
	return elliptic.MarshalCompressed(ecdsaCurve(c), x, y)
}

// hostileSPKIs returns, for a valid key on c, encodings every one of which
// ParseSPKI must refuse with ErrInvalidKey.
func hostileSPKIs(t *testing.T, c Curve) map[string][]byte {
	good := mustGenerate(t, c).Public()
	der, err := good.MarshalSPKI()
	if err != nil {
		t.Fatal(err)
	}
	point := good.point
	size := c.SecretSize()
	curveParams := oidDER(t, c.params().oid)

	flipY := append([]byte(nil), point...)
	flipY[len(flipY)-1] ^= 0x01
	flipX := append([]byte(nil), point...)
	flipX[1] ^= 0x80
	hybrid := append([]byte{6 | point[len(point)-1]&1}, point[1:]...)
	ber := append([]byte{0x30, 0x81}, der[1:]...) // outer length in long form
	indefinite := append(append([]byte{0x30, 0x80}, der[2:]...), 0, 0)
	unusedBits := spkiWith(t, oidPublicKeyEC, curveParams, append([]byte{1}, point...))
	p := c.params()
	_ = p

	rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaSPKI, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edSPKI, _ := x509.MarshalPKIXPublicKey(edPub)
	xk, _ := ecdh.X25519().GenerateKey(rand.Reader)
	xSPKI, _ := x509.MarshalPKIXPublicKey(xk.PublicKey())

	otherCurve := P256
	if c == P256 {
		otherCurve = Secp256k1
	}

	cases := map[string][]byte{
		"empty":                    {},
		"nil":                      nil,
		"not on curve (Y flipped)": pointSPKI(t, c, flipY),
		"not on curve (X flipped)": pointSPKI(t, c, flipX),
		"infinity 0x00":            pointSPKI(t, c, []byte{0}),
		"all-zero point":           pointSPKI(t, c, append([]byte{4}, make([]byte, 2*size)...)),
		"empty point":              pointSPKI(t, c, nil),
		"compressed":               pointSPKI(t, c, compressed(t, c, point)),
		"compressed 0x02 forged":   pointSPKI(t, c, append([]byte{2}, point[1:1+size]...)),
		"compressed 0x03 forged":   pointSPKI(t, c, append([]byte{3}, point[1:1+size]...)),
		"hybrid":                   pointSPKI(t, c, hybrid),
		"uncompressed, short":      pointSPKI(t, c, point[:len(point)-1]),
		"uncompressed, long":       pointSPKI(t, c, append(append([]byte(nil), point...), 0)),
		"coordinates = p":          pointSPKI(t, c, append([]byte{4}, bytes.Repeat(primeBytes(c), 2)...)),
		"point of another curve":   pointSPKI(t, c, mustGenerate(t, otherCurve).Public().point),
		"RSA":                      rsaSPKI,
		"Ed25519":                  edSPKI,
		"X25519":                   xSPKI,
		"trailing zero":            append(append([]byte(nil), der...), 0),
		"trailing SPKI":            append(append([]byte(nil), der...), der...),
		"BER long-form length":     ber,
		"BER indefinite length":    indefinite,
		"unused bits":              unusedBits,
		"BIT STRING empty":         spkiWith(t, oidPublicKeyEC, curveParams, nil),
		"huge":                     append(append([]byte(nil), der...), make([]byte, 1<<20)...),
		"just over the bound":      append(append([]byte(nil), der...), make([]byte, maxSPKI+1-len(der))...),
		"params absent":            spkiWith(t, oidPublicKeyEC, nil, append([]byte{0}, point...)),
		"params NULL":              spkiWith(t, oidPublicKeyEC, []byte{5, 0}, append([]byte{0}, point...)),
		"params explicit SEQUENCE": spkiWith(t, oidPublicKeyEC, []byte{0x30, 3, 2, 1, 1}, append([]byte{0}, point...)),
		"params secp224r1":         spkiWith(t, oidPublicKeyEC, oidDER(t, asn1.ObjectIdentifier{1, 3, 132, 0, 33}), append([]byte{0}, point...)),
		"params brainpoolP256r1":   spkiWith(t, oidPublicKeyEC, oidDER(t, asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, 7}), append([]byte{0}, point...)),
		"params twice":             spkiWith(t, oidPublicKeyEC, append(curveParams, curveParams...), append([]byte{0}, point...)),
		"id-ecDH algorithm":        spkiWith(t, asn1.ObjectIdentifier{1, 3, 132, 1, 12}, curveParams, append([]byte{0}, point...)),
		"OCTET STRING for BIT STRING": func() []byte {
			d := append([]byte(nil), der...)
			d[len(d)-len(point)-3] = 0x04 // the BIT STRING tag
			return d
		}(),
	}
	for n := range der {
		cases["truncated to "+itoa(n)] = der[:n]
	}
	return cases
}

func primeBytes(c Curve) []byte {
	switch c {
	case Secp256k1:
		return refP.FillBytes(make([]byte, 32))
	default:
		return ecdsaCurve(c).Params().P.FillBytes(make([]byte, c.SecretSize()))
	}
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

func TestParseSPKIHostile(t *testing.T) {
	for _, c := range allCurves {
		t.Run(string(c), func(t *testing.T) {
			for name, der := range hostileSPKIs(t, c) {
				pub, err := ParseSPKI(der)
				if !errors.Is(err, ErrInvalidKey) || pub != nil {
					t.Errorf("%s: got %v, %v; want ErrInvalidKey", name, pub, err)
				}
				// The refusal says why, for the cases callers ask about.
				for prefix, says := range map[string]string{
					"compressed": "only uncompressed points are accepted",
					"infinity":   "point at infinity",
					"trailing":   "trailing data",
				} {
					if strings.HasPrefix(name, prefix) && !strings.Contains(err.Error(), says) {
						t.Errorf("%s: error %q does not say %q", name, err, says)
					}
				}
			}
		})
	}
}

func TestParseSPKIUnsupportedCurve(t *testing.T) {
	point := mustGenerate(t, P256).Public().point
	der := spkiWith(t, oidPublicKeyEC, oidDER(t, asn1.ObjectIdentifier{1, 3, 132, 0, 33}), append([]byte{0}, point...))
	_, err := ParseSPKI(der)
	if !errors.Is(err, ErrInvalidKey) || !errors.Is(err, ErrUnsupported) {
		t.Errorf("secp224r1: %v; want ErrInvalidKey and ErrUnsupported", err)
	}
}

// A peer on another curve parses, and ECDH refuses it without a secret.
func TestECDHWrongCurvePeer(t *testing.T) {
	k := mustGenerate(t, P384)
	der, _ := mustGenerate(t, P256).Public().MarshalSPKI()
	peer, err := ParseSPKI(der)
	if err != nil {
		t.Fatal(err)
	}
	if secret, err := k.ECDH(peer); !errors.Is(err, ErrCurveMismatch) || secret != nil {
		t.Errorf("P-256 peer for a P-384 key: %x, %v", secret, err)
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
	unused     byte   // unused-bits byte of the [1] BIT STRING
	attributes bool   // add an empty [0] attributes field after privateKey
	swap       bool   // write publicKey [1] before parameters [0]
	extra      []byte // raw bytes appended inside the ECPrivateKey
	outerPub   bool   // add a [1] publicKey after privateKey (OneAsymmetricKey v2)
}

func basicP8(t testing.TB, k *PrivateKey) p8 {
	return p8{
		algOID: oidPublicKeyEC, algParams: oidDER(t, k.Curve().params().oid),
		ecVersion: 1, scalar: scalarOf(t, k), point: k.Public().point,
	}
}

func (x p8) der(t testing.TB) []byte {
	t.Helper()
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
		if x.outerPub {
			b.AddASN1(cbasn1.Tag(1).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddUint8(0) })
		}
	})
	der, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestP8BuilderMatchesMarshal(t *testing.T) {
	for _, c := range allCurves {
		k := mustGenerate(t, c)
		want, _ := k.MarshalPKCS8()
		if got := basicP8(t, k).der(t); !bytes.Equal(got, want) {
			t.Errorf("%s: test builder and MarshalPKCS8 disagree", c)
		}
	}
}

func TestParsePKCS8Hostile(t *testing.T) {
	for _, c := range allCurves {
		t.Run(string(c), func(t *testing.T) {
			k := mustGenerate(t, c)
			other := mustGenerate(t, c)
			size := c.SecretSize()
			n := groupOrder(c)
			good := basicP8(t, k)
			der := good.der(t)

			mod := func(f func(*p8)) []byte {
				x := good
				x.scalar = append([]byte(nil), good.scalar...)
				f(&x)
				return x.der(t)
			}
			otherCurve := P384
			if c == P384 {
				otherCurve = P256
			}
			rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
			rsaP8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
			_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
			edP8, _ := x509.MarshalPKCS8PrivateKey(edPriv)
			xk, _ := ecdh.X25519().GenerateKey(rand.Reader)
			xP8, _ := x509.MarshalPKCS8PrivateKey(xk)
			sec1 := func() []byte { // bare ECPrivateKey, not wrapped in PKCS #8
				s := cryptobyte.String(der)
				var seq, octet cryptobyte.String
				s.ReadASN1(&seq, cbasn1.SEQUENCE)
				seq.SkipASN1(cbasn1.INTEGER)
				seq.SkipASN1(cbasn1.SEQUENCE)
				seq.ReadASN1(&octet, cbasn1.OCTET_STRING)
				return octet
			}()

			cases := map[string][]byte{
				"empty":                nil,
				"trailing zero":        append(append([]byte(nil), der...), 0),
				"BER long-form length": append([]byte{0x30, 0x82, 0}, der[1:]...),
				"huge":                 append(append([]byte(nil), der...), make([]byte, 1<<20)...),
				"just over the bound":  append(append([]byte(nil), der...), make([]byte, maxPKCS8+1-len(der))...),
				"scalar zero":          mod(func(x *p8) { x.scalar = make([]byte, size); x.point = nil }),
				"scalar = n":           mod(func(x *p8) { x.scalar = n.FillBytes(make([]byte, size)); x.point = nil }),
				"scalar = n + 1": mod(func(x *p8) {
					x.scalar = new(big.Int).Add(n, big.NewInt(1)).FillBytes(make([]byte, size))
					x.point = nil
				}),
				"scalar all ones":        mod(func(x *p8) { x.scalar = bytes.Repeat([]byte{0xff}, size); x.point = nil }),
				"scalar one byte short":  mod(func(x *p8) { x.scalar = x.scalar[1:] }),
				"scalar with leading 00": mod(func(x *p8) { x.scalar = append([]byte{0}, x.scalar...) }),
				"scalar empty":           mod(func(x *p8) { x.scalar = []byte{} }),
				"PKCS #8 version 1":      mod(func(x *p8) { x.version = 1 }),
				"PKCS #8 version -1":     mod(func(x *p8) { x.version = -1 }),
				"ECPrivateKey version 0": mod(func(x *p8) { x.ecVersion = 0 }),
				"ECPrivateKey version 2": mod(func(x *p8) { x.ecVersion = 2 }),
				"attributes":             mod(func(x *p8) { x.attributes = true }),
				"outer public key (v2)":  mod(func(x *p8) { x.version = 1; x.outerPub = true }),
				"public key mismatch":    mod(func(x *p8) { x.point = other.Public().point }),
				"public key not on curve": mod(func(x *p8) {
					x.point = append([]byte(nil), x.point...)
					x.point[len(x.point)-1] ^= 1
				}),
				"public key compressed":     mod(func(x *p8) { x.point = compressed(t, c, x.point) }),
				"public key empty":          mod(func(x *p8) { x.point = []byte{} }),
				"public key unused bits":    mod(func(x *p8) { x.unused = 1 }),
				"inner params other curve":  mod(func(x *p8) { x.params = oidDER(t, otherCurve.params().oid) }),
				"inner fields out of order": mod(func(x *p8) { x.params = oidDER(t, c.params().oid); x.swap = true }),
				"inner public key twice": mod(func(x *p8) {
					x.extra = []byte{0xa1, byte(len(x.point) + 3), 3, byte(len(x.point) + 1), 0}
					x.extra = append(x.extra, x.point...)
				}),
				"inner trailing NULL":      mod(func(x *p8) { x.extra = []byte{5, 0} }),
				"inner trailing [2]":       mod(func(x *p8) { x.extra = []byte{0xa2, 0} }),
				"inner params NULL":        mod(func(x *p8) { x.params = []byte{5, 0} }),
				"inner params unsupported": mod(func(x *p8) { x.params = oidDER(t, asn1.ObjectIdentifier{1, 3, 132, 0, 33}) }),
				"outer params absent":      mod(func(x *p8) { x.algParams = nil }),
				"outer params NULL":        mod(func(x *p8) { x.algParams = []byte{5, 0} }),
				"outer params explicit":    mod(func(x *p8) { x.algParams = []byte{0x30, 3, 2, 1, 1} }),
				"outer params secp224r1":   mod(func(x *p8) { x.algParams = oidDER(t, asn1.ObjectIdentifier{1, 3, 132, 0, 33}) }),
				"outer params other curve": mod(func(x *p8) { x.algParams = oidDER(t, otherCurve.params().oid) }),
				"algorithm id-ecDH":        mod(func(x *p8) { x.algOID = asn1.ObjectIdentifier{1, 3, 132, 1, 12} }),
				"RSA":                      rsaP8,
				"Ed25519":                  edP8,
				"X25519":                   xP8,
				"SEC 1 ECPrivateKey, bare": sec1,
				"SubjectPublicKeyInfo":     func() []byte { d, _ := k.Public().MarshalSPKI(); return d }(),
			}
			for i := range der {
				cases["truncated to "+itoa(i)] = der[:i]
			}
			for name, in := range cases {
				got, err := ParsePKCS8(in)
				if !errors.Is(err, ErrInvalidPrivateKey) || got != nil {
					t.Errorf("%s: got %v, %v; want ErrInvalidPrivateKey", name, got != nil, err)
				}
			}
		})
	}
}

// The four encodings ParsePKCS8 accepts for one key.
func TestParsePKCS8Variants(t *testing.T) {
	for _, c := range allCurves {
		k := mustGenerate(t, c)
		for _, v := range pkcs8Variants(t, k) {
			got, err := ParsePKCS8(v)
			if err != nil {
				t.Errorf("%s: variant refused: %v", c, err)
				continue
			}
			if !got.Equal(k) {
				t.Errorf("%s: variant parsed to another key", c)
			}
		}
	}
}

// pkcs8Variants returns the accepted encodings of k, canonical first.
func pkcs8Variants(t testing.TB, k *PrivateKey) [][]byte {
	t.Helper()
	var out [][]byte
	for _, v := range [][2]bool{{false, true}, {true, true}, {false, false}, {true, false}} {
		der, err := marshalPKCS8(k.Curve().params(), scalarOf(t, k), k.Public().point, v[0], v[1])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, der)
	}
	return out
}

func groupOrder(c Curve) *big.Int {
	if c == Secp256k1 {
		return refN
	}
	return ecdsaCurve(c).Params().N
}
