package kms

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/recipient"
)

// hpkeEnclave is an enclave whose evidence binds an HPKE key: a P-256 key
// (mlkem false) or the SHA-256 of an ML-KEM-768+X25519 key.
func hpkeEnclave(t *testing.T, mlkem bool) (*enclave, hpke.PrivateKey, []byte) {
	t.Helper()
	e := newEnclave(t, 0xab)
	e.claims.PublicKey = nil
	if mlkem {
		priv, _ := hpke.MLKEM768X25519().GenerateKey()
		pub := priv.PublicKey().Bytes()
		sum := sha256.Sum256(pub)
		e.claims.PublicKeyDER, e.claims.KeyType = sum[:], attest.KeyTypeDigest
		return e, priv, pub
	}
	ec, _ := ecdh.P256().GenerateKey(nil)
	der, _ := x509.MarshalPKIXPublicKey(ec.PublicKey())
	priv, _ := hpke.NewDHKEMPrivateKey(ec)
	e.claims.PublicKeyDER, e.claims.KeyType = der, "EC P-256"
	return e, priv, nil
}

// TestRecipientHPKE: with an HPKE algorithm the secret comes back as a frame
// under the info of the operation, the key's ARN and the document; the
// audit record's attestation summary is the same as for RSA; a key and an
// algorithm that do not match are ErrInvalidRecipient, a missing or
// misplaced Recipient.PublicKey ErrValidation, before any secret exists.
func TestRecipientHPKE(t *testing.T) {
	p256, p256Priv, _ := hpkeEnclave(t, false)
	mlkem, mlkemPriv, mlkemPub := hpkeEnclave(t, true)
	_, _, otherPub := hpkeEnclave(t, true)
	rsaEnclave := newEnclave(t, 0xab)
	v := &fakeVerifier{enclaves: []*enclave{p256, mlkem, rsaEnclave}}
	s, _ := newAttestedService(t, v, false)
	sym := mustKey(t, s, "", "")

	for _, tc := range []struct {
		name string
		r    *Recipient
		priv hpke.PrivateKey
	}{
		{"p256", &Recipient{AttestationDocument: []byte{0}, KeyEncryptionAlgorithm: recipient.AlgHPKEP256}, p256Priv},
		{"mlkem", &Recipient{AttestationDocument: []byte{1}, KeyEncryptionAlgorithm: recipient.AlgHPKEMLKEM768X25519, PublicKey: mlkemPub}, mlkemPriv},
	} {
		c := s.testCall()
		gdk, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: sym.KeyID, KeySpec: "AES_256", Recipient: tc.r})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if gdk.KeyARN != sym.KeyARN || gdk.Plaintext != nil {
			t.Fatalf("%s: answer %+v", tc.name, gdk.KeyRef)
		}
		dk, err := recipient.UnwrapHPKE(tc.priv, recipient.HPKEInfo("GenerateDataKey", sym.KeyARN, tc.r.AttestationDocument), gdk.CiphertextForRecipient)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		back, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: gdk.CiphertextBlob})
		if err != nil || !bytes.Equal(back.Plaintext, dk) {
			t.Fatalf("%s: not the blob's data key: %v", tc.name, err)
		}
		if a := lastRecord(t, s, "GenerateDataKey").Attestation; a == nil || a.PCR0 != strings.Repeat("ab", 48) || a.Format != "nitro" || len(a.PublicKeySHA256) != 64 {
			t.Fatalf("%s: audit summary %+v", tc.name, a)
		}
		rnd, err := s.GenerateRandom(bg, s.testCall(), &GenerateRandomRequest{NumberOfBytes: 16, Recipient: tc.r})
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := recipient.UnwrapHPKE(tc.priv, recipient.HPKEInfo("GenerateRandom", "", tc.r.AttestationDocument), rnd.CiphertextForRecipient); err != nil || len(pt) != 16 {
			t.Fatalf("%s: GenerateRandom: %v", tc.name, err)
		}
	}

	for _, tc := range []struct {
		name string
		r    *Recipient
		kind error
	}{
		{"p256 key, RSA algorithm", &Recipient{AttestationDocument: []byte{0}, KeyEncryptionAlgorithm: recipient.KeyEncryptionAlgorithm}, ErrInvalidRecipient},
		{"RSA key, p256 algorithm", &Recipient{AttestationDocument: []byte{2}, KeyEncryptionAlgorithm: recipient.AlgHPKEP256}, ErrInvalidRecipient},
		{"digest, p256 algorithm", &Recipient{AttestationDocument: []byte{1}, KeyEncryptionAlgorithm: recipient.AlgHPKEP256}, ErrInvalidRecipient},
		{"p256 key, mlkem algorithm", &Recipient{AttestationDocument: []byte{0}, KeyEncryptionAlgorithm: recipient.AlgHPKEMLKEM768X25519, PublicKey: mlkemPub}, ErrInvalidRecipient},
		{"mlkem key not bound", &Recipient{AttestationDocument: []byte{1}, KeyEncryptionAlgorithm: recipient.AlgHPKEMLKEM768X25519, PublicKey: otherPub}, ErrInvalidRecipient},
		{"mlkem key missing", &Recipient{AttestationDocument: []byte{1}, KeyEncryptionAlgorithm: recipient.AlgHPKEMLKEM768X25519}, ErrValidation},
		{"mlkem key short", &Recipient{AttestationDocument: []byte{1}, KeyEncryptionAlgorithm: recipient.AlgHPKEMLKEM768X25519, PublicKey: mlkemPub[1:]}, ErrValidation},
		{"PublicKey with p256", &Recipient{AttestationDocument: []byte{0}, KeyEncryptionAlgorithm: recipient.AlgHPKEP256, PublicKey: mlkemPub}, ErrValidation},
		{"unknown algorithm", &Recipient{AttestationDocument: []byte{0}, KeyEncryptionAlgorithm: "HPKE_X448_SHA512_CHACHA20POLY1305"}, ErrValidation},
	} {
		_, err := s.GenerateDataKey(bg, s.testCall(), &GenerateDataKeyRequest{KeyID: sym.KeyID, KeySpec: "AES_256", Recipient: tc.r})
		var ke *Error
		if !errors.As(err, &ke) || ke.Kind != tc.kind {
			t.Errorf("%s: %v; want %v", tc.name, err, tc.kind)
		}
	}
}
