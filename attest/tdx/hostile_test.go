package tdx

import (
	"bytes"
	"crypto/x509"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/envelope"
)

// TestHostile: each hostile envelope is refused with its kind and a message
// that names what is wrong; none returns claims.
func TestHostile(t *testing.T) {
	ca := newSimCA(t)
	other := newSimCA(t) // another root, same FMSPC
	good := writeCollateral(t, ca, attesttest.TDXCollateralOptions{})
	otherFMSPC := [6]byte{0x00, 0x60, 0x6a, 0x00, 0x00, 0x00}

	type tc struct {
		quote      attesttest.TDXQuote
		signer     *attesttest.TDXCA               // signs the quote; nil: ca
		collateral attesttest.TDXCollateralOptions // server's, when set
		opts       Options
		mutate     func(e *envelope.Envelope)
		at         time.Time
		want       error
		says       string
	}
	cases := map[string]tc{
		"wrong REPORTDATA":            {quote: attesttest.TDXQuote{ReportData: make([]byte, 64)}, want: attest.ErrBinding, says: "REPORTDATA"},
		"flipped quote byte":          {mutate: func(e *envelope.Envelope) { e.Quote[0x30+0x90] ^= 1 }, want: attest.ErrSignature, says: "quote's signature"},
		"quote signed by another key": {quote: attesttest.TDXQuote{BadQuoteSignature: true}, want: attest.ErrSignature, says: "attestation key"},
		"QE report of another key":    {quote: attesttest.TDXQuote{QEReportNotByPCK: true}, want: attest.ErrSignature, says: "QE report's signature"},
		"QE report binds another key": {quote: attesttest.TDXQuote{QEReportOtherKey: true}, want: attest.ErrSignature, says: "does not bind the quote's attestation key"},
		"PCK chain to another root":   {signer: other, want: attest.ErrChain, says: "PCK chain"},
		"revoked PCK":                 {collateral: attesttest.TDXCollateralOptions{RevokePCK: true}, want: attest.ErrChain, says: "revoked"},
		"collateral of another FMSPC": {collateral: attesttest.TDXCollateralOptions{FMSPC: &otherFMSPC}, want: attest.ErrPolicy, says: "FMSPC 00906ed50000"},
		"stale collateral":            {at: simIssue.AddDate(2, 0, 0), want: attest.ErrExpired, says: "to be updated by"},
		"rolled back (minimum)":       {opts: Options{MinTCBEvaluationNumber: 18}, want: attest.ErrExpired, says: "below the minimum 18"},
		"debug TD":                    {quote: attesttest.TDXQuote{Attributes: attesttest.TDXAttributeDebug}, want: attest.ErrPolicy, says: "debug TD"},
		// TD_ATTRIBUTES bits 7:0 are the TUD ("TD under debug") group: any
		// of them, not only DEBUG, makes the TD untrusted.
		"TUD profiling bit (HGS_PLUS_PROF)": {quote: attesttest.TDXQuote{Attributes: attesttest.TDXDefaultAttributes | 1<<4}, want: attest.ErrPolicy, says: "debug TD"},
		"TUD reserved bit 7":                {quote: attesttest.TDXQuote{Attributes: attesttest.TDXDefaultAttributes | 1<<7}, want: attest.ErrPolicy, says: "debug TD"},
		"OutOfDate TCB":                     {quote: attesttest.TDXQuote{TCBStatus: "OutOfDate"}, collateral: attesttest.TDXCollateralOptions{Advisories: map[string][]string{"OutOfDate": {"INTEL-SA-00837", "INTEL-SA-00960"}}}, want: attest.ErrPolicy, says: "OutOfDate (advisories: INTEL-SA-00837, INTEL-SA-00960)"},
		"OutOfDate TCB, restated":           {collateral: attesttest.TDXCollateralOptions{Restatus: map[string]string{"UpToDate": "OutOfDate"}, Advisories: map[string][]string{"OutOfDate": {"INTEL-SA-00837", "INTEL-SA-00960"}}}, want: attest.ErrPolicy, says: "OutOfDate (advisories: INTEL-SA-00837, INTEL-SA-00960)"},
		"SWHardeningNeeded by default":      {quote: attesttest.TDXQuote{TCBStatus: "SWHardeningNeeded"}, collateral: attesttest.TDXCollateralOptions{Advisories: map[string][]string{"SWHardeningNeeded": {"INTEL-SA-00615"}}}, want: attest.ErrPolicy, says: "SWHardeningNeeded (advisories: INTEL-SA-00615)"},
		"QE not Intel's":                    {quote: attesttest.TDXQuote{QEMRSigner: make([]byte, 32)}, want: attest.ErrChain, says: "TD QE"},
		"truncated quote":                   {mutate: func(e *envelope.Envelope) { e.Quote = e.Quote[:len(e.Quote)-10] }, want: attest.ErrMalformed},
		"oversized quote":                   {mutate: func(e *envelope.Envelope) { e.Quote = append(e.Quote, make([]byte, envelope.MaxTDXQuote)...) }, want: attest.ErrMalformed, says: "quote is"},
		"field of another format":           {mutate: func(e *envelope.Envelope) { e.VCEK = []byte{1} }, want: attest.ErrMalformed, says: "vcek is not a field of tdx"},
	}

	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := good
			if !reflect.ValueOf(tc.collateral).IsZero() {
				dir = writeCollateral(t, ca, tc.collateral)
			}
			v := simVerifier(t, ca, dir, tc.opts)
			signer := ca
			if tc.signer != nil {
				signer = tc.signer
			}
			e := simEnvelope(t, signer, tc.quote, nil)
			if tc.mutate != nil {
				tc.mutate(e)
			}
			at := simTime
			if !tc.at.IsZero() {
				at = tc.at
			}
			b, err := envelopeBytes(e)
			var claims *attest.Claims
			if err == nil {
				claims, err = v.Verify(b, at)
			} else {
				claims, err = v.verify(e, at)
			}
			attesttest.CheckResult(t, claims, err, tc.want)
			if tc.says != "" && !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %q does not say %q", err, tc.says)
			}
		})
	}
}

