//go:build tpmsim

// This test drives Microsoft's reference TPM simulator (cgo, OpenSSL
// headers) through the enclave's TPM attestor, so that attest/tpm is held to
// what a real TPM produces and not only to tpmtest's idea of it. It is
// behind the tpmsim tag, as enclave's own simulator test is:
// go test -tags tpmsim ./attest/tpm

package tpm_test

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/tpm"
	"github.com/attestkms/attestkms/enclave"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport/simulator"
)

func TestSimulatorQuote(t *testing.T) {
	sim, err := simulator.OpenSimulator()
	if err != nil {
		t.Skipf("no TPM simulator: %v", err)
	}
	sim.Close()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der := spki(t, &k.PublicKey)
	a := enclave.TPM{Open: simulator.OpenSimulator, PCRs: []uint{0, 7, 16, 23}}
	ev, err := a.Attest(der, []byte("nonce"), []byte("user data"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := envelope.Decode(ev)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](e.AKPublic)
	if err != nil {
		t.Fatal(err)
	}
	akKey, err := tpm2.Pub(*pub)
	if err != nil {
		t.Fatal(err)
	}

	// Not pinned: refused. Pinned: verified, with the simulator's PCRs.
	c, err := newVerifier(t, tpm.Options{Roots: parseRoots(t, testCA(t, 0).RootsPEM())}).Verify(ev, testTime)
	checkResult(t, c, err, attest.ErrChain)
	v := newVerifier(t, tpm.Options{Roots: parseRoots(t, pemPublicKey(t, akKey))})
	c, err = v.Verify(ev, testTime)
	checkResult(t, c, err, nil)
	if c.TPM.Bank != "SHA256" || len(c.TPM.PCRs) != 4 || string(c.Nonce) != "nonce" || string(c.UserData) != "user data" {
		t.Fatalf("claims %+v, %+v", c, c.TPM)
	}
	t.Logf("simulator quote: clock %d, reset %d, restart %d", c.TPM.Clock, c.TPM.ResetCount, c.TPM.RestartCount)

	// Another key, nonce or user data in the envelope: not bound.
	e.Nonce = []byte("other")
	c, err = tpm.VerifyEnvelope(v, e, testTime)
	checkResult(t, c, err, attest.ErrBinding)
}
