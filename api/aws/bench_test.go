package aws_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/attest/snp"
	"github.com/attestkms/attestkms/attest/snp/snptest"
	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
	"github.com/attestkms/attestkms/internal/hmacsha256"
	"github.com/attestkms/attestkms/internal/sigv4"
	"github.com/attestkms/attestkms/internal/testserver"
)

// The benchmarks run whole requests through the HTTP handler — SigV4
// verification, replay check, JSON, the kms operation, the audit line — and
// report beside ns/op the ratio to the raw cryptography the operation must
// do (x-raw), so the overhead is visible. Requests are signed before the
// timer starts.

var rawCache sync.Map

// rawNs measures f once per name, for about 300 ms: the raw cryptography of
// an operation. (testing.Benchmark cannot be called from a benchmark.)
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

// rawSeal is what a GenerateDataKey or Encrypt must do: random salt (and data
// key), HKDF-SHA256, AES-256-GCM seal.
func rawSeal(n int) func() {
	material := make([]byte, 32)
	return func() {
		pt := make([]byte, n)
		var salt [24]byte
		rand.Read(pt)
		rand.Read(salt[:])
		var k [32]byte
		hmacsha256.HKDF(k[:], material, salt[:], []byte("attestkms blob v1"))
		b, _ := aes.NewCipher(k[:])
		g, _ := cipher.NewGCM(b)
		g.Seal(nil, make([]byte, 12), pt, salt[:])
	}
}

func rawOpen() func() {
	material := make([]byte, 32)
	var salt [24]byte
	var k [32]byte
	hmacsha256.HKDF(k[:], material, salt[:], []byte("attestkms blob v1"))
	b, _ := aes.NewCipher(k[:])
	g, _ := cipher.NewGCM(b)
	ct := g.Seal(nil, make([]byte, 12), make([]byte, 32), salt[:])
	return func() {
		var k [32]byte
		hmacsha256.HKDF(k[:], material, salt[:], []byte("attestkms blob v1"))
		b, _ := aes.NewCipher(k[:])
		g, _ := cipher.NewGCM(b)
		g.Open(nil, make([]byte, 12), ct, salt[:])
	}
}

func rawECDH() func() {
	a, _ := ecdh.P256().GenerateKey(rand.Reader)
	p, _ := ecdh.P256().GenerateKey(rand.Reader)
	return func() { a.ECDH(p.PublicKey()) }
}

// benchHandler sends pre-signed requests straight to the handler.
func benchHandler(b *testing.B, srv *testserver.Server, target, body string, raw float64) {
	b.Helper()
	reqs := make([]*http.Request, b.N)
	now := time.Now()
	for i := range reqs {
		r := httptest.NewRequest("POST", "/", bytes.NewReader([]byte(body)))
		r.Header.Set("Content-Type", "application/x-amz-json-1.1")
		r.Header.Set("X-Amz-Target", "TrentService."+target)
		r.Header.Set("Amz-Sdk-Invocation-Id", strconv.Itoa(i)) // a unique signature per request
		if err := sigv4.Sign(r, []byte(body), srv.AccessKey, []byte(srv.Secret), "us-east-1", "kms", now); err != nil {
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
			b.Fatalf("%s: %d %s", target, w.Code, w.Body)
		}
	}
	b.StopTimer()
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(raw, "raw-ns/op")
	b.ReportMetric(perOp/raw, "x-raw")
}

func benchKey(b *testing.B, srv *testserver.Server, spec types.KeySpec) string {
	in := &awskms.CreateKeyInput{KeySpec: spec}
	if spec != types.KeySpecSymmetricDefault {
		in.KeyUsage = types.KeyUsageTypeKeyAgreement
	}
	out, err := newClient(b, srv, "us-east-1").CreateKey(ctx, in)
	if err != nil {
		b.Fatal(err)
	}
	return *out.KeyMetadata.KeyId
}