// envelopeBytes marshals e, or says why it cannot (a hand-made hostile
// envelope that Marshal's own checks refuse is verified as a struct).
func envelopeBytes(e *envelope.Envelope) ([]byte, error) { return e.Marshal() }

// TestHostileUnknownField: an envelope with a field no format has.
func TestHostileUnknownField(t *testing.T) {
	ca := newSimCA(t)
	v := simVerifier(t, ca, writeCollateral(t, ca, attesttest.TDXCollateralOptions{}), Options{})
	b := marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{}, nil))
	b[0]++
	b = append(b, 0x63, 'f', 'o', 'o', 0x01)
	c, err := v.Verify(b, simTime)
	attesttest.CheckResult(t, c, err, attest.ErrMalformed)
}

// TestAllowedStatus: --tdx-allow-tcb-status admits the named status, and
// the claims say it with its advisories.
func TestAllowedStatus(t *testing.T) {
	ca := newSimCA(t)
	dir := writeCollateral(t, ca, attesttest.TDXCollateralOptions{Advisories: map[string][]string{"SWHardeningNeeded": {"INTEL-SA-00615"}}})
	v := simVerifier(t, ca, dir, Options{AllowTCBStatus: []string{"SWHardeningNeeded"}})
	c, err := v.Verify(marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{TCBStatus: "SWHardeningNeeded"}, nil)), simTime)
	attesttest.CheckResult(t, c, err, nil)
	if c.TDX.TCBStatus != "SWHardeningNeeded" || len(c.TDX.AdvisoryIDs) != 1 {
		t.Fatalf("%+v", c.TDX)
	}
	if _, err := New(Options{AllowTCBStatus: []string{"UpToDat"}}); err == nil {
		t.Fatal("unknown status admitted")
	}
	// Debug admitted only with AllowDebug, and then said.
	v = simVerifier(t, ca, dir, Options{AllowTCBStatus: []string{"SWHardeningNeeded"}, AllowDebug: true})
	c, err = v.Verify(marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{TCBStatus: "SWHardeningNeeded", Debug: true}, nil)), simTime)
	attesttest.CheckResult(t, c, err, nil)
	if !c.Debug {
		t.Fatal("debug TD not said")
	}
}

