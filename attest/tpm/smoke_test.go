package tpm_test

import (
	"testing"

	"github.com/attestkms/attestkms/attest/tpm/tpmtest"
)

func TestSmoke(t *testing.T) {
	for _, k := range []tpmtest.AKKind{tpmtest.AKECDSAP256, tpmtest.AKECDSAP384, tpmtest.AKRSA2048, tpmtest.AKRSA2048PSS} {
		ca := testCA(t, k)
		v := verifierFor(t, ca)
		c, err := v.Verify(evidence(t, ca, tpmtest.Quote{Nonce: []byte("n")}), testTime)
		checkResult(t, c, err, nil)
		t.Logf("%d: %+v %+v", k, c, c.TPM)
	}
}
