package tdx

import (
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/envelope"
)

// TestPCKChainValidityWindow: each certificate of the PCK chain (the PCK
// certificate, its CA, the quote's root) is judged by its own window, both
// ends included, on a cold verifier and on a cache hit alike: one second
// outside either end is ErrExpired naming that certificate, the end itself
// verifies. (The sim certificates all start at TDXNotBefore; each test CA
// ends one of them an hour after simTime.)
func TestPCKChainValidityWindow(t *testing.T) {
	end := simTime.Add(time.Hour)
	for _, tc := range []struct {
		name string
		o    attesttest.TDXCAOptions
	}{
		{"PCK certificate", attesttest.TDXCAOptions{PCKNotAfter: end}},
		{"PCK CA certificate", attesttest.TDXCAOptions{PlatformCANotAfter: end}},
		{"root certificate", attesttest.TDXCAOptions{RootNotAfter: end}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.FMSPC = &simFMSPC
			ca, err := attesttest.NewTDXCAWith(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			dir := writeCollateral(t, ca, attesttest.TDXCollateralOptions{})
			ev := marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{}, nil))
			refused := func(v *Verifier, at time.Time, says string) {
				t.Helper()
				c, err := v.Verify(ev, at)
				attesttest.CheckResult(t, c, err, attest.ErrExpired)
				if !strings.Contains(err.Error(), says) {
					t.Fatalf("at %s: %q does not say %q", at, err, says)
				}
			}
			// Cold, at each end and one second outside it.
			for _, at := range []time.Time{attesttest.TDXNotBefore, end} {
				c, err := simVerifier(t, ca, dir, Options{}).Verify(ev, at)
				attesttest.CheckResult(t, c, err, nil)
			}
			refused(simVerifier(t, ca, dir, Options{}), attesttest.TDXNotBefore.Add(-time.Second), "is not valid before")
			refused(simVerifier(t, ca, dir, Options{}), end.Add(time.Second), tc.name+" expired at")
			// A hit: the chain verified (and cached) at its last valid
			// second, refused the second after, and before its start.
			v := simVerifier(t, ca, dir, Options{})
			c, err := v.Verify(ev, end)
			attesttest.CheckResult(t, c, err, nil)
			if v.CachedChains() != 1 {
				t.Fatalf("%d chains cached", v.CachedChains())
			}
			refused(v, end.Add(time.Second), tc.name+" expired at")
			refused(v, attesttest.TDXNotBefore.Add(-time.Second), "is not valid before")
		})
	}
}

// TestCollateralSignerValidityWindow: the TCB signing certificate of the
// collateral a quote is judged by is checked at each use within its
// window, both ends included: the server's (checked in collateral()) and
// an envelope's (checked first in carriedFresh, before the cold-chain
// budget, which an expired or not yet valid signer never asks).
func TestCollateralSignerValidityWindow(t *testing.T) {
	start, end := simTime.Add(-time.Hour), simTime.Add(time.Hour)
	ca, err := attesttest.NewTDXCAWith(attesttest.TDXCAOptions{FMSPC: &simFMSPC, TCBSigningNotBefore: start, TCBSigningNotAfter: end})
	if err != nil {
		t.Fatal(err)
	}
	col := simCollateral(t, ca, attesttest.TDXCollateralOptions{})
	dir := writeCollateral(t, ca, attesttest.TDXCollateralOptions{})
	e := simEnvelope(t, ca, attesttest.TDXQuote{}, nil)
	server := marshal(t, e)
	e.Collateral = &envelope.TDXCollateral{TCBInfo: col.TCBInfo, QEIdentity: col.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw, PCKCRL: col.PCKCRL, RootCRL: col.RootCRL}
	carried := marshal(t, e)
	for _, tc := range []struct {
		name string
		dir  string
		ev   []byte
	}{
		{"server's", dir, server},
		{"envelope's", "", carried},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, at := range []time.Time{start, end} {
				c, err := simVerifier(t, ca, tc.dir, Options{}).Verify(tc.ev, at)
				attesttest.CheckResult(t, c, err, nil)
			}
			for at, says := range map[time.Time]string{
				start.Add(-time.Second): "collateral signing certificate",
				end.Add(time.Second):    "collateral signing certificate",
			} {
				cold, asked := coldBudget(100)
				v := simVerifier(t, ca, tc.dir, Options{ColdChain: cold})
				c, err := v.Verify(tc.ev, at)
				attesttest.CheckResult(t, c, err, attest.ErrExpired)
				if !strings.Contains(err.Error(), says) {
					t.Fatalf("at %s: %q does not say %q", at, err, says)
				}
				// The PCK chain is the one unit; an envelope's signer
				// outside its window asks none more.
				if *asked != 1 {
					t.Errorf("at %s: the cold-chain budget asked %d times; want once, for the PCK chain", at, *asked)
				}
			}
		})
	}
}