// TestTDAttributes: a TD without SEPT_VE_DISABLE (its host can inject #VE
// where it likes; the bit is not measured) and a MIGRATABLE TD are refused
// unless admitted, each saying why.
func TestTDAttributes(t *testing.T) {
	ca := newSimCA(t)
	dir := writeCollateral(t, ca, attesttest.TDXCollateralOptions{})
	noSEPTVE := uint64(1) << 30 // PKS only, as Intel's sample quote
	migratable := attesttest.TDXDefaultAttributes | 1<<29
	for _, tc := range []struct {
		name  string
		attrs uint64
		opts  Options
		says  string
	}{
		{"no SEPT_VE_DISABLE", noSEPTVE, Options{}, "SEPT_VE_DISABLE"},
		{"no SEPT_VE_DISABLE, admitted", noSEPTVE, Options{AllowSEPTVE: true}, ""},
		{"migratable", migratable, Options{}, "MIGRATABLE"},
		{"migratable, admitted", migratable, Options{AllowMigratable: true}, ""},
		// Both at once: every unmet condition is named, MIGRATABLE too.
		{"no SEPT_VE_DISABLE and migratable", noSEPTVE | 1<<29, Options{}, "MIGRATABLE"},
		{"the default", 0, Options{}, ""},
	} {
		v := simVerifier(t, ca, dir, tc.opts)
		c, err := v.Verify(marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{Attributes: tc.attrs}, nil)), simTime)
		if tc.says == "" {
			attesttest.CheckResult(t, c, err, nil)
			continue
		}
		attesttest.CheckResult(t, c, err, attest.ErrPolicy)
		if !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestEnvelopeCollateral: collateral in the envelope is accepted when it
// verifies and is not older than the server's; older is a rollback;
// collateral signed by another root is refused.
func TestEnvelopeCollateral(t *testing.T) {
	ca := newSimCA(t)
	carried := func(o attesttest.TDXCollateralOptions, signer *attesttest.TDXCA) *envelope.TDXCollateral {
		c := simCollateral(t, signer, o)
		return &envelope.TDXCollateral{TCBInfo: c.TCBInfo, QEIdentity: c.QEIdentity,
			TCBSigningCert: signer.TCBSigning.Raw, PCKCRL: c.PCKCRL, RootCRL: c.RootCRL}
	}
	// No server collateral: the envelope's alone.
	v := simVerifier(t, ca, "", Options{})
	e := simEnvelope(t, ca, attesttest.TDXQuote{}, nil)
	e.Collateral = carried(attesttest.TDXCollateralOptions{}, ca)
	c, err := v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, nil)
	// Server at evaluation 18: the envelope's 17 is a rollback, its 19 is used.
	v = simVerifier(t, ca, writeCollateral(t, ca, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 18}), Options{})
	c, err = v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrExpired)
	if !strings.Contains(err.Error(), "rollback") {
		t.Fatal(err)
	}
	e.Collateral = carried(attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 19, Restatus: map[string]string{"UpToDate": "OutOfDate"}}, ca)
	c, err = v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrPolicy) // the newer says OutOfDate: it is the one used
	// Signed by another hierarchy's TCB signer.
	other := newSimCA(t) // same FMSPC
	e.Collateral = carried(attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 19}, other)
	c, err = v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrChain)
	// A tampered TCB Info.
	e.Collateral = carried(attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 19}, ca)
	e.Collateral.TCBInfo = []byte(strings.Replace(string(e.Collateral.TCBInfo), `"UpToDate"`, `"UpToDate" `, 1))
	c, err = v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrChain)
}

// TestCollateralDirReload: a changed directory is reloaded; a rollback in
// it is refused and the newer collateral kept.
func TestCollateralDirReload(t *testing.T) {
	ca := newSimCA(t)
	dir := writeCollateral(t, ca, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 18})
	d, err := OpenCollateralDir(dir, []*x509.Certificate{ca.Root})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	d.Logger = slog.New(slog.NewTextHandler(&log, nil))
	rewrite := func(o attesttest.TDXCollateralOptions) { rewriteCollateral(t, ca, dir, o) }
	rewrite(attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 19})
	c, err := d.Collateral(simTime)
	if err != nil || c.TCBInfos["00906ed50000"].Info.TcbEvaluationDataNumber != 19 {
		t.Fatalf("not reloaded: %v", err)
	}
	if !strings.Contains(log.String(), "TDX collateral reloaded") {
		t.Fatalf("the reload was not logged: %q", log.String())
	}
	rewrite(attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 17})
	c, err = d.Collateral(simTime.Add(2 * time.Second))
	if err == nil || c.TCBInfos["00906ed50000"].Info.TcbEvaluationDataNumber != 19 {
		t.Fatalf("rollback: %v", err)
	}
	// The refusal is logged once, not at every look at the directory.
	d.Collateral(simTime.Add(4 * time.Second))
	if n := strings.Count(log.String(), "reload refused"); n != 1 {
		t.Fatalf("the refused reload logged %d times: %q", n, log.String())
	}
}

