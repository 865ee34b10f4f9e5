package tpm_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
)

// TestChainCache: a verified AK chain is remembered, and a hit still checks
// all that can change — the quote's signature, ak_public against the cached
// key, the validity of every certificate at the new time — so the cache
// never turns a refusal into a pass.
func TestChainCache(t *testing.T) {
	ca := testCA(t, tpmtest.AKECDSAP256)
	v := newVerifier(t, tpm.Options{Roots: parseRoots(t, ca.RootsPEM()), CacheSize: 1})
	good := evidence(t, ca, tpmtest.Quote{})
	c, err := v.Verify(good, testTime)
	checkResult(t, c, err, nil)
	if tpm.CacheLen(v) != 1 {
		t.Fatalf("cache holds %d chains after one good quote", tpm.CacheLen(v))
	}
	// A hit: another quote of the same AK verifies, without a new entry.
	c, err = v.Verify(evidence(t, ca, tpmtest.Quote{Nonce: []byte("n")}), testTime)
	checkResult(t, c, err, nil)

	// On a hit, a broken signature is refused...
	forged := evidence(t, ca, tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.Quote[len(e.Quote)-1] ^= 1 }})
	c, err = v.Verify(forged, testTime)
	checkResult(t, c, err, attest.ErrSignature)
	// ...so is an ak_public of another key beside the cached certificate...
	other := testCA(t, tpmtest.AKECDSAP384)
	mixed := evidence(t, ca, tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.AKPublic = other.AKPublic }})
	c, err = v.Verify(mixed, testTime)
	checkResult(t, c, err, attest.ErrChain)
	// ...and the same chain after the AK certificate's NotAfter, or before
	// its NotBefore: the cache answers as a fresh verification would.
	c, err = v.Verify(good, tpmtest.AKNotAfter.Add(time.Second))
	checkResult(t, c, err, attest.ErrExpired)
	c, err = v.Verify(good, tpmtest.AKNotBefore.Add(-time.Second))
	checkResult(t, c, err, attest.ErrExpired)
	c, err = v.Verify(good, time.Time{})
	checkResult(t, c, err, attest.ErrExpired)
	if tpm.CacheLen(v) != 1 {
		t.Fatalf("refusals changed the cache: %d entries", tpm.CacheLen(v))
	}
	// Another verifier, other roots: its own cache, so the chain is not
	// trusted there because it was here.
	w := newVerifier(t, tpm.Options{Roots: parseRoots(t, other.RootsPEM())})
	c, err = w.Verify(good, testTime)
	checkResult(t, c, err, attest.ErrChain)
	if tpm.CacheLen(w) != 0 {
		t.Fatal("a chain that did not verify was cached")
	}
	// Bounded (1): another AK's chain replaces the first, which then
	// verifies again from scratch.
	c, err = v.Verify(evidence(t, other, tpmtest.Quote{}), testTime)
	checkResult(t, c, err, attest.ErrChain) // other's root is not v's
	v2 := newVerifier(t, tpm.Options{Roots: parseRoots(t, ca.RootsPEM(), other.RootsPEM()), CacheSize: 1})
	for _, x := range []*tpmtest.CA{ca, other, ca} {
		c, err = v2.Verify(evidence(t, x, tpmtest.Quote{}), testTime)
		checkResult(t, c, err, nil)
		if tpm.CacheLen(v2) != 1 {
			t.Fatalf("cache holds %d; bound 1", tpm.CacheLen(v2))
		}
	}
}

// TestHandMadeEnvelopeBounds: VerifyEnvelope holds a hand-made envelope to
// envelope.Decode's bounds before computing its binding.
func TestHandMadeEnvelopeBounds(t *testing.T) {
	ca := testCA(t, tpmtest.AKECDSAP256)
	v := verifierFor(t, ca)
	e, err := ca.Envelope(enclaveKey(t), tpmtest.Quote{})
	if err != nil {
		t.Fatal(err)
	}
	e.UserData = make([]byte, 1<<16+1)
	c, err := tpm.VerifyEnvelope(v, e, testTime)
	checkResult(t, c, err, attest.ErrMalformed)
	c, err = tpm.VerifyEnvelope(v, nil, testTime)
	checkResult(t, c, err, attest.ErrMalformed)
}

