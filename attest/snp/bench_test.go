package snp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest/snp"
	"github.com/attestkms/attestkms/attest/snp/snptest"
)

// BenchmarkVerify verifies simulated evidence along the whole path: decode
// the envelope, parse the enclave key and the report, the VCEK's chain
// (two RSA-PSS verifications, of RSA-2048 test keys; AMD's are 4096 bits)
// and the report's ECDSA P-384 signature, the binding and the policy. The
// warm cases find the VCEK verified in the cache (a guest already seen: one
// ECDSA verification); the -cold ones empty the cache before each Verify.
// Beside ns/op it reports one raw P-384 verification, timed in the same run
// (raw-ns/op), and the ratio (x-raw). (testing.Benchmark would deadlock
// inside a benchmark.) The real report runs the same path with AMD's
// RSA-4096 chain, up to the binding.
func BenchmarkVerify(b *testing.B) {
	ca := mainCA(b)
	b.Run("simulated", func(b *testing.B) {
		v := newVerifier(b, snp.Options{Roots: rootsOf(b, ca)})
		ev := evidence(b, ca, snptest.Report{Nonce: []byte("nonce")})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ev, testVerifyTime); err != nil {
				b.Fatal(err)
			}
		}
		reportRaw(b)
	})
	b.Run("simulated-cold", func(b *testing.B) {
		v := newVerifier(b, snp.Options{Roots: rootsOf(b, ca)})
		ev := evidence(b, ca, snptest.Report{Nonce: []byte("nonce")})
		b.ReportAllocs()
		for b.Loop() {
			snp.ResetCache(v)
			if _, err := v.Verify(ev, testVerifyTime); err != nil {
				b.Fatal(err)
			}
		}
		reportRaw(b)
	})
	for _, cold := range []bool{false, true} {
		name := "real-amd-chain"
		if cold {
			name += "-cold"
		}
		b.Run(name, func(b *testing.B) {
			v := newVerifier(b, snp.Options{})
			e := realEnvelope(b)
			b.ReportAllocs()
			for b.Loop() {
				if cold {
					snp.ResetCache(v)
				}
				if _, _, err := snp.VerifyReport(v, e, realTime); err != nil {
					b.Fatal(err)
				}
			}
			reportRaw(b)
		})
	}
}

// BenchmarkRawSignature is the ECDSA P-384 verification of a report's
// signature alone (SHA-384 of its 672 signed bytes, crypto/ecdsa): the
// floor of a Verify.
func BenchmarkRawSignature(b *testing.B) {
	verify := rawP384(b)
	b.ReportAllocs()
	for b.Loop() {
		verify()
	}
}

func rawP384(b *testing.B) func() {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	signed := make([]byte, 0x2a0)
	d := sha512.Sum384(signed)
	sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
	if err != nil {
		b.Fatal(err)
	}
	return func() {
		digest := sha512.Sum384(signed)
		if !ecdsa.VerifyASN1(&k.PublicKey, digest[:], sig) {
			b.Fatal("signature does not verify")
		}
	}
}

// reportRaw times raw P-384 verifications after the loop and reports the
// ratio of b's time per op to one of them.
func reportRaw(b *testing.B) {
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	verify := rawP384(b)
	const n = 300
	start := time.Now()
	for range n {
		verify()
	}
	raw := float64(time.Since(start).Nanoseconds()) / n
	b.ReportMetric(raw, "raw-ns/op")
	b.ReportMetric(perOp/raw, "x-raw")
}
