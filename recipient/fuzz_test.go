package recipient

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// FuzzUnwrapCMS feeds hostile envelopes to UnwrapCMS under two keys: the
// RSA-2048 test key (our envelopes in the seeds are for it) and the key of
// the real AWS response. Properties: no panic; a failed unwrap returns no
// secret and wraps exactly one kind; parseEnvelope and UnwrapCMS agree on
// what is malformed; what unwraps is shorter than the envelope.
func FuzzUnwrapCMS(f *testing.F) {
	for _, s := range fuzzSeedsUnwrap(f) {
		f.Add(s)
	}
	k2048, k4096 := key2048(f), key4096(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, perr := parseEnvelope(b)
		for _, key := range []*rsa.PrivateKey{k2048, k4096} {
			got, err := UnwrapCMS(key, b)
			if err != nil {
				if got != nil {
					t.Fatalf("error %v with a secret", err)
				}
				if !isKind(err) {
					t.Fatalf("%v wraps no single kind", err)
				}
				if perr != nil && !errors.Is(err, ErrMalformed) {
					t.Fatalf("parseEnvelope: %v; UnwrapCMS: %v", perr, err)
				}
				continue
			}
			if perr != nil {
				t.Fatalf("UnwrapCMS succeeded where parseEnvelope failed: %v", perr)
			}
			if len(got) >= len(b) {
				t.Fatalf("a %d-byte secret from a %d-byte envelope", len(got), len(b))
			}
		}
	})
}

// FuzzWrapUnwrap: whatever the secret, WrapCMS and UnwrapCMS (and, where it
// fits, WrapRaw and UnwrapRaw) give it back, and a size out of range is
// ErrSecretSize on both sides of the limits.
func FuzzWrapUnwrap(f *testing.F) {
	for _, n := range []int{0, 1, 15, 16, 17, 190, 191, 999, 1000, 1001, 4096} {
		f.Add(secretOf(n))
	}
	key := key2048(f)
	f.Fuzz(func(t *testing.T, secret []byte) {
		ct, err := WrapCMS(&key.PublicKey, nil, secret, nil)
		if len(secret) == 0 || len(secret) > maxCMSSecret {
			if !errors.Is(err, ErrSecretSize) || ct != nil {
				t.Fatalf("WrapCMS of %d bytes: %v", len(secret), err)
			}
		} else {
			if err != nil {
				t.Fatal(err)
			}
			got, err := UnwrapCMS(key, ct)
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("UnwrapCMS: %v, %d bytes of %d", err, len(got), len(secret))
			}
		}

		raw, err := WrapRaw(&key.PublicKey, secret, nil)
		if len(secret) == 0 || len(secret) > 190 {
			if !errors.Is(err, ErrSecretSize) || raw != nil {
				t.Fatalf("WrapRaw of %d bytes: %v", len(secret), err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		got, err := UnwrapRaw(key, raw)
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("UnwrapRaw: %v", err)
		}
	})
}

// fuzzSeedsUnwrap are FuzzUnwrapCMS's seeds: the real and sdk-c vectors,
// our envelopes of several sizes (one chunk, several), a definite-length
// one, and a few hostile shapes.
func fuzzSeedsUnwrap(tb testing.TB) map[string][]byte {
	pub := &key2048(tb).PublicKey
	seeds := map[string][]byte{
		"aws_batgo":  testdata(tb, "kms_cfr_batgo.ber"),
		"sdkc_indef": testdata(tb, "kms_cfr_sdkc_indef_content.ber"),
		"sdkc_prim":  testdata(tb, "kms_cfr_sdkc_prim_content.ber"),
		"deep":       append(bytes.Repeat([]byte{tagSequence, 0x80}, 20), bytes.Repeat([]byte{0, 0}, 20)...),
		"huge_len":   {tagSequence, 0x84, 0x80, 0, 0, 0},
	}
	for _, n := range []int{1, 32, 1500} {
		seeds[fmt.Sprintf("ours_rsa2048_%d", n)] = mustWrap(tb, pub, secretOf(n))
	}
	s := newSpec(tb, pub, secretOf(40))
	s.content = der(tagContext0, s.ciphertext)
	seeds["ours_rsa2048_prim"] = s.encode()
	s.content = chunked(s.ciphertext, 16)
	seeds["ours_rsa2048_16byte_chunks"] = s.encode()
	return seeds
}

// FuzzParsePublicKey feeds hostile public keys to ParsePublicKey.
// Properties: no panic; a refusal is ErrKey alone, with no key and a bounded
// message; an acceptance is an RSA key of 2048 to 4096 bits or an SM2 point
// on its curve, whose canonical DER is exactly the input's (its PEM body for
// PEM), so no second spelling of a key gets through; and WrapTo takes every
// key ParsePublicKey gives.
func FuzzParsePublicKey(f *testing.F) {
	for _, s := range fuzzSeedsPublicKey(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, err := ParsePublicKey(b)
		if err != nil {
			if pub != nil || !errors.Is(err, ErrKey) || !isKind(err) {
				t.Fatalf("refusal with a key or not ErrKey alone: %T, %v", pub, err)
			}
			if len(err.Error()) > 400 {
				t.Fatalf("a %d-byte message", len(err.Error()))
			}
			return
		}
		der := b
		if bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("-----BEGIN")) {
			if der, err = decodePEM(b); err != nil {
				t.Fatalf("accepted PEM that decodePEM refuses: %v", err)
			}
		}
		var canonical []byte
		alg := AlgSM2
		switch k := pub.(type) {
		case *rsa.PublicKey:
			if n := k.N.BitLen(); n < 2048 || n > 4096 || k.E < 3 || k.E%2 == 0 {
				t.Fatalf("accepted RSA-%d with e = %d", n, k.E)
			}
			canonical, err = x509.MarshalPKIXPublicKey(k)
			alg = AlgRSAESOAEPSHA256
		case *ecdsa.PublicKey:
			if k.Curve != sm2.P256() || !k.Curve.IsOnCurve(k.X, k.Y) {
				t.Fatal("accepted an EC key off SM2")
			}
			canonical, err = smx509.MarshalPKIXPublicKey(k)
		default:
			t.Fatalf("accepted a %T", pub)
		}
		if err != nil || !bytes.Equal(canonical, der) {
			t.Fatalf("accepted a non-canonical encoding: %v\n in  %x\n out %x", err, der, canonical)
		}
		if _, err := WrapTo(pub, alg, secretOf(16), nil); err != nil {
			t.Fatalf("WrapTo refuses a key ParsePublicKey accepts: %v", err)
		}
	})
}

