package tpm_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
	"github.com/google/go-tpm/tpm2"
)

// BenchmarkVerify runs the whole of Verify (envelope decoding included) on
// genuine evidence: a tpmtest ECDSA P-256 AK with its certificate (one quote
// signature, then a two-certificate chain of P-256 signatures) and pinned
// (the quote signature only), an RSA-2048 AK with its certificate, and the
// real Google vTPM quote (RSA-2048 AK, RSA chain) to the end against its
// own nonce. Each reports the AK's raw signature verification, timed in the
// same run (raw-ns/op, see BenchmarkRawSignature), and the ratio (x-raw).
// The AK chain is cached after the first Verify (a TPM already seen); the
// -cold cases empty the cache before each.
func BenchmarkVerify(b *testing.B) {
	ec := loadCA(b, ecdsaCADir)
	rs := loadCA(b, rsaCADir)
	bench := func(name string, v *tpm.Verifier, e *envelope.Envelope, at time.Time, binding []byte, raw func() func()) {
		b.Run(name, func(b *testing.B) {
			ev := marshal(b, e)
			cold := strings.HasSuffix(name, "-cold")
			verify := func() error {
				if cold {
					tpm.ResetCache(v)
				}
				if binding == nil {
					_, err := v.Verify(ev, at)
					return err
				}
				d, err := envelope.Decode(ev)
				if err != nil {
					return err
				}
				_, err = tpm.VerifyBound(v, d, at, binding)
				return err
			}
			if err := verify(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := verify(); err != nil {
					b.Fatal(err)
				}
			}
			reportRaw(b, raw())
		})
	}
	envelopeOf := func(ca *tpmtest.CA, q tpmtest.Quote) *envelope.Envelope {
		e, err := ca.Envelope(enclaveKey(b), q)
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	ecRaw := func() func() { return rawSignature(b, ec, envelopeOf(ec, tpmtest.Quote{})) }
	rsRaw := func() func() { return rawSignature(b, rs, envelopeOf(rs, tpmtest.Quote{})) }
	bench("ecdsa-p256-cert", verifierFor(b, ec), envelopeOf(ec, tpmtest.Quote{}), testTime, nil, ecRaw)
	bench("ecdsa-p256-cert-cold", verifierFor(b, ec), envelopeOf(ec, tpmtest.Quote{}), testTime, nil, ecRaw)
	bench("ecdsa-p256-pinned", newVerifier(b, tpm.Options{Roots: parseRoots(b, ec.AKPublicKeyPEM())}), envelopeOf(ec, tpmtest.Quote{OmitAKCert: true}), testTime, nil, ecRaw)
	bench("rsa-2048-cert", verifierFor(b, rs), envelopeOf(rs, tpmtest.Quote{}), testTime, nil, rsRaw)
	bench("gce-real-rsa-2048", newVerifier(b, tpm.Options{Roots: gceRoots(b)}), gceEnvelope(b, "SHA256"), gceTime, gceNonce, rsRaw)
	bench("gce-real-rsa-2048-cold", newVerifier(b, tpm.Options{Roots: gceRoots(b)}), gceEnvelope(b, "SHA256"), gceTime, gceNonce, rsRaw)
}

// BenchmarkRawSignature is the AK's verification of one quote signature
// alone (SHA-256 of the quote, then ECDSA P-256 or RSASSA-2048): the floor
// of Verify.
func BenchmarkRawSignature(b *testing.B) {
	for name, dir := range map[string]string{"ecdsa-p256": ecdsaCADir, "rsa-2048": rsaCADir} {
		b.Run(name, func(b *testing.B) {
			ca := loadCA(b, dir)
			e, err := ca.Envelope(enclaveKey(b), tpmtest.Quote{})
			if err != nil {
				b.Fatal(err)
			}
			verify := rawSignature(b, ca, e)
			b.ReportAllocs()
			for b.Loop() {
				verify()
			}
		})
	}
}

// rawSignature returns a function that verifies e's quote signature with
// ca's AK, as Verify's signature step does and nothing more.
func rawSignature(b *testing.B, ca *tpmtest.CA, e *envelope.Envelope) func() {
	sig, err := tpm2.Unmarshal[tpm2.TPMTSignature](e.Signature)
	if err != nil {
		b.Fatal(err)
	}
	quote := e.Quote
	switch k := ca.AKKey().(type) {
	case *ecdsa.PublicKey:
		s, err := sig.Signature.ECDSA()
		if err != nil {
			b.Fatal(err)
		}
		r, ss := bigInt(s.SignatureR.Buffer), bigInt(s.SignatureS.Buffer)
		return func() {
			d := sha256.Sum256(quote)
			if !ecdsa.Verify(k, d[:], r, ss) {
				b.Fatal("signature does not verify")
			}
		}
	case *rsa.PublicKey:
		s, err := sig.Signature.RSASSA()
		if err != nil {
			b.Fatal(err)
		}
		return func() {
			d := sha256.Sum256(quote)
			if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], s.Sig.Buffer); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Fatalf("AK %T", ca.AKKey())
	return nil
}

// reportRaw times raw signature verifications after the loop and reports
// the ratio of b's time per op to one of them.
func reportRaw(b *testing.B, verify func()) {
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	const n = 300
	start := time.Now()
	for range n {
		verify()
	}
	raw := float64(time.Since(start).Nanoseconds()) / n
	b.ReportMetric(raw, "raw-ns/op")
	b.ReportMetric(perOp/raw, "x-raw")
}
