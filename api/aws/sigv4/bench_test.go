package sigv4_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
)

// BenchmarkVerify verifies an SDK-signed KMS Encrypt request as the server
// receives it, and reports beside ns/op the raw HMAC chain's cost, timed in
// the same run (raw-ns/op), and the ratio (x-raw), so the overhead of
// parsing and canonicalising shows. (testing.Benchmark cannot measure it:
// called inside a benchmark it deadlocks on the testing package's lock.)
func BenchmarkVerify(b *testing.B) {
	r, body := sdkSigned(b, nil)
	v := testVerifier()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r, body, testTime); err != nil {
			b.Fatal(err)
		}
	}
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)

	n := max(b.N, 1000)
	start := time.Now()
	for range n {
		hmacChain()
	}
	rawNs := float64(time.Since(start).Nanoseconds()) / float64(n)
	b.ReportMetric(rawNs, "raw-ns/op")
	b.ReportMetric(perOp/rawNs, "x-raw")
}

// BenchmarkVerifyCachedKey is BenchmarkVerify with a KeyCache, as the
// server verifies: the signing key is derived once, then one HMAC signs.
func BenchmarkVerifyCachedKey(b *testing.B) {
	r, body := sdkSigned(b, nil)
	v := testVerifier()
	v.Keys = hmacauth.NewKeyCache(0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r, body, testTime); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHMACChain is the HMAC work SigV4 cannot avoid without caching
// signing keys: four HMAC-SHA256 to derive the key ("AWS4"+secret → date →
// region → service → "aws4_request") and one to sign the string to sign.
func BenchmarkHMACChain(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		hmacChain()
	}
}

var (
	chainKey = []byte("AWS4" + testSecret)
	chainSTS = []byte("AWS4-HMAC-SHA256\n20240314T150926Z\n20240314/us-east-1/kms/aws4_request\n" +
		"f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59")
)

func hmacChain() []byte {
	k := chainKey
	for _, d := range []string{"20240314", "us-east-1", "kms", "aws4_request"} {
		h := hmac.New(sha256.New, k)
		h.Write([]byte(d))
		k = h.Sum(nil)
	}
	h := hmac.New(sha256.New, k)
	h.Write(chainSTS)
	return h.Sum(nil)
}
