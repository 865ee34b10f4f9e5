package enclave

import "testing"

// BenchmarkNewKeyOfType: what an enclave spends making its ephemeral key,
// per key type (RSA-2048 is a prime search: its time varies a lot).
func BenchmarkNewKeyOfType(b *testing.B) {
	for _, typ := range []string{KeyTypeRSA, KeyTypeP256, KeyTypeMLKEM768X25519} {
		b.Run(typ, func(b *testing.B) {
			for b.Loop() {
				if _, err := NewKeyOfType(typ, 2048); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
