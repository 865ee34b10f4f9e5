package tdx

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"reflect"
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

// TestVerifyPartsIsNewCollateral: the cold path of envelope collateral
// verifies each part once (verifyParts, taking a part known as it
// verified) where it called NewCollateral on the same files; it must
// decide as NewCollateral does and make the same collateral. For genuine
// collateral (with and without a root CRL) and for each part forged in
// turn, verifyParts on a verifier that knows nothing, and on one that
// knows each genuine part in turn (as after a first link), either fails
// with NewCollateral's kind or makes what NewCollateral makes.
func TestVerifyPartsIsNewCollateral(t *testing.T) {
	ca, forger := newSimCA(t), newSimCA(t)
	roots := []*x509.Certificate{ca.Root}
	good := simCollateral(t, ca, attesttest.TDXCollateralOptions{})
	forged := simCollateral(t, forger, attesttest.TDXCollateralOptions{})
	genuine := &envelope.TDXCollateral{TCBInfo: good.TCBInfo, QEIdentity: good.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw, RootCRL: good.RootCRL}
	with := func(f func(c *envelope.TDXCollateral)) *envelope.TDXCollateral {
		c := *genuine
		f(&c)
		return &c
	}
	kinds := []error{attest.ErrMalformed, attest.ErrChain, attest.ErrExpired}
	kindOf := func(err error) error {
		for _, k := range kinds {
			if errors.Is(err, k) {
				return k
			}
		}
		return err
	}
	parts := func(t *testing.T, c *envelope.TDXCollateral) *carriedParts {
		t.Helper()
		signer, err := x509.ParseCertificate(c.TCBSigningCert)
		if err != nil {
			t.Fatal(err)
		}
		tcbSigned, tcbSig, err := splitSigned(c.TCBInfo, "tcbInfo")
		if err != nil {
			t.Fatal(err)
		}
		qeSigned, qeSig, err := splitSigned(c.QEIdentity, "enclaveIdentity")
		if err != nil {
			t.Fatal(err)
		}
		return newCarriedParts(c, signer, tcbSigned, tcbSig, qeSigned, qeSig)
	}
	for name, c := range map[string]*envelope.TDXCollateral{
		"genuine":              genuine,
		"genuine, no root CRL": with(func(c *envelope.TDXCollateral) { c.RootCRL = nil }),
		"forged signer":        with(func(c *envelope.TDXCollateral) { c.TCBSigningCert = forger.TCBSigning.Raw }),
		"forged TCB Info":      with(func(c *envelope.TDXCollateral) { c.TCBInfo = forged.TCBInfo }),
		"forged QE Identity":   with(func(c *envelope.TDXCollateral) { c.QEIdentity = forged.QEIdentity }),
		"forged root CRL":      with(func(c *envelope.TDXCollateral) { c.RootCRL = forged.RootCRL }),
	} {
		t.Run(name, func(t *testing.T) {
			chain := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.TCBSigningCert})
			want, wantErr := NewCollateral(&Files{TCBInfos: []Signed{{Body: c.TCBInfo, IssuerChain: chain}}, QEIdentity: &Signed{Body: c.QEIdentity, IssuerChain: chain}, RootCRL: c.RootCRL}, roots)
			// known: how many of the genuine parts, in the first link's
			// order, the verifier learnt first.
			for known := range 5 {
				v := dirVerifier(t, "", Options{Roots: roots})
				g := parts(t, genuine)
				for range known {
					if _, err := v.collateralFirstLink(g, nil, simTime); err != nil {
						t.Fatal(err)
					}
				}
				p := parts(t, c)
				if err := v.carriedFresh(p, nil, simTime); err != nil {
					t.Fatal(err)
				}
				got, err := v.verifyParts(p)
				if kindOf(err) != kindOf(wantErr) || (err == nil) != (wantErr == nil) {
					t.Fatalf("%d genuine parts known: verifyParts: %v; NewCollateral: %v", known, err, wantErr)
				}
				if err == nil && !reflect.DeepEqual(got, want) {
					t.Fatalf("%d genuine parts known: verifyParts made %+v; NewCollateral %+v", known, got, want)
				}
			}
		})
	}
}
