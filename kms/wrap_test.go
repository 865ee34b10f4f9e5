package kms

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"github.com/attestkms/attestkms/kms/internal/eckeys"
	"github.com/attestkms/attestkms/recipient"
)

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

func pemPublic(t *testing.T, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestPublicKeyWrap(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	sm2Key, _ := sm2.GenerateKey(rand.Reader)
	sm2DER, _ := smx509.MarshalPKIXPublicKey(&sm2Key.PublicKey)

	for _, tc := range []struct {
		alg  string
		pub  []byte
		priv any
	}{
		{recipient.AlgRSAESOAEPSHA256, rsaDER, rsaKey},
		{recipient.AlgRSAESOAEPSHA1, rsaDER, rsaKey},
		{recipient.AlgRSAESPKCS1v15, rsaDER, rsaKey},
		{"", sm2DER, sm2Key},
		{recipient.AlgSM2, sm2DER, sm2Key},
		{recipient.AlgSM2ASN1, sm2DER, sm2Key},
	} {
		w := &PublicKeyWrap{PublicKey: pemPublic(t, tc.pub), Algorithm: tc.alg}
		g, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256", EncryptTo: w})
		if err != nil {
			t.Fatalf("%q: %v", tc.alg, err)
		}
		if g.Plaintext != nil || g.CiphertextBlob == nil {
			t.Fatalf("%q: plaintext returned", tc.alg)
		}
		alg := tc.alg
		if alg == "" {
			alg = recipient.AlgSM2
		}
		dk, err := recipient.UnwrapFrom(tc.priv, alg, g.CiphertextForRecipient)
		if err != nil {
			t.Fatalf("%q: %v", tc.alg, err)
		}
		d, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: g.CiphertextBlob, EncryptTo: w})
		if err != nil || d.Plaintext != nil {
			t.Fatalf("%q: Decrypt with EncryptTo: %v", tc.alg, err)
		}
		back, _ := recipient.UnwrapFrom(tc.priv, alg, d.CiphertextForRecipient)
		if !bytes.Equal(back, dk) || len(dk) != 32 {
			t.Fatalf("%q: the wrapped data keys differ", tc.alg)
		}
	}

	// Wrong algorithm for the key, bad keys, both targets at once.
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	der1024, _ := x509.MarshalPKIXPublicKey(&rsa1024.PublicKey)
	for name, w := range map[string]*PublicKeyWrap{
		"SM2 algorithm, RSA key": {PublicKey: pemPublic(t, rsaDER), Algorithm: recipient.AlgSM2},
		"RSA algorithm, SM2 key": {PublicKey: pemPublic(t, sm2DER), Algorithm: recipient.AlgRSAESOAEPSHA256},
		"unknown algorithm":      {PublicKey: pemPublic(t, rsaDER), Algorithm: "RSAES_OAEP_SHA_512"},
		"RSA-1024":               {PublicKey: pemPublic(t, der1024), Algorithm: recipient.AlgRSAESOAEPSHA256},
		"not a key":              {PublicKey: []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")},
		"empty":                  {},
	} {
		g, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256", EncryptTo: w})
		if g != nil || !strings.Contains(err.Error(), "Encryption") {
			t.Errorf("%s: %v %v", name, g, err)
		}
		wantKind(t, err, ErrValidation)
	}
	e := newEnclave(t, 0x11)
	s.opts.Attestation = &fakeVerifier{enclaves: []*enclave{e}}
	_, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256", Recipient: e.recipient(0), EncryptTo: &PublicKeyWrap{PublicKey: pemPublic(t, rsaDER)}})
	wantKind(t, err, ErrValidation)

	// A key that expects attested callers refuses a bare public key, but
	// serves the attested enclave.
	acct := s.Account().AccountID
	pol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:*","Resource":"*"},
	 {"Effect":"Deny","Principal":"*","Action":["kms:Decrypt","kms:GenerateDataKey","kms:GenerateDataKeyPair","kms:DeriveSharedSecret","kms:ReEncryptFrom"],"Resource":"*","Condition":{"StringNotEquals":{"kms:RecipientAttestation:ImageSha384":"` + strings.Repeat("11", 48) + `"}}}]}`
	att, err := s.CreateKey(bg, c, &CreateKeyRequest{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: att.KeyID, KeySpec: "AES_256", EncryptTo: &PublicKeyWrap{PublicKey: pemPublic(t, rsaDER), Algorithm: recipient.AlgRSAESOAEPSHA256}})
	wantKind(t, err, ErrAccessDenied)
	if !strings.Contains(err.Error(), "proves nothing") {
		t.Fatalf("refusal does not say why: %v", err)
	}
	if _, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: att.KeyID, KeySpec: "AES_256", Recipient: e.recipient(0)}); err != nil {
		t.Fatalf("the attested enclave was refused: %v", err)
	}
}

func TestRawRecipient(t *testing.T) {
	e := newEnclave(t, 0x22)
	s, _ := newAttestedService(t, &fakeVerifier{enclaves: []*enclave{e}}, false)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	r := e.recipient(0)
	r.Raw = true
	g, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256", Recipient: r})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.CiphertextForRecipient) != 256 {
		t.Fatalf("raw wrap is %d bytes; want one RSA-2048 block", len(g.CiphertextForRecipient))
	}
	dk, err := recipient.UnwrapRaw(e.priv, g.CiphertextForRecipient)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: g.CiphertextBlob})
	if !bytes.Equal(d.Plaintext, dk) {
		t.Fatal("raw-wrapped data key differs")
	}
	_, err = s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, NumberOfBytes: 191, Recipient: r})
	wantKind(t, err, ErrValidation)
	if !strings.Contains(err.Error(), "190") {
		t.Fatalf("size error does not say the limit: %v", err)
	}
}

// TestRawRecipientKeyPairs: a data key pair for a raw Recipient is checked
// against one RSA block before the pair is made (the verifier is not even
// asked for an RSA pair), and an EC pair that fits is wrapped whole.
func TestRawRecipientKeyPairs(t *testing.T) {
	e := newEnclave(t, 0x22)
	v := &fakeVerifier{enclaves: []*enclave{e}}
	s, _ := newAttestedService(t, v, false)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	r := e.recipient(0)
	r.Raw = true
	for spec, n := range pairECPrivateKeyLen {
		_, p8, err := newKeyPair(spec)
		if err != nil || len(p8) != n {
			t.Fatalf("%s: PKCS #8 is %d bytes, table says %d (%v)", spec, len(p8), n, err)
		}
	}
	kp, err := s.GenerateDataKeyPair(bg, c, &GenerateDataKeyPairRequest{KeyID: md.KeyID, KeyPairSpec: PairEccNistP256, Recipient: r})
	if err != nil || kp.PrivateKeyPlaintext != nil {
		t.Fatalf("P-256 pair for a raw RSA-2048 Recipient: %v", err)
	}
	p8, err := recipient.UnwrapRaw(e.priv, kp.CiphertextForRecipient)
	if err != nil || len(p8) != 138 {
		t.Fatalf("unwrapped %d bytes: %v", len(p8), err)
	}
	for _, spec := range []DataKeyPairSpec{PairEccNistP521, PairRSA2048, PairRSA4096} {
		calls := v.calls
		kp, err := s.GenerateDataKeyPair(bg, c, &GenerateDataKeyPairRequest{KeyID: md.KeyID, KeyPairSpec: spec, Recipient: r})
		wantKind(t, err, ErrValidation)
		if kp != nil {
			t.Fatalf("%s: a response beside the error", spec)
		}
		if _, isRSA := pairRSABits[spec]; isRSA && v.calls != calls {
			t.Fatalf("%s: evidence verified for a pair that cannot fit", spec)
		}
	}
}
