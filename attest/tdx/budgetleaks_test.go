package tdx

import (
	"errors"
	"testing"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/envelope"
)

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
