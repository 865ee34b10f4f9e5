package nitro_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest/nitro"
)

// BenchmarkVerify verifies the real 2024-01-24 document (a five-certificate
// chain) with an empty cache each time (cold: four chain signatures and the
// document's) and with its chain cached (warm: the document's signature
// only). Beside ns/op each reports one raw P-384 verification, timed in the
// same run (raw-ns/op), and the ratio (x-raw): warm should stay close to 1,
// cold close to 5. (testing.Benchmark would deadlock inside a benchmark.)
func BenchmarkVerify(b *testing.B) {
	doc := readVector(b, "nitro_doc_2024-01-24_debug_rsa2048.cose")
	at := debugDocTime.Add(time.Second)
	// The real document is of a debug-mode enclave: admit it, as
	// verify-evidence does, so that the benchmark measures verification.
	v := newVerifier(b, nitro.Options{AllowDebug: true})
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			nitro.ResetCache(v)
			if _, err := v.Verify(doc, at); err != nil {
				b.Fatal(err)
			}
		}
		reportRaw(b)
	})
	b.Run("warm", func(b *testing.B) {
		if _, err := v.Verify(doc, at); err != nil {
			b.Fatal(err)
		}
		before := nitro.ChainVerifications(v)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(doc, at); err != nil {
				b.Fatal(err)
			}
		}
		if nitro.ChainVerifications(v) != before {
			b.Fatal("the warm run verified chains")
		}
		reportRaw(b)
	})
}

// BenchmarkECDSAP384Verify is one ECDSA P-384 verification with SHA-384:
// the floor of a warm Verify.
func BenchmarkECDSAP384Verify(b *testing.B) {
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
	digest := sha512.Sum384([]byte("attestation document"))
	sig, err := ecdsa.SignASN1(rand.Reader, k, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	return func() {
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

// BenchmarkVerifyNitroTPM is BenchmarkVerify for the generated NitroTPM
// document (testvectors/nitro/generated/nitrotpm_ok.cose: the test CA's
// root, intermediate and leaf, 24 registers): cold pays the chain's two
// signatures besides the document's, warm the document's only.
func BenchmarkVerifyNitroTPM(b *testing.B) {
	doc := readVector(b, "generated/nitrotpm_ok.cose")
	v := newVerifier(b, nitro.Options{Roots: readRoots(b, vectorDir+"/generated/nitro_test_root.pem")})
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			nitro.ResetCache(v)
			if _, err := v.Verify(doc, testVerifyTime); err != nil {
				b.Fatal(err)
			}
		}
		reportRaw(b)
	})
	b.Run("warm", func(b *testing.B) {
		if _, err := v.Verify(doc, testVerifyTime); err != nil {
			b.Fatal(err)
		}
		before := nitro.ChainVerifications(v)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(doc, testVerifyTime); err != nil {
				b.Fatal(err)
			}
		}
		if nitro.ChainVerifications(v) != before {
			b.Fatal("the warm run verified chains")
		}
		reportRaw(b)
	})
}
