package eckeys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"io"
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/emmansun/gmsm/sm2"

	"github.com/attestkms/attestkms/internal/keyder"
)

// The largest encodings the parsers accept, which the tests check against
// what they write (maxSPKI and maxPKCS8 bound the input, with room).
const (
	maxSPKILen  = 158 // P-521
	maxPKCS8Len = 250 // P-521 with both optional ECPrivateKey fields
)

var oidPublicKeyEC = keyder.OIDPublicKeyEC // id-ecPublicKey, RFC 5480

func TestSecretSize(t *testing.T) {
	want := map[Curve]int{P256: 32, P384: 48, P521: 66, Secp256k1: 32, SM2: 32, "P-224": 0, "sm2": 0, "": 0}
	for c, n := range want {
		if got := c.SecretSize(); got != n {
			t.Errorf("%q.SecretSize() = %d, want %d", c, got, n)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, c := range allCurves {
		t.Run(string(c), func(t *testing.T) {
			for range 8 {
				k := mustGenerate(t, c)
				if k.Curve() != c || k.Public().Curve() != c {
					t.Fatalf("curves %s, %s; want %s", k.Curve(), k.Public().Curve(), c)
				}
				spki, err := k.Public().MarshalSPKI()
				if err != nil {
					t.Fatal(err)
				}
				if len(spki) > maxSPKILen {
					t.Errorf("SPKI is %d bytes, more than maxSPKILen %d", len(spki), maxSPKILen)
				}
				pub, err := ParseSPKI(spki)
				if err != nil {
					t.Fatalf("ParseSPKI(MarshalSPKI()): %v", err)
				}
				if !pub.Equal(k.Public()) {
					t.Fatal("public key changed in an SPKI round trip")
				}

				p8, err := k.MarshalPKCS8()
				if err != nil {
					t.Fatal(err)
				}
				k2, err := ParsePKCS8(p8)
				if err != nil {
					t.Fatalf("ParsePKCS8(MarshalPKCS8()): %v", err)
				}
				if !k2.Equal(k) || !bytes.Equal(scalarOf(t, k2), scalarOf(t, k)) {
					t.Fatal("scalar changed in a PKCS #8 round trip")
				}
				if !k2.Public().Equal(k.Public()) {
					t.Fatal("public key changed in a PKCS #8 round trip")
				}
				again, err := k2.MarshalPKCS8()
				if err != nil || !bytes.Equal(again, p8) {
					t.Fatalf("MarshalPKCS8 is not stable: %v", err)
				}
			}
		})
	}
}

// The hand-written ASN.1 must have exactly crypto/x509's shape, which is
// what AWS KMS and OpenSSL write; checked on the curves x509 knows.
func TestMarshalMatchesX509(t *testing.T) {
	for _, c := range []Curve{P256, P384, P521} {
		t.Run(string(c), func(t *testing.T) {
			k := mustGenerate(t, c)
			p := c.params()

			ours, err := marshalSPKI(p, k.Public().point)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := x509.MarshalPKIXPublicKey(k.Public().nist)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ours, theirs) {
				t.Errorf("marshalSPKI differs from crypto/x509:\n ours   %x\n theirs %x", ours, theirs)
			}

			ek, err := ecdsa.ParseRawPrivateKey(ecdsaCurve(c), scalarOf(t, k))
			if err != nil {
				t.Fatal(err)
			}
			viaECDSA, err := x509.MarshalPKCS8PrivateKey(ek)
			if err != nil {
				t.Fatal(err)
			}
			got, err := k.MarshalPKCS8()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, viaECDSA) {
				t.Errorf("MarshalPKCS8 differs from x509.MarshalPKCS8PrivateKey(*ecdsa.PrivateKey)")
			}
			hand, err := marshalPKCS8(p, scalarOf(t, k), k.Public().point, false, true)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(hand, viaECDSA) {
				t.Errorf("marshalPKCS8 differs from crypto/x509")
			}
			// And crypto/x509 reads back what we write.
			back, err := x509.ParsePKCS8PrivateKey(got)
			if err != nil {
				t.Fatal(err)
			}
			if !back.(*ecdsa.PrivateKey).Equal(ek) {
				t.Error("crypto/x509 reads another key")
			}
		})
	}
}

