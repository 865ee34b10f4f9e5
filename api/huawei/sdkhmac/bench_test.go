package sdkhmac_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"
	"time"
)

// BenchmarkVerify verifies an SDK-signed KMS request as the server receives
// it, and reports beside ns/op the raw cryptography it cannot avoid, timed in
// the same run (raw-ns/op), and the ratio (x-raw), so the overhead of
// parsing and canonicalising shows. (testing.Benchmark cannot measure it:
// called inside a benchmark it deadlocks on the testing package's lock.)
func BenchmarkVerify(b *testing.B) {
	r, body := signedKMSRequest(b)
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
		rawWork(body)
	}
	rawNs := float64(time.Since(start).Nanoseconds()) / float64(n)
	b.ReportMetric(rawNs, "raw-ns/op")
	b.ReportMetric(perOp/rawNs, "x-raw")
}

// BenchmarkRawWork is what SDK-HMAC-SHA256 cannot do without: hash the body,
// hash a canonical request of the KMS client's size, one HMAC-SHA256 of the
// string to sign with the secret key.
func BenchmarkRawWork(b *testing.B) {
	_, body := signedKMSRequest(b)
	b.ReportAllocs()
	for b.Loop() {
		rawWork(body)
	}
}

var (
	rawKey       = []byte(testSecret)
	rawCanonical = []byte("POST\n/v1.0/" + testProject + "/kms/create-datakey/\n\n" +
		"user-agent:huaweicloud-usdk-go/3.0\nx-project-id:" + testProject + "\nx-sdk-date:20240314T150926Z\n\n" +
		"user-agent;x-project-id;x-sdk-date\nf536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59")
	rawSTS = []byte("SDK-HMAC-SHA256\n20240314T150926Z\nf536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59")
)

func rawWork(body []byte) []byte {
	sha256.Sum256(body)
	sha256.Sum256(rawCanonical)
	h := hmac.New(sha256.New, rawKey)
	h.Write(rawSTS)
	return h.Sum(nil)
}
