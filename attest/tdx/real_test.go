package tdx

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/envelope"
)

// realTime is the time go-tdx-guest's own tests verify this quote and
// collateral at (verify/verify_test.go, currentTime): within every
// certificate's validity and before the collateral's nextUpdate
// (2023-07-08, the QE Identity's and the PCK CRL's).
var realTime = time.Date(2023, time.July, 1, 1, 0, 0, 0, time.UTC)

const vectors = "../../testvectors/tdx"

var testKey = func() []byte {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return der
}()

func realEnvelope(t testing.TB, quote []byte) []byte {
	t.Helper()
	der := testKey
	b, err := (&envelope.Envelope{Format: attest.FormatTDX, PublicKey: der, Quote: quote}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func realVerifier(t testing.TB, o Options) *Verifier {
	t.Helper()
	dir := ""
	if o.Collateral == nil {
		dir = filepath.Join(vectors, "collateral")
	}
	return dirVerifier(t, dir, o)
}

func readQuote(t testing.TB) []byte {
	q, err := os.ReadFile(filepath.Join(vectors, "quote_SPR_E4.dat"))
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestRealQuote: Intel's production quote verifies, with Intel's collateral,
// up to the binding: it cannot bind our key, and that is the one error.
func TestRealQuote(t *testing.T) {
	v := realVerifier(t, Options{})
	c, err := v.Verify(realEnvelope(t, readQuote(t)), realTime)
	attesttest.CheckResult(t, c, err, attest.ErrBinding)
	if v.CachedChains() != 1 {
		t.Fatalf("%d chains cached", v.CachedChains())
	}
	// Warm: the same answer.
	c, err = v.Verify(realEnvelope(t, readQuote(t)), realTime)
	attesttest.CheckResult(t, c, err, attest.ErrBinding)
}

// Any flipped bit of the quote is refused, never with the binding error.
func TestRealQuoteBitFlips(t *testing.T) {
	v := realVerifier(t, Options{})
	q := readQuote(t)
	for i := 0; i < len(q); i += 7 {
		b := append([]byte(nil), q...)
		b[i] ^= 1 << (i % 8)
		c, err := v.Verify(realEnvelope(t, b), realTime)
		if err == nil || errors.Is(err, attest.ErrBinding) {
			t.Fatalf("bit flipped at byte %d: %v", i, err)
		}
		attesttest.CheckResult(t, c, err, err)
	}
}

func TestRealQuoteStaleCollateral(t *testing.T) {
	v := realVerifier(t, Options{})
	at := time.Date(2023, time.July, 9, 0, 0, 0, 0, time.UTC) // past the QE Identity's and PCK CRL's nextUpdate
	c, err := v.Verify(realEnvelope(t, readQuote(t)), at)
	attesttest.CheckResult(t, c, err, attest.ErrExpired)
	if !strings.Contains(err.Error(), "to be updated by") {
		t.Fatal(err)
	}
	// A grace admits it, up to the binding.
	v = realVerifier(t, Options{CollateralGrace: 48 * time.Hour})
	c, err = v.Verify(realEnvelope(t, readQuote(t)), at)
	attesttest.CheckResult(t, c, err, attest.ErrBinding)
}

func TestRealQuoteMinEvaluation(t *testing.T) {
	v := realVerifier(t, Options{MinTCBEvaluationNumber: 16}) // Intel's is 15
	c, err := v.Verify(realEnvelope(t, readQuote(t)), realTime)
	attesttest.CheckResult(t, c, err, attest.ErrExpired)
}

// Collateral of another FMSPC: the server holds TCB Info only for an FMSPC
// that is not the quote's platform's.
func TestRealQuoteOtherFMSPC(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(vectors, "collateral")
	ents, _ := os.ReadDir(src)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "tcbinfo-") {
			continue // Intel signs one FMSPC per TCB Info: none here for this platform
		}
		b, _ := os.ReadFile(filepath.Join(src, e.Name()))
		os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
	}
	d, err := OpenCollateralDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := realVerifier(t, Options{Collateral: d})
	c, err := v.Verify(realEnvelope(t, readQuote(t)), realTime)
	attesttest.CheckResult(t, c, err, attest.ErrPolicy)
	if !strings.Contains(err.Error(), "FMSPC 50806f000000") {
		t.Fatal(err)
	}
}

// No collateral at all: refused, never judged without it.
func TestRealQuoteNoCollateral(t *testing.T) {
	v, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(realEnvelope(t, readQuote(t)), realTime)
	attesttest.CheckResult(t, c, err, attest.ErrPolicy)
}

// Hostile shapes that need no signer.
func TestHostileShapes(t *testing.T) {
	v := realVerifier(t, Options{})
	q := readQuote(t)
	for name, tc := range map[string]struct {
		quote []byte
		want  error
	}{
		"truncated":     {q[:len(q)-100], attest.ErrMalformed},
		"trailing byte": {append(append([]byte(nil), q...), 1, 2), attest.ErrMalformed},
		"oversized":     {append(append([]byte(nil), q...), make([]byte, envelope.MaxTDXQuote)...), attest.ErrMalformed},
		"version 5":     {append([]byte{5, 0}, q[2:]...), attest.ErrMalformed},
		"header only":   {q[:48], attest.ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			e := &envelope.Envelope{Format: attest.FormatTDX, PublicKey: mustKey(t), Quote: tc.quote}
			c, err := v.verify(e, realTime)
			attesttest.CheckResult(t, c, err, tc.want)
		})
	}
	// Unknown envelope field.
	b := realEnvelope(t, q)
	b[0]++ // one more pair in the map...
	b = append(b, 0x63, 'f', 'o', 'o', 0x01)
	c, err := v.Verify(b, realTime)
	attesttest.CheckResult(t, c, err, attest.ErrMalformed)
}

func mustKey(t testing.TB) []byte { return testKey }
