package tdx

import (
	"crypto/x509"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/attest"
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

// TestPCKFirstLinkSpendsNoColdBudget: the PCK chain's first link, while
// its PCK CA is not known, is the CA's, checked with the key of a
// configured root of the name it gives as its issuer; each way it can fail
// is refused ErrChain without asking the budget, and the CA is not learnt:
// a certificate the root genuinely signed but that is no CA (Intel's TCB
// signing certificate, public in every PCS response, copied above the
// forger's PCK certificate); a CA whose issuer is no configured root (the
// genuine chain, with only its PCK CA configured as a root: the link
// checked stays the CA's, never the PCK certificate's with that "root");
// and a PCK CA of another key under Intel's names (a forged CA). Then the
// genuine chain, asking once, and its CA known.
func TestPCKFirstLinkSpendsNoColdBudget(t *testing.T) {
	ca, forger := newSimCA(t), newSimCA(t)
	for _, tc := range []struct {
		name  string
		roots []*x509.Certificate
		by    *attesttest.TDXCA
		chain []byte
		says  string
	}{
		{"a root-signed certificate that is no CA", []*x509.Certificate{ca.Root}, forger, pemOf(forger.PCK, ca.TCBSigning, ca.Root), "is not a CA"},
		{"the PCK CA as the only root", []*x509.Certificate{ca.PlatformCA}, ca, nil, "names an issuer that is neither a trusted root"},
		{"a forged PCK CA", []*x509.Certificate{ca.Root}, forger, nil, "is not signed by the trusted root it names as its issuer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cold, asked := coldBudget(100)
			v := dirVerifier(t, "", Options{Roots: tc.roots, ColdChain: cold})
			c, err := v.Verify(marshal(t, simEnvelope(t, tc.by, attesttest.TDXQuote{PCKChain: tc.chain}, nil)), simTime)
			attesttest.CheckResult(t, c, err, attest.ErrChain)
			if !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("%q does not say %q", err, tc.says)
			}
			if *asked != 0 || v.knownCAs.Len() != 0 {
				t.Fatalf("budget asked %d times, %d CAs known; want 0, 0", *asked, v.knownCAs.Len())
			}
		})
	}
	cold, asked := coldBudget(100)
	v := dirVerifier(t, "", Options{Roots: []*x509.Certificate{ca.Root}, ColdChain: cold})
	c, err := v.Verify(marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{}, nil)), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrPolicy) // no collateral: past the chain
	if *asked != 1 || !v.knownCAs.Has(ca.PlatformCA) {
		t.Fatalf("genuine chain: budget asked %d times (want 1), its CA known %v", *asked, v.knownCAs.Has(ca.PlatformCA))
	}
}
