package recipient

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
)

// TestCheckWrapToAgrees: CheckWrapTo refuses exactly what WrapTo refuses,
// with the same kind, without encrypting.
func TestCheckWrapToAgrees(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	sk, _ := sm2.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		pub any
		alg string
		n   int
	}{
		{&rk.PublicKey, AlgRSAESOAEPSHA256, 32}, {&rk.PublicKey, AlgRSAESOAEPSHA256, 191}, {&rk.PublicKey, AlgRSAESPKCS1v15, 245},
		{&rk.PublicKey, AlgRSAESPKCS1v15, 246}, {&rk.PublicKey, "", 32}, {&rk.PublicKey, AlgSM2, 32},
		{&sk.PublicKey, "", 32}, {&sk.PublicKey, AlgSM2ASN1, 4096}, {&sk.PublicKey, AlgSM2, 4097},
		{&sk.PublicKey, AlgRSAESOAEPSHA1, 32}, {&rk.PublicKey, AlgRSAESOAEPSHA1, 0}, {nil, AlgSM2, 32}, {"key", AlgSM2, 32},
	} {
		checkErr := CheckWrapTo(tc.pub, tc.alg, tc.n)
		_, wrapErr := WrapTo(tc.pub, tc.alg, make([]byte, tc.n), nil)
		if (checkErr == nil) != (wrapErr == nil) {
			t.Fatalf("%T %q %d: CheckWrapTo %v, WrapTo %v", tc.pub, tc.alg, tc.n, checkErr, wrapErr)
		}
		for _, kind := range []error{ErrKey, ErrAlgorithm, ErrSecretSize} {
			if errors.Is(checkErr, kind) != errors.Is(wrapErr, kind) {
				t.Fatalf("%T %q %d: kinds differ: %v / %v", tc.pub, tc.alg, tc.n, checkErr, wrapErr)
			}
		}
	}
}

// TestOneLinePEM: the one-line form Tencent's documentation shows is read;
// nothing looser is.
func TestOneLinePEM(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	b64 := base64.StdEncoding.EncodeToString(der)
	one := "-----BEGIN PUBLIC KEY----- " + b64 + " -----END PUBLIC KEY-----"
	pub, err := ParsePublicKey([]byte(one))
	if err != nil || !pub.(*rsa.PublicKey).Equal(&rk.PublicKey) {
		t.Fatalf("one-line PEM: %v", err)
	}
	spaced := "-----BEGIN PUBLIC KEY----- " + b64[:40] + " " + b64[40:] + " -----END PUBLIC KEY-----"
	if _, err := ParsePublicKey([]byte(spaced)); err != nil {
		t.Fatalf("spaces inside the body: %v", err)
	}
	for name, bad := range map[string]string{
		"private marker": "-----BEGIN PRIVATE KEY----- " + b64 + " -----END PRIVATE KEY-----",
		"bad base64":     "-----BEGIN PUBLIC KEY----- " + b64[:len(b64)-3] + "!!! -----END PUBLIC KEY-----",
		"extra marker":   "-----BEGIN PUBLIC KEY----- " + b64 + " -----END PUBLIC KEY----- -----END PUBLIC KEY-----",
		"trailing text":  one + " and more",
		"empty body":     "-----BEGIN PUBLIC KEY----- -----END PUBLIC KEY-----",
	} {
		if _, err := ParsePublicKey([]byte(bad)); !errors.Is(err, ErrKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The ordinary multi-line form is unchanged.
	if _, err := ParsePublicKey(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err != nil || strings.Contains(one, "\n") {
		t.Fatal(err)
	}
}
