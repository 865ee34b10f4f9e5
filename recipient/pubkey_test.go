package recipient

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
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// sm2KnownKey is the example key pair of GB/T 32918.5-2017 (GM/T 0003.5):
// a fixed SM2 key for seeds and vectors, published with the standard.
func sm2KnownKey(tb testing.TB) *sm2.PrivateKey {
	tb.Helper()
	d, _ := hex.DecodeString("3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8")
	k, err := sm2.NewPrivateKey(d)
	if err != nil {
		tb.Fatal(err)
	}
	if hex.EncodeToString(k.X.Bytes()) != "09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020" {
		tb.Fatal("the GB/T 32918.5 key has another public key")
	}
	return k
}

var sm2Keys sync.Map // int -> *sm2.PrivateKey

// sm2Key returns the i-th SM2 test key of this run, made once.
func sm2Key(tb testing.TB, i int) *sm2.PrivateKey {
	tb.Helper()
	if k, ok := sm2Keys.Load(i); ok {
		return k.(*sm2.PrivateKey)
	}
	k, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	got, _ := sm2Keys.LoadOrStore(i, k)
	return got.(*sm2.PrivateKey)
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func sm2SPKI(tb testing.TB, pub *ecdsa.PublicKey) []byte {
	tb.Helper()
	der, err := smx509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

func TestParsePublicKey(t *testing.T) {
	type good struct {
		in  []byte
		pub any
	}
	cases := map[string]good{}
	for _, k := range []*rsa.PrivateKey{key2048(t), key3072(t), key4096(t)} {
		der := spkiOf(t, &k.PublicKey)
		name := "RSA-" + itoa(k.N.BitLen())
		cases[name+" DER"] = good{der, &k.PublicKey}
		cases[name+" PEM"] = good{pemOf("PUBLIC KEY", der), &k.PublicKey}
	}
	sk := sm2Key(t, 0)
	der := sm2SPKI(t, &sk.PublicKey)
	cases["SM2 DER"] = good{der, &sk.PublicKey}
	cases["SM2 PEM"] = good{pemOf("PUBLIC KEY", der), &sk.PublicKey}
	cases["SM2 PEM, CRLF and blank lines around"] = good{
		append([]byte("\r\n\n"), bytes.ReplaceAll(pemOf("PUBLIC KEY", der), []byte("\n"), []byte("\r\n"))...), &sk.PublicKey}
	cases["SM2 PEM, no final newline"] = good{bytes.TrimSpace(pemOf("PUBLIC KEY", der)), &sk.PublicKey}
	// The example EncryptionPublicKey of Tencent's Decrypt documentation
	// (cloud.tencent.com/document/api/573/34429, masked after this prefix):
	// an SM2 key as Tencent writes it, id-ecPublicKey with sm2p256v1.
	if !bytes.HasPrefix(der, mustB64(t, "MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAE")) {
		t.Errorf("our SM2 SPKI does not start as Tencent's does: %x", der[:27])
	}

	for name, tc := range cases {
		pub, err := ParsePublicKey(tc.in)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		switch want := tc.pub.(type) {
		case *rsa.PublicKey:
			if got, ok := pub.(*rsa.PublicKey); !ok || !got.Equal(want) {
				t.Errorf("%s: parsed to %T, another key", name, pub)
			}
		case *ecdsa.PublicKey:
			got, ok := pub.(*ecdsa.PublicKey)
			if !ok || got.Curve != sm2.P256() || !got.Equal(want) {
				t.Errorf("%s: parsed to %T, another key or curve", name, pub)
			}
		}
	}
}

// An SM2 key as OpenSSL, gmsm and our marshalSM2SPKI write it are the same
// bytes.
func TestMarshalSM2SPKIMatchesSMX509(t *testing.T) {
	for i := range 4 {
		k := sm2Key(t, i)
		if got, want := marshalSM2SPKI(&k.PublicKey), sm2SPKI(t, &k.PublicKey); !bytes.Equal(got, want) {
			t.Fatalf("marshalSM2SPKI %x, smx509 %x", got, want)
		}
	}
}

func TestParsePublicKeyHostile(t *testing.T) {
	sk := sm2Key(t, 0)
	sm2DER := sm2SPKI(t, &sk.PublicKey)
	sm2Point := sm2PointBytes(&sk.PublicKey)
	rsaDER := spkiOf(t, &key2048(t).PublicKey)
	rsaPEM := pemOf("PUBLIC KEY", rsaDER)

	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256DER, _ := x509.MarshalPKIXPublicKey(&p256.PublicKey)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKIXPublicKey(edPub)
	xk, _ := ecdh.X25519().GenerateKey(rand.Reader)
	xDER, _ := x509.MarshalPKIXPublicKey(xk.PublicKey())
	rsaP8, _ := x509.MarshalPKCS8PrivateKey(key2048(t))
	edP8, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	sm2P8, _ := smx509.MarshalPKCS8PrivateKey(sk)
	sm2SEC1, _ := smx509.MarshalSM2PrivateKey(sk)
	cert := selfSigned(t, key2048(t))

	spkiWith := func(alg asn1.ObjectIdentifier, params func(*cryptobyte.Builder), point []byte, unused byte) []byte {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(alg)
				if params != nil {
					params(b)
				}
			})
			b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
				b.AddUint8(unused)
				b.AddBytes(point)
			})
		})
		return b.BytesOrPanic()
	}
	named := func(oid asn1.ObjectIdentifier) func(*cryptobyte.Builder) {
		return func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid) }
	}
	sm2With := func(point []byte) []byte { return spkiWith(oidPublicKeyEC, named(oidSM2Curve), point, 0) }
	flipped := bytes.Clone(sm2Point)
	flipped[64] ^= 1
	compressed := elliptic.MarshalCompressed(sm2.P256(), sk.X, sk.Y)
	p256Point := elliptic.Marshal(elliptic.P256(), p256.X, p256.Y)
	prime := sm2.P256().Params().P.FillBytes(make([]byte, 32))
	rsaNoNull := func() []byte { // rsaEncryption without its NULL parameters
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidRSAEncryption) })
			b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
				b.AddUint8(0)
				b.AddBytes(x509.MarshalPKCS1PublicKey(&key2048(t).PublicKey))
			})
		})
		return b.BytesOrPanic()
	}()
	rsaE := func(e int) []byte {
		pub := key2048(t).PublicKey
		pub.E = e
		return spkiOf(t, &pub)
	}

	for _, tc := range []struct {
		name string
		in   []byte
		says string
	}{
		{"nil", nil, "empty"},
		{"empty", []byte{}, "empty"},
		{"whitespace", []byte(" \n"), "not DER"},
		{"garbage", []byte("hello, world"), "not DER"},
		{"huge", append(bytes.Clone(rsaPEM), bytes.Repeat([]byte{'\n'}, maxPublicKeyInput)...), "more than"},
		{"RSA-1024", spkiOf(t, &rsa1024.PublicKey), "RSA key of 1024 bits"},
		{"RSA e = 1", rsaE(1), "exponent"},
		{"RSA e = 65536", rsaE(65536), "exponent"},
		{"RSA e = 2^32 + 1", rsaBigE(t, new(big.Int).SetUint64(1<<32+1)), "exponent"},
		{"RSA even modulus", func() []byte {
			pub := key2048(t).PublicKey
			pub.N = new(big.Int).SetBit(new(big.Int).Set(pub.N), 0, 0)
			return spkiOf(t, &pub)
		}(), "modulus is even"},
		{"RSA without NULL parameters", rsaNoNull, "NULL"},
		{"RSA DER, trailing byte", append(bytes.Clone(rsaDER), 0), "trailing data"},
		{"RSA DER, non-minimal length", append([]byte{0x30, 0x83, 0x00, 0x01, 0x22}, rsaDER[4:]...), "not DER"},
		{"SM2 DER, non-minimal length", append([]byte{0x30, 0x81, 0x59}, sm2DER[2:]...), "not DER"},
		{"NIST P-256", p256DER, "NIST P-256"},
		{"NIST P-384", p384DER, "NIST P-384"},
		{"Ed25519", edDER, "Ed25519"},
		{"X25519", xDER, "X25519"},
		{"P-256 point with the SM2 curve OID", sm2With(p256Point), "not on the curve"},
		{"SM2 point with the P-256 OID", spkiWith(oidPublicKeyEC, named(asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}), sm2Point, 0), "NIST P-256"},
		{"SM2 point off the curve", sm2With(flipped), "not on the curve"},
		{"SM2 identity", sm2With([]byte{0}), "infinity"},
		{"SM2 all-zero point", sm2With(make([]byte, 65)), "65 bytes, uncompressed"},
		{"SM2 04, zero coordinates", sm2With(append([]byte{4}, make([]byte, 64)...)), "not on the curve"},
		{"SM2 coordinates = p", sm2With(append(append([]byte{4}, prime...), prime...)), "not on the curve"},
		{"SM2 compressed", sm2With(compressed), "compressed"},
		{"SM2 hybrid", sm2With(append([]byte{6 | sm2Point[64]&1}, sm2Point[1:]...)), "65 bytes"},
		{"SM2 point short", sm2With(sm2Point[:64]), "65 bytes"},
		{"SM2 unused bits", spkiWith(oidPublicKeyEC, named(oidSM2Curve), sm2Point, 1), "malformed"},
		{"SM2 OID as algorithm", spkiWith(oidSM2Curve, named(oidSM2Curve), sm2Point, 0), "SM2 OID"},
		{"sm2encrypt OID as algorithm", spkiWith(oidSM2Encrypt, nil, sm2Point, 0), "SM2 OID"},
		{"SM2 no curve", spkiWith(oidPublicKeyEC, nil, sm2Point, 0), "named curve"},
		{"SM2 curve twice", spkiWith(oidPublicKeyEC, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidSM2Curve)
			b.AddASN1ObjectIdentifier(oidSM2Curve)
		}, sm2Point, 0), "named curve"},
		{"SM2 explicit parameters", spkiWith(oidPublicKeyEC, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1Int64(1) })
		}, sm2Point, 0), "named curve"},
		{"unknown algorithm", spkiWith(asn1.ObjectIdentifier{1, 2, 3, 4}, nil, sm2Point, 0), "algorithm 1.2.3.4"},
		{"SM2 trailing byte", append(bytes.Clone(sm2DER), 0), "trailing data"},
		{"SM2 PEM then garbage", append(pemOf("PUBLIC KEY", sm2DER), "garbage"...), "after the PEM block"},
		{"two PEM blocks", append(pemOf("PUBLIC KEY", sm2DER), rsaPEM...), "several PEM blocks"},
		{"a broken PEM block, then a good one", append([]byte("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n"), rsaPEM...), "several PEM blocks"},
		{"PEM, broken base64", []byte("-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n"), "malformed PEM"},
		{"PEM, unterminated", rsaPEM[:len(rsaPEM)-20], "malformed PEM"},
		{"PEM with headers", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: rsaDER}), "headers"},
		{"PEM PRIVATE KEY", pemOf("PRIVATE KEY", rsaP8), "private key"},
		{"PEM RSA PRIVATE KEY", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key2048(t))), "private key"},
		{"PEM EC PRIVATE KEY", pemOf("EC PRIVATE KEY", sm2SEC1), "private key"},
		{"PEM CERTIFICATE", pemOf("CERTIFICATE", cert), "CERTIFICATE"},
		{"PEM RSA PUBLIC KEY", pemOf("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&key2048(t).PublicKey)), "PKCS #1"},
		{"PEM of another type", pemOf(strings.Repeat("X", 200), rsaDER), "PEM"},
		{"PUBLIC KEY PEM holding a certificate", pemOf("PUBLIC KEY", cert), "certificate"},
		{"DER certificate", cert, "certificate"},
		{"DER PKCS #8 RSA", rsaP8, "PKCS #8 private key"},
		{"DER PKCS #8 Ed25519", edP8, "PKCS #8 private key"},
		{"DER PKCS #8 SM2", sm2P8, "PKCS #8 private key"},
		{"DER SEC 1 SM2", sm2SEC1, "SEC 1"},
		{"DER PKCS #1 private", x509.MarshalPKCS1PrivateKey(key2048(t)), "PKCS #1 RSA private key"},
		{"DER PKCS #1 public", x509.MarshalPKCS1PublicKey(&key2048(t).PublicKey), "PKCS #1 RSAPublicKey"},
		{"leading garbage before PEM", append([]byte("x"), rsaPEM...), "not DER"},
	} {
		pub, err := ParsePublicKey(tc.in)
		if !errors.Is(err, ErrKey) || !isKind(err) || pub != nil {
			t.Errorf("%s: %v, %v; want ErrKey", tc.name, pub, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %q does not say %q", tc.name, err, tc.says)
		}
		if len(err.Error()) > 300 {
			t.Errorf("%s: message of %d bytes", tc.name, len(err.Error()))
		}
	}
	for n := range sm2DER {
		if pub, err := ParsePublicKey(sm2DER[:n]); !errors.Is(err, ErrKey) || pub != nil {
			t.Errorf("SM2 DER truncated to %d: %v", n, err)
		}
	}
}

// selfSigned is a fixed certificate for key: RSA PKCS #1 v1.5 signatures are
// deterministic, so its bytes are the same on every run.
func selfSigned(tb testing.TB, key *rsa.PrivateKey) []byte {
	tb.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    mustTime(tb, "2026-01-01T00:00:00Z"),
		NotAfter:     mustTime(tb, "2036-01-01T00:00:00Z"),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

func itoa(n int) string { return strconv.Itoa(n) }

func mustB64(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// rsaBigE is the test RSA-2048 key with exponent e, which need not fit an int.
func rsaBigE(tb testing.TB, e *big.Int) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidRSAEncryption)
			b.AddASN1NULL()
		})
		b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) {
			b.AddUint8(0)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1BigInt(key2048(tb).N)
				b.AddASN1BigInt(e)
			})
		})
	})
	return b.BytesOrPanic()
}
