package recipient

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hpkeKeys returns a fresh private key of each suite and the bytes a
// Recipient gives for it (P-256: its SubjectPublicKeyInfo; ML-KEM: its
// 1216-byte encoding).
func hpkeKeys(t testing.TB) map[string]struct {
	priv hpke.PrivateKey
	pub  []byte
} {
	t.Helper()
	out := map[string]struct {
		priv hpke.PrivateKey
		pub  []byte
	}{}
	ec, err := ecdh.P256().GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(ec.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	p, err := hpke.NewDHKEMPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	out[AlgHPKEP256] = struct {
		priv hpke.PrivateKey
		pub  []byte
	}{p, spki}
	m, err := hpke.MLKEM768X25519().GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	out[AlgHPKEMLKEM768X25519] = struct {
		priv hpke.PrivateKey
		pub  []byte
	}{m, m.PublicKey().Bytes()}
	return out
}

func TestHPKERoundTrip(t *testing.T) {
	info := HPKEInfo("GenerateDataKey", "arn:aws:kms:us-east-1:111122223333:key/k", []byte("document"))
	for alg, k := range hpkeKeys(t) {
		pub, err := ParseHPKEPublicKey(alg, k.pub)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		for _, n := range []int{1, 32, 4096, maxHPKESecret} {
			secret := bytes.Repeat([]byte{7}, n)
			frame, err := WrapHPKE(pub, info, secret)
			if err != nil {
				t.Fatalf("%s: %v", alg, err)
			}
			f, err := ParseHPKEFrame(frame)
			if err != nil || f.Algorithm != alg || len(f.Ciphertext) != n+16 {
				t.Fatalf("%s: frame %v, %v", alg, f.Algorithm, err)
			}
			got, err := UnwrapHPKE(k.priv, info, frame)
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("%s, %d bytes: %v", alg, n, err)
			}
			// Another info (another operation, key or document) does not open.
			for _, other := range [][]byte{
				HPKEInfo("Decrypt", "arn:aws:kms:us-east-1:111122223333:key/k", []byte("document")),
				HPKEInfo("GenerateDataKey", "arn:aws:kms:us-east-1:111122223333:key/l", []byte("document")),
				HPKEInfo("GenerateDataKey", "arn:aws:kms:us-east-1:111122223333:key/k", []byte("documenT")),
			} {
				if _, err := UnwrapHPKE(k.priv, other, frame); !errors.Is(err, ErrDecrypt) {
					t.Fatalf("%s: another info: %v", alg, err)
				}
			}
		}
		if _, err := WrapHPKE(pub, info, nil); !errors.Is(err, ErrSecretSize) {
			t.Fatalf("%s: empty secret: %v", alg, err)
		}
		if _, err := WrapHPKE(pub, info, make([]byte, maxHPKESecret+1)); !errors.Is(err, ErrSecretSize) {
			t.Fatalf("%s: too long: %v", alg, err)
		}
	}
	keys := hpkeKeys(t)
	pub, _ := ParseHPKEPublicKey(AlgHPKEP256, keys[AlgHPKEP256].pub)
	frame, _ := WrapHPKE(pub, info, []byte("x"))
	if _, err := UnwrapHPKE(keys[AlgHPKEMLKEM768X25519].priv, info, frame); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("P-256 frame, ML-KEM key: %v", err)
	}
}

