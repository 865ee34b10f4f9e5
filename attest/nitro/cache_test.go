package nitro_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
)

func TestCacheHit(t *testing.T) {
	ca := testCA(t, attest.FormatNitro, 1)
	v := newVerifier(t, nitro.Options{Roots: ca.Roots()})
	d := genuine(t)
	doc1 := sign(t, ca, d)
	d.Timestamp, d.UserData = testDocTime.Add(time.Minute), []byte("second request")
	doc2 := sign(t, ca, d) // the same enclave: the same leaf

	c1, err := v.Verify(doc1, testVerifyTime)
	checkResult(t, c1, err, nil)
	if n := nitro.ChainVerifications(v); n != 1 {
		t.Fatalf("%d chain verifications after the first document", n)
	}
	again, err := v.Verify(doc1, testVerifyTime)
	checkResult(t, again, err, nil)
	c2, err := v.Verify(doc2, testDocTime.Add(2*time.Minute))
	checkResult(t, c2, err, nil)
	if n := nitro.ChainVerifications(v); n != 1 {
		t.Fatalf("%d chain verifications: the cache was not used", n)
	}
	if string(c2.UserData) != "second request" {
		t.Fatalf("claims of the second document: %q", c2.UserData)
	}
	// A hit gives the claims a miss gives.
	cold := newVerifier(t, nitro.Options{Roots: ca.Roots()})
	c, err := cold.Verify(doc1, testVerifyTime)
	checkResult(t, c, err, nil)
	if !reflect.DeepEqual(c, again) || !reflect.DeepEqual(c, c1) {
		t.Fatal("cached and uncached claims differ")
	}

	// A new leaf (another enclave), or the same leaf with other
	// intermediates, is another chain.
	d.ModuleID = "i-0fedcba9876543210-enc0fedcba987654321"
	c, err = v.Verify(sign(t, ca, d), testDocTime.Add(2*time.Minute))
	checkResult(t, c, err, nil)
	d.ModuleID, d.PadCABundle = "", 1
	c, err = v.Verify(sign(t, ca, d), testDocTime.Add(2*time.Minute))
	checkResult(t, c, err, nil)
	if n := nitro.ChainVerifications(v); n != 3 {
		t.Fatalf("%d chain verifications; want 3", n)
	}
}

// TestCacheExpiry: a cached chain whose leaf expired is refused, without a
// new chain verification.
func TestCacheExpiry(t *testing.T) {
	ca := testCA(t, attest.FormatNitro, 1)
	v := newVerifier(t, nitro.Options{Roots: ca.Roots()})
	d := genuine(t)
	c, err := v.Verify(sign(t, ca, d), testVerifyTime)
	checkResult(t, c, err, nil)
	// The leaf is valid from 10 s before testDocTime for three hours; a
	// document made just before it expires, verified just after.
	d.Timestamp = testDocTime.Add(3*time.Hour - 11*time.Second)
	late := sign(t, ca, d)
	c, err = v.Verify(late, d.Timestamp.Add(time.Second))
	checkResult(t, c, err, nil)
	c, err = v.Verify(late, d.Timestamp.Add(2*time.Second))
	checkResult(t, c, err, attest.ErrExpired)
	if !strings.Contains(err.Error(), "expired at") {
		t.Errorf("error %v: not the leaf's expiry", err)
	}
	if n := nitro.ChainVerifications(v); n != 1 {
		t.Fatalf("%d chain verifications", n)
	}
	// Before the leaf's validity, too.
	c, err = v.Verify(late, testDocTime.Add(-time.Minute))
	checkResult(t, c, err, attest.ErrExpired)
}

// TestCachePerRoots: a Verifier with other roots has its own cache, and a
// chain verified by one is not trusted by another.
func TestCachePerRoots(t *testing.T) {
	ca := testCA(t, attest.FormatNitro, 1)
	other := testCA(t, attest.FormatNitro, 3)
	doc := sign(t, ca, genuine(t))
	v := newVerifier(t, nitro.Options{Roots: ca.Roots()})
	c, err := v.Verify(doc, testVerifyTime)
	checkResult(t, c, err, nil)
	w := newVerifier(t, nitro.Options{Roots: other.Roots()})
	c, err = w.Verify(doc, testVerifyTime)
	checkResult(t, c, err, attest.ErrChain)
	c, err = w.Verify(doc, testVerifyTime)
	checkResult(t, c, err, attest.ErrChain)
	// Refused each time at the chain's first link (the intermediate is not
	// signed by w's root of the same name), before any full verification:
	// nothing was cached, nothing learnt.
	if n := nitro.ChainVerifications(w); n != 0 {
		t.Fatalf("%d chain verifications by the other verifier; want 0 (refused at the first link)", n)
	}
	if nitro.KnownLen(w) != 0 {
		t.Fatal("an intermediate of another root was learnt")
	}
	if nitro.CacheLen(w) != 0 {
		t.Fatal("a failed chain was cached")
	}
	// Changing the caller's root afterwards changes nothing: New copied it.
	root := *ca.Root
	x := newVerifier(t, nitro.Options{Roots: []*x509.Certificate{&root}})
	root = *other.Root
	c, err = x.Verify(doc, testVerifyTime)
	checkResult(t, c, err, nil)
}

