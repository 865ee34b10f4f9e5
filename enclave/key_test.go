package enclave

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/recipient"
)

// TestKeyTypes: each key type binds what attest takes for its algorithm
// (a P-256 SubjectPublicKeyInfo, the SHA-256 of the ML-KEM key), and Unwrap
// opens a frame sealed to it under the same info, and under no other.
func TestKeyTypes(t *testing.T) {
	for _, tc := range []struct {
		typ, alg, keyType string
	}{
		{KeyTypeP256, recipient.AlgHPKEP256, "EC P-256"},
		{KeyTypeMLKEM768X25519, recipient.AlgHPKEMLKEM768X25519, attest.KeyTypeDigest},
	} {
		k, err := NewKeyOfType(tc.typ, 0)
		if err != nil {
			t.Fatal(err)
		}
		if k.Algorithm() != tc.alg {
			t.Fatalf("%s: algorithm %s", tc.typ, k.Algorithm())
		}
		rsaKey, typ, err := attest.ParseBoundKey(k.PublicKeyDER())
		if err != nil || rsaKey != nil || typ != tc.keyType {
			t.Fatalf("%s: the evidence would hold %q, %v", tc.typ, typ, err)
		}
		pubBytes := k.PublicKeyDER()
		if tc.typ == KeyTypeMLKEM768X25519 {
			if sum := sha256.Sum256(k.RecipientPublicKey()); len(k.RecipientPublicKey()) != recipient.MLKEMPublicKeySize || !bytes.Equal(sum[:], k.PublicKeyDER()) {
				t.Fatal("the bound digest is not the SHA-256 of the Recipient's key")
			}
			pubBytes = k.RecipientPublicKey()
		} else if k.RecipientPublicKey() != nil {
			t.Fatal("a P-256 Recipient carries no key")
		}
		pub, err := recipient.ParseHPKEPublicKey(tc.alg, pubBytes)
		if err != nil {
			t.Fatal(err)
		}
		doc := []byte("document")
		frame, err := recipient.WrapHPKE(pub, recipient.HPKEInfo("Decrypt", "arn:k", doc), []byte("secret"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := k.Unwrap("Decrypt", "arn:k", doc, frame); err != nil || string(got) != "secret" {
			t.Fatalf("%s: %v", tc.typ, err)
		}
		if _, err := k.Unwrap("Decrypt", "arn:other", doc, frame); !errors.Is(err, recipient.ErrDecrypt) {
			t.Fatalf("%s: another key ARN: %v", tc.typ, err)
		}
		if _, err := k.MarshalPEM(); err == nil {
			t.Fatalf("%s: an HPKE key exported", tc.typ)
		}
	}
	if _, err := NewKeyOfType("ed25519", 0); err == nil {
		t.Fatal("an unknown key type")
	}
}
