package tdx

import (
	"bytes"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/envelope"
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
	// Another platform (another chain, here under another trusted root) is
	// refused unverified when ColdChain declines.
	other := newSimCA(t)
	w := dirVerifier(t, writeCollateral(t, ca, attesttest.TDXCollateralOptions{}), Options{Roots: []*x509.Certificate{ca.Root, other.Root}, ColdChain: func() bool { asked++; return admit }})
	c, err = w.Verify(marshal(t, good), simTime)
	attesttest.CheckResult(t, c, err, nil)
	admit = false
	c, err = w.Verify(marshal(t, simEnvelope(t, other, attesttest.TDXQuote{}, nil)), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrThrottled)
	if w.CachedChains() != 1 {
		t.Fatal("a declined chain was cached")
	}
	// A chain refused is never cached: here one that passes the first link
	// (a PCK certificate of another key under the genuine PCK CA's name,
	// which is not known yet), and fails the full verification.
	admit = true
	asked = 0
	copied := attesttest.TDXQuote{PCKChain: pemOf(other.PCK, ca.PlatformCA, ca.Root)}
	c, err = v.Verify(marshal(t, simEnvelope(t, other, copied, nil)), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrChain)
	if v.CachedChains() != 1 || asked != 0 {
		t.Fatalf("a chain refused at its first link: %d cached, asked %d", v.CachedChains(), asked)
	}
	v.knownCAs.Reset()
	c, err = v.Verify(marshal(t, simEnvelope(t, other, copied, nil)), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrChain)
	if v.CachedChains() != 1 || asked != 1 {
		t.Fatalf("a chain refused by the full verification: %d cached, asked %d", v.CachedChains(), asked)
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

// TestCarriedCollateralColdBudget: collateral carried in an envelope and
// not verified before spends the cold-chain budget, even with the quote's
// chain cached; collateral verified before does not ask, however its
// unsigned parts are spelt (the outer JSON's whitespace, the signature's
// hex case, its other valid form (r, n-s)); other collateral is new.
func TestCarriedCollateralColdBudget(t *testing.T) {
	ca := newSimCA(t)
	asked, admit := 0, true
	v := simVerifier(t, ca, writeCollateral(t, ca, attesttest.TDXCollateralOptions{}), Options{ColdChain: func() bool { asked++; return admit }})
	e := simEnvelope(t, ca, attesttest.TDXQuote{}, nil)
	c, err := v.Verify(marshal(t, e), simTime) // the chain, now cached
	attesttest.CheckResult(t, c, err, nil)
	col := simCollateral(t, ca, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 18})
	e.Collateral = &envelope.TDXCollateral{TCBInfo: col.TCBInfo, QEIdentity: col.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw}
	admit = false
	c, err = v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrThrottled)
	admit = true
	c, err = v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, nil)
	asked = 0
	admit = false
	c, err = v.Verify(marshal(t, e), simTime) // the same bytes: verified before
	attesttest.CheckResult(t, c, err, nil)
	if asked != 0 {
		t.Fatalf("asked %d times for collateral verified before", asked)
	}
	// The same signed collateral, spelt otherwise: verified before.
	e.Collateral.TCBInfo = append([]byte(" "), col.TCBInfo...)
	e.Collateral.QEIdentity = respell(t, col.QEIdentity, "enclaveIdentity")
	before := v.carried.Len()
	c, err = v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, nil)
	if asked != 0 || v.carried.Len() != before {
		t.Fatalf("a respelling was new: asked %d, %d cached (was %d)", asked, v.carried.Len(), before)
	}
	// Other collateral is new.
	col = simCollateral(t, ca, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 19})
	e.Collateral = &envelope.TDXCollateral{TCBInfo: col.TCBInfo, QEIdentity: col.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw}
	c, err = v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrThrottled)
}

