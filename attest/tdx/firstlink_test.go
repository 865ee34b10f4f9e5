package tdx

import (
	"crypto/x509"
	"testing"

	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/envelope"
)

// TestKnownPartsKindsApart: the known parts of envelope collateral share
// one cache, their kinds kept apart only by their keys' domains. Were two
// kinds' keys to collide, an entry of the wrong kind under a part's key
// must leave that part not known (checked again each time: collateral is
// never made of it), not be read as that part, nor panic.
func TestKnownPartsKindsApart(t *testing.T) {
	ca := newSimCA(t)
	c := simCollateral(t, ca, attesttest.TDXCollateralOptions{})
	carried := &envelope.TDXCollateral{TCBInfo: c.TCBInfo, QEIdentity: c.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw, RootCRL: c.RootCRL}
	tcbSigned, tcbSig, err := splitSigned(c.TCBInfo, "tcbInfo")
	if err != nil {
		t.Fatal(err)
	}
	qeSigned, qeSig, err := splitSigned(c.QEIdentity, "enclaveIdentity")
	if err != nil {
		t.Fatal(err)
	}
	p := newCarriedParts(carried, ca.TCBSigning, tcbSigned, tcbSig, qeSigned, qeSig)
	col, err := NewCollateral(&Files{
		TCBInfos:   []Signed{{Body: c.TCBInfo, IssuerChain: c.TCBInfoIssuer}},
		QEIdentity: &Signed{Body: c.QEIdentity, IssuerChain: c.QEIdentityIssuer},
		RootCRL:    c.RootCRL,
	}, []*x509.Certificate{ca.Root})
	if err != nil {
		t.Fatal(err)
	}
	tcb := col.TCBInfos[c.FMSPC]
	parts := []struct {
		name string
		key  knownKey
		part knownPart
	}{
		{"signer", p.signerKey, knownPart{signerRoot: tcb.Root}},
		{"TCB Info", p.tcbKey, knownPart{tcbInfo: &tcb.Info}},
		{"QE Identity", p.qeKey, knownPart{qeIdentity: &col.QEIdentity.Identity}},
		{"root CRL", p.rootCRLKey, knownPart{rootCRL: col.RootCRL}},
	}
	// Each part takes one call to become known; the call after the last
	// makes collateral of them.
	firstLinks := func(v *Verifier) (made int) {
		t.Helper()
		for range len(parts) + 1 {
			got, err := v.collateralFirstLink(p, nil, simTime)
			if err != nil {
				t.Fatalf("genuine collateral: %v", err)
			}
			if got != nil {
				made++
			}
		}
		return made
	}
	if made := firstLinks(dirVerifier(t, "", Options{Roots: []*x509.Certificate{ca.Root}})); made != 1 {
		t.Fatalf("genuine collateral made %d times in %d calls; want once, at the last", made, len(parts)+1)
	}
	for _, at := range parts {
		for _, other := range parts {
			if other.name == at.name {
				continue
			}
			v := dirVerifier(t, "", Options{Roots: []*x509.Certificate{ca.Root}})
			v.knownParts.Put(at.key, other.part)
			if made := firstLinks(v); made != 0 {
				t.Errorf("%s held under the %s's key: collateral made %d times; want the %s never known", other.name, at.name, made, at.name)
			}
		}
	}
}
