package tpm_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
)

// TestPaddedAKChainSpendsNoColdBudget: ak_chain is covered by no
// signature, so anyone holding one genuine quote (their own TPM's, or a
// public one: the binding to the Recipient is checked after the chain) can
// append certificates of its own making to ak_chain. crypto/x509 ignores
// such an extra intermediate and the first link (the genuine AK certificate
// by the known intermediate) verifies; were the chain cache keyed by all of
// ak_chain, each new padding would be a cache miss spending a unit of the
// node-wide budget, without end, until a genuinely new TPM is refused
// (ErrThrottled). The cache key covers only the issuer path (akPath), so
// padding a verified chain asks the budget nothing.
func TestPaddedAKChainSpendsNoColdBudget(t *testing.T) {
	ca := testCA(t, tpmtest.AKECDSAP256)
	asked := 0
	budget := 1 + 20
	v := newVerifier(t, tpm.Options{Roots: parseRoots(t, ca.RootsPEM()), ColdChain: func() bool {
		asked++
		if budget == 0 {
			return false
		}
		budget--
		return true
	}})
	c, err := v.Verify(evidence(t, ca, tpmtest.Quote{}), testTime)
	checkResult(t, c, err, nil)
	asked = 0
	for i := range 20 {
		junk := selfSigned(t, i)
		padded := tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.AKChain = append(e.AKChain, junk) }}
		c, err := v.Verify(evidence(t, ca, padded), testTime)
		if err != nil && !errors.Is(err, attest.ErrThrottled) {
			checkResult(t, c, err, nil)
		}
	}
	if asked > 0 {
		t.Errorf("one genuine, already verified AK chain padded with self-made certificates in ak_chain asked the cold-chain budget %d times in 20 requests (want 0: nothing new to the node but bytes no signature covers)", asked)
	}
}

func selfSigned(t *testing.T, i int) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: "padding"},
		NotBefore: testTime.Add(-time.Hour), NotAfter: testTime.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestAKChainSpellingsAreOneChain: ak_chain is covered by no signature, so
// one genuine chain sent with its intermediate twice, with the root beside
// it, or in another order is the same chain: it verifies from the cache,
// asks the cold-chain budget nothing and adds no cache entry.
func TestAKChainSpellingsAreOneChain(t *testing.T) {
	ca := testCA(t, tpmtest.AKECDSAP256)
	asked := 0
	v := newVerifier(t, tpm.Options{Roots: parseRoots(t, ca.RootsPEM()), ColdChain: func() bool { asked++; return true }})
	c, err := v.Verify(evidence(t, ca, tpmtest.Quote{}), testTime)
	checkResult(t, c, err, nil)
	asked = 0
	for name, chain := range map[string][][]byte{
		"duplicate":     {ca.Intermediate.Raw, ca.Intermediate.Raw},
		"root after":    {ca.Intermediate.Raw, ca.Root.Raw},
		"root before":   {ca.Root.Raw, ca.Intermediate.Raw},
		"padding first": {selfSigned(t, 99), ca.Intermediate.Raw},
	} {
		q := tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.AKChain = chain }}
		c, err := v.Verify(evidence(t, ca, q), testTime)
		checkResult(t, c, err, nil)
		if asked != 0 || v.CachedChains() != 1 {
			t.Fatalf("%s: asked the budget %d times, %d chains cached; want 0 and 1", name, asked, v.CachedChains())
		}
	}
}

// TestAKChainTwoIssuersRefused: two different ak_chain certificates that
// both name ak_cert's issuer are refused, before the budget, rather than
// one chosen.
func TestAKChainTwoIssuersRefused(t *testing.T) {
	ca := testCA(t, tpmtest.AKECDSAP256)
	asked := 0
	v := newVerifier(t, tpm.Options{Roots: parseRoots(t, ca.RootsPEM()), ColdChain: func() bool { asked++; return true }})
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), RawSubject: ca.Intermediate.RawSubject, IsCA: true, BasicConstraintsValid: true,
		NotBefore: testTime.Add(-time.Hour), NotAfter: testTime.Add(time.Hour)}
	twin, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	for _, chain := range [][][]byte{{ca.Intermediate.Raw, twin}, {twin, ca.Intermediate.Raw}} {
		q := tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.AKChain = chain }}
		c, err := v.Verify(evidence(t, ca, q), testTime)
		checkResult(t, c, err, attest.ErrChain)
	}
	if asked != 0 {
		t.Errorf("asked the budget %d times; want 0", asked)
	}
}
