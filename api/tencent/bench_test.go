package tencent_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/api/tencent/tc3"
	"github.com/attestkms/attestkms/internal/testserver"
)

// The benchmarks run whole requests through the HTTP handler — TC3
// verification, JSON, the kms operation, the audit line — and report beside
// ns/op the cost of the raw cryptography the operation must do (raw-ns/op)
// and the ratio (x-raw), so the overhead is visible. Requests are signed
// before the timer starts.

var rawCache sync.Map

// rawNs measures f once per name, for about 300 ms. (testing.Benchmark
// cannot be called from a benchmark.)
func rawNs(name string, f func()) float64 {
	if v, ok := rawCache.Load(name); ok {
		return v.(float64)
	}
	for i := 0; i < 100; i++ {
		f()
	}
	n, start := 0, time.Now()
	for time.Since(start) < 300*time.Millisecond {
		for i := 0; i < 100; i++ {
			f()
		}
		n += 100
	}
	ns := float64(time.Since(start).Nanoseconds()) / float64(n)
	rawCache.Store(name, ns)
	return ns
}

// rawSeal is what a GenerateDataKey must do: a random data key and salt,
// HKDF-SHA256, AES-256-GCM seal.
func rawSeal() {
	material := make([]byte, 32)
	pt := make([]byte, 32)
	var salt [24]byte
	rand.Read(pt)
	rand.Read(salt[:])
	k, _ := hkdf.Key(sha256.New, material, salt[:], "attestkms blob v1", 32)
	b, _ := aes.NewCipher(k)
	g, _ := cipher.NewGCM(b)
	g.Seal(nil, make([]byte, 12), pt, salt[:])
}

// rawSealWrap adds what EncryptionPublicKey costs at the least: reading the
// PEM public key and one RSA-2048 OAEP-SHA-256 encryption.
func rawSealWrap(pemKey []byte) func() {
	return func() {
		rawSeal()
		block, _ := pem.Decode(pemKey)
		pub, _ := x509.ParsePKIXPublicKey(block.Bytes)
		rsa.EncryptOAEP(sha256.New(), rand.Reader, pub.(*rsa.PublicKey), make([]byte, 32), nil)
	}
}

func benchHandler(b *testing.B, srv *testserver.Server, action, body string, raw float64) {
	b.Helper()
	reqs := make([]*http.Request, b.N)
	now := time.Now()
	for i := range reqs {
		r := httptest.NewRequest("POST", "/", bytes.NewReader([]byte(body)))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-TC-Action", action)
		r.Header.Set("X-TC-Version", "2019-01-18")
		r.Header.Set("X-TC-Region", "ap-guangzhou")
		if err := tc3.Sign(r, []byte(body), srv.AccessKey, []byte(srv.Secret), "kms", now); err != nil {
			b.Fatal(err)
		}
		reqs[i] = r
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		srv.Handler.ServeHTTP(w, reqs[i])
		if w.Code != 200 || bytes.Contains(w.Body.Bytes(), []byte(`"Error"`)) {
			b.Fatalf("%s: %d %s", action, w.Code, w.Body)
		}
	}
	b.StopTimer()
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(raw, "raw-ns/op")
	b.ReportMetric(perOp/raw, "x-raw")
}

func benchKey(b *testing.B, srv *testserver.Server) string {
	b.Helper()
	body := fmt.Sprintf(`{"Alias":"bench%d"}`, time.Now().UnixNano())
	r := httptest.NewRequest("POST", "/", bytes.NewReader([]byte(body)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-TC-Action", "CreateKey")
	r.Header.Set("X-TC-Version", "2019-01-18")
	r.Header.Set("X-TC-Region", "ap-guangzhou")
	tc3.Sign(r, []byte(body), srv.AccessKey, []byte(srv.Secret), "kms", time.Now())
	w := httptest.NewRecorder()
	srv.Handler.ServeHTTP(w, r)
	var out struct{ Response struct{ KeyId string } }
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.Response.KeyId == "" {
		b.Fatalf("CreateKey: %s", w.Body)
	}
	return out.Response.KeyId
}

func BenchmarkGenerateDataKey(b *testing.B) {
	srv := testserver.Start(b, testserver.Options{})
	id := benchKey(b, srv)
	benchHandler(b, srv, "GenerateDataKey", fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256"}`, id), rawNs("seal", rawSeal))
}

func BenchmarkGenerateDataKeyEncryptionPublicKey(b *testing.B) {
	srv := testserver.Start(b, testserver.Options{})
	id := benchKey(b, srv)
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	body, _ := json.Marshal(map[string]string{
		"KeyId": id, "KeySpec": "AES_256", "EncryptionPublicKey": string(pemKey), "EncryptionAlgorithm": "RSAES_OAEP_SHA_256",
	})
	benchHandler(b, srv, "GenerateDataKey", string(body), rawNs("seal+rsa2048", rawSealWrap(pemKey)))
}
