package tdx

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/internal/fifo"
	"github.com/attestkms/attestkms/attest/internal/firstlink"
	"github.com/attestkms/attestkms/attest/internal/validity"
	"github.com/google/go-tdx-guest/pcs"
)

// The gate before the budget for new chains (Options.ColdChain).
//
// The budget is shared by every client of the node, so what spends it must
// be something a forger cannot make. A quote whose signatures verify with
// the PCK certificate it carries proves nothing (the forger made the PCK
// key and its certificate), nor does a certificate naming Intel's root
// (anyone can build a CA under that name); and collateral is bytes anyone
// can send beside a genuine quote (quotes are no secret, and REPORTDATA is
// checked after the collateral). So before a unit is taken, the first link
// that nothing yet vouches for is verified with its issuer's key: one
// signature verification, bounded like the quote's own by the per-access-key
// rate limit; a forgery fails at its first forged link and spends nothing.
// The full verification (go-tdx-guest's for the PCK chain; for
// collateral, verifyParts, NewCollateral's checks of every part) still
// follows: this is an extra gate, never a reason to accept. (One
// exception, below: a collateral part verified before, the first link's
// among them, is taken as it verified, and collateral whose every part was
// is made of them without the budget.)
//
// PCK chain (pckFirstLink): PCK certificate, PCK CA, root. If the PCK CA is
// known to be genuine, the link checked is the PCK certificate's, with the
// CA's key; otherwise the CA's, with the key of the configured root that
// its issuer names.
//
// Envelope collateral (collateralFirstLink) is four parts, each signed on
// its own: the TCB signing certificate (by a root), TCB Info and QE
// Identity (by that certificate), the optional root CRL (by a root). Every
// genuine part is public (Intel's PCS serves them to anyone), so checking
// one part alone would let a forger copy it and vary another, spending a
// unit each time. So the parts are taken in that order and the first one
// not known to be genuine is checked in full (its signature, and what
// NewCollateral requires of it, which costs no signature): a forged part
// is refused there, and a genuine one is known from then on. The server's
// own collateral's signing certificates are known from the start. Before
// any part is checked, all of them are refused if stale (nextUpdate plus
// grace), rolled back (below the server's evaluation or the minimum) or
// signed by a certificate outside its validity (carriedFresh): that costs
// no signature, and stale genuine parts are public in any number.
//
// Known things (a PCK CA by its DER; a collateral part by its DER, or by
// its signed bytes, normalised signature and signer) are remembered once
// their link passed this gate or they passed the full verification,
// bounded like the cache. Without that memory a forger would copy a genuine
// PCK CA (every quote carries one) above its own PCK certificate, or
// genuine TCB Info beside its own QE Identity: the link checked would be
// the genuine one, and the budget spent every time. With it, each genuine
// CA or part the node has not seen lets a forger spend at most one unit,
// once: the next attempt checks the link after it. Knowing a PCK CA only
// chooses which link the gate checks, so a wrong entry could at worst let
// a forgery spend the budget, never make a quote verify.
//
// A collateral part is remembered as it verified (the TCB Info and QE
// Identity decoded, the CRL parsed, the signer's root), and collateral
// whose every part is known is made from them, without the budget or a
// signature: each part's verification depends only on its own bytes, its
// signer and the roots, so such collateral is what NewCollateral would
// make of it. Otherwise genuine parts recombined (TCB Info of one
// evaluation beside QE Identity of another) would be new to the cache
// every time, and, given enough of them to cycle it, spend the budget for
// ever beside a quote that is no secret.

// knownKey names a known collateral part: the SHA-256 of its
// kind and bytes.
type knownKey = fifo.ChainKey

func knownSignerKey(der []byte) knownKey {
	return fifo.KeyOf("attestkms tdx known TCB signing certificate v1", der, nil)
}

// knownSignedKey names a signed JSON part (TCB Info, QE Identity) as its
// signer signed it: what the signature covers, the signature with s
// normalised (both forms verify), and the signer's DER.
func knownSignedKey(kind string, signed, sig, signer []byte) knownKey {
	return fifo.KeyOf("attestkms tdx known "+kind+" v1", signer, [][]byte{signed, canonicalSig(sig)})
}

func knownRootCRLKey(der []byte) knownKey {
	return fifo.KeyOf("attestkms tdx known root CRL v1", der, nil)
}

// knownPart is a part of envelope collateral known to be genuine, as it
// verified. Exactly one field is set: the kind of part its key names. Each
// lookup reads only the field of the kind it wants, so that an entry of
// another kind under the same key (were two kinds' keys ever to collide)
// is a part not known, checked again, never a part of the wrong kind.
type knownPart struct {
	signerRoot *x509.Certificate // of a TCB signing certificate: the root that signed it
	tcbInfo    *pcs.TcbInfo
	qeIdentity *pcs.EnclaveIdentity
	rootCRL    *CRL
}

