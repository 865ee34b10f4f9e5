package tdx

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/envelope"
	"github.com/attestkms/attestkms/attest/internal/validity"
	"github.com/google/go-tdx-guest/pcs"
)

// Collateral is Intel's collateral after its signatures were verified to a
// Verifier's roots (NewCollateral): TCB Info per FMSPC, the TD QE's
// identity and the CRLs. Its times (nextUpdate, certificate validity) are
// checked at each use, against the verifier's time.
type Collateral struct {
	TCBInfos   map[string]*TCBInfo // by FMSPC, lower-case hex
	QEIdentity *QEIdentity
	PCKCRLs    []*CRL // by the PCK CA that signed them (platform, processor)
	RootCRL    *CRL
}

// TCBInfo is a verified TCB Info.
type TCBInfo struct {
	Info   pcs.TcbInfo
	Signer *x509.Certificate
	Root   *x509.Certificate // the root that signed Signer: its CRL speaks for it
}

// QEIdentity is a verified TD QE identity.
type QEIdentity struct {
	Identity pcs.EnclaveIdentity
	Signer   *x509.Certificate
	Root     *x509.Certificate // the root that signed Signer
}

// CRL is a verified CRL and the certificate whose key signed it.
type CRL struct {
	List   *x509.RevocationList
	Issuer *x509.Certificate
}

// Signed is one collateral item as PCS returns it: the body (JSON for TCB
// Info and QE Identity, DER for CRLs) and the PEM issuer chain of its
// response header (signing certificate, then root); no chain for the root
// CRL, which the root signs.
type Signed struct {
	Body        []byte
	IssuerChain []byte
}

// Files is unverified collateral, as read from a directory or an envelope.
type Files struct {
	TCBInfos   []Signed
	QEIdentity *Signed
	PCKCRLs    []Signed
	RootCRL    []byte
}

// NewCollateral verifies f to roots: every signature, every signing
// certificate's chain; not the times, which each use checks. Errors wrap
// attest.ErrMalformed (unparseable) or attest.ErrChain (a signature or
// chain that does not verify).
func NewCollateral(f *Files, roots []*x509.Certificate) (*Collateral, error) {
	if roots == nil {
		var err error
		if roots, err = IntelRoots(); err != nil {
			return nil, err
		}
	}
	if len(roots) == 0 {
		return nil, fmt.Errorf("tdx: no roots: give at least one certificate (nil means Intel's)")
	}
	c := &Collateral{TCBInfos: map[string]*TCBInfo{}}
	for i, s := range f.TCBInfos {
		signer, root, err := signerOf(s.IssuerChain, roots)
		if err != nil {
			return nil, fmt.Errorf("tcb info %d: %w", i, err)
		}
		info, err := checkTCBInfo(s.Body, signer)
		if err != nil {
			return nil, fmt.Errorf("tcb info %d: %w", i, err)
		}
		fmspc := strings.ToLower(info.Fmspc)
		if old, dup := c.TCBInfos[fmspc]; dup && old.Info.TcbEvaluationDataNumber >= info.TcbEvaluationDataNumber {
			continue // keep the newer
		}
		c.TCBInfos[fmspc] = &TCBInfo{Info: info, Signer: signer, Root: root}
	}
	if s := f.QEIdentity; s != nil {
		signer, root, err := signerOf(s.IssuerChain, roots)
		if err != nil {
			return nil, fmt.Errorf("qe identity: %w", err)
		}
		id, err := checkQEIdentity(s.Body, signer)
		if err != nil {
			return nil, fmt.Errorf("qe identity: %w", err)
		}
		c.QEIdentity = &QEIdentity{Identity: id, Signer: signer, Root: root}
	}
	for i, s := range f.PCKCRLs {
		certs, err := issuerChain(s.IssuerChain)
		if err != nil {
			return nil, fmt.Errorf("pck crl %d: %w", i, err)
		}
		ca := certs[0]
		if signedByRoot(ca, roots) == nil {
			return nil, fmt.Errorf("%w: pck crl %d: its issuer %q does not chain to a trusted root", attest.ErrChain, i, ca.Subject.CommonName)
		}
		crl, err := verifyCRL(s.Body, ca)
		if err != nil {
			return nil, fmt.Errorf("pck crl %d: %w", i, err)
		}
		c.PCKCRLs = append(c.PCKCRLs, crl)
	}
	if f.RootCRL != nil {
		crl, err := rootCRLOf(f.RootCRL, roots)
		if err != nil {
			return nil, fmt.Errorf("root crl: %w", err)
		}
		c.RootCRL = crl
	}
	return c, nil
}

