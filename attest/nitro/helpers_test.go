package nitro_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
)

const vectorDir = "../../testvectors/nitro"

// The real documents and when they were made.
var (
	debugDocTime   = time.Date(2024, 1, 24, 18, 14, 25, 635e6, time.UTC)
	maxFieldsTime  = time.Date(2024, 9, 7, 14, 37, 39, 545e6, time.UTC)
	testDocTime    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	testVerifyTime = testDocTime.Add(time.Second)
)

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newVerifier(t testing.TB, opts nitro.Options) *nitro.Verifier {
	t.Helper()
	v, err := nitro.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// testKeys are enclave keys for the tests, made once.
var testKeys = sync.OnceValue(func() (k struct{ rsa2048, rsa1024 *rsa.PrivateKey }) {
	var err error
	if k.rsa2048, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.rsa1024, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		panic(err)
	}
	return k
})

func spki(t testing.TB, pub any) []byte {
	t.Helper()
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rsaSPKI(t testing.TB) []byte { return spki(t, &testKeys().rsa2048.PublicKey) }

// fakeRSA is an RSA public key of exactly bits bits that nobody can use:
// enough to test size bounds without generating a key.
func fakeRSA(bits, e int) *rsa.PublicKey {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.Add(n, big.NewInt(12345)) // odd
	return &rsa.PublicKey{N: n, E: e}
}

func ecSPKI(t testing.TB) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return spki(t, &k.PublicKey)
}

// testCA returns a deterministic test CA for format, one per seed.
func testCA(t testing.TB, format attest.Format, seed byte) *nitrotest.CA {
	t.Helper()
	ca, err := nitrotest.NewTestCA(format, mrand.NewChaCha8([32]byte{seed}))
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// genuine is a good document for tests to break, of an enclave that is not
// in debug mode (its PCRs are not zero).
func genuine(t testing.TB) nitrotest.Document {
	return nitrotest.Document{
		PCRs:      pcrMap(16, 48),
		Timestamp: testDocTime,
		PublicKey: rsaSPKI(t),
		UserData:  []byte("user data"),
		Nonce:     []byte("nonce"),
	}
}

func sign(t testing.TB, ca *nitrotest.CA, d nitrotest.Document) []byte {
	t.Helper()
	b, err := ca.Sign(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkResult asserts Verify's contract (attesttest.CheckResult), and that
// a nitro error is one of the kinds nitro returns.
func checkResult(t testing.TB, c *attest.Claims, err error, want error) {
	t.Helper()
	attesttest.CheckResult(t, c, err, want)
	if err != nil && len(nitro.KindsOf(err)) != 1 {
		t.Fatalf("error %q is not of a kind nitro returns", err)
	}
}

type x509Certificate = x509.Certificate

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
