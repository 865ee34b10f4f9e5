package eckeys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"

	gmecdh "github.com/emmansun/gmsm/ecdh"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// sm2Known is the example key pair of GB/T 32918.5-2017 (GM/T 0003.5-2012,
// the SM2 parameter definition), whose worked examples on the recommended
// curve use it: the public key is printed there, so deriving it checks our
// curve against the standard and not only against gmsm.
var sm2Known = struct{ d, x, y string }{
	d: "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8",
	x: "09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020",
	y: "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13",
}

// sm2PeerScalar is a second fixed key, SHA-256 of a label (below n-1, as
// the test checks), for a pinned ECDH answer. There are no published vectors
// for plain ECDH on SM2; the pinned secret was computed by three unrelated
// implementations that TestSM2KnownAnswer and TestOpenSSLSM2KnownAnswer check
// it against on every run: gmsm's ecdh (what ECDH uses), Go's generic
// math/big curve arithmetic, and OpenSSL's generic EC code.
var (
	sm2PeerScalar = sha256.Sum256([]byte("attestkms eckeys SM2 test peer"))
	sm2KnownZ     = "3d553f944f9b7d9980b9fbfe1f1cd1c47a016ef4324909d90b40f8ecbecb036b"
)

// sm2Ref is SM2's curve as bare elliptic.CurveParams, whose methods are Go's
// generic (variable-time, math/big) short-Weierstrass arithmetic for a = -3,
// which SM2 has (a = p - 3): a reference that shares no code with gmsm.
func sm2Ref() *elliptic.CurveParams {
	p := sm2.P256().Params()
	return &elliptic.CurveParams{P: p.P, N: p.N, B: p.B, Gx: p.Gx, Gy: p.Gy, BitSize: 256, Name: "sm2p256v1 (math/big)"}
}

func TestSM2CurveIsNotP256(t *testing.T) {
	// The constants gmsm's ecdh and sm2 packages use are those of GB/T
	// 32918.5, not NIST's: a = p - 3 and the standard's p and b.
	p := sm2.P256().Params()
	wantP, _ := new(big.Int).SetString("fffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffff", 16)
	wantB, _ := new(big.Int).SetString("28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93", 16)
	if p.P.Cmp(wantP) != 0 || p.B.Cmp(wantB) != 0 {
		t.Fatal("sm2.P256() is not sm2p256v1")
	}
	if gmecdh.P256() != SM2.params().sm2 {
		t.Fatal("SM2 does not use gmsm's ecdh.P256()")
	}
}

func TestSM2KnownKey(t *testing.T) {
	k := keyFromScalar(t, SM2, mustHex(t, sm2Known.d))
	want := mustHex(t, "04"+sm2Known.x+sm2Known.y)
	if !bytes.Equal(k.Public().point, want) {
		t.Fatalf("GB/T 32918.5 key: public key %x, the standard prints %x", k.Public().point, want)
	}
	// And the reference agrees: d·G.
	x, y := sm2Ref().ScalarBaseMult(mustHex(t, sm2Known.d))
	if !bytes.Equal(elliptic.Marshal(sm2Ref(), x, y), want) {
		t.Fatal("math/big reference derives another public key")
	}
}

func TestSM2KnownAnswer(t *testing.T) {
	k := keyFromScalar(t, SM2, mustHex(t, sm2Known.d))
	peer := keyFromScalar(t, SM2, sm2PeerScalar[:])
	z, err := k.ECDH(peer.Public())
	if err != nil {
		t.Fatal(err)
	}
	if want := mustHex(t, sm2KnownZ); !bytes.Equal(z, want) {
		t.Fatalf("Z = %x, pinned %x", z, want)
	}
	ref := sm2Ref()
	px, py := elliptic.Unmarshal(ref, peer.Public().point)
	x, _ := ref.ScalarMult(px, py, mustHex(t, sm2Known.d))
	if got := x.FillBytes(make([]byte, 32)); !bytes.Equal(got, z) {
		t.Fatalf("math/big reference says %x, ECDH %x", got, z)
	}
}