// checkTCBInfo verifies a TCB Info body signed by signer (not signer's
// chain) and that it is what a TDX quote is judged by.
func checkTCBInfo(body []byte, signer *x509.Certificate) (pcs.TcbInfo, error) {
	var info pcs.TcbInfo
	if err := verifyJSON(body, "tcbInfo", signer, &info); err != nil {
		return info, err
	}
	return info, tdxTCBInfo(&info)
}

// tdxTCBInfo checks that info is what a TDX quote is judged by.
func tdxTCBInfo(info *pcs.TcbInfo) error {
	if info.ID != "TDX" || info.Version != 3 {
		return fmt.Errorf("%w: id %q version %d; want TDX version 3", attest.ErrMalformed, info.ID, info.Version)
	}
	if len(info.TcbLevels) == 0 {
		return fmt.Errorf("%w: no TCB levels", attest.ErrMalformed)
	}
	return nil
}

// checkQEIdentity verifies a QE Identity body signed by signer (not
// signer's chain) and that it is the TD QE's.
func checkQEIdentity(body []byte, signer *x509.Certificate) (pcs.EnclaveIdentity, error) {
	var id pcs.EnclaveIdentity
	if err := verifyJSON(body, "enclaveIdentity", signer, &id); err != nil {
		return id, err
	}
	return id, tdQEIdentity(&id)
}

// tdQEIdentity checks that id is the TD QE's.
func tdQEIdentity(id *pcs.EnclaveIdentity) error {
	if id.ID != "TD_QE" || id.Version != 2 || len(id.TcbLevels) == 0 {
		return fmt.Errorf("%w: id %q version %d with %d TCB levels; want TD_QE version 2", attest.ErrMalformed, id.ID, id.Version, len(id.TcbLevels))
	}
	return nil
}

// rootCRLOf verifies a root CRL signed by one of roots.
func rootCRLOf(der []byte, roots []*x509.Certificate) (*CRL, error) {
	l, err := parseCRL(der)
	if err != nil {
		return nil, err
	}
	return rootCRLOfList(l, roots)
}

// rootCRLOfList is rootCRLOf of a CRL already parsed.
func rootCRLOfList(l *x509.RevocationList, roots []*x509.Certificate) (*CRL, error) {
	var last error
	for _, r := range roots {
		crl, err := signedCRL(l, r)
		if err == nil {
			return crl, nil
		}
		last = err
	}
	return nil, last
}

// signerOf parses a PEM issuer chain and returns its first certificate, a
// "Intel SGX TCB Signing" certificate, and the one of roots that signed it.
// The chain's other certificates are not trusted: roots are.
func signerOf(chain []byte, roots []*x509.Certificate) (signer, root *x509.Certificate, err error) {
	certs, err := issuerChain(chain)
	if err != nil {
		return nil, nil, err
	}
	return checkSigner(certs[0], roots)
}

// issuerChain reads a PEM issuer chain: at least one certificate.
func issuerChain(chain []byte) ([]*x509.Certificate, error) {
	certs, err := pemCerts(chain)
	if err == nil && len(certs) == 0 {
		err = fmt.Errorf("no certificate")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: issuer chain: %v", attest.ErrMalformed, err)
	}
	return certs, nil
}