// The largest accepted encodings are what the bounds in spki.go and pkcs8.go
// say they are.
func TestLargestEncodings(t *testing.T) {
	k := mustGenerate(t, P521)
	spki, _ := k.Public().MarshalSPKI()
	if len(spki) != maxSPKILen {
		t.Errorf("P-521 SPKI is %d bytes, maxSPKILen says %d", len(spki), maxSPKILen)
	}
	all, err := marshalPKCS8(P521.params(), scalarOf(t, k), k.Public().point, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != maxPKCS8Len {
		t.Errorf("largest P-521 PKCS #8 is %d bytes, maxPKCS8Len says %d", len(all), maxPKCS8Len)
	}
	if _, err := ParsePKCS8(all); err != nil {
		t.Errorf("largest accepted variant refused: %v", err)
	}
}

func TestECDHMatchesCryptoECDH(t *testing.T) {
	for _, c := range []Curve{P256, P384, P521} {
		t.Run(string(c), func(t *testing.T) {
			for range 16 {
				a, b := mustGenerate(t, c), mustGenerate(t, c)
				got, err := a.ECDH(b.Public())
				if err != nil {
					t.Fatal(err)
				}
				// Computed afresh by crypto/ecdh from the raw scalar and point.
				ak, err := c.params().ecdh.NewPrivateKey(scalarOf(t, a))
				if err != nil {
					t.Fatal(err)
				}
				bp, err := c.params().ecdh.NewPublicKey(b.Public().point)
				if err != nil {
					t.Fatal(err)
				}
				want, err := ak.ECDH(bp)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("ECDH = %x, crypto/ecdh says %x", got, want)
				}
			}
		})
	}
}

func TestECDHSecp256k1MatchesDecred(t *testing.T) {
	for range 64 {
		a, b := mustGenerate(t, Secp256k1), mustGenerate(t, Secp256k1)
		got, err := a.ECDH(b.Public())
		if err != nil {
			t.Fatal(err)
		}
		// decred's variable-time multiplication, from the raw encodings.
		da := secp256k1.PrivKeyFromBytes(scalarOf(t, a))
		db, err := secp256k1.ParsePubKey(b.Public().point)
		if err != nil {
			t.Fatal(err)
		}
		if want := secp256k1.GenerateSharedSecret(da, db); !bytes.Equal(got, want) {
			t.Fatalf("ECDH = %x, decred GenerateSharedSecret says %x", got, want)
		}
		var pj, r secp256k1.JacobianPoint
		db.AsJacobian(&pj)
		secp256k1.ScalarMultNonConst(&da.Key, &pj, &r)
		r.ToAffine()
		if want := r.X.Bytes(); !bytes.Equal(got, want[:]) {
			t.Fatalf("ECDH = %x, decred ScalarMultNonConst says %x", got, want)
		}
		// And the public key is what decred derives.
		if !bytes.Equal(a.Public().point, da.PubKey().SerializeUncompressed()) {
			t.Fatal("public key differs from decred's")
		}
	}
}

func TestECDHSymmetric(t *testing.T) {
	for _, c := range allCurves {
		t.Run(string(c), func(t *testing.T) {
			for range 16 {
				a, b := mustGenerate(t, c), mustGenerate(t, c)
				ab, err := a.ECDH(b.Public())
				if err != nil {
					t.Fatal(err)
				}
				ba, err := b.ECDH(a.Public())
				if err != nil {
					t.Fatal(err)
				}
				if len(ab) != c.SecretSize() {
					t.Fatalf("secret is %d bytes, want %d", len(ab), c.SecretSize())
				}
				if !bytes.Equal(ab, ba) {
					t.Fatalf("a·B = %x, b·A = %x", ab, ba)
				}
				if bytes.Equal(ab, make([]byte, len(ab))) {
					t.Fatal("all-zero secret")
				}
			}
		})
	}
}

func TestECDHCurveMismatch(t *testing.T) {
	for _, kc := range allCurves {
		for _, pc := range allCurves {
			if kc == pc {
				continue
			}
			k, peer := mustGenerate(t, kc), mustGenerate(t, pc)
			secret, err := k.ECDH(peer.Public())
			if !errors.Is(err, ErrCurveMismatch) || secret != nil {
				t.Errorf("%s key, %s peer: secret %x, err %v; want ErrCurveMismatch", kc, pc, secret, err)
			}
		}
	}
}

