package kms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms/internal/eckeys"
)

func TestGenerateDataKeyPair(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	ec := EncryptionContext{"k": "v"}
	for _, spec := range []DataKeyPairSpec{PairRSA2048, PairEccNistP256, PairEccNistP384, PairEccNistP521, PairEccSecgP256k1} {
		kp, err := s.GenerateDataKeyPair(bg, c, &GenerateDataKeyPairRequest{KeyID: md.KeyID, KeyPairSpec: spec, EncryptionContext: ec})
		if err != nil {
			t.Fatal(spec, err)
		}
		d, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: kp.PrivateKeyCiphertextBlob, EncryptionContext: ec})
		if err != nil || !bytes.Equal(d.Plaintext, kp.PrivateKeyPlaintext) {
			t.Fatalf("%s: private key blob does not decrypt to the PKCS#8: %v", spec, err)
		}
		if spec == PairEccSecgP256k1 {
			priv, err := eckeys.ParsePKCS8(kp.PrivateKeyPlaintext)
			if err != nil {
				t.Fatal(err)
			}
			spki, _ := priv.Public().MarshalSPKI()
			if !bytes.Equal(spki, kp.PublicKey) {
				t.Fatal("secp256k1 public key does not match the private key")
			}
			continue
		}
		priv, err := x509.ParsePKCS8PrivateKey(kp.PrivateKeyPlaintext)
		if err != nil {
			t.Fatal(spec, err)
		}
		pub, err := x509.ParsePKIXPublicKey(kp.PublicKey)
		if err != nil {
			t.Fatal(spec, err)
		}
		type keyPair interface {
			Public() crypto.PublicKey
		}
		if !priv.(keyPair).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Fatalf("%s: public key does not match the private key", spec)
		}
	}
	_, err := s.GenerateDataKeyPair(bg, c, &GenerateDataKeyPairRequest{KeyID: md.KeyID, KeyPairSpec: "RSA_1024"})
	wantKind(t, err, ErrValidation)
}

func TestGenerateDataKeyPairWithoutPlaintext(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	ec := EncryptionContext{"k": "v"}
	r, err := s.GenerateDataKeyPairWithoutPlaintext(bg, c, &GenerateDataKeyPairWithoutPlaintextRequest{KeyID: md.KeyID, KeyPairSpec: PairEccNistP256, EncryptionContext: ec})
	if err != nil || r.KeyID != md.KeyID || r.KeyARN != md.KeyARN || r.KeyPairSpec != PairEccNistP256 {
		t.Fatalf("WithoutPlaintext: %+v, %v", r, err)
	}
	d, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: r.PrivateKeyCiphertextBlob, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(d.Plaintext)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(r.PublicKey)
	if err != nil || !priv.(interface{ Public() crypto.PublicKey }).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
		t.Fatalf("the public key does not match the sealed private key: %v", err)
	}
	_, err = s.GenerateDataKeyPairWithoutPlaintext(bg, c, &GenerateDataKeyPairWithoutPlaintextRequest{KeyID: md.KeyID, KeyPairSpec: "RSA_1024"})
	wantKind(t, err, ErrValidation)
	if f := secretFieldNames(reflect.TypeFor[GenerateDataKeyPairWithoutPlaintextResponse]()); len(f) > 0 {
		t.Fatalf("GenerateDataKeyPairWithoutPlaintextResponse has secret fields %v", f)
	}
}

// The pair benchmarks use P-256: an RSA pair's cost is its prime search.

func BenchmarkGenerateDataKeyPair(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	req := &GenerateDataKeyPairRequest{KeyID: id, KeyPairSpec: PairEccNistP256}
	for b.Loop() {
		r, err := s.GenerateDataKeyPair(bg, c, req)
		if err != nil {
			b.Fatal(err)
		}
		clear(r.PrivateKeyPlaintext)
	}
}

func BenchmarkGenerateDataKeyPairWithoutPlaintext(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	req := &GenerateDataKeyPairWithoutPlaintextRequest{KeyID: id, KeyPairSpec: PairEccNistP256}
	for b.Loop() {
		if _, err := s.GenerateDataKeyPairWithoutPlaintext(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRSAPairGenerationBounded: an RSA data key pair is generated per
// request (RSA-4096: ≈0.9 s of CPU on the project's 2-CPU VM, RSA-2048
// ≈0.1 s), against a GenerateRandom's microseconds, and the only budget is
// --rate-limit's, one token a request (2000 a second by default). So one
// credential allowed GenerateDataKeyPair(WithoutPlaintext) on one key
// would keep every CPU busy with 2 requests a second, and every other
// client's requests wait for a CPU. At most half the CPUs (at least one)
// generate at once: the surplus is refused ErrThrottled at once (which SDKs
// retry), as the budget for new attestation chains refuses its surplus,
// rather than queued on the CPUs every request needs. The generations are
// held (rsaPairHook) until every other request has been answered, so the
// count does not depend on how fast the machine generates.
func TestRSAPairGenerationBounded(t *testing.T) {
	s, _ := newTestService(t)
	sym := mustKey(t, s, "", "")
	slots := max(1, runtime.GOMAXPROCS(0)/2)
	n := 2*runtime.GOMAXPROCS(0) + 1
	var generating atomic.Int32
	hold := make(chan struct{})
	hook := func() { generating.Add(1); <-hold }
	rsaPairHook.Store(&hook)
	defer rsaPairHook.Store(nil)
	release := sync.OnceFunc(func() { close(hold) })
	defer release()
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := s.GenerateDataKeyPairWithoutPlaintext(bg, s.testCall(), &GenerateDataKeyPairWithoutPlaintextRequest{KeyID: sym.KeyID, KeyPairSpec: PairRSA2048})
			errs <- err
		}()
	}
	for i := range n - slots {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrThrottled) || !errors.Is(err, ErrKeyPairsBusy) {
				t.Fatalf("a request past the %d generations at once (of %d): %v; want ErrThrottled (ErrKeyPairsBusy)", slots, n, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d requests refused, %d generating at once on %d CPUs; want %d refused, %d generating",
				i, n, generating.Load(), runtime.GOMAXPROCS(0), n-slots, slots)
		}
	}
	if got := generating.Load(); got != int32(slots) {
		t.Errorf("%d RSA key pairs generating at once on %d CPUs; want %d", got, runtime.GOMAXPROCS(0), slots)
	}
	release()
	for range slots {
		if err := <-errs; err != nil {
			t.Fatalf("a generation within the bound: %v", err)
		}
	}
	// The slots are given back: a request after them is served.
	if _, err := s.GenerateDataKeyPairWithoutPlaintext(bg, s.testCall(), &GenerateDataKeyPairWithoutPlaintextRequest{KeyID: sym.KeyID, KeyPairSpec: PairRSA2048}); err != nil {
		t.Fatalf("after the generations ended: %v", err)
	}
}