func checkSigner(signer *x509.Certificate, roots []*x509.Certificate) (_, root *x509.Certificate, err error) {
	if signer.Subject.CommonName != "Intel SGX TCB Signing" {
		return nil, nil, fmt.Errorf("%w: collateral signer is %q, not the Intel SGX TCB Signing certificate", attest.ErrChain, signer.Subject.CommonName)
	}
	if root = signedByRoot(signer, roots); root == nil {
		return nil, nil, fmt.Errorf("%w: collateral signing certificate does not chain to a trusted root", attest.ErrChain)
	}
	return signer, root, nil
}

// signedByRoot returns the one of roots that signed c, or nil.
func signedByRoot(c *x509.Certificate, roots []*x509.Certificate) *x509.Certificate {
	for _, r := range roots {
		if bytes.Equal(c.RawIssuer, r.RawSubject) && c.CheckSignatureFrom(r) == nil {
			return r
		}
	}
	return nil
}

// maxPEMCerts bounds a PEM bundle: an issuer chain is two certificates
// (signer, root), Intel's roots one.
const maxPEMCerts = 4

// pemCerts reads a bundle of PEM CERTIFICATE blocks without headers,
// refusing anything else in it but white space around the blocks, as
// attest/snp reads its roots: pem.Decode alone skips the text before a
// block and a block it cannot read, so that a damaged root or signer would
// be dropped, or garbage taken, unnoticed.
func pemCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for n := 1; ; n++ {
		b = bytes.TrimLeft(b, " \t\r\n")
		if len(b) == 0 {
			return out, nil
		}
		if !bytes.HasPrefix(b, []byte("-----BEGIN ")) {
			return nil, fmt.Errorf("text outside a PEM block after certificate %d", n-1)
		}
		blk, rest := pem.Decode(b)
		// A block pem.Decode could not read is skipped for the next one:
		// one BEGIN line in what it consumed, or a block was lost.
		if blk == nil || bytes.Count(b[:len(b)-len(rest)], []byte("-----BEGIN")) != 1 {
			return nil, fmt.Errorf("block %d is not valid PEM", n)
		}
		if blk.Type != "CERTIFICATE" || len(blk.Headers) != 0 {
			return nil, fmt.Errorf("block %d is %q with %d headers; want CERTIFICATE without headers", n, blk.Type, len(blk.Headers))
		}
		if n > maxPEMCerts {
			return nil, fmt.Errorf("more than %d certificates", maxPEMCerts)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", n, err)
		}
		out = append(out, c)
		b = rest
	}
}

// verifyJSON checks PCS's signature over the exact bytes of body's field
// (the JSON value as served, not re-encoded) and decodes it into out.
func verifyJSON(body []byte, field string, signer *x509.Certificate, out any) error {
	signed, sig, err := splitSigned(body, field)
	if err != nil {
		return err
	}
	if err := verifySigned(signed, sig, field, signer); err != nil {
		return err
	}
	if err := json.Unmarshal(signed, out); err != nil {
		return fmt.Errorf("%w: %s: %v", attest.ErrMalformed, field, err)
	}
	return nil
}

// verifySigned checks sig, PCS's signature of signed (body's field, as
// splitSigned returns them), with signer's key.
func verifySigned(signed, sig []byte, field string, signer *x509.Certificate) error {
	pub, ok := signer.PublicKey.(*ecdsa.PublicKey)
	d := sha256.Sum256(signed)
	if !ok || !verifyRS(pub, d[:], sig) {
		return fmt.Errorf("%w: %s signature does not verify with the TCB signing certificate", attest.ErrChain, field)
	}
	return nil
}

// splitSigned returns the exact bytes of body's field, which PCS signs,
// and the signature's bytes.
func splitSigned(body []byte, field string) (signed, sig []byte, err error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", attest.ErrMalformed, err)
	}
	if len(raw) != 2 || raw[field] == nil || raw["signature"] == nil {
		return nil, nil, fmt.Errorf("%w: want exactly the fields %q and \"signature\"", attest.ErrMalformed, field)
	}
	var sigHex string
	if err := json.Unmarshal(raw["signature"], &sigHex); err != nil {
		return nil, nil, fmt.Errorf("%w: signature: %v", attest.ErrMalformed, err)
	}
	if sig, err = hex.DecodeString(sigHex); err != nil {
		return nil, nil, fmt.Errorf("%w: signature: %v", attest.ErrMalformed, err)
	}
	return raw[field], sig, nil
}