// knownPart returns the entry of k; the zero knownPart, no part of any
// kind, if k is not known.
func (v *Verifier) knownPart(k knownKey) knownPart {
	e, _ := v.knownParts.Get(k)
	return e
}

// pckFirstLink checks the first link of c not known to be genuine (see
// above): the PCK certificate's, if its CA is known, else the CA's, with a
// configured root of the name it gives as its issuer.
//
// The CA's link is firstlink's root step (Known.Check with the CA as the
// certificate to check and no intermediates). Known.Check is not given the
// whole chain, from the PCK certificate up: its walk would choose another
// link than this one where the PCK certificate names a configured root as
// its issuer (it checks the PCK certificate with that root, so that a
// verifier configured with the PCK CA as its root would pass the first
// link, and then go-tdx-guest's verification, where this refuses the
// chain), or names another issuer than the CA (refused there without the
// budget, where this checks the CA and may spend it once, as for any
// genuine CA not yet known). Those would be decisions of their own, not a
// refactoring; TestPCKFirstLinkSpendsNoColdBudget holds these.
func (v *Verifier) pckFirstLink(c *pckChain) error {
	if v.knownCAs.Has(c.ca) {
		if !bytes.Equal(c.pck.RawIssuer, c.ca.RawSubject) || c.pck.CheckSignatureFrom(c.ca) != nil {
			return fmt.Errorf("%w: PCK chain: the PCK certificate is not signed by its PCK CA %.64q, an intermediate of this verifier's roots", attest.ErrChain, c.ca.Subject.CommonName)
		}
		return nil
	}
	if !c.ca.BasicConstraintsValid || !c.ca.IsCA {
		return fmt.Errorf("%w: PCK chain: the PCK CA certificate %.64q is not a CA", attest.ErrChain, c.ca.Subject.CommonName)
	}
	if err := v.knownCAs.Check(c.ca, nil, v.roots, pckCANames); err != nil {
		return err
	}
	// Check learns nothing of the certificate it was given to check.
	v.knownCAs.Learn(c.ca, c.pck)
	return nil
}

// pckCANames name, in Known.Check's errors, what pckFirstLink checks.
var pckCANames = firstlink.Names{
	Leaf:         "PCK chain: the PCK CA certificate",
	Intermediate: func(int) string { return "" }, // none are given
	Root:         "the trusted root",
	Roots:        "a trusted root",
	Chain:        "the PCK chain (whose only intermediate it is)",
}

// carriedParts is envelope collateral split into what is signed.
type carriedParts struct {
	c                        *envelope.TDXCollateral
	signer                   *x509.Certificate
	tcbSigned, tcbSig        []byte
	qeSigned, qeSig          []byte
	signerKey, tcbKey, qeKey knownKey
	rootCRLKey               knownKey

	// The signed parts decoded by carriedFresh, not verified: each is
	// what checkTCBInfo, checkQEIdentity or rootCRLOf would decode of the
	// same bytes, taken once its signature verified (checkPart), so that
	// a cold request decodes each part once.
	unverifiedTCBInfo    pcs.TcbInfo
	unverifiedQEIdentity pcs.EnclaveIdentity
	unverifiedRootCRL    *x509.RevocationList // nil if c carries none
}

func newCarriedParts(c *envelope.TDXCollateral, signer *x509.Certificate, tcbSigned, tcbSig, qeSigned, qeSig []byte) *carriedParts {
	p := &carriedParts{c: c, signer: signer, tcbSigned: tcbSigned, tcbSig: tcbSig, qeSigned: qeSigned, qeSig: qeSig}
	p.signerKey = knownSignerKey(signer.Raw)
	p.tcbKey = knownSignedKey("TCB Info", tcbSigned, tcbSig, signer.Raw)
	p.qeKey = knownSignedKey("QE Identity", qeSigned, qeSig, signer.Raw)
	p.rootCRLKey = knownRootCRLKey(c.RootCRL)
	return p
}

