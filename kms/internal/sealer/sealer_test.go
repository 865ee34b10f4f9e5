package sealer

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	root := bytes.Repeat([]byte{7}, RootKeySize)
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte("key material")
	sealed := s.Seal("key", []byte("id-1"), pt)
	if bytes.Contains(sealed, pt) {
		t.Fatal("sealed value contains the plaintext")
	}
	got, err := s.Open("key", []byte("id-1"), sealed)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v", got, err)
	}

	other, _ := New(bytes.Repeat([]byte{8}, RootKeySize))
	cases := map[string]func() ([]byte, error){
		"other root key": func() ([]byte, error) { return other.Open("key", []byte("id-1"), sealed) },
		"other id":       func() ([]byte, error) { return s.Open("key", []byte("id-2"), sealed) },
		"other purpose":  func() ([]byte, error) { return s.Open("credential", []byte("id-1"), sealed) },
		"purpose/id boundary": func() ([]byte, error) {
			return s.Open("ke", []byte("y\x00id-1"), sealed)
		},
		"truncated": func() ([]byte, error) { return s.Open("key", []byte("id-1"), sealed[:10]) },
		"empty":     func() ([]byte, error) { return s.Open("key", []byte("id-1"), nil) },
	}
	for i := range sealed {
		c := bytes.Clone(sealed)
		c[i] ^= 1
		if _, err := s.Open("key", []byte("id-1"), c); !errors.Is(err, ErrOpen) {
			t.Fatalf("flipped byte %d: err = %v", i, err)
		}
	}
	for name, f := range cases {
		if got, err := f(); !errors.Is(err, ErrOpen) || got != nil {
			t.Errorf("%s: Open = %v, %v; want nil, ErrOpen", name, got, err)
		}
	}
}

func TestNewRejectsWrongSize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New(%d bytes) succeeded", n)
		}
	}
}

func TestSealIsRandomised(t *testing.T) {
	s, _ := New(make([]byte, RootKeySize))
	a := s.Seal("p", nil, []byte("x"))
	b := s.Seal("p", nil, []byte("x"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same value are equal")
	}
}
