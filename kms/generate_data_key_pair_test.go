package kms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"reflect"
	"testing"

	"github.com/attestkms/attestkms/kms/internal/eckeys"
)

func TestGenerateDataKeyPair(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	ec := EncryptionContext{"k": "v"}
	for _, spec := range []DataKeyPairSpec{PairRSA2048, PairEccNistP256, PairEccNistP384, PairEccNistP521, PairEccSecgP256k1} {
		kp, err := s.GenerateDataKeyPair(bg, c, &GenerateDataKeyPairRequest{KeyID: md.KeyID, KeyPairSpec: spec, EncryptionContext: ec})
		if err != nil {
			t.Fatal(spec, err)
		}
		d, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: kp.PrivateKeyCiphertextBlob, EncryptionContext: ec})
		if err != nil || !bytes.Equal(d.Plaintext, kp.PrivateKeyPlaintext) {
			t.Fatalf("%s: private key blob does not decrypt to the PKCS#8: %v", spec, err)
		}
		if spec == PairEccSecgP256k1 {
			priv, err := eckeys.ParsePKCS8(kp.PrivateKeyPlaintext)
			if err != nil {
				t.Fatal(err)
			}
			spki, _ := priv.Public().MarshalSPKI()
			if !bytes.Equal(spki, kp.PublicKey) {
				t.Fatal("secp256k1 public key does not match the private key")
			}
			continue
		}
		priv, err := x509.ParsePKCS8PrivateKey(kp.PrivateKeyPlaintext)
		if err != nil {
			t.Fatal(spec, err)
		}
		pub, err := x509.ParsePKIXPublicKey(kp.PublicKey)
		if err != nil {
			t.Fatal(spec, err)
		}
		type keyPair interface {
			Public() crypto.PublicKey
		}
		if !priv.(keyPair).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Fatalf("%s: public key does not match the private key", spec)
		}
	}
	_, err := s.GenerateDataKeyPair(bg, c, &GenerateDataKeyPairRequest{KeyID: md.KeyID, KeyPairSpec: "RSA_1024"})
	wantKind(t, err, ErrValidation)
}

func TestGenerateDataKeyPairWithoutPlaintext(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	ec := EncryptionContext{"k": "v"}
	r, err := s.GenerateDataKeyPairWithoutPlaintext(bg, c, &GenerateDataKeyPairWithoutPlaintextRequest{KeyID: md.KeyID, KeyPairSpec: PairEccNistP256, EncryptionContext: ec})
	if err != nil || r.KeyID != md.KeyID || r.KeyARN != md.KeyARN || r.KeyPairSpec != PairEccNistP256 {
		t.Fatalf("WithoutPlaintext: %+v, %v", r, err)
	}
	d, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: r.PrivateKeyCiphertextBlob, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(d.Plaintext)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(r.PublicKey)
	if err != nil || !priv.(interface{ Public() crypto.PublicKey }).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
		t.Fatalf("the public key does not match the sealed private key: %v", err)
	}
	_, err = s.GenerateDataKeyPairWithoutPlaintext(bg, c, &GenerateDataKeyPairWithoutPlaintextRequest{KeyID: md.KeyID, KeyPairSpec: "RSA_1024"})
	wantKind(t, err, ErrValidation)
	if f := secretFieldNames(reflect.TypeFor[GenerateDataKeyPairWithoutPlaintextResponse]()); len(f) > 0 {
		t.Fatalf("GenerateDataKeyPairWithoutPlaintextResponse has secret fields %v", f)
	}
}

// The pair benchmarks use P-256: an RSA pair's cost is its prime search.

func BenchmarkGenerateDataKeyPair(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	req := &GenerateDataKeyPairRequest{KeyID: id, KeyPairSpec: PairEccNistP256}
	for b.Loop() {
		r, err := s.GenerateDataKeyPair(bg, c, req)
		if err != nil {
			b.Fatal(err)
		}
		clear(r.PrivateKeyPlaintext)
	}
}

func BenchmarkGenerateDataKeyPairWithoutPlaintext(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	req := &GenerateDataKeyPairWithoutPlaintextRequest{KeyID: id, KeyPairSpec: PairEccNistP256}
	for b.Loop() {
		if _, err := s.GenerateDataKeyPairWithoutPlaintext(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}