// collateralFirstLink checks the first part of p not known to be genuine
// (see above), in full, and remembers it, returning nil collateral; or,
// when every part is known, returns the collateral made of them. server is
// the server's own collateral (may be nil), whose signing certificates are
// known.
//
// Before any of that, carriedFresh refuses what costs no signature to
// refuse (at now), as collateral() would at its use: otherwise every genuine
// but stale part PCS ever issued would spend a unit and then be refused.
func (v *Verifier) collateralFirstLink(p *carriedParts, server *Collateral, now time.Time) (*Collateral, error) {
	if err := v.carriedFresh(p, server, now); err != nil {
		return nil, err
	}
	root := v.signerRoot(p.signer, server)
	if root == nil {
		_, root, err := checkSigner(p.signer, v.roots)
		if err != nil {
			return nil, err
		}
		v.knownParts.Put(p.signerKey, knownPart{signerRoot: root})
		return nil, nil
	}
	info := v.knownPart(p.tcbKey).tcbInfo
	if info == nil {
		got, err := p.checkTCBInfo()
		if err != nil {
			return nil, err
		}
		v.knownParts.Put(p.tcbKey, knownPart{tcbInfo: got})
		return nil, nil
	}
	id := v.knownPart(p.qeKey).qeIdentity
	if id == nil {
		got, err := p.checkQEIdentity()
		if err != nil {
			return nil, err
		}
		v.knownParts.Put(p.qeKey, knownPart{qeIdentity: got})
		return nil, nil
	}
	var crl *CRL
	if p.c.RootCRL != nil {
		if crl = v.knownPart(p.rootCRLKey).rootCRL; crl == nil {
			l, err := p.checkRootCRL(v.roots)
			if err != nil {
				return nil, err
			}
			v.knownParts.Put(p.rootCRLKey, knownPart{rootCRL: l})
			return nil, nil
		}
	}
	return p.collateral(root, info, id, crl), nil
}

// verifyParts verifies every part of p to v's roots, as NewCollateral
// would verify the same files, once each: after the cold-chain budget, the
// part its first link verified (collateralFirstLink) is not verified
// again, nor any other part known (verified before, with the same signer
// and roots, by the same checks). The signer is known here only from
// knownParts (checkSigner passed for it), not from the server's collateral
// (signerRoot): the server's signers are not checked by checkSigner here,
// and NewCollateral would check it. Nothing is learnt here: learnAll does,
// once every part verified, so that what a request teaches is what it
// taught when this was NewCollateral.
func (v *Verifier) verifyParts(p *carriedParts) (*Collateral, error) {
	root := v.knownPart(p.signerKey).signerRoot
	if root == nil {
		var err error
		if _, root, err = checkSigner(p.signer, v.roots); err != nil {
			return nil, err
		}
	}
	info := v.knownPart(p.tcbKey).tcbInfo
	if info == nil {
		var err error
		if info, err = p.checkTCBInfo(); err != nil {
			return nil, err
		}
	}
	id := v.knownPart(p.qeKey).qeIdentity
	if id == nil {
		var err error
		if id, err = p.checkQEIdentity(); err != nil {
			return nil, err
		}
	}
	var crl *CRL
	if p.c.RootCRL != nil {
		if crl = v.knownPart(p.rootCRLKey).rootCRL; crl == nil {
			var err error
			if crl, err = p.checkRootCRL(v.roots); err != nil {
				return nil, err
			}
		}
	}
	return p.collateral(root, info, id, crl), nil
}

// checkTCBInfo verifies p's TCB Info, signed by p's signer (not the
// signer's chain), as checkTCBInfo(p.c.TCBInfo, p.signer) would, without
// decoding it again.
func (p *carriedParts) checkTCBInfo() (*pcs.TcbInfo, error) {
	info := p.unverifiedTCBInfo
	if err := verifySigned(p.tcbSigned, p.tcbSig, "tcbInfo", p.signer); err != nil {
		return nil, fmt.Errorf("tcb info: %w", err)
	}
	if err := tdxTCBInfo(&info); err != nil {
		return nil, fmt.Errorf("tcb info: %w", err)
	}
	return &info, nil
}

// checkQEIdentity is checkTCBInfo's twin for p's QE Identity.
func (p *carriedParts) checkQEIdentity() (*pcs.EnclaveIdentity, error) {
	id := p.unverifiedQEIdentity
	if err := verifySigned(p.qeSigned, p.qeSig, "enclaveIdentity", p.signer); err != nil {
		return nil, fmt.Errorf("qe identity: %w", err)
	}
	if err := tdQEIdentity(&id); err != nil {
		return nil, fmt.Errorf("qe identity: %w", err)
	}
	return &id, nil
}

// checkRootCRL verifies p's root CRL (which p must carry) as rootCRLOf
// would, without parsing it again.
func (p *carriedParts) checkRootCRL(roots []*x509.Certificate) (*CRL, error) {
	l, err := rootCRLOfList(p.unverifiedRootCRL, roots)
	if err != nil {
		return nil, fmt.Errorf("root crl: %w", err)
	}
	return l, nil
}