// TestEnvelopeCollateralGlobalFloor: the server's evaluation is the highest
// it holds for any FMSPC; an envelope's older TCB Info for an FMSPC the
// server has none of is still a rollback.
func TestEnvelopeCollateralGlobalFloor(t *testing.T) {
	ca := newSimCA(t)
	col := simCollateral(t, ca, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 17})
	// The server holds evaluation 18 for another FMSPC only.
	otherFMSPC := [6]byte{0x00, 0x60, 0x6a, 0x00, 0x00, 0x00}
	dir := writeCollateral(t, ca, attesttest.TDXCollateralOptions{TCBEvaluationDataNumber: 18, FMSPC: &otherFMSPC})
	v := simVerifier(t, ca, dir, Options{})
	e := simEnvelope(t, ca, attesttest.TDXQuote{}, nil)
	e.Collateral = &envelope.TDXCollateral{TCBInfo: col.TCBInfo, QEIdentity: col.QEIdentity, TCBSigningCert: ca.TCBSigning.Raw}
	c, err := v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrExpired)
	if !strings.Contains(err.Error(), "older than the server's 18") {
		t.Fatal(err)
	}
}

// TestTDXModuleIdentitySigner: a TDX 1.5 module's MRSIGNERSEAM is judged
// by its module identity's mrsigner, not the TCB Info's tdxModule's.
func TestTDXModuleIdentitySigner(t *testing.T) {
	ca := newSimCA(t)
	other := bytes.Repeat([]byte{0x01}, 48)
	o := attesttest.TDXCollateralOptions{ModuleSVN: 3, ModuleMRSigner: other}
	v := simVerifier(t, ca, writeCollateral(t, ca, o), Options{})
	tdx15 := []byte{3, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	c, err := v.Verify(marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{TEETCBSVN: tdx15}, nil)), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrPolicy)
	if !strings.Contains(err.Error(), "MRSIGNERSEAM") {
		t.Fatal(err)
	}
	// A TDX 1.0 module (TEE_TCB_SVN[1] = 0) is judged by the tdxModule.
	c, err = v.Verify(marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{}, nil)), simTime)
	attesttest.CheckResult(t, c, err, nil)
}

// TestTDXModuleIdentity: a TDX 1.5 module (TEE_TCB_SVN[1] > 0) is judged
// by the TCB Info's TDX module identity of that version.
func TestTDXModuleIdentity(t *testing.T) {
	ca := newSimCA(t)
	svn := func(module byte) []byte { return []byte{module, 1, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} }
	// The TCB Info's module identity TDX_01 has one level, at SVN 3 of status.
	for name, tc := range map[string]struct {
		status   string
		svn      []byte
		want     error
		says     string
		restatus map[string]string // of the platform's TCB levels
	}{
		"up to date":         {"UpToDate", svn(3), nil, "", nil},
		"module out of date": {"OutOfDate", svn(3), attest.ErrPolicy, "platform TCB status OutOfDate", nil},
		"module SVN too low": {"UpToDate", svn(2), attest.ErrPolicy, "no TCB level of TDX module identity TDX_01", nil},
		"no module identity": {"", svn(3), attest.ErrPolicy, "no TDX module identity TDX_01", nil},
		// The module's level never raises the platform's: an up-to-date
		// module on an out-of-date platform is out of date (Intel's QVL
		// converges the two statuses).
		"platform out of date, module up to date":          {"UpToDate", svn(3), attest.ErrPolicy, "platform TCB status OutOfDate", map[string]string{"UpToDate": "OutOfDate"}},
		"platform SWHardeningNeeded, module out of date":   {"OutOfDate", svn(3), attest.ErrPolicy, "platform TCB status OutOfDate", map[string]string{"UpToDate": "SWHardeningNeeded"}},
		"platform ConfigurationNeeded, module out of date": {"OutOfDate", svn(3), attest.ErrPolicy, "platform TCB status OutOfDateConfigurationNeeded", map[string]string{"UpToDate": "ConfigurationNeeded"}},
		"module revoked": {"Revoked", svn(3), attest.ErrPolicy, "platform TCB status Revoked", nil},
	} {
		t.Run(name, func(t *testing.T) {
			o := attesttest.TDXCollateralOptions{ModuleSVN: 3, ModuleStatus: tc.status, NoModuleIdentity: tc.status == "", Restatus: tc.restatus}
			v := simVerifier(t, ca, writeCollateral(t, ca, o), Options{})
			c, err := v.Verify(marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{TEETCBSVN: tc.svn}, nil)), simTime)
			attesttest.CheckResult(t, c, err, tc.want)
			if tc.says != "" && !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("%q does not say %q", err, tc.says)
			}
		})
	}
}