func TestDestroy(t *testing.T) {
	for _, c := range allCurves {
		t.Run(string(c), func(t *testing.T) {
			k := mustGenerate(t, c)
			peer := mustGenerate(t, c)
			pub := k.Public()
			var scalar *[32]byte
			if c == Secp256k1 {
				scalar = k.k1
			}
			k.Destroy()
			if scalar != nil && *scalar != [32]byte{} {
				t.Error("secp256k1 scalar not zeroed")
			}
			if secret, err := k.ECDH(peer.Public()); !errors.Is(err, ErrDestroyed) || secret != nil {
				t.Errorf("ECDH after Destroy: %x, %v", secret, err)
			}
			if der, err := k.MarshalPKCS8(); !errors.Is(err, ErrDestroyed) || der != nil {
				t.Errorf("MarshalPKCS8 after Destroy: %v", err)
			}
			if k.Equal(k) {
				t.Error("a destroyed key equals itself")
			}
			if k.Curve() != c || k.Public() != pub {
				t.Error("Curve or Public changed by Destroy")
			}
			if _, err := pub.MarshalSPKI(); err != nil {
				t.Errorf("public key unusable after Destroy: %v", err)
			}
			k.Destroy() // idempotent
		})
	}
}

func TestZeroValues(t *testing.T) {
	var k PrivateKey
	var p PublicKey
	real := mustGenerate(t, P256)
	if _, err := k.ECDH(real.Public()); !errors.Is(err, ErrDestroyed) {
		t.Errorf("zero PrivateKey ECDH: %v", err)
	}
	if _, err := k.MarshalPKCS8(); !errors.Is(err, ErrDestroyed) {
		t.Errorf("zero PrivateKey MarshalPKCS8: %v", err)
	}
	if k.Public() != nil || k.Curve() != "" {
		t.Error("zero PrivateKey has a public key or curve")
	}
	if secret, err := real.ECDH(&p); !errors.Is(err, ErrInvalidKey) || secret != nil {
		t.Errorf("ECDH with zero PublicKey: %v", err)
	}
	if secret, err := real.ECDH(nil); !errors.Is(err, ErrInvalidKey) || secret != nil {
		t.Errorf("ECDH with nil PublicKey: %v", err)
	}
	if _, err := p.MarshalSPKI(); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("zero PublicKey MarshalSPKI: %v", err)
	}
	if p.Equal(&p) {
		t.Error("zero PublicKey equals itself")
	}
}

func TestGenerateErrors(t *testing.T) {
	for _, c := range []Curve{"", "P-224", "secp256r1", "X25519"} {
		if k, err := Generate(c, nil); !errors.Is(err, ErrUnsupported) || k != nil {
			t.Errorf("Generate(%q): %v", c, err)
		}
	}
	// A reader that fails, and one that only yields invalid scalars.
	if _, err := Generate(Secp256k1, failingReader{}); err == nil {
		t.Error("Generate with a failing reader succeeded")
	}
	if _, err := Generate(Secp256k1, constReader(0x00)); err == nil {
		t.Error("Generate with an all-zero reader succeeded")
	}
	if _, err := Generate(Secp256k1, constReader(0xff)); err == nil {
		t.Error("Generate with an all-0xff reader (scalar >= n) succeeded")
	}
	if k, err := Generate(Secp256k1, nil); err != nil || k == nil {
		t.Errorf("Generate with nil reader: %v", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

type constReader byte

func (r constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func TestPrivateKeyEqual(t *testing.T) {
	a, b := mustGenerate(t, Secp256k1), mustGenerate(t, Secp256k1)
	c := mustGenerate(t, P256)
	if !a.Equal(a) || a.Equal(b) || a.Equal(c) || a.Equal(nil) {
		t.Error("secp256k1 Equal is wrong")
	}
	if !c.Equal(c) || c.Equal(mustGenerate(t, P256)) {
		t.Error("P-256 Equal is wrong")
	}
}

func ecdsaCurve(c Curve) elliptic.Curve {
	switch c {
	case P256:
		return elliptic.P256()
	case P384:
		return elliptic.P384()
	case P521:
		return elliptic.P521()
	case SM2:
		return sm2.P256()
	}
	return nil
}