// ECDH agrees with gmsm's ecdh run afresh from the raw scalar and point, with
// gmsm's sm2 key types converted to ecdh, and with the math/big reference.
func TestSM2ECDHMatchesGmsm(t *testing.T) {
	ref := sm2Ref()
	for range 32 {
		a, b := mustGenerate(t, SM2), mustGenerate(t, SM2)
		got, err := a.ECDH(b.Public())
		if err != nil {
			t.Fatal(err)
		}
		ak, err := gmecdh.P256().NewPrivateKey(scalarOf(t, a))
		if err != nil {
			t.Fatal(err)
		}
		bp, err := gmecdh.P256().NewPublicKey(b.Public().point)
		if err != nil {
			t.Fatal(err)
		}
		if want, err := ak.ECDH(bp); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("ECDH = %x, gmsm ecdh says %x, %v", got, want, err)
		}

		sa, err := sm2.NewPrivateKey(scalarOf(t, a))
		if err != nil {
			t.Fatal(err)
		}
		sb, err := sm2.NewPublicKey(b.Public().point)
		if err != nil {
			t.Fatal(err)
		}
		ea, err := sa.ECDH()
		if err != nil {
			t.Fatal(err)
		}
		eb, err := sm2.PublicKeyToECDH(sb)
		if err != nil {
			t.Fatal(err)
		}
		if want, err := ea.ECDH(eb); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("ECDH = %x, gmsm sm2 keys say %x, %v", got, want, err)
		}
		if !bytes.Equal(a.Public().point, elliptic.Marshal(sm2.P256(), sa.X, sa.Y)) {
			t.Fatal("public key differs from gmsm sm2's")
		}

		x, _ := ref.ScalarMult(sb.X, sb.Y, scalarOf(t, a))
		if want := x.FillBytes(make([]byte, 32)); !bytes.Equal(got, want) {
			t.Fatalf("ECDH = %x, math/big reference says %x", got, want)
		}
	}
}

// Our encodings are smx509's, and each reads the other's.
func TestSM2MatchesSMX509(t *testing.T) {
	for range 8 {
		k := mustGenerate(t, SM2)
		sk, err := sm2.NewPrivateKey(scalarOf(t, k))
		if err != nil {
			t.Fatal(err)
		}

		ours, err := k.Public().MarshalSPKI()
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := smx509.MarshalPKIXPublicKey(&sk.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, theirs) {
			t.Fatalf("MarshalSPKI differs from smx509:\n ours   %x\n theirs %x", ours, theirs)
		}
		back, err := smx509.ParsePKIXPublicKey(ours)
		if err != nil {
			t.Fatal(err)
		}
		if bp, ok := back.(*ecdsa.PublicKey); !ok || !sm2.IsSM2PublicKey(bp) || !bp.Equal(&sk.PublicKey) {
			t.Fatalf("smx509 reads our SPKI as %T, another key", back)
		}

		p8, err := k.MarshalPKCS8()
		if err != nil {
			t.Fatal(err)
		}
		theirP8, err := smx509.MarshalPKCS8PrivateKey(sk)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p8, theirP8) {
			t.Fatalf("MarshalPKCS8 differs from smx509:\n ours   %x\n theirs %x", p8, theirP8)
		}
		if got, err := ParsePKCS8(theirP8); err != nil || !got.Equal(k) {
			t.Fatalf("ParsePKCS8(smx509): %v", err)
		}
		gotK, err := smx509.ParsePKCS8PrivateKey(p8)
		if err != nil {
			t.Fatal(err)
		}
		if gk, ok := gotK.(*sm2.PrivateKey); !ok || !gk.Equal(sk) {
			t.Fatalf("smx509 reads our PKCS #8 as %T, another key", gotK)
		}
	}
}

