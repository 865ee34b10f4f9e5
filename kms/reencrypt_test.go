package kms

import (
	"testing"
)

func TestReEncrypt(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	a, b := mustKey(t, s, "", ""), mustKey(t, s, "", "")
	enc, _ := s.Encrypt(bg, c, &EncryptRequest{KeyID: a.KeyID, Plaintext: []byte("secret"), EncryptionContext: EncryptionContext{"x": "1"}})
	r, err := s.ReEncrypt(bg, c, &ReEncryptRequest{
		CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: EncryptionContext{"x": "1"},
		DestinationKeyID: b.KeyID, DestinationEncryptionContext: EncryptionContext{"y": "2"},
	})
	if rec := lastRecord(t, s, "ReEncrypt"); err != nil || r.SourceKeyARN != a.KeyARN || r.SourceKeyID != a.KeyID || r.KeyARN != b.KeyARN || r.KeyID != b.KeyID || rec.KeyARN != b.KeyARN || rec.SourceKeyARN != a.KeyARN {
		t.Fatalf("ReEncrypt = %+v, %v (audited %+v)", r, err, rec)
	}
	d, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: r.CiphertextBlob, EncryptionContext: EncryptionContext{"y": "2"}})
	if err != nil || string(d.Plaintext) != "secret" {
		t.Fatal(err)
	}
	_, err = s.ReEncrypt(bg, c, &ReEncryptRequest{CiphertextBlob: enc.CiphertextBlob, DestinationKeyID: b.KeyID})
	wantKind(t, err, ErrInvalidCiphertext)
	s.DisableKey(bg, c, &DisableKeyRequest{KeyID: b.KeyID})
	_, err = s.ReEncrypt(bg, c, &ReEncryptRequest{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: EncryptionContext{"x": "1"}, DestinationKeyID: b.KeyID})
	wantKind(t, err, ErrDisabled)
}

func BenchmarkReEncrypt(b *testing.B) {
	s, c, src := benchKey(b, "", "")
	dst := mustKey(b, s, "", "").KeyID
	enc, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: src, Plaintext: make([]byte, 32)})
	if err != nil {
		b.Fatal(err)
	}
	req := &ReEncryptRequest{CiphertextBlob: enc.CiphertextBlob, DestinationKeyID: dst}
	for b.Loop() {
		if _, err := s.ReEncrypt(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}
