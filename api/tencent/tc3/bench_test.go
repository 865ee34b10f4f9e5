package tc3_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"testing"
	"time"

	"github.com/attestkms/attestkms/api/tencent/tc3"
)

// BenchmarkVerify verifies a signed KMS Encrypt request (the SDK's bytes) as
// the server receives it, and reports beside ns/op the raw HMAC chain's cost,
// timed in the same run (raw-ns/op), and the ratio (x-raw), so the overhead
// of parsing and canonicalising shows. (testing.Benchmark cannot measure it:
// called inside a benchmark it deadlocks on the testing package's lock.)
func BenchmarkVerify(b *testing.B) {
	r, body := signed(b, nil)
	benchVerify(b, testVerifier(), r, body, true)
}

// BenchmarkVerifyUnknownSecretID: an unknown SecretId costs what a known one
// does (the same HMAC chain over a dummy secret).
func BenchmarkVerifyUnknownSecretID(b *testing.B) {
	r, body := signed(b, nil)
	v := &tc3.Verifier{Service: "kms", Lookup: func(string) ([]byte, bool) { return nil, false }}
	benchVerify(b, v, r, body, false)
}

func benchVerify(b *testing.B, v *tc3.Verifier, r *http.Request, body []byte, ok bool) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r, body, testTime); (err == nil) != ok {
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

// BenchmarkHMACChain is the work TC3 cannot avoid without caching signing
// keys: three HMAC-SHA256 to derive the key ("TC3"+secret → date → service →
// "tc3_request"), one to sign the string to sign, and the two SHA-256 of the
// body and of the canonical request.
func BenchmarkHMACChain(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		hmacChain()
	}
}

var (
	chainKey = []byte("TC3" + testSecret)
	chainCR  = []byte("POST\n/\n\ncontent-type:application/json\nhost:kms.tencentcloudapi.com\n\ncontent-type;host\n" +
		"f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59")
	chainSTS = []byte("TC3-HMAC-SHA256\n1710428966\n2024-03-14/kms/tc3_request\n" +
		"f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59")
	chainBody = []byte(testBody)
)

func hmacChain() []byte {
	sha256.Sum256(chainBody)
	sha256.Sum256(chainCR)
	k := chainKey
	for _, d := range []string{"2024-03-14", "kms", "tc3_request"} {
		h := hmac.New(sha256.New, k)
		h.Write([]byte(d))
		k = h.Sum(nil)
	}
	h := hmac.New(sha256.New, k)
	h.Write(chainSTS)
	return h.Sum(nil)
}
