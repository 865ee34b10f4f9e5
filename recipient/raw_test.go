package recipient

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
)

func TestRawRoundTrip(t *testing.T) {
	for _, key := range []*rsa.PrivateKey{key2048(t), key3072(t), key4096(t)} {
		max := key.Size() - 66
		for _, n := range []int{1, 16, 32, 190, max} {
			if n > max {
				continue
			}
			t.Run(fmt.Sprintf("RSA-%d/%d", key.N.BitLen(), n), func(t *testing.T) {
				secret := secretOf(n)
				ct, err := WrapRaw(&key.PublicKey, secret, nil)
				if err != nil {
					t.Fatal(err)
				}
				if len(ct) != key.Size() {
					t.Fatalf("%d bytes, want %d", len(ct), key.Size())
				}
				got, err := UnwrapRaw(key, ct)
				if err != nil || !bytes.Equal(got, secret) {
					t.Fatalf("UnwrapRaw: %x, %v", got, err)
				}
				// It is plain RSAES-OAEP-SHA-256 with an empty label.
				if got, err := rsa.DecryptOAEP(sha256.New(), nil, key, ct, nil); err != nil || !bytes.Equal(got, secret) {
					t.Fatalf("crypto/rsa cannot decrypt it: %v", err)
				}
			})
		}
	}
}

func TestWrapRawSize(t *testing.T) {
	pub := &key2048(t).PublicKey
	if _, err := WrapRaw(pub, secretOf(190), nil); err != nil {
		t.Fatalf("190 bytes to RSA-2048: %v", err)
	}
	for _, n := range []int{0, 191, 4096} {
		ct, err := WrapRaw(pub, secretOf(n), nil)
		if !errors.Is(err, ErrSecretSize) || ct != nil {
			t.Errorf("WrapRaw of %d bytes to RSA-2048: %v, want ErrSecretSize", n, err)
		}
	}
	if _, err := WrapRaw(nil, secretOf(1), nil); !errors.Is(err, ErrKey) {
		t.Errorf("WrapRaw to nil: %v, want ErrKey", err)
	}
}

func TestUnwrapRawHostile(t *testing.T) {
	key := key2048(t)
	secret := secretOf(32)
	ct, err := WrapRaw(&key.PublicKey, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, ct []byte, priv *rsa.PrivateKey, kind error) {
		t.Helper()
		got, err := UnwrapRaw(priv, ct)
		if !errors.Is(err, kind) || got != nil {
			t.Errorf("%s: %x, %v; want %v", name, got, err, kind)
		}
	}
	check("another key", ct, key3072(t), ErrMalformed) // not its block size
	other, err := WrapRaw(&key3072(t).PublicKey, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("another key's ciphertext", other, key, ErrMalformed)
	check("empty", nil, key, ErrMalformed)
	check("short", ct[1:], key, ErrMalformed)
	check("long", append(bytes.Clone(ct), 0), key, ErrMalformed)
	for i := range ct {
		bad := bytes.Clone(ct)
		bad[i] ^= 0x01
		check(fmt.Sprint("flip at ", i), bad, key, ErrDecrypt)
	}
	// A ciphertext larger than the modulus.
	check("all ones", bytes.Repeat([]byte{0xff}, key.Size()), key, ErrDecrypt)
	// OAEP with SHA-1 is not ours.
	sha1ct, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, &key.PublicKey, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("OAEP-SHA-1", sha1ct, key, ErrDecrypt)
	// Nor is a label.
	labelled, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &key.PublicKey, secret, []byte("label"))
	if err != nil {
		t.Fatal(err)
	}
	check("OAEP with a label", labelled, key, ErrDecrypt)
}