// canonicalSig is an r || s P-256 signature with s in the lower half of
// the group order: the other valid spelling of the same signature maps to
// it, so that both name one cache entry.
func canonicalSig(sig []byte) []byte {
	if len(sig) != 64 {
		return sig
	}
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	if s.Cmp(new(big.Int).Rsh(n, 1)) <= 0 {
		return sig
	}
	out := bytes.Clone(sig[:32])
	return append(out, new(big.Int).Sub(n, s).FillBytes(make([]byte, 32))...)
}

func verifyCRL(der []byte, issuer *x509.Certificate) (*CRL, error) {
	l, err := parseCRL(der)
	if err != nil {
		return nil, err
	}
	return signedCRL(l, issuer)
}

func parseCRL(der []byte) (*x509.RevocationList, error) {
	l, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%w: crl: %v", attest.ErrMalformed, err)
	}
	return l, nil
}

// signedCRL returns l if issuer signed it.
func signedCRL(l *x509.RevocationList, issuer *x509.Certificate) (*CRL, error) {
	if !bytes.Equal(l.RawIssuer, issuer.RawSubject) || l.CheckSignatureFrom(issuer) != nil {
		return nil, fmt.Errorf("%w: crl of %q is not signed by %q", attest.ErrChain, l.Issuer.CommonName, issuer.Subject.CommonName)
	}
	return &CRL{List: l, Issuer: issuer}, nil
}

// Revokes reports whether l lists c's serial number (l's issuer being c's:
// the caller's to know).
func (l *CRL) Revokes(c *x509.Certificate) bool { return l.revokes(c) }

func (l *CRL) revokes(c *x509.Certificate) bool {
	for _, r := range l.List.RevokedCertificateEntries {
		if r.SerialNumber.Cmp(c.SerialNumber) == 0 {
			return true
		}
	}
	return false
}

// Until is when c stops being usable without grace: the earliest
// nextUpdate and signer expiry of what it holds.
func (c *Collateral) Until() time.Time {
	var t time.Time
	min := func(x time.Time) {
		if t.IsZero() || x.Before(t) {
			t = x
		}
	}
	for _, i := range c.TCBInfos {
		min(i.Info.NextUpdate)
		min(i.Signer.NotAfter)
	}
	if c.QEIdentity != nil {
		min(c.QEIdentity.Identity.NextUpdate)
		min(c.QEIdentity.Signer.NotAfter)
	}
	for _, l := range append(c.PCKCRLs, c.RootCRL) {
		if l != nil {
			min(l.List.NextUpdate)
		}
	}
	return t
}

// Evaluation is the highest tcbEvaluationDataNumber c holds (0: none).
func (c *Collateral) Evaluation() int {
	n := 0
	for _, i := range c.TCBInfos {
		n = max(n, i.Info.TcbEvaluationDataNumber)
	}
	if c.QEIdentity != nil {
		n = max(n, c.QEIdentity.Identity.TcbEvaluationDataNumber)
	}
	return n
}