// fuzzSeedsPublicKey are FuzzParsePublicKey's seeds, every one fixed (no
// randomness), so that rewriting them changes nothing: the test keys in both
// encodings, the GB/T 32918.5 SM2 key, and the refusals ParsePublicKey names.
func fuzzSeedsPublicKey(tb testing.TB) map[string][]byte {
	rsaDER := spkiOf(tb, &key2048(tb).PublicKey)
	sk := sm2KnownKey(tb)
	sm2DER := sm2SPKI(tb, &sk.PublicKey)
	point := sm2PointBytes(&sk.PublicKey)
	// An RSA-1024 "key": any odd 1024-bit modulus is refused for its size.
	n1024 := new(big.Int).Lsh(big.NewInt(1), 1023)
	n1024.Add(n1024, big.NewInt(0x10001))
	rsa1024, _ := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: n1024, E: 65537})
	p256 := elliptic.P256().Params()
	p256DER, _ := x509.MarshalPKIXPublicKey(&ecdsa.PublicKey{Curve: elliptic.P256(), X: p256.Gx, Y: p256.Gy})
	sm2P8, _ := smx509.MarshalPKCS8PrivateKey(sk)
	cert := selfSigned(tb, key2048(tb))
	offCurve := bytes.Clone(point)
	offCurve[64] ^= 1
	p256Point := elliptic.Marshal(elliptic.P256(), p256.Gx, p256.Gy)
	spki := func(alg asn1.ObjectIdentifier, pt []byte) []byte {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(alg)
				b.AddASN1ObjectIdentifier(oidSM2Curve)
			})
			b.AddASN1BitString(pt)
		})
		return b.BytesOrPanic()
	}
	return map[string][]byte{
		"rsa2048_der":        rsaDER,
		"rsa2048_pem":        pemOf("PUBLIC KEY", rsaDER),
		"rsa3072_pem":        pemOf("PUBLIC KEY", spkiOf(tb, &key3072(tb).PublicKey)),
		"rsa4096_der":        spkiOf(tb, &key4096(tb).PublicKey),
		"sm2_gbt_der":        sm2DER,
		"sm2_gbt_pem":        pemOf("PUBLIC KEY", sm2DER),
		"rsa1024_der":        rsa1024,
		"p256_der":           p256DER,
		"sm2_compressed":     spki(oidPublicKeyEC, elliptic.MarshalCompressed(sm2.P256(), sk.X, sk.Y)),
		"sm2_off_curve":      spki(oidPublicKeyEC, offCurve),
		"p256_point_sm2_oid": spki(oidPublicKeyEC, p256Point),
		"sm2_oid_as_alg":     spki(oidSM2Curve, point), // the older spelling
		"cert_der":           cert,
		"cert_pem":           pemOf("CERTIFICATE", cert),
		"pkcs8_sm2_der":      sm2P8,
		"pkcs1_public_pem":   pemOf("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&key2048(tb).PublicKey)),
		"two_blocks":         append(pemOf("PUBLIC KEY", sm2DER), pemOf("PUBLIC KEY", rsaDER)...),
		"trailing":           append(bytes.Clone(sm2DER), 0),
		"garbage":            []byte("-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n"),
	}
}

// TestWriteFuzzSeeds rewrites testdata/fuzz/FuzzUnwrapCMS, FuzzWrapUnwrap
// and FuzzParsePublicKey from their seed functions when
// RECIPIENT_WRITE_FUZZ_SEEDS=1. Our envelopes are random, so a rewrite
// changes their bytes, not their shapes; the public-key seeds are fixed.
// Crashers that go test -fuzz adds beside them are kept.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("RECIPIENT_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set RECIPIENT_WRITE_FUZZ_SEEDS=1 to rewrite the seed corpora")
	}
	write := func(target, name string, b []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, "seed_"+name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range fuzzSeedsUnwrap(t) {
		write("FuzzUnwrapCMS", name, b)
	}
	for _, n := range []int{1, 190, 191, 1000, 4096} {
		write("FuzzWrapUnwrap", fmt.Sprint(n), secretOf(n))
	}
	for name, b := range fuzzSeedsPublicKey(t) {
		write("FuzzParsePublicKey", name, b)
	}
}