// respell rewrites signed PCS JSON without changing what is signed: the
// fields in the other order, spaces, the signature (r, n-s) in upper case.
func respell(t *testing.T, body []byte, field string) []byte {
	t.Helper()
	var raw map[string]json.RawMessage
	var sigHex string
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw["signature"], &sigHex); err != nil {
		t.Fatal(err)
	}
	sig, err := hex.DecodeString(sigHex)
	if err != nil || len(sig) != 64 {
		t.Fatal(sig, err)
	}
	n := elliptic.P256().Params().N
	s := new(big.Int).Sub(n, new(big.Int).SetBytes(sig[32:]))
	sig = append(sig[:32:32], s.FillBytes(make([]byte, 32))...)
	return []byte(fmt.Sprintf(` { "signature" : "%s" , %q : %s } `, strings.ToUpper(hex.EncodeToString(sig)), field, raw[field]))
}

// TestCarriedCollateralCacheNotPolluted: a request whose envelope PCK CRL
// does not verify leaves nothing in the collateral cache, and the PCK CRL's
// bytes do not make the rest of the collateral new: varying them neither
// adds entries (evicting good ones) nor spends the cold-chain budget.
func TestCarriedCollateralCacheNotPolluted(t *testing.T) {
	ca := newSimCA(t)
	asked := 0
	v := simVerifier(t, ca, writeCollateral(t, ca, attesttest.TDXCollateralOptions{}), Options{ColdChain: func() bool { asked++; return true }})
	col := simCollateral(t, ca, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 18})
	e := simEnvelope(t, ca, attesttest.TDXQuote{}, nil)
	e.Collateral = &envelope.TDXCollateral{TCBInfo: col.TCBInfo, QEIdentity: col.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw, PCKCRL: col.PCKCRL}
	c, err := v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, nil)
	if n := v.carried.Len(); n != 1 || asked != 2 { // the chain, the collateral
		t.Fatalf("%d cached, asked %d", n, asked)
	}
	for i := range 20 {
		e.Collateral.PCKCRL = []byte{0x30, byte(i)} // not a CRL
		c, err := v.Verify(marshal(t, e), simTime)
		attesttest.CheckResult(t, c, err, attest.ErrMalformed)
	}
	if n := v.carried.Len(); n != 1 || asked != 2 {
		t.Fatalf("after PCK CRLs that do not verify: %d cached, asked %d", n, asked)
	}
}

// coldBudget is a budget of n units, counting how often it was asked.
func coldBudget(n int) (cold func() bool, asked *int) {
	asked = new(int)
	return func() bool {
		*asked++
		if n == 0 {
			return false
		}
		n--
		return true
	}, asked
}

// pemOf is certificates as a quote's PCK chain carries them.
func pemOf(certs ...*x509.Certificate) []byte {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
}

// TestForgedPCKChainSpendsNoColdBudget: the budget for new chains
// (--cold-chain-limit, one bucket for the whole node, shared by every
// client) is what a genuine new TDX platform needs to be served. A forger
// needs no genuine key to make a quote whose signatures verify with the PCK
// certificate it carries and whose certificates name Intel's: its own CA
// under the same names (here another test CA: same subjects, other keys).
// Such a quote must be refused without spending the budget: here a bucket
// of one, which a genuine quote of a new platform must still find.
func TestForgedPCKChainSpendsNoColdBudget(t *testing.T) {
	ca, forger := newSimCA(t), newSimCA(t)
	if !bytes.Equal(forger.Root.RawSubject, ca.Root.RawSubject) || !bytes.Equal(forger.PCK.RawIssuer, ca.PlatformCA.RawSubject) {
		t.Fatal("the forger's CA is not named as the trusted one")
	}
	cold, _ := coldBudget(1)
	v := simVerifier(t, ca, writeCollateral(t, ca, attesttest.TDXCollateralOptions{}), Options{ColdChain: cold})
	c, err := v.Verify(marshal(t, simEnvelope(t, forger, attesttest.TDXQuote{}, nil)), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrChain)
	c, err = v.Verify(marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{}, nil)), simTime)
	if errors.Is(err, attest.ErrThrottled) {
		t.Fatalf("a forged PCK chain spent the budget a genuine new platform needed: %v", err)
	}
	attesttest.CheckResult(t, c, err, nil)
}