// collateral is what NewCollateral makes of p's parts as they verified:
// its TCB Info and QE Identity, signed by p's signer, which root signed,
// and its root CRL (nil if none).
func (p *carriedParts) collateral(root *x509.Certificate, info *pcs.TcbInfo, id *pcs.EnclaveIdentity, crl *CRL) *Collateral {
	return &Collateral{
		TCBInfos:   map[string]*TCBInfo{strings.ToLower(info.Fmspc): {Info: *info, Signer: p.signer, Root: root}},
		QEIdentity: &QEIdentity{Identity: *id, Signer: p.signer, Root: root},
		RootCRL:    crl,
	}
}

// carriedFresh checks p at now for what costs no signature and collateral()
// refuses at each use anyway: the TCB signing certificate's validity, and
// the TCB Info, QE Identity and root CRL by fresh, the rules collateral()
// judges by (nextUpdate plus Options.CollateralGrace; an evaluation not
// below the server's own, server.Evaluation(), nor
// Options.MinTCBEvaluationNumber). The parts are read without verifying
// their signatures: this only refuses, before the budget (firstlink.go);
// the full checks at each use stay as they are. Errors wrap attest.ErrExpired, or ErrMalformed for a
// part that cannot be read.
func (v *Verifier) carriedFresh(p *carriedParts, server *Collateral, now time.Time) error {
	if err := validity.Of("collateral signing certificate", p.signer).Check(now); err != nil {
		return err
	}
	info, id := &p.unverifiedTCBInfo, &p.unverifiedQEIdentity
	if err := json.Unmarshal(p.tcbSigned, info); err != nil {
		return fmt.Errorf("tcb info: %w: tcbInfo: %v", attest.ErrMalformed, err)
	}
	if err := json.Unmarshal(p.qeSigned, id); err != nil {
		return fmt.Errorf("qe identity: %w: enclaveIdentity: %v", attest.ErrMalformed, err)
	}
	var floor int
	if server != nil {
		floor = server.Evaluation()
	}
	items := []dated{
		{"envelope's TCB Info for FMSPC " + strings.ToLower(info.Fmspc), info.NextUpdate, info.TcbEvaluationDataNumber},
		{"envelope's QE Identity", id.NextUpdate, id.TcbEvaluationDataNumber},
	}
	if p.c.RootCRL != nil {
		l, err := x509.ParseRevocationList(p.c.RootCRL)
		if err != nil {
			return fmt.Errorf("root crl: %w: crl: %v", attest.ErrMalformed, err)
		}
		p.unverifiedRootCRL = l
		items = append(items, dated{"envelope's root CRL", l.NextUpdate, -1})
	}
	for _, it := range items {
		if err := v.fresh(it, floor, now); err != nil {
			return err
		}
	}
	return nil
}

// learnAll remembers every part of p as col, which verifyParts made of
// them, holds it.
func (v *Verifier) learnAll(p *carriedParts, col *Collateral) {
	for _, t := range col.TCBInfos {
		info := t.Info
		v.knownParts.Put(p.signerKey, knownPart{signerRoot: t.Root})
		v.knownParts.Put(p.tcbKey, knownPart{tcbInfo: &info})
	}
	if col.QEIdentity != nil {
		id := col.QEIdentity.Identity
		v.knownParts.Put(p.qeKey, knownPart{qeIdentity: &id})
	}
	if col.RootCRL != nil {
		v.knownParts.Put(p.rootCRLKey, knownPart{rootCRL: col.RootCRL})
	}
}

// signerRoot returns the root that signed signer, if signer is known: it
// passed this gate or a full verification before, or it signed the
// server's own collateral (TCB Info or QE Identity), verified when it was
// loaded to a root that is one of v's. Nil otherwise.
func (v *Verifier) signerRoot(signer *x509.Certificate, server *Collateral) *x509.Certificate {
	if r := v.knownPart(knownSignerKey(signer.Raw)).signerRoot; r != nil {
		return r
	}
	if server == nil {
		return nil
	}
	ours := func(s, root *x509.Certificate) *x509.Certificate {
		if s == nil || root == nil || !bytes.Equal(s.Raw, signer.Raw) {
			return nil
		}
		for _, r := range v.roots {
			if bytes.Equal(r.Raw, root.Raw) {
				return r
			}
		}
		return nil
	}
	for _, t := range server.TCBInfos {
		if r := ours(t.Signer, t.Root); r != nil {
			return r
		}
	}
	if server.QEIdentity != nil {
		return ours(server.QEIdentity.Signer, server.QEIdentity.Root)
	}
	return nil
}
