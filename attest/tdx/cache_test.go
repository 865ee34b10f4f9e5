package tdx

import (
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
)

// TestCache: a cached chain never turns a refusal into a pass: with the
// chain cached, a broken quote signature, a certificate outside its
// validity and a revoked PCK are refused as a cold verifier refuses them;
// a new chain is verified only if ColdChain admits it.
func TestCache(t *testing.T) {
	ca := newSimCA(t)
	asked := 0
	admit := true
	v := simVerifier(t, ca, writeCollateral(t, ca, attesttest.TDXCollateralOptions{}), Options{ColdChain: func() bool { asked++; return admit }})
	good := simEnvelope(t, ca, attesttest.TDXQuote{}, nil)
	c, err := v.Verify(marshal(t, good), simTime)
	attesttest.CheckResult(t, c, err, nil)
	if v.CachedChains() != 1 || asked != 1 {
		t.Fatalf("%d cached, asked %d", v.CachedChains(), asked)
	}
	bad := simEnvelope(t, ca, attesttest.TDXQuote{}, nil)
	bad.Quote[0x30+0x90] ^= 1
	c, err = v.Verify(marshal(t, bad), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrSignature)
	c, err = v.Verify(marshal(t, good), ca.PCK.NotAfter.Add(time.Hour))
	attesttest.CheckResult(t, c, err, attest.ErrExpired)
	if asked != 1 {
		t.Fatalf("asked %d on hits", asked)
	}
	// Another platform (another chain) is refused unverified when ColdChain declines.
	other := newSimCA(t)
	admit = false
	c, err = v.Verify(marshal(t, simEnvelope(t, other, attesttest.TDXQuote{}, nil)), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrThrottled)
	if v.CachedChains() != 1 {
		t.Fatal("a declined chain was cached")
	}
	// A chain refused is never cached.
	admit = true
	c, err = v.Verify(marshal(t, simEnvelope(t, other, attesttest.TDXQuote{}, nil)), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrChain)
	if v.CachedChains() != 1 {
		t.Fatal("a refused chain was cached")
	}
	// Revocation is judged at each call: the server's CRL now lists the cached PCK.
	dir := writeCollateral(t, ca, attesttest.TDXCollateralOptions{})
	v2 := simVerifier(t, ca, dir, Options{})
	c, err = v2.Verify(marshal(t, good), simTime)
	attesttest.CheckResult(t, c, err, nil)
	rewriteCollateral(t, ca, dir, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 18, RevokePCK: true})
	c, err = v2.Verify(marshal(t, good), simTime.Add(2*time.Second))
	attesttest.CheckResult(t, c, err, attest.ErrChain)
}