// TestForgedCollateralSpendsNoColdBudget: collateral carried in an envelope
// and not verified before spends the same budget as a new chain, even with
// the quote's chain cached (a genuine quote is no secret: any published one
// will do, the binding is checked after the collateral). Collateral a
// forger made must be refused without spending it: a TCB signing
// certificate of its own under Intel's names, or Intel's genuine signing
// certificate (in every PCS response) beside TCB Info and QE Identity the
// forger signed. Here a bucket of one, which genuine new collateral must
// still find.
func TestForgedCollateralSpendsNoColdBudget(t *testing.T) {
	ca, forger := newSimCA(t), newSimCA(t)
	cold, asked := coldBudget(1)
	admit := true
	v := simVerifier(t, ca, writeCollateral(t, ca, attesttest.TDXCollateralOptions{}), Options{ColdChain: func() bool { return admit || cold() }})
	e := simEnvelope(t, ca, attesttest.TDXQuote{}, nil)
	c, err := v.Verify(marshal(t, e), simTime) // the chain, now cached
	attesttest.CheckResult(t, c, err, nil)
	admit = false
	forged := simCollateral(t, forger, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 18})
	for _, tc := range []struct {
		name   string
		signer *x509.Certificate
	}{{"a forged signing certificate", forger.TCBSigning}, {"Intel's signing certificate", ca.TCBSigning}} {
		e.Collateral = &envelope.TDXCollateral{TCBInfo: forged.TCBInfo, QEIdentity: forged.QEIdentity, TCBSigningCert: tc.signer.Raw, RootCRL: forged.RootCRL}
		c, err = v.Verify(marshal(t, e), simTime)
		attesttest.CheckResult(t, c, err, attest.ErrChain)
		if *asked != 0 {
			t.Fatalf("forged collateral with %s asked the budget", tc.name)
		}
	}
	col := simCollateral(t, ca, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 18})
	e.Collateral = &envelope.TDXCollateral{TCBInfo: col.TCBInfo, QEIdentity: col.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw, RootCRL: col.RootCRL}
	c, err = v.Verify(marshal(t, e), simTime)
	if errors.Is(err, attest.ErrThrottled) {
		t.Fatalf("forged collateral spent the budget genuine new collateral needed: %v", err)
	}
	attesttest.CheckResult(t, c, err, nil)
}

// TestCopiedPCKCASpendsColdBudgetOnce: a forger who copies the genuine PCK
// Platform CA (every quote carries it) into its chain above a PCK
// certificate of its own (issued under the CA's name by another key) gets
// past the first link the first time, when the CA is new to the node, and
// spends one unit of the budget; the CA is known from then on, so the next
// such quote is refused at the PCK certificate's link and spends nothing.
// Once a genuine quote has verified, its CA is known, and a copy spends
// nothing even the first time.
func TestCopiedPCKCASpendsColdBudgetOnce(t *testing.T) {
	ca, forger := newSimCA(t), newSimCA(t)
	copied := attesttest.TDXQuote{PCKChain: pemOf(forger.PCK, ca.PlatformCA, ca.Root)}
	dir := writeCollateral(t, ca, attesttest.TDXCollateralOptions{})
	cold, asked := coldBudget(2)
	v := simVerifier(t, ca, dir, Options{ColdChain: cold})
	for i := range 3 {
		c, err := v.Verify(marshal(t, simEnvelope(t, forger, copied, nil)), simTime)
		attesttest.CheckResult(t, c, err, attest.ErrChain)
		if *asked != 1 || v.knownCAs.Len() != 1 {
			t.Fatalf("forgery %d: budget asked %d times (want 1), %d intermediates known (want 1)", i, *asked, v.knownCAs.Len())
		}
	}
	c, err := v.Verify(marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{}, nil)), simTime)
	attesttest.CheckResult(t, c, err, nil)

	cold, asked = coldBudget(1)
	w := simVerifier(t, ca, dir, Options{ColdChain: cold})
	c, err = w.Verify(marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{}, nil)), simTime)
	attesttest.CheckResult(t, c, err, nil)
	c, err = w.Verify(marshal(t, simEnvelope(t, forger, copied, nil)), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrChain)
	if *asked != 1 {
		t.Fatalf("budget asked %d times; want 1", *asked)
	}
}

