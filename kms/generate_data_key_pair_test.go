package kms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"reflect"
	"runtime"
	"testing"

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
// keeps every CPU busy with 2 requests a second, and every other client's
// requests wait for a CPU. More pair generations at once than CPUs must
// not all run: the surplus is refused ErrThrottled (which SDKs retry), as
// the budget for new attestation chains refuses its surplus, rather than
// queued on the CPUs every request needs.
func TestRSAPairGenerationBounded(t *testing.T) {
	s, _ := newTestService(t)
	sym := mustKey(t, s, "", "")
	n := 2*runtime.GOMAXPROCS(0) + 1
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			_, err := s.GenerateDataKeyPairWithoutPlaintext(bg, s.testCall(), &GenerateDataKeyPairWithoutPlaintextRequest{KeyID: sym.KeyID, KeyPairSpec: PairRSA2048})
			errs <- err
		}()
	}
	close(start)
	throttled := 0
	for range n {
		err := <-errs
		switch {
		case errors.Is(err, ErrThrottled):
			throttled++
		case err != nil:
			t.Fatal(err)
		}
	}
	if throttled == 0 {
		t.Fatalf("%d RSA key pairs generated at once on %d CPUs, none refused", n, runtime.GOMAXPROCS(0))
	}
}