func TestHPKEInfoLayout(t *testing.T) {
	got := HPKEInfo("Decrypt", "arn", []byte("abc"))
	// SHA-256("abc") is FIPS 180-2's example.
	want := append([]byte("attestkms-hpke-v1\x00\x00\x07Decrypt\x00\x03arn"), mustHex(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")...)
	if !bytes.Equal(got, want) {
		t.Fatalf("info %x\nwant %x", got, want)
	}
}

func TestHPKEKeyRefusals(t *testing.T) {
	keys := hpkeKeys(t)
	for _, tc := range []struct {
		alg  string
		b    []byte
		kind error
	}{
		{AlgHPKEP256, keys[AlgHPKEMLKEM768X25519].pub, ErrKey},
		{AlgHPKEMLKEM768X25519, keys[AlgHPKEP256].pub, ErrKey},
		{AlgHPKEMLKEM768X25519, keys[AlgHPKEMLKEM768X25519].pub[:1215], ErrKey},
		{AlgHPKEP256, []byte("garbage"), ErrKey},
		{KeyEncryptionAlgorithm, keys[AlgHPKEP256].pub, ErrAlgorithm},
	} {
		if _, err := ParseHPKEPublicKey(tc.alg, tc.b); !errors.Is(err, tc.kind) {
			t.Errorf("%s, %d bytes: %v; want %v", tc.alg, len(tc.b), err, tc.kind)
		}
	}
	for _, alg := range []string{KeyEncryptionAlgorithm, AlgHPKEP256, AlgHPKEMLKEM768X25519} {
		if err := CheckAlgorithm(alg); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
	}
	for _, alg := range []string{"", "HPKE_P384_SHA384_AES256GCM", "hpke_p256_sha256_aes256gcm"} {
		if err := CheckAlgorithm(alg); !errors.Is(err, ErrAlgorithm) {
			t.Errorf("%q: %v", alg, err)
		}
	}
}

// TestHPKEFrameHostile: every malformation of the frame's header is
// ErrMalformed, before any decryption.
func TestHPKEFrameHostile(t *testing.T) {
	keys := hpkeKeys(t)
	pub, _ := ParseHPKEPublicKey(AlgHPKEP256, keys[AlgHPKEP256].pub)
	good, err := WrapHPKE(pub, nil, []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for name, b := range map[string][]byte{
		"empty":         nil,
		"short header":  good[:7],
		"version 0":     edit(func(b []byte) []byte { b[0] = 0; return b }),
		"version 2":     edit(func(b []byte) []byte { b[0] = 2; return b }),
		"algorithm 0":   edit(func(b []byte) []byte { b[1] = 0; return b }),
		"algorithm 3":   edit(func(b []byte) []byte { b[1] = 3; return b }),
		"algorithm 2":   edit(func(b []byte) []byte { b[1] = 2; return b }), // enc length then wrong
		"enc length":    edit(func(b []byte) []byte { b[3]--; return b }),
		"ct length":     edit(func(b []byte) []byte { b[7]++; return b }),
		"ct tag only":   edit(func(b []byte) []byte { binary.BigEndian.PutUint32(b[4:], 16); return b[:8+65+16] }),
		"trailing byte": append(bytes.Clone(good), 0),
		"truncated":     good[:len(good)-1],
		"huge ct":       edit(func(b []byte) []byte { binary.BigEndian.PutUint32(b[4:], 1<<31); return b }),
	} {
		if _, err := ParseHPKEFrame(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := UnwrapHPKE(keys[AlgHPKEP256].priv, nil, b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: unwrap: %v", name, err)
		}
	}
	flipped := edit(func(b []byte) []byte { b[len(b)-1] ^= 1; return b })
	if _, err := UnwrapHPKE(keys[AlgHPKEP256].priv, nil, flipped); !errors.Is(err, ErrDecrypt) {
		t.Errorf("flipped tag: %v", err)
	}
}

// TestHPKERFC9180Vector: the test vector of RFC 9180 for mode base,
// DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM (kem 0x0010, kdf
// 0x0001, aead 0x0002; the CFRG test-vectors.json that the RFC's appendix A
// is drawn from, encryptions[0]), framed as ours and read back through
// ParseHPKEFrame, then opened with crypto/hpke. The vector's aad is
// "Count-0", where our frames use none: the frame carries enc and ct only.
func TestHPKERFC9180Vector(t *testing.T) {
	var (
		info = mustHex(t, "4f6465206f6e2061204772656369616e2055726e") // "Ode on a Grecian Urn"
		skRm = mustHex(t, "317f915db7bc629c48fe765587897e01e282d3e8445f79f27f65d031a88082b2")
		pkRm = mustHex(t, "04abc7e49a4c6b3566d77d0304addc6ed0e98512ffccf505e6a8e3eb25c685136f853148544876de76c0f2ef99cdc3a05ccf5ded7860c7c021238f9e2073d2356c")
		enc  = mustHex(t, "04c06b4f6bebc7bb495cb797ab753f911aff80aefb86fd8b6fcc35525f3ab5f03e0b21bd31a86c6048af3cb2d98e0d3bf01da5cc4c39ff5370d331a4f1f7d5a4e0")
		aad  = mustHex(t, "436f756e742d30")                                             // "Count-0"
		pt   = mustHex(t, "4265617574792069732074727574682c20747275746820626561757479") // "Beauty is truth, truth beauty"
		ct   = mustHex(t, "58c61a45059d0c5704560e9d88b564a8b63f1364b8d1fcb3c4c6ddc1d291742465e902cd216f8908da49f8f96f")
	)
	frame, err := EncodeHPKEFrame(AlgHPKEP256, enc, ct)
	if err != nil {
		t.Fatal(err)
	}
	// The header, byte by byte: version 1, algorithm 1, len(enc) 65, len(ct) 45.
	if want := mustHex(t, "010100410000002d"); !bytes.Equal(frame[:8], want) {
		t.Fatalf("header %x", frame[:8])
	}
	f, err := ParseHPKEFrame(frame)
	if err != nil || f.Algorithm != AlgHPKEP256 || !bytes.Equal(f.Enc, enc) || !bytes.Equal(f.Ciphertext, ct) {
		t.Fatalf("parsed %v, %v", f.Algorithm, err)
	}
	priv, err := hpke.DHKEM(ecdh.P256()).NewPrivateKey(skRm)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(priv.PublicKey().Bytes(), pkRm) {
		t.Fatal("skRm is not pkRm's")
	}
	r, err := hpke.NewRecipient(f.Enc, priv, hpke.HKDFSHA256(), hpke.AES256GCM(), info)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Open(aad, f.Ciphertext)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("opened %q, %v", got, err)
	}
}
