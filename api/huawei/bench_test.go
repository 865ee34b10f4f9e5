package huawei_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/api/huawei/sdkhmac"
	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/internal/testserver"
)

// The benchmarks run whole requests through the HTTP handler — signature
// verification, replay check, JSON, the kms operation, the audit line — and
// report beside ns/op the ratio to the raw cryptography the operation must
// do (x-raw), so the overhead is visible. Requests are signed before the
// timer starts, each with a unique header so none is a replay.

var rawCache sync.Map

// rawNs measures f once per name, for about 300 ms: the raw cryptography of
// an operation. (testing.Benchmark cannot be called from a benchmark: it
// deadlocks.)
func rawNs(name string, f func()) float64 {
	if v, ok := rawCache.Load(name); ok {
		return v.(float64)
	}
	for i := 0; i < 100; i++ { // warm up
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

// rawSeal is what a create-datakey must do: a random data key and salt,
// HKDF-SHA256, AES-256-GCM seal.
func rawSeal(n int) func() {
	material := make([]byte, 32)
	return func() {
		pt := make([]byte, n)
		var salt [24]byte
		rand.Read(pt)
		rand.Read(salt[:])
		k, _ := hkdf.Key(sha256.New, material, salt[:], "attestkms blob v1", 32)
		b, _ := aes.NewCipher(k)
		g, _ := cipher.NewGCM(b)
		g.Seal(nil, make([]byte, 12), pt, salt[:])
	}
}

func rawECDH() func() {
	a, _ := ecdh.P256().GenerateKey(rand.Reader)
	p, _ := ecdh.P256().GenerateKey(rand.Reader)
	return func() { a.ECDH(p.PublicKey()) }
}

// rawAttested is what an attested derive-shared-secret must do at the least
// once the enclave's certificates are cached: one ECDSA P-384 verification
// (the document's COSE signature), one ECDH P-256, one RSA-2048 OAEP
// encryption and an AES-256-CBC of the secret (the CMS wrap).
func rawAttested() func() {
	ecdhF := rawECDH()
	sk, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	digest := sha512.Sum384([]byte("document"))
	sig, _ := ecdsa.SignASN1(rand.Reader, sk, digest[:])
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	cek := make([]byte, 32)
	return func() {
		ecdsa.VerifyASN1(&sk.PublicKey, digest[:], sig)
		ecdhF()
		rsa.EncryptOAEP(sha256.New(), rand.Reader, &rk.PublicKey, cek, nil)
		b, _ := aes.NewCipher(cek)
		buf := make([]byte, 48)
		cipher.NewCBCEncrypter(b, make([]byte, 16)).CryptBlocks(buf, buf)
	}
}

// benchHandler sends pre-signed requests straight to the handler.
func benchHandler(b *testing.B, srv *testserver.Server, op, body string, raw float64) {
	b.Helper()
	reqs := make([]*http.Request, b.N)
	now := time.Now()
	for i := range reqs {
		r := httptest.NewRequest("POST", "/v1.0/"+srv.Account.ProjectID+"/kms/"+op, bytes.NewReader([]byte(body)))
		r.Header.Set("Content-Type", "application/json;charset=UTF-8")
		r.Header.Set("X-Project-Id", srv.Account.ProjectID)
		r.Header.Set("X-Bench-Request", strconv.Itoa(i)) // a unique signature per request
		if err := sdkhmac.Sign(r, []byte(body), srv.AccessKey, []byte(srv.Secret), now); err != nil {
			b.Fatal(err)
		}
		reqs[i] = r
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		srv.Handler.ServeHTTP(w, reqs[i])
		if w.Code != 200 {
			b.Fatalf("%s: %d %s", op, w.Code, w.Body)
		}
	}
	b.StopTimer()
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(raw, "raw-ns/op")
	b.ReportMetric(perOp/raw, "x-raw")
}

func BenchmarkCreateDatakey(b *testing.B) {
	srv := testserver.Start(b, testserver.Options{})
	id := createKey(b, newClient(b, srv), "bench", "", "")
	benchHandler(b, srv, "create-datakey", fmt.Sprintf(`{"key_id":%q,"datakey_length":"256"}`, id), rawNs("seal32", rawSeal(32)))
}

func BenchmarkDeriveSharedSecret(b *testing.B) {
	srv := testserver.Start(b, testserver.Options{})
	id := createKey(b, newClient(b, srv), "bench", "EC_P256", "KEY_AGREEMENT")
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	spki, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	benchHandler(b, srv, "derive-shared-secret", fmt.Sprintf(`{"key_id":%q,"key_agreement_algorithm":"ECDH","public_key":%q}`, id, base64.StdEncoding.EncodeToString(spki)), rawNs("ecdh-p256", rawECDH()))
}

func BenchmarkDeriveSharedSecretRecipient(b *testing.B) {
	ca, err := nitrotest.NewTestCA(attest.FormatQingtian, nil)
	if err != nil {
		b.Fatal(err)
	}
	v, _ := nitro.New(nitro.Options{Format: attest.FormatQingtian, Roots: ca.Roots()})
	srv := testserver.Start(b, testserver.Options{Attestation: &attest.Set{COSE: []attest.Verifier{v}}})
	id := createKey(b, newClient(b, srv), "bench", "EC_P256", "KEY_AGREEMENT")
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	spki, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	rder, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	pcrs := map[int][]byte{0: bytes.Repeat([]byte{1}, 48)}
	// One document for every request: it stays fresh for the benchmark's
	// few seconds, and its chain is verified once and then cached.
	doc, err := ca.Sign(nitrotest.Document{Timestamp: time.Now(), PCRs: pcrs, PublicKey: rder, ModuleID: "qingtian-bench"})
	if err != nil {
		b.Fatal(err)
	}
	body := fmt.Sprintf(`{"key_id":%q,"key_agreement_algorithm":"ECDH","public_key":%q,"recipient":{"attestation_document":%q,"key_encryption_algorithm":"RSAES_OAEP_SHA_256"}}`,
		id, base64.StdEncoding.EncodeToString(spki), base64.StdEncoding.EncodeToString(doc))
	benchHandler(b, srv, "derive-shared-secret", body, rawNs("attested-dss", rawAttested()))
}

// rawECPair is what a create-ec-datakey-pair of ECC_NIST_P256 must do: a
// P-256 key, its PKCS #8 and SubjectPublicKeyInfo, and the seal of the
// private key (138 bytes).
func rawECPair() func() {
	seal := rawSeal(138)
	return func() {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		x509.MarshalPKCS8PrivateKey(k)
		x509.MarshalPKIXPublicKey(&k.PublicKey)
		seal()
	}
}

func BenchmarkCreateEcDatakeyPair(b *testing.B) {
	srv := testserver.Start(b, testserver.Options{})
	id := createKey(b, newClient(b, srv), "bench", "", "")
	benchHandler(b, srv, "create-ec-datakey-pair", fmt.Sprintf(`{"key_id":%q,"key_spec":"ECC_NIST_P256"}`, id), rawNs("ec-pair-p256", rawECPair()))
}