func TestSM2ScalarRange(t *testing.T) {
	n := sm2.P256().Params().N
	for _, tc := range []struct {
		name string
		s    *big.Int
		ok   bool
	}{
		{"1", big.NewInt(1), true},
		{"n-2", new(big.Int).Sub(n, big.NewInt(2)), true},
		// Valid for ECDH, but not an SM2 private key (GB/T 32918.1): refused.
		{"n-1", new(big.Int).Sub(n, big.NewInt(1)), false},
		{"n", n, false},
		{"0", big.NewInt(0), false},
	} {
		s := tc.s.FillBytes(make([]byte, 32))
		k, err := newPrivateKey(SM2.params(), s)
		if tc.ok != (err == nil) || (err != nil && (k != nil || !errors.Is(err, ErrInvalidPrivateKey))) {
			t.Errorf("scalar %s: %v", tc.name, err)
		}
		der, err := marshalPKCS8(SM2.params(), s, nil, false, false)
		if err != nil {
			t.Fatal(err)
		}
		if k, err := ParsePKCS8(der); tc.ok != (err == nil) || (err != nil && k != nil) {
			t.Errorf("ParsePKCS8 with scalar %s: %v", tc.name, err)
		}
	}
}

var (
	oidSM2     = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}
	oidP256    = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidSM2Sign = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501} // SM2-with-SM3, not a key algorithm
)

// The confusions P-256 and SM2 invite, all refused as ErrInvalidKey: same
// sizes, same encodings, different curves.
func TestSM2Confusions(t *testing.T) {
	sm2Key, p256Key := mustGenerate(t, SM2), mustGenerate(t, P256)
	sm2Point, p256Point := sm2Key.Public().point, p256Key.Public().point
	withAlg := func(alg asn1.ObjectIdentifier, params []byte, point []byte) []byte {
		return spkiWith(t, alg, params, append([]byte{0}, point...))
	}
	cases := map[string][]byte{
		"P-256 point, SM2 OID":                   withAlg(oidPublicKeyEC, oidDER(t, oidSM2), p256Point),
		"SM2 point, P-256 OID":                   withAlg(oidPublicKeyEC, oidDER(t, oidP256), sm2Point),
		"SM2 OID as algorithm, SM2 OID as curve": withAlg(oidSM2, oidDER(t, oidSM2), sm2Point),
		"SM2 OID as algorithm, no parameters":    withAlg(oidSM2, nil, sm2Point),
		"SM2 OID as algorithm, P-256 curve":      withAlg(oidSM2, oidDER(t, oidP256), p256Point),
		"SM2-with-SM3 as algorithm":              withAlg(oidSM2Sign, oidDER(t, oidSM2), sm2Point),
		"SM2 OID, NULL then point":               withAlg(oidPublicKeyEC, append(oidDER(t, oidSM2), 5, 0), sm2Point),
	}
	for name, der := range cases {
		pub, err := ParseSPKI(der)
		if !errors.Is(err, ErrInvalidKey) || pub != nil {
			t.Errorf("%s: %v, %v; want ErrInvalidKey", name, pub, err)
		}
	}
	// A P-256 peer for an SM2 key, and the reverse: ECDH refuses.
	if s, err := sm2Key.ECDH(p256Key.Public()); !errors.Is(err, ErrCurveMismatch) || s != nil {
		t.Errorf("P-256 peer for SM2 key: %v", err)
	}
	if s, err := p256Key.ECDH(sm2Key.Public()); !errors.Is(err, ErrCurveMismatch) || s != nil {
		t.Errorf("SM2 peer for P-256 key: %v", err)
	}
	// The point at infinity cannot be encoded as uncompressed; (0, sqrt(b)),
	// the points with x = 0 that SM2 has, are valid keys, and their ECDH
	// is an ordinary one.
	ref := sm2Ref()
	y0 := new(big.Int).ModSqrt(ref.B, ref.P)
	if y0 == nil {
		t.Fatal("b is not a square mod p")
	}
	zeroX := elliptic.Marshal(ref, new(big.Int), y0)
	if pub, err := ParseSPKI(pointSPKI(t, SM2, zeroX)); err != nil {
		t.Errorf("(0, sqrt(b)) refused: %v", err)
	} else if s, err := sm2Key.ECDH(pub); err != nil || len(s) != 32 {
		t.Errorf("ECDH with (0, sqrt(b)): %v", err)
	}
}
