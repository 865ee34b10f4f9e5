package kms

import (
	"bytes"
	"reflect"
	"testing"
)

func TestGenerateDataKey(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	ec := EncryptionContext{"k": "v"}
	for _, tc := range []struct {
		spec string
		n    int32
		size int
	}{{"AES_256", 0, 32}, {"AES_128", 0, 16}, {"", 1, 1}, {"", 1024, 1024}} {
		r, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: tc.spec, NumberOfBytes: tc.n, EncryptionContext: ec})
		if err != nil || len(r.Plaintext) != tc.size {
			t.Fatalf("%+v: %v", tc, err)
		}
		d, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: r.CiphertextBlob, EncryptionContext: ec})
		if err != nil || !bytes.Equal(d.Plaintext, r.Plaintext) {
			t.Fatalf("data key does not decrypt to itself: %v", err)
		}
	}
	for _, req := range []GenerateDataKeyRequest{{KeySpec: "AES_512"}, {NumberOfBytes: 1025}, {NumberOfBytes: -1}, {}, {KeySpec: "AES_256", NumberOfBytes: 32}} {
		req.KeyID = md.KeyID
		_, err := s.GenerateDataKey(bg, c, &req)
		wantKind(t, err, ErrValidation)
	}
}

func TestGenerateDataKeyWithoutPlaintext(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	r, err := s.GenerateDataKeyWithoutPlaintext(bg, c, &GenerateDataKeyWithoutPlaintextRequest{KeyID: md.KeyID, KeySpec: "AES_256"})
	if err != nil || len(r.CiphertextBlob) == 0 {
		t.Fatalf("WithoutPlaintext: %+v, %v", r, err)
	}
	if r.KeyID != md.KeyID || r.KeyARN != md.KeyARN {
		t.Fatalf("WithoutPlaintext names %q, %q", r.KeyID, r.KeyARN)
	}
	d, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: r.CiphertextBlob})
	if err != nil || len(d.Plaintext) != 32 {
		t.Fatalf("the data key does not decrypt: %v", err)
	}
	_, err = s.GenerateDataKeyWithoutPlaintext(bg, c, &GenerateDataKeyWithoutPlaintextRequest{KeyID: md.KeyID, KeySpec: "AES_512"})
	wantKind(t, err, ErrValidation)
	// WithoutPlaintext cannot answer a plaintext: its answer has no field for one.
	for _, resp := range []any{GenerateDataKeyWithoutPlaintextResponse{}, GenerateDataKeyPairWithoutPlaintextResponse{}} {
		if f := secretFieldNames(reflect.TypeOf(resp)); len(f) > 0 {
			t.Fatalf("%T has secret fields %v", resp, f)
		}
	}
}

func BenchmarkGenerateDataKey(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	req := &GenerateDataKeyRequest{KeyID: id, KeySpec: "AES_256", EncryptionContext: EncryptionContext{"purpose": "bench"}}
	for b.Loop() {
		r, err := s.GenerateDataKey(bg, c, req)
		if err != nil {
			b.Fatal(err)
		}
		clear(r.Plaintext)
	}
}

func BenchmarkGenerateDataKeyWithoutPlaintext(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	req := &GenerateDataKeyWithoutPlaintextRequest{KeyID: id, KeySpec: "AES_256"}
	for b.Loop() {
		if _, err := s.GenerateDataKeyWithoutPlaintext(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}