// TestCacheFailures: documents that fail are not cached, even when their
// chain is good, and a cached chain does not make a bad document pass.
func TestCacheFailures(t *testing.T) {
	ca := testCA(t, attest.FormatNitro, 1)
	v := newVerifier(t, nitro.Options{Roots: ca.Roots()})
	good := genuine(t)
	for _, edit := range []func(*nitrotest.Document){
		func(d *nitrotest.Document) { d.PublicKey = nil },                         // ErrKey, after the chain
		func(d *nitrotest.Document) { d.Timestamp = d.Timestamp.Add(-time.Hour) }, // stale
	} {
		d := good
		edit(&d)
		c, err := v.Verify(sign(t, ca, d), testVerifyTime)
		if err == nil {
			t.Fatal("verified")
		}
		checkResult(t, c, err, nitro.KindsOf(err)[0])
	}
	if nitro.CacheLen(v) != 0 {
		t.Fatalf("%d chains cached after failures", nitro.CacheLen(v))
	}
	c, err := v.Verify(sign(t, ca, good), testVerifyTime)
	checkResult(t, c, err, nil)
	if nitro.CacheLen(v) != 1 {
		t.Fatal("a verified chain was not cached")
	}
	for _, edit := range []func(*nitrotest.Document){
		func(d *nitrotest.Document) { d.FlipSignature = true },
		func(d *nitrotest.Document) { d.TamperPayload = true },
		func(d *nitrotest.Document) { d.SignWithOtherKey = true },
	} {
		d := good
		edit(&d)
		c, err := v.Verify(sign(t, ca, d), testVerifyTime)
		checkResult(t, c, err, attest.ErrSignature)
	}
}

func TestCacheBound(t *testing.T) {
	ca := testCA(t, attest.FormatNitro, 1)
	v := newVerifier(t, nitro.Options{Roots: ca.Roots(), CacheSize: 2})
	var docs [][]byte
	for i := range 5 {
		d := genuine(t)
		d.ModuleID = fmt.Sprintf("i-%017d-enc%016d", i, i)
		docs = append(docs, sign(t, ca, d))
	}
	for _, doc := range docs {
		c, err := v.Verify(doc, testVerifyTime)
		checkResult(t, c, err, nil)
		if nitro.CacheLen(v) > 2 {
			t.Fatalf("cache holds %d chains, more than its bound 2", nitro.CacheLen(v))
		}
	}
	// The last two are remembered, the first is not.
	n := nitro.ChainVerifications(v)
	v.Verify(docs[4], testVerifyTime)
	v.Verify(docs[3], testVerifyTime)
	if nitro.ChainVerifications(v) != n {
		t.Fatal("recent chains evicted")
	}
	v.Verify(docs[0], testVerifyTime)
	if nitro.ChainVerifications(v) != n+1 {
		t.Fatal("the oldest chain was not evicted")
	}
}

