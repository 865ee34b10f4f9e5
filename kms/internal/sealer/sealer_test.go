package sealer

import (
	"bytes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"testing"
)

func TestSealOpen(t *testing.T) {
	root := bytes.Repeat([]byte{7}, RootKeySize)
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte("key material")
	sealed, _ := s.Seal("key", []byte("id-1"), pt)
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
	a, _ := s.Seal("p", nil, []byte("x"))
	b, _ := s.Seal("p", nil, []byte("x"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same value are equal")
	}
}

// fakeDevice is a KeyWrapper in memory: AES-GCM under its own key, as a
// token would do it, and a switch that takes it away.
type fakeDevice struct {
	key   []byte
	gone  bool
	calls int
}

func (d *fakeDevice) aead() cipher.AEAD { a, _ := newGCM(d.key); return a }

func (d *fakeDevice) WrapKey(dek, ad []byte) ([]byte, error) {
	d.calls++
	if d.gone {
		return nil, fmt.Errorf("%w: token removed", ErrUnavailable)
	}
	return seal(d.aead(), nil, "wrap", ad, dek), nil
}

func (d *fakeDevice) UnwrapKey(w, ad []byte) ([]byte, error) {
	d.calls++
	if d.gone {
		return nil, fmt.Errorf("%w: token removed", ErrUnavailable)
	}
	a := d.aead()
	if len(w) < a.NonceSize() {
		return nil, ErrOpen
	}
	dek, err := a.Open(nil, w[:a.NonceSize()], w[a.NonceSize():], aad("wrap", ad))
	if err != nil {
		return nil, ErrOpen
	}
	return dek, nil
}

func (d *fakeDevice) DeriveKey(label string) ([]byte, error) {
	if d.gone {
		return nil, fmt.Errorf("%w: token removed", ErrUnavailable)
	}
	return hkdf.Key(sha256.New, d.key, nil, label, RootKeySize)
}

func (d *fakeDevice) Describe() string { return "fake device" }
func (d *fakeDevice) Close() error     { return nil }

func TestWrapped(t *testing.T) {
	dev := &fakeDevice{key: bytes.Repeat([]byte{3}, 32)}
	s, err := NewWrapped(dev)
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte("key material")
	sealed, err := s.Seal("key", []byte("id-1"), pt)
	if err != nil {
		t.Fatal(err)
	}
	if sealed[0] != wrappedFormat || bytes.Contains(sealed, pt) {
		t.Fatalf("sealed value %x", sealed)
	}
	got, err := s.Open("key", []byte("id-1"), sealed)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// Every value has its own data key: sealing the same twice differs
	// in its wrapped key too.
	again, _ := s.Seal("key", []byte("id-1"), pt)
	if bytes.Equal(again[:3+int(sealed[2])], sealed[:3+int(sealed[2])]) {
		t.Fatal("two values share a wrapped data key")
	}

	mem, _ := New(bytes.Repeat([]byte{3}, 32))
	memSealed, _ := mem.Seal("key", []byte("id-1"), pt)
	otherDev, _ := NewWrapped(&fakeDevice{key: bytes.Repeat([]byte{4}, 32)})
	for name, f := range map[string]func() ([]byte, error){
		"other device":           func() ([]byte, error) { return otherDev.Open("key", []byte("id-1"), sealed) },
		"other id":               func() ([]byte, error) { return s.Open("key", []byte("id-2"), sealed) },
		"other purpose":          func() ([]byte, error) { return s.Open("credential", []byte("id-1"), sealed) },
		"in-memory format":       func() ([]byte, error) { return s.Open("key", []byte("id-1"), memSealed) },
		"wrapped under memory":   func() ([]byte, error) { return mem.Open("key", []byte("id-1"), sealed) },
		"empty":                  func() ([]byte, error) { return s.Open("key", []byte("id-1"), nil) },
		"length past the end":    func() ([]byte, error) { return s.Open("key", []byte("id-1"), []byte{1, 0xff, 0xff, 0}) },
		"zero-length wrapped":    func() ([]byte, error) { return s.Open("key", []byte("id-1"), []byte{1, 0, 0, 0, 0}) },
		"wrapped key of another": func() ([]byte, error) { return s.Open("key", []byte("id-1"), swapWrapped(sealed, again)) },
	} {
		if _, err := f(); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: %v, want ErrOpen", name, err)
		}
	}
	for i := range sealed {
		b := bytes.Clone(sealed)
		b[i] ^= 0x20
		if _, err := s.Open("key", []byte("id-1"), b); !errors.Is(err, ErrOpen) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}

	// A device that goes away: ErrUnavailable (not ErrOpen: the store is
	// not damaged), and everything opens again once it is back.
	dev.gone = true
	if _, err := s.Open("key", []byte("id-1"), sealed); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOpen) {
		t.Fatalf("device gone: Open = %v", err)
	}
	if _, err := s.Seal("key", []byte("id-1"), pt); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("device gone: Seal = %v", err)
	}
	if _, err := NewWrapped(dev); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("device gone: NewWrapped = %v", err)
	}
	dev.gone = false
	if got, err := s.Open("key", []byte("id-1"), sealed); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("device back: Open = %q, %v", got, err)
	}

	// The backup MAC key is the device's derivation: the same for the
	// same device, another for another.
	s2, _ := NewWrapped(dev)
	m1, m2, m3 := s.BackupMAC(), s2.BackupMAC(), otherDev.BackupMAC()
	for _, m := range []hash.Hash{m1, m2, m3} {
		m.Write([]byte("backup"))
	}
	if !bytes.Equal(m1.Sum(nil), m2.Sum(nil)) || bytes.Equal(m1.Sum(nil), m3.Sum(nil)) {
		t.Fatal("backup MAC keys do not follow the device's key")
	}
	// So is the record MAC key, another than the backup MAC key.
	r1, r2, r3 := s.RecordMAC(), s2.RecordMAC(), otherDev.RecordMAC()
	for _, m := range []hash.Hash{r1, r2, r3} {
		m.Write([]byte("backup"))
	}
	if !bytes.Equal(r1.Sum(nil), r2.Sum(nil)) || bytes.Equal(r1.Sum(nil), r3.Sum(nil)) || bytes.Equal(r1.Sum(nil), m1.Sum(nil)) {
		t.Fatal("record MAC keys do not follow the device's key, or are the backup MAC key")
	}
}

// TestRecordMACKey: a root key in memory derives a record MAC key of its
// own (neither the backup MAC key nor another root key's), which Close
// zeroes.
func TestRecordMACKey(t *testing.T) {
	a, _ := New(bytes.Repeat([]byte{1}, RootKeySize))
	b, _ := New(bytes.Repeat([]byte{2}, RootKeySize))
	sum := func(h hash.Hash) []byte { h.Write([]byte("x")); return h.Sum(nil) }
	if bytes.Equal(sum(a.RecordMAC()), sum(a.BackupMAC())) || bytes.Equal(sum(a.RecordMAC()), sum(b.RecordMAC())) {
		t.Fatal("the record MAC key is not its own")
	}
	a.Close()
	if !bytes.Equal(a.record, make([]byte, RootKeySize)) {
		t.Fatal("Close left the record MAC key")
	}
}

// swapWrapped is a's value with b's wrapped data key.
func swapWrapped(a, b []byte) []byte {
	na, nb := 3+int(a[1])<<8|int(a[2]), 3+int(b[1])<<8|int(b[2])
	return append(bytes.Clone(b[:nb]), a[na:]...)
}
