package tdx

import (
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest/attesttest"
)

// TestConcurrentVerify: one Verifier, many goroutines, the collateral
// directory rewritten meanwhile (run with -race).
func TestConcurrentVerify(t *testing.T) {
	ca := newSimCA(t)
	dir := writeCollateral(t, ca, attesttest.TDXCollateralOptions{})
	v := simVerifier(t, ca, dir, Options{CacheSize: 2})
	good := marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{}, nil))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				at := simTime.Add(time.Duration(g*20+i) * time.Second)
				if c, err := v.Verify(good, at); err != nil || c == nil {
					t.Errorf("verify: %v", err)
					return
				}
			}
		}()
	}
	rewriteCollateral(t, ca, dir, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 18})
	wg.Wait()
}