func BenchmarkGenerateDataKey(b *testing.B) {
	srv := testserver.Start(b, testserver.Options{})
	id := benchKey(b, srv, types.KeySpecSymmetricDefault)
	benchHandler(b, srv, "GenerateDataKey", fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256"}`, id), rawNs("seal32", rawSeal(32)))
}

func BenchmarkEncrypt(b *testing.B) {
	srv := testserver.Start(b, testserver.Options{})
	id := benchKey(b, srv, types.KeySpecSymmetricDefault)
	pt := base64.StdEncoding.EncodeToString(make([]byte, 32))
	benchHandler(b, srv, "Encrypt", fmt.Sprintf(`{"KeyId":%q,"Plaintext":%q}`, id, pt), rawNs("seal32", rawSeal(32)))
}

func BenchmarkDecrypt(b *testing.B) {
	srv := testserver.Start(b, testserver.Options{})
	id := benchKey(b, srv, types.KeySpecSymmetricDefault)
	enc, err := newClient(b, srv, "us-east-1").Encrypt(ctx, &awskms.EncryptInput{KeyId: &id, Plaintext: make([]byte, 32)})
	if err != nil {
		b.Fatal(err)
	}
	benchHandler(b, srv, "Decrypt", fmt.Sprintf(`{"CiphertextBlob":%q}`, base64.StdEncoding.EncodeToString(enc.CiphertextBlob)), rawNs("open32", rawOpen()))
}

func BenchmarkDeriveSharedSecret(b *testing.B) {
	srv := testserver.Start(b, testserver.Options{})
	id := benchKey(b, srv, types.KeySpecEccNistP256)
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	spki, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	benchHandler(b, srv, "DeriveSharedSecret", fmt.Sprintf(`{"KeyId":%q,"KeyAgreementAlgorithm":"ECDH","PublicKey":%q}`, id, base64.StdEncoding.EncodeToString(spki)), rawNs("ecdh-p256", rawECDH()))
}

// rawAttested is what an attested DeriveSharedSecret must do at the least
// once the enclave's certificates are cached: one ECDSA P-384 verification
// (the document's COSE signature), one ECDH P-256, one RSA-2048 OAEP
// encryption and an AES-256-CBC of the secret (the CMS wrap), and the
// answer's signature (rawAnswerSignature).
func rawAttested() func() {
	ecdhF, signF := rawECDH(), rawAnswerSignature()
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
		signF()
	}
}

// rawAnswerSignature is the answer's signature (docs/answers.md), which
// every answer to a Recipient carries: the SHA-256 of the document
// (≈4.5 KB), of the request's body (≈6.2 KB) and of the wrap, and one
// Ed25519 signature of the ≈300-byte message.
func rawAnswerSignature() func() {
	doc, body, wrap, msg := make([]byte, 4500), make([]byte, 6200), make([]byte, 400), make([]byte, 300)
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	return func() {
		sha256.Sum256(doc)
		sha256.Sum256(body)
		sha256.Sum256(wrap)
		ed25519.Sign(priv, msg)
	}
}

func BenchmarkDeriveSharedSecretRecipient(b *testing.B) {
	ca, err := nitrotest.NewTestCA(attest.FormatNitro, nil)
	if err != nil {
		b.Fatal(err)
	}
	v, _ := nitro.New(nitro.Options{Roots: ca.Roots()})
	srv := testserver.Start(b, testserver.Options{Attestation: &attest.Set{COSE: []attest.Verifier{v}}})
	id := benchKey(b, srv, types.KeySpecEccNistP256)
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	spki, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	rder, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	pcrs := map[int][]byte{0: bytes.Repeat([]byte{1}, 48)}
	// One document for every request: it stays fresh for the benchmark's
	// few seconds, and its chain is verified once and then cached.
	doc, err := ca.Sign(nitrotest.Document{Timestamp: time.Now(), PCRs: pcrs, PublicKey: rder})
	if err != nil {
		b.Fatal(err)
	}
	body := fmt.Sprintf(`{"KeyId":%q,"KeyAgreementAlgorithm":"ECDH","PublicKey":%q,"Recipient":{"AttestationDocument":%q,"KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`,
		id, base64.StdEncoding.EncodeToString(spki), base64.StdEncoding.EncodeToString(doc))
	benchHandler(b, srv, "DeriveSharedSecret", body, rawNs("attested-dss", rawAttested()))
}

