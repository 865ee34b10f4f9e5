package kms

import (
	"slices"
	"testing"

	"github.com/attestkms/attestkms/kms/internal/eckeys"
)

// TestGetPublicKey: an asymmetric key's public key, as DER SPKI on its
// curve, with the key's spec and usage; a symmetric key has none
// (TestDeriveSharedSecret), a disabled key answers nothing.
func TestGetPublicKey(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, EccNistP384, KeyAgreement)
	r, err := s.GetPublicKey(bg, c, &GetPublicKeyRequest{KeyID: md.KeyID})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := eckeys.ParseSPKI(r.PublicKey)
	if err != nil || pub.Curve() != eckeys.P384 {
		t.Fatalf("public key: %v", err)
	}
	if r.KeyID != md.KeyID || r.KeyARN != md.KeyARN || r.KeySpec != EccNistP384 || r.KeyUsage != KeyAgreement || !slices.Equal(r.KeyAgreementAlgorithms, []string{AlgECDH}) {
		t.Fatalf("GetPublicKey = %+v", r)
	}
	if _, err := s.DisableKey(bg, c, &DisableKeyRequest{KeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetPublicKey(bg, c, &GetPublicKeyRequest{KeyID: md.KeyID})
	wantKind(t, err, ErrDisabled)
}

func BenchmarkGetPublicKey(b *testing.B) {
	s, c, id := benchKey(b, EccNistP256, KeyAgreement)
	req := &GetPublicKeyRequest{KeyID: id}
	for b.Loop() {
		if _, err := s.GetPublicKey(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}
