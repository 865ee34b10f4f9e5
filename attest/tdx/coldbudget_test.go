package tdx

import (
	"errors"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/envelope"
)

// TestStaleCollateralSpendsNoColdBudget: every genuine TCB Info PCS ever
// issued (each day's, each FMSPC's, each older evaluation's: public,
// archived by anyone) passes a gate that checks only a carried part's
// signature. Beside a public quote whose chain is cached, each one new to
// the node would then spend a unit of the node-wide budget and the
// verifications behind it, and only then be refused (ErrExpired). So the
// gate first refuses what costs nothing to refuse (carriedFresh: its
// nextUpdate plus grace, its evaluation number against the server's
// floor): ten stale parts, no unit.
func TestStaleCollateralSpendsNoColdBudget(t *testing.T) {
	ca := newSimCA(t)
	cold, asked := coldBudget(100)
	admit := true
	v := simVerifier(t, ca, writeCollateral(t, ca, attesttest.TDXCollateralOptions{}), Options{ColdChain: func() bool { return admit || cold() }})
	e := simEnvelope(t, ca, attesttest.TDXQuote{}, nil)
	c, err := v.Verify(marshal(t, e), simTime) // the chain, now cached
	attesttest.CheckResult(t, c, err, nil)
	current := simCollateral(t, ca, attesttest.TDXCollateralOptions{})
	admit = false
	for i := range 10 {
		issued := simTime.AddDate(0, 0, -90+i) // nextUpdate 30 days later: long past
		stale := simCollateral(t, ca, attesttest.TDXCollateralOptions{IssueDate: issued})
		e.Collateral = &envelope.TDXCollateral{TCBInfo: stale.TCBInfo, QEIdentity: current.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw}
		c, err = v.Verify(marshal(t, e), simTime)
		if !errors.Is(err, attest.ErrExpired) {
			t.Fatalf("stale collateral %d: %v, want ErrExpired", i, err)
		}
		_ = c
	}
	if *asked != 0 {
		t.Errorf("10 genuine but stale TCB Infos (nextUpdate %s and earlier, now %s) each asked the cold-chain budget: %d units spent on collateral refused as expired",
			simTime.AddDate(0, 0, -51).Format(time.DateOnly), simTime.Format(time.DateOnly), *asked)
	}
}

// TestRefusableCollateralSpendsNoColdBudget: beside a quote whose chain is
// cached, genuine envelope collateral that costs no signature to refuse
// (stale QE Identity, TCB Info or QE Identity of an evaluation below the
// server's, TCB Info below Options.MinTCBEvaluationNumber) is refused ErrExpired
// before the cold-chain budget is asked.
func TestRefusableCollateralSpendsNoColdBudget(t *testing.T) {
	ca := newSimCA(t)
	cold, asked := coldBudget(100)
	admit := true
	const ev = attesttest.DefaultTDXTCBEvaluationDataNumber
	v := simVerifier(t, ca, writeCollateral(t, ca, attesttest.TDXCollateralOptions{}), Options{ColdChain: func() bool { return admit || cold() }})
	e := simEnvelope(t, ca, attesttest.TDXQuote{}, nil)
	c, err := v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, nil)
	admit = false
	current := simCollateral(t, ca, attesttest.TDXCollateralOptions{})
	stale := simCollateral(t, ca, attesttest.TDXCollateralOptions{IssueDate: simTime.AddDate(0, 0, -60)})
	old := simCollateral(t, ca, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: ev - 1})
	older := simCollateral(t, ca, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: ev - 2})
	for name, col := range map[string]*envelope.TDXCollateral{
		"stale QE Identity":       {TCBInfo: current.TCBInfo, QEIdentity: stale.QEIdentity},
		"rolled-back TCB Info":    {TCBInfo: old.TCBInfo, QEIdentity: current.QEIdentity},
		"rolled-back QE Identity": {TCBInfo: current.TCBInfo, QEIdentity: old.QEIdentity},
		"TCB Info below minimum":  {TCBInfo: older.TCBInfo, QEIdentity: older.QEIdentity},
	} {
		col.TCBSigningCert = ca.TCBSigning.Raw
		e.Collateral = col
		c, err := v.Verify(marshal(t, e), simTime)
		if !errors.Is(err, attest.ErrExpired) {
			t.Errorf("%s: %v, want ErrExpired", name, err)
		}
		_ = c
		if *asked != 0 {
			t.Fatalf("%s asked the cold-chain budget %d times; want 0", name, *asked)
		}
	}

	// A server whose own collateral is older than the minimum: the
	// envelope's, as old, passes the floor and meets the minimum.
	admit = true
	v = simVerifier(t, ca, writeCollateral(t, ca, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: ev - 2}), Options{MinTCBEvaluationNumber: ev - 1, ColdChain: func() bool { return admit || cold() }})
	e.Collateral = &envelope.TDXCollateral{TCBInfo: current.TCBInfo, QEIdentity: current.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw}
	c, err = v.Verify(marshal(t, e), simTime) // the chain, now cached
	attesttest.CheckResult(t, c, err, nil)
	admit = false
	e.Collateral = &envelope.TDXCollateral{TCBInfo: older.TCBInfo, QEIdentity: current.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw}
	if _, err := v.Verify(marshal(t, e), simTime); !errors.Is(err, attest.ErrExpired) {
		t.Errorf("TCB Info below the minimum: %v, want ErrExpired", err)
	}
	if *asked != 0 {
		t.Errorf("TCB Info below the minimum asked the cold-chain budget %d times; want 0", *asked)
	}
}

// TestForgedRootCRLSpendsNoColdBudget: beside genuine TCB Info and QE
// Identity already known, a root CRL the forger signed (under the root's
// name, another key) is the first part not known to be genuine; it is
// refused at its signature, without the budget, and is not learnt.
func TestForgedRootCRLSpendsNoColdBudget(t *testing.T) {
	ca, forger := newSimCA(t), newSimCA(t)
	cold, asked := coldBudget(100)
	admit := true
	v := simVerifier(t, ca, writeCollateral(t, ca, attesttest.TDXCollateralOptions{}), Options{ColdChain: func() bool { return admit || cold() }})
	col := simCollateral(t, ca, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 18})
	e := simEnvelope(t, ca, attesttest.TDXQuote{}, nil)
	e.Collateral = &envelope.TDXCollateral{TCBInfo: col.TCBInfo, QEIdentity: col.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw, RootCRL: col.RootCRL}
	c, err := v.Verify(marshal(t, e), simTime) // the chain and every part, now known
	attesttest.CheckResult(t, c, err, nil)
	admit = false
	forged := simCollateral(t, forger, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 18})
	e.Collateral = &envelope.TDXCollateral{TCBInfo: col.TCBInfo, QEIdentity: col.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw, RootCRL: forged.RootCRL}
	known := v.knownParts.Len()
	for i := range 3 {
		c, err = v.Verify(marshal(t, e), simTime)
		attesttest.CheckResult(t, c, err, attest.ErrChain)
		if *asked != 0 || v.knownParts.Len() != known {
			t.Fatalf("forged root CRL %d: budget asked %d times, %d parts known (want 0, %d)", i, *asked, v.knownParts.Len(), known)
		}
	}
}
