package snp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/snp"
	"github.com/attestkms/attestkms/attest/snp/snptest"
	"github.com/google/go-sev-guest/verify/trust"
)

const vectorDir = "../../testvectors/snp"

// The real Milan report and its VCEK: the VCEK is valid from
// 2022-09-24T00:55:28Z to 2029-09-24T00:55:28Z; go-sev-guest verifies the
// report at 2022-09-24T01:00:00Z.
var (
	realTime        = time.Date(2022, 9, 24, 1, 0, 0, 0, time.UTC)
	realVCEKExpiry  = time.Date(2029, 9, 24, 0, 55, 28, 0, time.UTC)
	realVCEKIssued  = time.Date(2022, 9, 24, 0, 55, 28, 0, time.UTC)
	testVerifyTime  = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	realReportFile  = "milan_attestation_2022-09-24.bin"
	realVCEKFile    = "milan_vcek_2022-09-24.der"
	realASKARKFile  = "milan_ask_ark.pem"
	realEnvelopeKey = "milan_attestation_2022-09-24.cbor"
)

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectorDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newVerifier(t testing.TB, o snp.Options) *snp.Verifier {
	t.Helper()
	v, err := snp.New(o)
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

func ecSPKI(t testing.TB) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return spki(t, &k.PublicKey)
}

// Test CAs, made once each: RSA-2048 rather than AMD's 4096 bits, which
// only costs time.
var testCAs = struct {
	sync.Mutex
	m map[string]*snptest.CA
}{m: map[string]*snptest.CA{}}

func testCA(t testing.TB, name, product string) *snptest.CA {
	t.Helper()
	testCAs.Lock()
	defer testCAs.Unlock()
	if ca := testCAs.m[name]; ca != nil {
		return ca
	}
	ca, err := snptest.NewCAWith(snptest.CAOptions{Product: product, Bits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	testCAs.m[name] = ca
	return ca
}

// mainCA is the committed test CA of testdata/ca, which signed the fuzz
// seeds.
func mainCA(t testing.TB) *snptest.CA {
	t.Helper()
	testCAs.Lock()
	defer testCAs.Unlock()
	if ca := testCAs.m["main"]; ca != nil {
		return ca
	}
	ca, err := snptest.LoadCA(filepath.Join("testdata", "ca"))
	if err != nil {
		t.Fatal(err)
	}
	testCAs.m["main"] = ca
	return ca
}

func otherCA(t testing.TB) *snptest.CA { return testCA(t, "other", "Milan") }

func rootsOf(t testing.TB, cas ...*snptest.CA) *snp.Roots {
	t.Helper()
	var pemBytes []byte
	for _, ca := range cas {
		pemBytes = append(pemBytes, ca.RootsPEM()...)
	}
	r, err := snp.ParseRoots(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func evidence(t testing.TB, ca *snptest.CA, r snptest.Report) []byte {
	t.Helper()
	b, err := ca.Evidence(rsaSPKI(t), r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkResult asserts Verify's contract: attesttest.CheckResult.
func checkResult(t testing.TB, c *attest.Claims, err error, want error) {
	t.Helper()
	attesttest.CheckResult(t, c, err, want)
}

// AMD's certificate chains as go-sev-guest embeds them (ASK or ASVK, then
// ARK), by product line.
var (
	amdVCEKChains = map[string][]byte{"Milan": trust.AskArkMilanVcekBytes, "Genoa": trust.AskArkGenoaVcekBytes, "Turin": trust.AskArkTurinVcekBytes}
	amdVLEKChains = map[string][]byte{"Milan": trust.AskArkMilanVlekBytes, "Genoa": trust.AskArkGenoaVlekBytes, "Turin": trust.AskArkTurinVlekBytes}
)

// amdRoots are AMD's ASK/ARK pairs of the products named.
func amdRoots(t testing.TB, products ...string) *snp.Roots {
	t.Helper()
	var b []byte
	for _, p := range products {
		b = append(b, amdVCEKChains[p]...)
	}
	return parseRoots(t, b)
}

func snpVLEKRoots(t testing.TB, product string) []byte { return amdVLEKChains[product] }

func parseRoots(t testing.TB, pemBytes []byte) *snp.Roots {
	t.Helper()
	r, err := snp.ParseRoots(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
