package kms

import (
	"bytes"
	"testing"
)

// FuzzParseCiphertext: whatever parses re-encodes to the same header, and no
// input but a blob we sealed opens.
func FuzzParseCiphertext(f *testing.F) {
	material := bytes.Repeat([]byte{0x42}, 32)
	var id [16]byte
	copy(id[:], "0123456789abcdef")
	// A fixed salt: the fuzzing workers must compute the same blob.
	good, err := sealBlobSalt(id, 1, material, []byte("plaintext"), EncryptionContext{"a": "b"}, [24]byte{1, 2, 3})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:blobHeaderLen+blobTagLen])
	f.Add([]byte{})
	f.Add([]byte{blobVersion1})
	f.Add(append([]byte{0x02}, good[1:]...))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, sealed, err := parseBlob(b)
		if err != nil {
			if sealed != nil {
				t.Fatal("failed parse returned a sealed part")
			}
			return
		}
		if !bytes.Equal(append(h.marshal(), sealed...), b) {
			t.Fatal("parse does not re-encode to its input")
		}
		pt, err := openBlob(b, h, material, EncryptionContext{"a": "b"})
		if err == nil && !bytes.Equal(b, good) {
			t.Fatalf("a blob we did not seal opened to %q", pt)
		}
	})
}

func TestEncodeContextIsCanonical(t *testing.T) {
	a := encodeContext(EncryptionContext{"b": "2", "a": "1"})
	b := encodeContext(EncryptionContext{"a": "1", "b": "2"})
	if !bytes.Equal(a, b) {
		t.Fatal("map order changes the encoding")
	}
	// Length prefixes keep pairs apart: {"ab":"c"} and {"a":"bc"} differ.
	if bytes.Equal(encodeContext(EncryptionContext{"ab": "c"}), encodeContext(EncryptionContext{"a": "bc"})) {
		t.Fatal("different contexts encode the same")
	}
	if !bytes.Equal(encodeContext(nil), []byte{0, 0}) || !bytes.Equal(encodeContext(EncryptionContext{}), []byte{0, 0}) {
		t.Fatal("empty context is not 00 00")
	}
}

func BenchmarkSealBlob(b *testing.B) {
	material := bytes.Repeat([]byte{0x42}, 32)
	pt := make([]byte, 32)
	var id [16]byte
	for b.Loop() {
		sealBlob(id, 1, material, pt, nil)
	}
}