// TestCopiedCollateralSpendsColdBudgetOnce: carried collateral is four
// parts, each signed on its own (the TCB signing certificate by the root,
// TCB Info and QE Identity by that certificate, the root CRL by the root),
// and every genuine part is public. A forger who copies genuine TCB Info
// beside a QE Identity of its own gets past the first part not known to be
// genuine the first time, when that TCB Info is new to the node, and spends
// one unit; the TCB Info is known from then on, so the next such collateral
// is refused at the QE Identity, and spends nothing, however often it is
// sent and whatever else in it changes.
func TestCopiedCollateralSpendsColdBudgetOnce(t *testing.T) {
	ca, forger := newSimCA(t), newSimCA(t)
	cold, asked := coldBudget(2)
	admit := true
	v := simVerifier(t, ca, writeCollateral(t, ca, attesttest.TDXCollateralOptions{}), Options{ColdChain: func() bool { return admit || cold() }})
	e := simEnvelope(t, ca, attesttest.TDXQuote{}, nil)
	c, err := v.Verify(marshal(t, e), simTime) // the chain, now cached
	attesttest.CheckResult(t, c, err, nil)
	admit = false
	col := simCollateral(t, ca, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 18})
	for i := range 3 {
		forged := simCollateral(t, forger, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 18 + i})
		e.Collateral = &envelope.TDXCollateral{TCBInfo: col.TCBInfo, QEIdentity: forged.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw}
		c, err = v.Verify(marshal(t, e), simTime)
		attesttest.CheckResult(t, c, err, attest.ErrChain)
		if *asked != 1 {
			t.Fatalf("forgery %d: budget asked %d times; want 1", i, *asked)
		}
	}
	e.Collateral = &envelope.TDXCollateral{TCBInfo: col.TCBInfo, QEIdentity: col.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw}
	c, err = v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, nil)
	if *asked != 2 {
		t.Fatalf("genuine collateral: budget asked %d times in all; want 2", *asked)
	}
}

// TestRecombinedCollateralSpendsNoColdBudget: collateral whose every part
// was verified before (here TCB Info of one genuine collateral, QE Identity
// and root CRL of another) is genuine, but new to the cache: made of the
// parts as they verified, it spends no budget (recombinations of public
// genuine parts, enough of them to cycle the cache, would otherwise spend
// it for ever), and is judged exactly as collateral verified in full.
func TestRecombinedCollateralSpendsNoColdBudget(t *testing.T) {
	ca := newSimCA(t)
	admit := true
	cold, asked := coldBudget(0)
	dir := writeCollateral(t, ca, attesttest.TDXCollateralOptions{})
	v := simVerifier(t, ca, dir, Options{ColdChain: func() bool { return admit || cold() }})
	e := simEnvelope(t, ca, attesttest.TDXQuote{}, nil)
	a := simCollateral(t, ca, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 18})
	b := simCollateral(t, ca, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 19})
	for _, col := range []*attesttest.TDXCollateral{a, b} {
		e.Collateral = &envelope.TDXCollateral{TCBInfo: col.TCBInfo, QEIdentity: col.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw, RootCRL: col.RootCRL}
		c, err := v.Verify(marshal(t, e), simTime)
		attesttest.CheckResult(t, c, err, nil)
	}
	admit = false
	e.Collateral = &envelope.TDXCollateral{TCBInfo: a.TCBInfo, QEIdentity: b.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw, RootCRL: b.RootCRL}
	before := v.carried.Len()
	c, err := v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, nil)
	if *asked != 0 || v.carried.Len() != before+1 {
		t.Fatalf("recombined genuine collateral: budget asked %d times, %d cached (was %d)", *asked, v.carried.Len(), before)
	}
	w := simVerifier(t, ca, dir, Options{})
	want, err := w.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, want, err, nil)
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("claims from recombined known parts differ from a full verification's:\n%+v\n%+v", c.TDX, want.TDX)
	}
}
