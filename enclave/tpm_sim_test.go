//go:build tpmsim

// The TPM attestor's test drives Microsoft's reference TPM simulator, which
// cgo builds with OpenSSL's headers; it is behind the tpmsim tag so that
// "go test ./..." needs neither. .ci/run runs it: go test -tags tpmsim ./enclave

package enclave

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/simulator"

	"github.com/attestkms/attestkms/attest/envelope"
)

// simTPM opens the reference TPM simulator (Microsoft's, built by cgo).
func simTPM(t *testing.T) func() (transport.TPMCloser, error) {
	t.Helper()
	sim, err := simulator.OpenSimulator()
	if err != nil {
		t.Skipf("no TPM simulator: %v", err)
	}
	sim.Close()
	return simulator.OpenSimulator
}

// TestTPMAttestor drives the attestor against the TPM simulator and checks
// the envelope a server would: the quote's extraData is the Binding, its
// PCR digest is the hash of the values sent, and the AK's public area is the
// key that signed it.
func TestTPMAttestor(t *testing.T) {
	k, err := NewKey(2048)
	if err != nil {
		t.Fatal(err)
	}
	a := TPM{Open: simTPM(t), PCRs: []uint{0, 7, 16}}
	b, err := a.Attest(k.PublicKeyDER(), []byte("nonce"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := envelope.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.AKCert != nil || e.AKPublic == nil || len(e.PCRs) != 3 {
		t.Fatalf("envelope: ak_cert %d bytes, ak_public %d bytes, %d pcrs", len(e.AKCert), len(e.AKPublic), len(e.PCRs))
	}
	q, err := tpm2.Unmarshal[tpm2.TPMSAttest](e.Quote)
	if err != nil {
		t.Fatal(err)
	}
	if q.Magic != tpm2.TPMGeneratedValue || q.Type != tpm2.TPMSTAttestQuote {
		t.Fatalf("magic %x type %x", q.Magic, q.Type)
	}
	if !bytes.Equal(q.ExtraData.Buffer, e.Binding(crypto.SHA256)) {
		t.Fatal("extraData is not the envelope's binding")
	}
	info, err := q.Attested.Quote()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, i := range []int{0, 7, 16} {
		h.Write(e.PCRs[i])
	}
	if !bytes.Equal(info.PCRDigest.Buffer, h.Sum(nil)) {
		t.Fatal("the quoted PCR digest is not the hash of the PCR values sent")
	}
	if _, err := tpm2.Unmarshal[tpm2.TPMTSignature](e.Signature); err != nil {
		t.Fatal(err)
	}
	if _, err := tpm2.Unmarshal[tpm2.TPMTPublic](e.AKPublic); err != nil {
		t.Fatal(err)
	}
}
