package tpm_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
)

// testTime is inside every tpmtest AK certificate's validity.
var testTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeRSA is an RSA public key of exactly bits bits that nobody can use:
// ParseBoundKey judges only its shape, so tests need no key generation.
func fakeRSA(bits, e int) *rsa.PublicKey {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.Add(n, big.NewInt(12345)) // odd
	return &rsa.PublicKey{N: n, E: e}
}

func spki(t testing.TB, pub any) []byte {
	t.Helper()
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// enclaveKey is an RSA-2048 enclave public key (SPKI DER).
func enclaveKey(t testing.TB) []byte { return spki(t, fakeRSA(2048, 65537)) }

// cas are the test CAs, made once per AK kind (RSA keys are slow to make).
var (
	casMu sync.Mutex
	cas   = map[tpmtest.AKKind]*tpmtest.CA{}
)

func testCA(t testing.TB, kind tpmtest.AKKind) *tpmtest.CA {
	t.Helper()
	casMu.Lock()
	defer casMu.Unlock()
	if ca := cas[kind]; ca != nil {
		return ca
	}
	ca, err := tpmtest.NewCAWith(tpmtest.CAOptions{AK: kind})
	if err != nil {
		t.Fatal(err)
	}
	cas[kind] = ca
	return ca
}

func newCA(t testing.TB, o tpmtest.CAOptions) *tpmtest.CA {
	t.Helper()
	ca, err := tpmtest.NewCAWith(o)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func parseRoots(t testing.TB, pemBytes ...[]byte) *tpm.Roots {
	t.Helper()
	r, err := tpm.ParseRoots([]byte(strings.Join(func() []string {
		var s []string
		for _, b := range pemBytes {
			s = append(s, string(b))
		}
		return s
	}(), "")))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newVerifier(t testing.TB, o tpm.Options) *tpm.Verifier {
	t.Helper()
	v, err := tpm.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// verifierFor trusts ca's root.
func verifierFor(t testing.TB, ca *tpmtest.CA) *tpm.Verifier {
	return newVerifier(t, tpm.Options{Roots: parseRoots(t, ca.RootsPEM())})
}

func evidence(t testing.TB, ca *tpmtest.CA, q tpmtest.Quote) []byte {
	t.Helper()
	b, err := ca.Evidence(enclaveKey(t), q)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// checkResult asserts Verify's contract: attesttest.CheckResult.
func checkResult(t testing.TB, c *attest.Claims, err error, want error) {
	t.Helper()
	attesttest.CheckResult(t, c, err, want)
}

func pemPublicKey(t testing.TB, k any) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki(t, k)})
}

// testCAAKPublicRSA is the TPMT_PUBLIC of an RSA-2048 AK that is not
// Google's.
func testCAAKPublicRSA(t testing.TB) []byte { return testCA(t, tpmtest.AKRSA2048).AKPublic }

func bigInt(b []byte) *big.Int { return new(big.Int).SetBytes(b) }
