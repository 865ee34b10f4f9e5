package eckeys

import (
	"testing"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
)

func BenchmarkECDH(b *testing.B) {
	for _, c := range allCurves {
		b.Run(string(c), func(b *testing.B) {
			k, peer := mustGenerate(b, c), mustGenerate(b, c).Public()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.ECDH(peer); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkECDHSecp256k1Decred is decred's variable-time multiplication, for
// the price of the constant-time one above.
func BenchmarkECDHSecp256k1Decred(b *testing.B) {
	k, peer := mustGenerate(b, Secp256k1), mustGenerate(b, Secp256k1).Public()
	dk := secp256k1.PrivKeyFromBytes(k.k1[:])
	dp, err := secp256k1.ParsePubKey(peer.point)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		secp256k1.GenerateSharedSecret(dk, dp)
	}
}

func BenchmarkParseSPKI(b *testing.B) {
	for _, c := range allCurves {
		b.Run(string(c), func(b *testing.B) {
			der, err := mustGenerate(b, c).Public().MarshalSPKI()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseSPKI(der); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParsePKCS8(b *testing.B) {
	for _, c := range allCurves {
		b.Run(string(c), func(b *testing.B) {
			der, err := mustGenerate(b, c).MarshalPKCS8()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				k, err := ParsePKCS8(der)
				if err != nil {
					b.Fatal(err)
				}
				k.Destroy()
			}
		})
	}
}