// rawEnvelopeGDK is what GenerateDataKey for an envelope Recipient must do
// at the least: the report's or quote's own signature (ECDSA P-384 for an
// SEV-SNP report, ECDSA P-256 for tpmtest's AK), the data key's seal, and
// the CMS wrap (RSA-2048 OAEP + AES-256-CBC). The certificate chains
// (VCEK→ASK→ARK, AK→intermediate→root) are verified on every request (no
// cache yet), which the x-raw figure shows.
func rawEnvelopeGDK(curve elliptic.Curve) func() {
	seal := rawSeal(32)
	sk, _ := ecdsa.GenerateKey(curve, rand.Reader)
	digest := sha512.Sum384([]byte("report"))
	sig, _ := ecdsa.SignASN1(rand.Reader, sk, digest[:])
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	cek := make([]byte, 32)
	return func() {
		ecdsa.VerifyASN1(&sk.PublicKey, digest[:], sig)
		seal()
		rsa.EncryptOAEP(sha256.New(), rand.Reader, &rk.PublicKey, cek, nil)
		b, _ := aes.NewCipher(cek)
		buf := make([]byte, 48)
		cipher.NewCBCEncrypter(b, make([]byte, 16)).CryptBlocks(buf, buf)
	}
}

// BenchmarkGenerateDataKeyRecipientEnvelope: GenerateDataKey through HTTP
// for an SEV-SNP guest and a TPM host (simulated evidence, verified in full
// on every request).
func BenchmarkGenerateDataKeyRecipientEnvelope(b *testing.B) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	rder, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	snpCA, err := snptest.NewCA()
	if err != nil {
		b.Fatal(err)
	}
	tpmCA, err := tpmtest.NewCA()
	if err != nil {
		b.Fatal(err)
	}
	snpRoots, _ := snp.ParseRoots(snpCA.RootsPEM())
	sv, _ := snp.New(snp.Options{Roots: snpRoots})
	tpmRoots, _ := tpm.ParseRoots(tpmCA.RootsPEM())
	tv, _ := tpm.New(tpm.Options{Roots: tpmRoots})
	snpEv, err := snpCA.Evidence(rder, snptest.Report{})
	if err != nil {
		b.Fatal(err)
	}
	tpmEv, err := tpmCA.Evidence(rder, tpmtest.Quote{})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		ev    []byte
		curve elliptic.Curve
	}{{"sev-snp", snpEv, elliptic.P384()}, {"tpm2", tpmEv, elliptic.P256()}} {
		b.Run(tc.name, func(b *testing.B) {
			srv := testserver.Start(b, testserver.Options{Attestation: &attest.Set{Envelopes: map[attest.Format]attest.Verifier{
				attest.FormatSEVSNP: sv, attest.FormatTPM2: tv}}})
			id := benchKey(b, srv, types.KeySpecSymmetricDefault)
			body := fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256","Recipient":{"AttestationDocument":%q,"KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`,
				id, base64.StdEncoding.EncodeToString(tc.ev))
			benchHandler(b, srv, "GenerateDataKey", body, rawNs("envelope-gdk-"+tc.name, rawEnvelopeGDK(tc.curve)))
		})
	}
}

// BenchmarkGenerateDataKeyParallel is BenchmarkGenerateDataKey from 32 and
// 128 concurrent clients: the audit log's group commit shares one fsync among
// the requests waiting for it, where a serial benchmark pays one each.
func BenchmarkGenerateDataKeyParallel(b *testing.B) {
	for _, clients := range []int{32, 128} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			srv := testserver.Start(b, testserver.Options{})
			id := benchKey(b, srv, types.KeySpecSymmetricDefault)
			body := fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256"}`, id)
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest("POST", "/", bytes.NewReader([]byte(body)))
					r.Header.Set("Content-Type", "application/x-amz-json-1.1")
					r.Header.Set("X-Amz-Target", "TrentService.GenerateDataKey")
					r.Header.Set("Amz-Sdk-Invocation-Id", strconv.FormatInt(n.Add(1), 10)) // a unique signature per request
					if err := sigv4.Sign(r, []byte(body), srv.AccessKey, []byte(srv.Secret), "us-east-1", "kms", time.Now()); err != nil {
						b.Error(err)
						return
					}
					w := httptest.NewRecorder()
					srv.Handler.ServeHTTP(w, r)
					if w.Code != 200 {
						b.Errorf("%d %s", w.Code, w.Body)
						return
					}
				}
			})
		})
	}
}