// TestConcurrentVerify runs good and bad documents from many goroutines;
// run it with -race.
func TestConcurrentVerify(t *testing.T) {
	ca := testCA(t, attest.FormatNitro, 1)
	v := newVerifier(t, nitro.Options{Roots: ca.Roots(), CacheSize: 3})
	type job struct {
		doc  []byte
		want error
	}
	var jobs []job
	for i := range 4 {
		d := genuine(t)
		d.ModuleID = fmt.Sprintf("i-%017d-enc%016d", i, i)
		jobs = append(jobs, job{sign(t, ca, d), nil})
		d.FlipSignature = true
		jobs = append(jobs, job{sign(t, ca, d), attest.ErrSignature})
	}
	d := genuine(t)
	d.ForeignCA = true
	jobs = append(jobs, job{sign(t, ca, d), attest.ErrChain})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 40 {
				j := jobs[(g+i)%len(jobs)]
				c, err := v.Verify(j.doc, testVerifyTime)
				if (err == nil) != (j.want == nil) || (c == nil) == (err == nil) {
					t.Errorf("goroutine %d, job %d: %v", g, (g+i)%len(jobs), err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestColdChain: a chain not in the cache is verified only if ColdChain
// admits it; a refusal is ErrThrottled, verifies and caches nothing; a
// document whose own signature fails is refused before ColdChain is asked;
// a cached chain never asks.
func TestColdChain(t *testing.T) {
	ca := testCA(t, attest.FormatNitro, 1)
	admit, asked := false, 0
	v := newVerifier(t, nitro.Options{Roots: ca.Roots(), ColdChain: func() bool { asked++; return admit }})
	doc := sign(t, ca, genuine(t))
	c, err := v.Verify(doc, testVerifyTime)
	checkResult(t, c, err, attest.ErrThrottled)
	if asked != 1 || nitro.ChainVerifications(v) != 0 || v.CachedChains() != 0 {
		t.Fatalf("refused: asked %d, %d chain verifications, %d cached", asked, nitro.ChainVerifications(v), v.CachedChains())
	}
	bad := genuine(t)
	bad.FlipSignature = true
	c, err = v.Verify(sign(t, ca, bad), testVerifyTime)
	checkResult(t, c, err, attest.ErrSignature)
	if asked != 1 {
		t.Fatal("ColdChain asked about a document whose own signature fails")
	}
	admit = true
	c, err = v.Verify(doc, testVerifyTime)
	checkResult(t, c, err, nil)
	if asked != 2 || v.CachedChains() != 1 || v.Format() != attest.FormatNitro {
		t.Fatalf("admitted: asked %d, %d cached, format %s", asked, v.CachedChains(), v.Format())
	}
	admit = false
	c, err = v.Verify(doc, testVerifyTime)
	checkResult(t, c, err, nil)
	if asked != 2 {
		t.Fatal("ColdChain asked about a cached chain")
	}
}

// TestForgedChainSpendsNoColdBudget: the budget for new chains
// (--cold-chain-limit, one bucket for the whole node, shared by every
// client) is what a genuine new enclave needs to be served. A forger needs
// no genuine key to make a document whose own signature verifies and whose
// certificates name the root: its own CA under the root's name (here a test
// CA of another seed: same subject, other keys). Any authenticated
// credential sends such documents (GenerateRandom with a Recipient needs no
// key, no policy), 50 a second (serve's default budget; its per-key rate
// limit is 2000), and every new enclave of every other client is then
// refused ThrottlingException. A forgery must be refused without spending
// the budget: here a bucket of one, which a genuine document of a new
// enclave must still find.
func TestForgedChainSpendsNoColdBudget(t *testing.T) {
	ca := testCA(t, attest.FormatNitro, 1)
	forger := testCA(t, attest.FormatNitro, 2) // the same names, its own keys
	if !bytes.Equal(forger.Root.RawSubject, ca.Root.RawSubject) {
		t.Fatal("the forger's root is not named as the trusted one")
	}
	budget := 1
	v := newVerifier(t, nitro.Options{Roots: ca.Roots(), ColdChain: func() bool {
		if budget == 0 {
			return false
		}
		budget--
		return true
	}})
	c, err := v.Verify(sign(t, forger, genuine(t)), testVerifyTime)
	checkResult(t, c, err, attest.ErrChain)
	c, err = v.Verify(sign(t, ca, genuine(t)), testVerifyTime)
	if errors.Is(err, attest.ErrThrottled) {
		t.Fatalf("a forged chain spent the budget a genuine new enclave needed: %v", err)
	}
	checkResult(t, c, err, nil)
}

// TestCopiedIntermediateSpendsColdBudgetOnce: a forger who copies a genuine
// intermediate (every real document carries them) above a leaf of its own
// (LeafImpostor: the intermediate's name, another key) gets past the first
// link the first time, when the intermediate is new to the node, and spends
// one unit of the budget; the intermediate is known from then on, so the
// next such document is refused at the leaf's link and spends nothing. Once
// a genuine document has verified, its intermediate is known, and a copy
// spends nothing even the first time.
func TestCopiedIntermediateSpendsColdBudgetOnce(t *testing.T) {
	ca := testCA(t, attest.FormatNitro, 1)
	budget, asked := 2, 0
	cold := func() bool {
		asked++
		if budget == 0 {
			return false
		}
		budget--
		return true
	}
	v := newVerifier(t, nitro.Options{Roots: ca.Roots(), ColdChain: cold})
	impostor := genuine(t)
	impostor.LeafImpostor = true
	for i := range 3 {
		c, err := v.Verify(sign(t, ca, impostor), testVerifyTime)
		checkResult(t, c, err, attest.ErrChain)
		if asked != 1 || nitro.KnownLen(v) != 1 {
			t.Fatalf("impostor %d: budget asked %d times (want 1), %d intermediates known (want 1)", i, asked, nitro.KnownLen(v))
		}
	}
	c, err := v.Verify(sign(t, ca, genuine(t)), testVerifyTime)
	checkResult(t, c, err, nil)

	// A verifier that learnt the intermediate from a genuine document.
	budget, asked = 1, 0
	w := newVerifier(t, nitro.Options{Roots: ca.Roots(), ColdChain: cold})
	c, err = w.Verify(sign(t, ca, genuine(t)), testVerifyTime)
	checkResult(t, c, err, nil)
	c, err = w.Verify(sign(t, ca, impostor), testVerifyTime)
	checkResult(t, c, err, attest.ErrChain)
	if asked != 1 || nitro.ChainVerifications(w) != 1 {
		t.Fatalf("budget asked %d times, %d chain verifications; want 1, 1", asked, nitro.ChainVerifications(w))
	}
}
