package kms

import (
	"bytes"
	"testing"
)

func TestDecrypt(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	ec := EncryptionContext{"purpose": "test", "tenant": "a"}
	pt := []byte("attack at dawn")
	enc, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyARN, Plaintext: pt, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	if err != nil || !bytes.Equal(dec.Plaintext, pt) || dec.KeyARN != md.KeyARN || dec.KeyID != md.KeyID {
		t.Fatalf("Decrypt = %+v, %v", dec, err)
	}

	// Any changed byte, another context, or no context: InvalidCiphertext.
	for i := range enc.CiphertextBlob {
		b := bytes.Clone(enc.CiphertextBlob)
		b[i] ^= 0x01
		_, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: b, EncryptionContext: ec})
		wantKind(t, err, ErrInvalidCiphertext)
	}
	for _, other := range []EncryptionContext{nil, {"purpose": "test"}, {"purpose": "test", "tenant": "b"}, {"purpose": "test", "tenant": "a", "x": ""}} {
		_, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: other})
		wantKind(t, err, ErrInvalidCiphertext)
	}
	for _, bad := range [][]byte{{0x01}, bytes.Repeat([]byte{1}, blobHeaderLen+blobTagLen-1), append([]byte{2}, enc.CiphertextBlob[1:]...)} {
		_, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: bad, EncryptionContext: ec})
		wantKind(t, err, ErrInvalidCiphertext)
	}
	_, err = s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: make([]byte, maxBlobLen+1)})
	wantKind(t, err, ErrValidation)

	// KeyId naming another key: IncorrectKey; an alias of the right key works.
	other := mustKey(t, s, "", "")
	_, err = s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyID: other.KeyID})
	wantKind(t, err, ErrIncorrectKey)
	if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/app", TargetKeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyID: "alias/app"}); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkDecrypt(b *testing.B) {
	s, _ := newTestService(b)
	c := s.testCall()
	ec := EncryptionContext{"purpose": "bench"}
	enc, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: mustKey(b, s, "", "").KeyID, Plaintext: make([]byte, 32), EncryptionContext: ec})
	if err != nil {
		b.Fatal(err)
	}
	req := &DecryptRequest{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec}
	for b.Loop() {
		r, err := s.Decrypt(bg, c, req)
		if err != nil {
			b.Fatal(err)
		}
		clear(r.Plaintext)
	}
}
