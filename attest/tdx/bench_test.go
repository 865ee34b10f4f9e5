package tdx

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/envelope"
)

// BenchmarkVerify verifies evidence along the whole path: decode the
// envelope, parse the key and the quote (go-tdx-guest's parser and
// re-encoding), the quote's, the QE report's signatures and its binding of
// the attestation key, the PCK chain (go-tdx-guest: three certificate
// signatures and x509 path building, and the quote's signatures again),
// the collateral's items and revocation, the binding and the TCB policy.
// Warm cases find the PCK chain in the cache (a platform already seen:
// two P-256 verifications, quote and QE report); -cold empties it before
// each Verify. Collateral is verified when loaded, not per quote. Beside
// ns/op: one raw P-256 verification timed in the same run (raw-ns/op) and
// the ratio (x-raw). The real quote runs the same path with Intel's chain,
// up to the binding.
func BenchmarkVerify(b *testing.B) {
	ca := newSimCA(b)
	dir := writeCollateral(b, ca, attesttest.TDXCollateralOptions{})
	for _, cold := range []bool{false, true} {
		name := "simulated"
		if cold {
			name += "-cold"
		}
		b.Run(name, func(b *testing.B) {
			v := simVerifier(b, ca, dir, Options{})
			ev := marshal(b, simEnvelope(b, ca, attesttest.TDXQuote{}, []byte("nonce")))
			b.ReportAllocs()
			for b.Loop() {
				if cold {
					v.chains.Reset()
				}
				if _, err := v.Verify(ev, simTime); err != nil {
					b.Fatal(err)
				}
			}
			reportRaw(b)
		})
	}
	for _, cold := range []bool{false, true} {
		name := "real-intel-chain"
		if cold {
			name += "-cold"
		}
		b.Run(name, func(b *testing.B) {
			v := realVerifier(b, Options{})
			ev := realEnvelope(b, readQuote(b))
			b.ReportAllocs()
			for b.Loop() {
				if cold {
					v.chains.Reset()
				}
				if _, err := v.Verify(ev, realTime); err == nil {
					b.Fatal("verified")
				}
			}
			reportRaw(b)
		})
	}
}

func reportRaw(b *testing.B) {
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d := sha256.Sum256([]byte("tdx"))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, d[:])
	const n = 500
	start := time.Now()
	for range n {
		if !ecdsa.VerifyASN1(&k.PublicKey, d[:], sig) {
			b.Fatal("raw")
		}
	}
	raw := float64(time.Since(start).Nanoseconds()) / n
	b.ReportMetric(raw, "raw-ns/op")
	b.ReportMetric(perOp/raw, "x-raw")
}

// BenchmarkCarriedCollateralCold verifies evidence whose PCK chain is
// cached beside envelope collateral seen by nobody before (the collateral
// cache and the known parts emptied before each Verify): the cold path of
// verifyCarried, its first link, and the verification of every part.
// "server-signer": the server holds collateral of the same TCB signing
// certificate (the usual case); "no-server": it holds none, and the
// signer is new too.
func BenchmarkCarriedCollateralCold(b *testing.B) {
	ca := newSimCA(b)
	col := simCollateral(b, ca, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 18})
	for _, tc := range []struct {
		name string
		dir  string
	}{
		{"server-signer", writeCollateral(b, ca, attesttest.TDXCollateralOptions{})},
		{"no-server", ""},
	} {
		b.Run(tc.name, func(b *testing.B) {
			v := simVerifier(b, ca, tc.dir, Options{})
			e := simEnvelope(b, ca, attesttest.TDXQuote{}, nil)
			e.Collateral = &envelope.TDXCollateral{TCBInfo: col.TCBInfo, QEIdentity: col.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw, PCKCRL: col.PCKCRL, RootCRL: col.RootCRL}
			ev := marshal(b, e)
			if _, err := v.Verify(ev, simTime); err != nil { // the chain, now cached
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				v.carried.Reset()
				v.knownParts.Reset()
				if _, err := v.Verify(ev, simTime); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
