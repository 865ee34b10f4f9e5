package tdx

import (
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
)

// TestAttestsimQuotes: what attestsim tdx-ca and attestsim tdx make (the
// simulator's attesttest.TDXCA, built apart from this verifier) verifies,
// in the directory layout its Save writes, and its hostile knobs are each
// refused with the kind this package gives them.
func TestAttestsimQuotes(t *testing.T) {
	ca, err := attesttest.NewTDXCA()
	if err != nil {
		t.Fatal(err)
	}
	now := simTime
	// attestsim's collateral: issued an hour ago, valid its 30 days.
	issued := attesttest.TDXCollateralOptions{IssueDate: now.Add(-time.Hour)}
	dir := writeCollateral(t, ca, issued)
	verifier := func(o Options) *Verifier { return simVerifier(t, ca, dir, o) }
	v := verifier(Options{})
	key := testKey
	for name, tc := range map[string]struct {
		q    attesttest.TDXQuote
		opts *Options
		want error
		says string
	}{
		"genuine":                    {q: attesttest.TDXQuote{Nonce: []byte("n")}},
		"SWHardeningNeeded":          {q: attesttest.TDXQuote{TCBStatus: "SWHardeningNeeded"}, want: attest.ErrPolicy, says: "SWHardeningNeeded"},
		"SWHardeningNeeded admitted": {q: attesttest.TDXQuote{TCBStatus: "SWHardeningNeeded"}, opts: &Options{AllowTCBStatus: []string{"SWHardeningNeeded"}}},
		"OutOfDate":                  {q: attesttest.TDXQuote{TCBStatus: "OutOfDate"}, want: attest.ErrPolicy, says: "OutOfDate"},
		"debug":                      {q: attesttest.TDXQuote{Debug: true}, want: attest.ErrPolicy, says: "debug TD"},
		"debug admitted":             {q: attesttest.TDXQuote{Debug: true}, opts: &Options{AllowDebug: true}},
		"wrong REPORTDATA":           {q: attesttest.TDXQuote{ReportData: make([]byte, 64)}, want: attest.ErrBinding},
		"QE report other key":        {q: attesttest.TDXQuote{QEReportOtherKey: true}, want: attest.ErrSignature},
		"QE report not by PCK":       {q: attesttest.TDXQuote{QEReportNotByPCK: true}, want: attest.ErrSignature},
		"bad quote signature":        {q: attesttest.TDXQuote{BadQuoteSignature: true}, want: attest.ErrSignature},
	} {
		t.Run(name, func(t *testing.T) {
			ev, err := ca.Evidence(key, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			vv := v
			if tc.opts != nil {
				vv = verifier(*tc.opts)
			}
			c, err := vv.Verify(ev, now)
			attesttest.CheckResult(t, c, err, tc.want)
			if tc.says != "" && !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("%q does not say %q", err, tc.says)
			}
			if err == nil && (c.TDX.FMSPC != ca.FMSPCHex() || c.Format != attest.FormatTDX) {
				t.Fatalf("claims %+v", c.TDX)
			}
		})
	}
	// Its collateral past nextUpdate (30 days), and of another FMSPC.
	ev, _ := ca.Evidence(key, attesttest.TDXQuote{})
	c, err := v.Verify(ev, now.AddDate(0, 0, 31))
	attesttest.CheckResult(t, c, err, attest.ErrExpired)
	other := [6]byte{1, 2, 3, 4, 5, 6}
	o := issued
	o.FMSPC = &other
	c, err = simVerifier(t, ca, writeCollateral(t, ca, o), Options{}).Verify(ev, now)
	attesttest.CheckResult(t, c, err, attest.ErrPolicy)
	// A revoked PCK.
	o = issued
	o.RevokePCK = true
	c, err = simVerifier(t, ca, writeCollateral(t, ca, o), Options{}).Verify(ev, now)
	attesttest.CheckResult(t, c, err, attest.ErrChain)
}
