package kms

import (
	"testing"
)

func TestEncrypt(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	ec := EncryptionContext{"purpose": "test", "tenant": "a"}
	pt := []byte("attack at dawn")
	enc, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyARN, Plaintext: pt, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	if r := lastRecord(t, s, "Encrypt"); enc.KeyARN != md.KeyARN || enc.KeyID != md.KeyID || r.KeyARN != md.KeyARN {
		t.Fatalf("KeyARN %q, KeyID %q, audited ARN %q; want %q", enc.KeyARN, enc.KeyID, r.KeyARN, md.KeyARN)
	}
	if len(enc.CiphertextBlob) != blobHeaderLen+len(pt)+blobTagLen {
		t.Fatalf("blob is %d bytes", len(enc.CiphertextBlob))
	}

	for _, n := range []int{0, maxPlaintextLen + 1} {
		_, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: make([]byte, n)})
		wantKind(t, err, ErrValidation)
	}
	_, err = s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: pt, EncryptionAlgorithm: "RSAES_OAEP_SHA_256"})
	wantKind(t, err, ErrValidation)
	_, err = s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: pt, EncryptionContext: EncryptionContext{"": "x"}})
	wantKind(t, err, ErrValidation)
	_, err = s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: pt, DryRun: true})
	wantKind(t, err, ErrDryRun)
}

func BenchmarkEncrypt(b *testing.B) {
	s, _ := newTestService(b)
	c := s.testCall()
	req := &EncryptRequest{KeyID: mustKey(b, s, "", "").KeyID, Plaintext: make([]byte, 32), EncryptionContext: EncryptionContext{"purpose": "bench"}}
	for b.Loop() {
		if _, err := s.Encrypt(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}