// TestColdChain: an AK chain not in the cache is verified only if ColdChain
// admits it, once the quote's signature verified; a refusal is ErrThrottled
// and caches nothing; a cached chain never asks.
func TestColdChain(t *testing.T) {
	ca := testCA(t, tpmtest.AKECDSAP256)
	admit, asked := false, 0
	v := newVerifier(t, tpm.Options{Roots: parseRoots(t, ca.RootsPEM()), ColdChain: func() bool { asked++; return admit }})
	good := evidence(t, ca, tpmtest.Quote{})
	c, err := v.Verify(good, testTime)
	checkResult(t, c, err, attest.ErrThrottled)
	if asked != 1 || v.CachedChains() != 0 {
		t.Fatalf("refused: asked %d, %d cached", asked, v.CachedChains())
	}
	forged := evidence(t, ca, tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.Quote[len(e.Quote)-1] ^= 1 }})
	c, err = v.Verify(forged, testTime)
	checkResult(t, c, err, attest.ErrSignature)
	if asked != 1 {
		t.Fatal("ColdChain asked about a quote whose signature fails")
	}
	admit = true
	c, err = v.Verify(good, testTime)
	checkResult(t, c, err, nil)
	if asked != 2 || v.CachedChains() != 1 {
		t.Fatalf("admitted: asked %d, %d cached", asked, v.CachedChains())
	}
	admit = false
	c, err = v.Verify(evidence(t, ca, tpmtest.Quote{Nonce: []byte("n")}), testTime)
	checkResult(t, c, err, nil)
	if asked != 2 {
		t.Fatal("ColdChain asked about a cached chain")
	}
}

// TestForgedAKChainSpendsNoColdBudget: the budget for new AK chains
// (--cold-chain-limit, one bucket for the whole node, shared by every
// client) is what a genuine new TPM needs to be served. A forger needs no
// genuine key to make a quote whose signature verifies with the AK of its
// ak_cert and whose certificates name the trusted AK CA: its own CA under
// the same names (here another test CA: same subjects, other keys). Such
// evidence must be refused without spending the budget: here a bucket of
// one, which a genuine quote of a new TPM must still find.
func TestForgedAKChainSpendsNoColdBudget(t *testing.T) {
	ca := testCA(t, tpmtest.AKECDSAP256)
	forger := newCA(t, tpmtest.CAOptions{})
	if !bytes.Equal(forger.Root.RawSubject, ca.Root.RawSubject) || !bytes.Equal(forger.AKCert.RawIssuer, ca.Intermediate.RawSubject) {
		t.Fatal("the forger's CA is not named as the trusted one")
	}
	budget := 1
	v := newVerifier(t, tpm.Options{Roots: parseRoots(t, ca.RootsPEM()), ColdChain: func() bool {
		if budget == 0 {
			return false
		}
		budget--
		return true
	}})
	c, err := v.Verify(evidence(t, forger, tpmtest.Quote{}), testTime)
	checkResult(t, c, err, attest.ErrChain)
	c, err = v.Verify(evidence(t, ca, tpmtest.Quote{}), testTime)
	if errors.Is(err, attest.ErrThrottled) {
		t.Fatalf("a forged AK chain spent the budget a genuine new TPM needed: %v", err)
	}
	checkResult(t, c, err, nil)
}

// TestCopiedIntermediateSpendsColdBudgetOnce: a forger who copies the
// genuine AK CA intermediate into ak_chain above an AK certificate of its
// own (issued under the intermediate's name by another key) gets past the
// first link the first time, when the intermediate is new to the node, and
// spends one unit of the budget; the intermediate is known from then on,
// so the next such quote is refused at the AK certificate's link and
// spends nothing. Once a genuine quote has verified, its intermediate is
// known, and a copy spends nothing even the first time.
func TestCopiedIntermediateSpendsColdBudgetOnce(t *testing.T) {
	ca := testCA(t, tpmtest.AKECDSAP256)
	forger := newCA(t, tpmtest.CAOptions{})
	copied := tpmtest.Quote{EditEnvelope: func(e *envelope.Envelope) { e.AKChain = [][]byte{ca.Intermediate.Raw} }}
	budget, asked := 2, 0
	cold := func() bool {
		asked++
		if budget == 0 {
			return false
		}
		budget--
		return true
	}
	v := newVerifier(t, tpm.Options{Roots: parseRoots(t, ca.RootsPEM()), ColdChain: cold})
	for i := range 3 {
		c, err := v.Verify(evidence(t, forger, copied), testTime)
		checkResult(t, c, err, attest.ErrChain)
		if asked != 1 || tpm.KnownLen(v) != 1 {
			t.Fatalf("forgery %d: budget asked %d times (want 1), %d intermediates known (want 1)", i, asked, tpm.KnownLen(v))
		}
	}
	c, err := v.Verify(evidence(t, ca, tpmtest.Quote{}), testTime)
	checkResult(t, c, err, nil)

	budget, asked = 1, 0
	w := newVerifier(t, tpm.Options{Roots: parseRoots(t, ca.RootsPEM()), ColdChain: cold})
	c, err = w.Verify(evidence(t, ca, tpmtest.Quote{}), testTime)
	checkResult(t, c, err, nil)
	c, err = w.Verify(evidence(t, forger, copied), testTime)
	checkResult(t, c, err, attest.ErrChain)
	if asked != 1 || tpm.KnownLen(w) != 1 {
		t.Fatalf("budget asked %d times, %d intermediates known; want 1, 1", asked, tpm.KnownLen(w))
	}
}
