package kms

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/emmansun/gmsm/smx509"

	"github.com/attestkms/attestkms/kms/internal/eckeys"
)

func TestDeriveSharedSecret(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	for _, tc := range []struct {
		spec  KeySpec
		curve eckeys.Curve
	}{{EccNistP256, eckeys.P256}, {EccNistP384, eckeys.P384}, {EccNistP521, eckeys.P521}, {EccSecgP256k1, eckeys.Secp256k1}} {
		t.Run(string(tc.spec), func(t *testing.T) {
			md := mustKey(t, s, tc.spec, KeyAgreement)
			pub, err := s.GetPublicKey(bg, c, &GetPublicKeyRequest{KeyID: md.KeyID})
			if err != nil {
				t.Fatal(err)
			}
			kmsPub, err := eckeys.ParseSPKI(pub.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			peer, _ := eckeys.Generate(tc.curve, rand.Reader)
			peerSPKI, _ := peer.Public().MarshalSPKI()
			r, err := s.DeriveSharedSecret(bg, c, &DeriveSharedSecretRequest{KeyID: md.KeyID, KeyAgreementAlgorithm: "ECDH", PublicKey: peerSPKI})
			if err != nil {
				t.Fatal(err)
			}
			want, _ := peer.ECDH(kmsPub)
			if !bytes.Equal(r.SharedSecret, want) || len(want) != tc.curve.SecretSize() {
				t.Fatal("shared secret differs from the peer's own ECDH")
			}
		})
	}
	p256 := mustKey(t, s, EccNistP256, KeyAgreement)
	p384peer, _ := ecdh.P384().GenerateKey(rand.Reader)
	wrongCurve, _ := x509.MarshalPKIXPublicKey(p384peer.PublicKey())
	x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
	xSPKI, _ := x509.MarshalPKIXPublicKey(x25519.PublicKey())
	good, _ := ecdh.P256().GenerateKey(rand.Reader)
	goodSPKI, _ := x509.MarshalPKIXPublicKey(good.PublicKey())
	offCurve := bytes.Clone(goodSPKI)
	offCurve[len(offCurve)-1] ^= 1
	for name, pk := range map[string][]byte{"wrong curve": wrongCurve, "x25519": xSPKI, "off curve": offCurve, "garbage": []byte("hello"), "truncated": goodSPKI[:40]} {
		_, err := s.DeriveSharedSecret(bg, c, &DeriveSharedSecretRequest{KeyID: p256.KeyID, KeyAgreementAlgorithm: "ECDH", PublicKey: pk})
		if !errors.Is(err, ErrInvalidPublicKey) {
			t.Errorf("%s: err = %v; want ErrInvalidPublicKey", name, err)
		}
	}
	_, err := s.DeriveSharedSecret(bg, c, &DeriveSharedSecretRequest{KeyID: p256.KeyID, PublicKey: goodSPKI})
	wantKind(t, err, ErrValidation)
	sym := mustKey(t, s, "", "")
	_, err = s.DeriveSharedSecret(bg, c, &DeriveSharedSecretRequest{KeyID: sym.KeyID, KeyAgreementAlgorithm: "ECDH", PublicKey: goodSPKI})
	wantKind(t, err, ErrInvalidKeyUsage)
	_, err = s.Encrypt(bg, c, &EncryptRequest{KeyID: p256.KeyID, Plaintext: []byte("x")})
	wantKind(t, err, ErrInvalidKeyUsage)
	_, err = s.GetPublicKey(bg, c, &GetPublicKeyRequest{KeyID: sym.KeyID})
	wantKind(t, err, ErrUnsupported)
}

func TestSM2KeyAgreement(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, Sm2, KeyAgreement)
	pub, err := s.GetPublicKey(bg, c, &GetPublicKeyRequest{KeyID: md.KeyID})
	if err != nil || pub.KeySpec != Sm2 {
		t.Fatalf("GetPublicKey: %+v %v", pub, err)
	}
	// The KMS public key is an SM2 SPKI that gmsm's smx509 reads.
	if _, err := smx509.ParsePKIXPublicKey(pub.PublicKey); err != nil {
		t.Fatalf("smx509 cannot read the SM2 public key: %v", err)
	}
	kmsPub, _ := eckeys.ParseSPKI(pub.PublicKey)
	peer, _ := eckeys.Generate(eckeys.SM2, rand.Reader)
	peerSPKI, _ := peer.Public().MarshalSPKI()
	r, err := s.DeriveSharedSecret(bg, c, &DeriveSharedSecretRequest{KeyID: md.KeyID, KeyAgreementAlgorithm: "ECDH", PublicKey: peerSPKI})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := peer.ECDH(kmsPub)
	if !bytes.Equal(r.SharedSecret, want) || len(want) != 32 {
		t.Fatal("SM2 shared secret differs from the peer's ECDH")
	}
	// A P-256 peer for an SM2 key is refused.
	p256, _ := eckeys.Generate(eckeys.P256, rand.Reader)
	p256SPKI, _ := p256.Public().MarshalSPKI()
	_, err = s.DeriveSharedSecret(bg, c, &DeriveSharedSecretRequest{KeyID: md.KeyID, KeyAgreementAlgorithm: "ECDH", PublicKey: p256SPKI})
	wantKind(t, err, ErrInvalidPublicKey)
}

func BenchmarkDeriveSharedSecret(b *testing.B) {
	s, c, id := benchKey(b, EccNistP256, KeyAgreement)
	peer, _ := eckeys.Generate(eckeys.P256, rand.Reader)
	peerSPKI, _ := peer.Public().MarshalSPKI()
	req := &DeriveSharedSecretRequest{KeyID: id, KeyAgreementAlgorithm: AlgECDH, PublicKey: peerSPKI}
	for b.Loop() {
		r, err := s.DeriveSharedSecret(bg, c, req)
		if err != nil {
			b.Fatal(err)
		}
		clear(r.SharedSecret)
	}
}
