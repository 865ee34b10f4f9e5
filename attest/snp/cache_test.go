package snp_test

import (
	"errors"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/snp"
	"github.com/attestkms/attestkms/attest/snp/snptest"
)

// TestCache: a verified VCEK is remembered, and a hit still checks all that
// can change — the report's signature, the certificate's validity at the new
// time, the chip and TCB — so the cache never turns a refusal into a pass.
func TestCache(t *testing.T) {
	ca := mainCA(t)
	v := newVerifier(t, snp.Options{Roots: rootsOf(t, ca), CacheSize: 2})
	now := time.Now()
	good := evidence(t, ca, snptest.Report{})
	c, err := v.Verify(good, now)
	checkResult(t, c, err, nil)
	if snp.CacheLen(v) != 1 {
		t.Fatalf("cache holds %d certificates after one good report", snp.CacheLen(v))
	}
	// The same VCEK: a hit, and the answer is the same.
	again := evidence(t, ca, snptest.Report{Measurement: make([]byte, 48)})
	c, err = v.Verify(again, now)
	checkResult(t, c, err, nil)
	if snp.CacheLen(v) != 1 {
		t.Fatal("a second report of the same VCEK added an entry")
	}

	// On a hit: a report whose signature is broken is refused...
	forged := evidence(t, ca, snptest.Report{EditReport: func(b []byte) { b[0x90] ^= 1 }}) // MEASUREMENT, after signing
	c, err = v.Verify(forged, now)
	checkResult(t, c, err, attest.ErrSignature)
	// ...as is one for another TCB than the certificate's (same VCEK bytes)...
	wrongTCB := evidence(t, ca, snptest.Report{TCB: snptest.TCB(9, 0, 9, 9), CertTCB: snptest.DefaultTCB})
	c, err = v.Verify(wrongTCB, now)
	checkResult(t, c, err, attest.ErrChain)
	if snp.CacheLen(v) != 1 {
		t.Fatal("the wrong-TCB report did not reuse the cached VCEK: the hit path is untested")
	}
	// ...and the certificate outside its validity at the new time.
	c, err = v.Verify(good, snptest.NotAfter.Add(time.Second))
	checkResult(t, c, err, attest.ErrExpired)
	// A verifier with other roots has its own cache: the VCEK is not
	// trusted there just because it was here.
	other := newVerifier(t, snp.Options{Roots: rootsOf(t, otherCA(t))})
	c, err = other.Verify(good, now)
	checkResult(t, c, err, attest.ErrChain)
	if snp.CacheLen(other) != 0 {
		t.Fatal("a refused certificate was cached")
	}
	// Bounded: two more VCEKs (other chips) evict the first; it verifies
	// again from scratch.
	for _, chip := range []byte{1, 2} {
		id := make([]byte, 64)
		id[0] = chip
		c, err = v.Verify(evidence(t, ca, snptest.Report{ChipID: id}), now)
		checkResult(t, c, err, nil)
	}
	if snp.CacheLen(v) != 2 {
		t.Fatalf("cache holds %d; bound 2", snp.CacheLen(v))
	}
	c, err = v.Verify(good, now)
	checkResult(t, c, err, nil)
}

// TestCacheRootPairExpired: with two root pairs of one product line, a VCEK
// cached while the pair that certified it was valid is not accepted on a hit
// once that pair has expired, merely because the other pair (which never
// certified it) still is: a cold verifier refuses it, and so must the hit.
func TestCacheRootPairExpired(t *testing.T) {
	early := time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)
	short, err := snptest.NewCAWith(snptest.CAOptions{Product: "Milan", Bits: 2048, NotAfter: early})
	if err != nil {
		t.Fatal(err)
	}
	roots := rootsOf(t, short, otherCA(t)) // both Milan; otherCA's pair lives to 2100
	good := evidence(t, short, snptest.Report{})

	v := newVerifier(t, snp.Options{Roots: roots})
	c, err := v.Verify(good, early.Add(-time.Hour))
	checkResult(t, c, err, nil)

	later := early.Add(time.Hour)
	cold := newVerifier(t, snp.Options{Roots: roots})
	c, err = cold.Verify(good, later)
	if err == nil {
		t.Fatal("a cold verifier accepts a VCEK whose only certifying pair has expired")
	}
	coldKinds := snp.KindsOf(err)
	c, err = v.Verify(good, later)
	if err == nil {
		t.Fatal("a cache hit accepts a VCEK whose only certifying pair has expired, because another pair is valid")
	}
	if got := snp.KindsOf(err); len(got) != 1 || len(coldKinds) != 1 || got[0] != coldKinds[0] {
		t.Errorf("the hit fails with %v, a cold verifier with %v", got, coldKinds)
	}
	if c != nil {
		t.Error("claims with an error")
	}
}