// TestEnvelopeCRLRollback: an envelope's CRLs never undo a revocation the
// server's CRLs hold. Intel's older CRLs, signed before it revoked a PCK or
// a PCK CA, stay within their nextUpdate for weeks; one carried in an
// envelope is checked, and so are the server's.
func TestEnvelopeCRLRollback(t *testing.T) {
	ca := newSimCA(t)
	clean := simCollateral(t, ca, attesttest.TDXCollateralOptions{})
	for name, o := range map[string]attesttest.TDXCollateralOptions{
		"PCK revoked by the server's PCK CRL":     {RevokePCK: true},
		"PCK CA revoked by the server's root CRL": {RevokePlatformCA: true},
	} {
		t.Run(name, func(t *testing.T) {
			v := simVerifier(t, ca, writeCollateral(t, ca, o), Options{})
			e := simEnvelope(t, ca, attesttest.TDXQuote{}, nil)
			c, err := v.Verify(marshal(t, e), simTime)
			attesttest.CheckResult(t, c, err, attest.ErrChain)
			// The same evaluation's collateral, with the CRLs from before
			// the revocation.
			e.Collateral = &envelope.TDXCollateral{TCBInfo: clean.TCBInfo, QEIdentity: clean.QEIdentity,
				TCBSigningCert: ca.TCBSigning.Raw, PCKCRL: clean.PCKCRL, RootCRL: clean.RootCRL}
			c, err = v.Verify(marshal(t, e), simTime)
			attesttest.CheckResult(t, c, err, attest.ErrChain)
			if !strings.Contains(err.Error(), "revoked") {
				t.Fatal(err)
			}
		})
	}
}

// TestTCBSignerRevoked: collateral signed by a TCB signing certificate its
// root's CRL revokes is refused, whichever configured root signed it: with
// two roots, the signer's root need not be the PCK chain's, and its CRL is
// the one that speaks for it. Without a CRL of the signer's root the
// collateral is not judged at all.
func TestTCBSignerRevoked(t *testing.T) {
	ca := newSimCA(t)
	v := simVerifier(t, ca, writeCollateral(t, ca, attesttest.TDXCollateralOptions{RevokeTCBSigning: true}), Options{})
	c, err := v.Verify(marshal(t, simEnvelope(t, ca, attesttest.TDXQuote{}, nil)), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrChain)
	if !strings.Contains(err.Error(), "collateral signing certificate") || !strings.Contains(err.Error(), "revoked") {
		t.Fatal(err)
	}

	// Two roots: the quote's PCK chain is ca's, the collateral is signed
	// by other's TCB signer; the server holds ca's CRLs.
	other := newSimCA(t)
	own := simCollateral(t, ca, attesttest.TDXCollateralOptions{})
	revoking := simCollateral(t, other, attesttest.TDXCollateralOptions{RevokeTCBSigning: true})
	dir := t.TempDir()
	mixed := &attesttest.TDXCollateral{FMSPC: own.FMSPC,
		TCBInfo: revoking.TCBInfo, TCBInfoIssuer: revoking.TCBInfoIssuer, QEIdentity: revoking.QEIdentity, QEIdentityIssuer: revoking.QEIdentityIssuer,
		PCKCRL: own.PCKCRL, PCKCRLIssuer: own.PCKCRLIssuer, RootCRL: own.RootCRL}
	if err := mixed.Save(dir); err != nil {
		t.Fatal(err)
	}
	roots := []*x509.Certificate{ca.Root, other.Root}
	v = dirVerifier(t, dir, Options{Roots: roots})
	e := simEnvelope(t, ca, attesttest.TDXQuote{}, nil)
	c, err = v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrPolicy)
	if !strings.Contains(err.Error(), "no CRL of the collateral signing certificate's root") {
		t.Fatal(err)
	}
	// The signer's root's CRL, carried in the envelope, revokes it.
	e.Collateral = &envelope.TDXCollateral{TCBInfo: revoking.TCBInfo, QEIdentity: revoking.QEIdentity,
		TCBSigningCert: other.TCBSigning.Raw, RootCRL: revoking.RootCRL}
	c, err = v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, attest.ErrChain)
	if !strings.Contains(err.Error(), "revoked") {
		t.Fatal(err)
	}
	// A CRL of that root that does not revoke it: verified.
	clean := simCollateral(t, other, attesttest.TDXCollateralOptions{})
	e.Collateral.RootCRL = clean.RootCRL
	c, err = v.Verify(marshal(t, e), simTime)
	attesttest.CheckResult(t, c, err, nil)
}