// FMSPCs lists the FMSPCs c has TCB Info for, sorted.
func (c *Collateral) FMSPCs() []string {
	var out []string
	for f := range c.TCBInfos {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// judged is the collateral a quote is judged by, one item of each kind,
// and every verified CRL of the PCK CA and of the root (the envelope's and
// the server's), all of which revocation is checked against.
type judged struct {
	tcb      *TCBInfo
	qe       *QEIdentity
	pckCRL   *CRL
	rootCRL  *CRL
	pckCRLs  []*CRL
	rootCRLs []*CRL
}

// collateral picks, for chain, the collateral to judge it by: the server's,
// or the envelope's where it verifies and is not older than the server's
// (nor than MinTCBEvaluationNumber); each item fresh at now (plus grace).
func (v *Verifier) collateral(carried *envelope.TDXCollateral, chain *pckChain, now time.Time) (*judged, error) {
	var server *Collateral
	var serverErr error
	if v.source != nil {
		server, serverErr = v.source.Collateral(now)
	}
	if server == nil {
		server = &Collateral{}
	}
	var env *Collateral
	if carried != nil {
		var err error
		if env, err = v.verifyCarried(carried, server, now); err != nil {
			return nil, fmt.Errorf("envelope collateral: %w", err)
		}
	}
	fmspc := hex.EncodeToString(chain.fmspc)
	j := &judged{tcb: server.TCBInfos[fmspc], qe: server.QEIdentity}
	if env != nil {
		// Intel numbers its TCB evaluations globally (a TCB recovery
		// raises the number of every TCB Info and of the QE Identity), so
		// the server's own evaluation is the highest it holds, whatever the
		// FMSPC: an envelope's older item would undo an advisory the
		// server already applies.
		floor := server.Evaluation()
		if t := env.TCBInfos[fmspc]; t != nil {
			if err := rolledBack("envelope's TCB Info for FMSPC "+fmspc, t.Info.TcbEvaluationDataNumber, floor); err != nil {
				return nil, err
			}
			j.tcb = t
		} else if len(env.TCBInfos) > 0 {
			return nil, fmt.Errorf("%w: envelope's TCB Info is for FMSPC %s, not the PCK certificate's %s", attest.ErrPolicy, strings.Join(env.FMSPCs(), ","), fmspc)
		}
		if q := env.QEIdentity; q != nil {
			if err := rolledBack("envelope's QE Identity", q.Identity.TcbEvaluationDataNumber, floor); err != nil {
				return nil, err
			}
			j.qe = q
		}
	}
	if j.tcb == nil {
		held := strings.Join(server.FMSPCs(), ",")
		if serverErr != nil {
			held += " (server collateral: " + serverErr.Error() + ")"
		}
		return nil, fmt.Errorf("%w: no TCB Info for the PCK certificate's FMSPC %s (held: %s)", attest.ErrPolicy, fmspc, held)
	}
	if j.qe == nil {
		return nil, fmt.Errorf("%w: no TD QE Identity", attest.ErrPolicy)
	}
	if env != nil && carried.PCKCRL != nil {
		l, err := verifyCRL(carried.PCKCRL, chain.ca)
		if err != nil {
			return nil, fmt.Errorf("envelope collateral: pck_crl: %w", err)
		}
		j.pckCRL = l
		j.pckCRLs = append(j.pckCRLs, l)
	}
	var heldRootCRLs []*CRL // the envelope's, then the server's
	// An envelope's CRL is the one judged fresh when it carries one, but
	// revocation is checked against the server's too: an older CRL that
	// Intel signed before revoking this PCK (or its CA), still within its
	// nextUpdate, must not undo a revocation the server already knows.
	for _, src := range []*Collateral{env, server} {
		if src == nil {
			continue
		}
		for _, l := range src.PCKCRLs {
			if bytes.Equal(l.Issuer.RawSubject, chain.ca.RawSubject) && bytes.Equal(l.Issuer.RawSubjectPublicKeyInfo, chain.ca.RawSubjectPublicKeyInfo) {
				if j.pckCRL == nil {
					j.pckCRL = l
				}
				j.pckCRLs = append(j.pckCRLs, l)
			}
		}
		if src.RootCRL != nil {
			heldRootCRLs = append(heldRootCRLs, src.RootCRL)
		}
	}
	// The CRLs held of a root, the envelope's first.
	rootCRLs := func(root *x509.Certificate) []*CRL {
		var out []*CRL
		for _, l := range heldRootCRLs {
			if root != nil && bytes.Equal(l.Issuer.RawSubjectPublicKeyInfo, root.RawSubjectPublicKeyInfo) {
				out = append(out, l)
			}
		}
		return out
	}
	if j.rootCRLs = rootCRLs(chain.root); len(j.rootCRLs) > 0 {
		j.rootCRL = j.rootCRLs[0]
	}
	if j.pckCRL == nil {
		return nil, fmt.Errorf("%w: no CRL of the PCK certificate's CA %q", attest.ErrPolicy, chain.ca.Subject.CommonName)
	}
	if j.rootCRL == nil {
		return nil, fmt.Errorf("%w: no root CRL", attest.ErrPolicy)
	}
	// Each collateral signer is judged by its own root's CRLs: with more
	// than one root configured, that need not be the PCK chain's root.
	type signed struct {
		what         string
		signer, root *x509.Certificate
		crls         []*CRL
	}
	signers := []*signed{{what: "TCB Info", signer: j.tcb.Signer, root: j.tcb.Root}, {what: "QE Identity", signer: j.qe.Signer, root: j.qe.Root}}
	for _, s := range signers {
		if s.crls = rootCRLs(s.root); len(s.crls) == 0 {
			return nil, fmt.Errorf("%w: no CRL of the collateral signing certificate's root %q (the %s's signer)", attest.ErrPolicy, s.signer.Issuer.CommonName, s.what)
		}
	}
	// Freshness and the minimum (rollback was judged above, the envelope's
	// items being the only ones that can roll back).
	for _, it := range []dated{
		{"TCB Info for FMSPC " + fmspc, j.tcb.Info.NextUpdate, j.tcb.Info.TcbEvaluationDataNumber},
		{"QE Identity", j.qe.Identity.NextUpdate, j.qe.Identity.TcbEvaluationDataNumber},
		{"PCK CRL", j.pckCRL.List.NextUpdate, -1},
		{"root CRL", j.rootCRL.List.NextUpdate, -1},
		{"root CRL of the TCB Info's signer", signers[0].crls[0].List.NextUpdate, -1},
		{"root CRL of the QE Identity's signer", signers[1].crls[0].List.NextUpdate, -1},
	} {
		if err := v.fresh(it, 0, now); err != nil {
			return nil, err
		}
	}
	for _, s := range signers {
		if err := validity.Of("collateral signing certificate (the "+s.what+"'s signer)", s.signer).Check(now); err != nil {
			return nil, err
		}
	}
	// Revocation, by every CRL held of each issuer.
	for _, l := range j.rootCRLs {
		if l.revokes(chain.ca) {
			return nil, fmt.Errorf("%w: the PCK CA certificate (serial %x) is revoked by the root CRL", attest.ErrChain, chain.ca.SerialNumber)
		}
	}
	for _, s := range signers {
		for _, l := range s.crls {
			if l.revokes(s.signer) {
				return nil, fmt.Errorf("%w: the collateral signing certificate (serial %x, the %s's signer) is revoked by its root's CRL", attest.ErrChain, s.signer.SerialNumber, s.what)
			}
		}
	}
	for _, l := range j.pckCRLs {
		if l.revokes(chain.pck) {
			return nil, fmt.Errorf("%w: the PCK certificate (serial %x) is revoked by its CA's CRL", attest.ErrChain, chain.pck.SerialNumber)
		}
	}
	return j, nil
}

// dated is an item of collateral as fresh judges it: what errors call it,
// its nextUpdate, and its tcbEvaluationDataNumber (negative for a CRL,
// which has none).
type dated struct {
	what       string
	next       time.Time
	evaluation int
}

// fresh refuses it at now if it is past its nextUpdate plus
// Options.CollateralGrace or, if it has an evaluation number, older than
// floor (the server's own evaluation, for an envelope's item; 0 for none)
// or below Options.MinTCBEvaluationNumber. Both collateral(), at each use,
// and carriedFresh, before the cold-chain budget, judge by it, so that the
// gate never admits what the use refuses for free, nor the other way round.
// Errors wrap attest.ErrExpired.
func (v *Verifier) fresh(it dated, floor int, now time.Time) error {
	if now.After(it.next.Add(v.grace)) {
		return fmt.Errorf("%w: %s was to be updated by %s (grace %s); it is %s", attest.ErrExpired, it.what, it.next.UTC().Format(time.RFC3339), v.grace, now.UTC().Format(time.RFC3339))
	}
	if it.evaluation < 0 {
		return nil
	}
	if err := rolledBack(it.what, it.evaluation, floor); err != nil {
		return err
	}
	if it.evaluation < v.minEval {
		return fmt.Errorf("%w: %s is evaluation %d, below the minimum %d", attest.ErrExpired, it.what, it.evaluation, v.minEval)
	}
	return nil
}

// rolledBack refuses an item of an evaluation older than floor, the
// server's own: judging by it would undo an advisory the server applies.
func rolledBack(what string, evaluation, floor int) error {
	if evaluation < floor {
		return fmt.Errorf("%w: %s is evaluation %d, older than the server's %d: refused as a rollback", attest.ErrExpired, what, evaluation, floor)
	}
	return nil
}

// verifyCarried verifies an envelope's collateral to v's roots, once per
// distinct bytes (cached by their hash): all but the PCK CRL, whose issuer
// is the quote's PCK CA, known only with the quote: collateral() verifies it
// against that CA at each use. It is neither in the cache key nor in the
// cached value, so that a PCK CRL that does not verify never leaves an
// entry behind (nor do endless variants of one evict good entries).
//
// The key is what the collateral's signatures cover, not how it is spelt:
// the TCB Info's and QE Identity's signed JSON values and their
// signatures' bytes (s normalised: (r, s) and (r, n-s) both verify), not
// the unsigned outer JSON around them (whitespace, field order, the hex
// case of the signature), so that respellings of one genuine collateral
// are one entry, and cost one verification, not one each.
func (v *Verifier) verifyCarried(c *envelope.TDXCollateral, server *Collateral, now time.Time) (*Collateral, error) {
	tcbSigned, tcbSig, err := splitSigned(c.TCBInfo, "tcbInfo")
	if err != nil {
		return nil, fmt.Errorf("tcb info: %w", err)
	}
	qeSigned, qeSig, err := splitSigned(c.QEIdentity, "enclaveIdentity")
	if err != nil {
		return nil, fmt.Errorf("qe identity: %w", err)
	}
	h := sha256.New()
	for _, b := range [][]byte{tcbSigned, canonicalSig(tcbSig), qeSigned, canonicalSig(qeSig), c.TCBSigningCert, c.RootCRL} {
		var n [8]byte
		for i := range 8 {
			n[i] = byte(len(b) >> (8 * i))
		}
		h.Write(n[:])
		h.Write(b)
	}
	var key [32]byte
	copy(key[:], h.Sum(nil))
	if col, hit := v.carried.Get(key); hit {
		return col, nil
	}
	signer, err := x509.ParseCertificate(c.TCBSigningCert)
	if err != nil {
		return nil, fmt.Errorf("%w: tcb_signing_cert: %v", attest.ErrMalformed, err)
	}
	// Verifying fresh collateral costs several signature verifications
	// (the signer's certificate, TCB Info, QE Identity, the root CRL), and
	// anyone can send collateral beside a genuine quote (quotes are no
	// secret; the binding is checked later), replayed with one whose chain
	// is cached: so it spends the same budget as a chain not seen before,
	// and only once its first part not known to be genuine verified
	// (firstlink.go), so that forged collateral spends nothing; collateral
	// whose every part is known is made of them, spending nothing either.
	// Before either, what costs no signature and collateral() would refuse
	// anyway (carriedFresh: stale, rolled back, an expired signer), so that
	// genuine but stale parts, public and archived, spend nothing.
	parts := newCarriedParts(c, signer, tcbSigned, tcbSig, qeSigned, qeSig)
	known, err := v.collateralFirstLink(parts, server, now)
	if err != nil {
		return nil, err
	}
	if known != nil {
		v.carried.Put(key, known)
		return known, nil
	}
	if v.coldChain != nil && !v.coldChain() {
		return nil, attest.ColdChainRefused("envelope's collateral")
	}
	col, err := v.verifyParts(parts)
	if err != nil {
		return nil, err
	}
	v.learnAll(parts, col)
	v.carried.Put(key, col)
	return col, nil
}
