package kms

import (
	"bytes"
	"testing"

	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
)

// TestDecodeKeyRefusesDamagedRecords: a stored record whose material does
// not open, or repeats a version, is refused, and what was opened before the
// fault is zeroed.
func TestDecodeKeyRefusesDamagedRecords(t *testing.T) {
	sl, err := sealer.New(bytes.Repeat([]byte{7}, sealer.RootKeySize))
	if err != nil {
		t.Fatal(err)
	}
	rec := &store.Key{ID: newUUID(), Spec: string(SymmetricDefault), Usage: string(EncryptDecrypt), Policy: `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*"}]}`}
	m1 := bytes.Repeat([]byte{0xaa}, 32)
	rec.Materials = []store.Material{must(store.SealMaterial(sl, rec.ID, 1, m1))}
	good, err := decodeKey(sl, rec)
	if err != nil || !bytes.Equal(good.sym[1], m1) {
		t.Fatalf("decodeKey of a sound record: %v", err)
	}

	tampered := must(store.SealMaterial(sl, rec.ID, 2, m1))
	tampered.Sealed[len(tampered.Sealed)-1] ^= 1
	for name, second := range map[string]store.Material{
		"tampered":         tampered,
		"repeated version": must(store.SealMaterial(sl, rec.ID, 1, m1)),
		"wrong version":    {Version: 3, Sealed: must(store.SealMaterial(sl, rec.ID, 2, m1)).Sealed},
	} {
		bad := *rec
		bad.Materials = []store.Material{rec.Materials[0], second}
		if k, err := decodeKey(sl, &bad); err == nil || k != nil {
			t.Errorf("%s: decodeKey = %v, %v; want an error and no key", name, k, err)
		}
		k := &key{rec: &bad}
		if err := k.open(sl); err == nil {
			t.Errorf("%s: open accepted the record", name)
		}
		first := k.sym[1]
		k.zero()
		if !bytes.Equal(first, make([]byte, 32)) {
			t.Errorf("%s: material opened before the fault is not zeroed", name)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