// TestHandMadeEnvelopeBounds: VerifyEnvelope holds a hand-made envelope to
// envelope.Decode's bounds, so a nonce too long for the binding's length
// prefix is refused, not truncated into an ambiguous binding.
func TestHandMadeEnvelopeBounds(t *testing.T) {
	ca := mainCA(t)
	v := newVerifier(t, snp.Options{Roots: rootsOf(t, ca)})
	e, err := ca.Envelope(rsaSPKI(t), snptest.Report{})
	if err != nil {
		t.Fatal(err)
	}
	e.Nonce = make([]byte, 1<<16+1)
	c, err := snp.VerifyEnvelope(v, e, time.Now())
	checkResult(t, c, err, attest.ErrMalformed)
}

// TestColdChain: an endorsement certificate not in the cache is verified
// only if ColdChain admits it; a refusal is ErrThrottled and caches
// nothing; a cached certificate never asks.
func TestColdChain(t *testing.T) {
	ca := mainCA(t)
	admit, asked := false, 0
	v := newVerifier(t, snp.Options{Roots: rootsOf(t, ca), ColdChain: func() bool { asked++; return admit }})
	now := time.Now()
	good := evidence(t, ca, snptest.Report{})
	c, err := v.Verify(good, now)
	checkResult(t, c, err, attest.ErrThrottled)
	if asked != 1 || v.CachedChains() != 0 {
		t.Fatalf("refused: asked %d, %d cached", asked, v.CachedChains())
	}
	admit = true
	c, err = v.Verify(good, now)
	checkResult(t, c, err, nil)
	if asked != 2 || v.CachedChains() != 1 {
		t.Fatalf("admitted: asked %d, %d cached", asked, v.CachedChains())
	}
	admit = false
	c, err = v.Verify(evidence(t, ca, snptest.Report{Measurement: make([]byte, 48)}), now)
	checkResult(t, c, err, nil)
	if asked != 2 {
		t.Fatal("ColdChain asked about a cached certificate")
	}
}

// TestForgedVCEKSpendsNoColdBudget: the budget for new endorsement
// certificates is the node's, shared by every client; a genuine new chip
// (a new VCEK) needs it. A VCEK that the forger made itself — any P-384
// certificate for the product, signed by a CA of its own (here another
// test CA for Milan) — must be refused, at its signature by a configured
// ASK, without spending it: otherwise any credential (GenerateRandom with
// a Recipient needs no key) would spend the budget at no cost of its own,
// and every other client's new chip be refused ThrottlingException. Here a
// bucket of one.
func TestForgedVCEKSpendsNoColdBudget(t *testing.T) {
	ca := mainCA(t)
	budget := 1
	v := newVerifier(t, snp.Options{Roots: rootsOf(t, ca), ColdChain: func() bool {
		if budget == 0 {
			return false
		}
		budget--
		return true
	}})
	now := time.Now()
	c, err := v.Verify(evidence(t, otherCA(t), snptest.Report{}), now)
	checkResult(t, c, err, attest.ErrChain)
	c, err = v.Verify(evidence(t, ca, snptest.Report{}), now)
	if errors.Is(err, attest.ErrThrottled) {
		t.Fatalf("a forged VCEK spent the budget a genuine new chip needed: %v", err)
	}
	checkResult(t, c, err, nil)
}

// TestForgedReportSpendsNoColdBudget: a genuine VCEK or VLEK is no secret
// (AMD's KDS serves VCEKs to anyone), so a forger may send one with a report
// it did not sign; and a forged VLEK is as cheap to make as a forged VCEK.
// Neither may spend the budget for new certificates: the report's signature
// and the certificate's are checked first. A budget that is asked is
// empty here, so spending it would be ErrThrottled.
func TestForgedReportSpendsNoColdBudget(t *testing.T) {
	ca := mainCA(t)
	asked := 0
	v := newVerifier(t, snp.Options{Roots: rootsOf(t, ca), ColdChain: func() bool { asked++; return false }})
	now := time.Now()
	for _, tc := range []struct {
		name string
		ca   *snptest.CA
		r    snptest.Report
		want error
	}{
		{"genuine VCEK, report data changed after signing", ca, snptest.Report{EditReport: flip(offReportData, 1)}, attest.ErrSignature},
		{"genuine VLEK, report data changed after signing", ca, snptest.Report{VLEK: true, EditReport: flip(offReportData, 1)}, attest.ErrSignature},
		{"forged VLEK", otherCA(t), snptest.Report{VLEK: true}, attest.ErrChain},
		{"forged VCEK", otherCA(t), snptest.Report{}, attest.ErrChain},
	} {
		c, err := v.Verify(evidence(t, tc.ca, tc.r), now)
		checkResult(t, c, err, tc.want)
		if asked != 0 {
			t.Fatalf("%s: the budget for new certificates was asked for", tc.name)
		}
	}
	c, err := v.Verify(evidence(t, ca, snptest.Report{}), now)
	checkResult(t, c, err, attest.ErrThrottled)
	if asked != 1 {
		t.Fatalf("a genuine new VCEK asked the budget %d times; want 1", asked)
	}
}
