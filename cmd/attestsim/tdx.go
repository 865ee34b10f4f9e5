package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/attestkms/attestkms/attest/attesttest"
)

const tdxCASynopsis = `Usage: attestsim tdx-ca --out DIR [flags]

Makes a test Intel PKI for one TDX platform in DIR, standing in for Intel's:
an "Intel SGX Root CA" (ECDSA P-256), the "Intel SGX PCK Platform CA", the
platform's PCK certificate (its SGX extension names the FMSPC, PCE-ID and
TCB) and the "Intel SGX TCB Signing" certificate, with their keys (mode
0600), and the collateral Intel's PCS would serve, signed now:

  DIR/roots.pem                               the test root (attestkms --tdx-roots)
  DIR/collateral/tcbinfo-<fmspc>.json         TCB Info v3 {"tcbInfo":…,"signature":…}
  DIR/collateral/tcbinfo.issuer.pem           its issuer chain: TCB signing, root
  DIR/collateral/qe_identity.json             QE Identity (TD_QE) {"enclaveIdentity":…,"signature":…}
  DIR/collateral/qe_identity.issuer.pem       its issuer chain: TCB signing, root
  DIR/collateral/pck_crl.der                  PCK CRL (platform CA), DER
  DIR/collateral/pck_crl.issuer.pem           its issuer chain: PCK Platform CA, root
  DIR/collateral/root_crl.der                 root CA CRL, DER

(attestkms --tdx-collateral DIR/collateral). The TCB Info has one TCB level
per status, which "attestsim tdx --tcb-status" selects. "attestsim
tdx-collateral" signs other collateral with the same CA.

Examples:
  attestsim tdx-ca --out tdxca
  attestkms serve --tdx-roots tdxca/roots.pem --tdx-collateral tdxca/collateral
`

const tdxCollateralSynopsis = `Usage: attestsim tdx-collateral --ca DIR --out DIR2 [flags]

Signs collateral (TCB Info, QE Identity, PCK and root CRLs) with the test CA
in DIR, in the layout of "attestsim tdx-ca" (see its --help), into DIR2:
stale, rolled-back, revoking or for another FMSPC, as the flags say. Files
of the same names in DIR2 are replaced.

Examples:
  attestsim tdx-collateral --ca tdxca --out stale --issue-date 2020-01-01T00:00:00Z
  attestsim tdx-collateral --ca tdxca --out revoked --revoke-pck
  attestsim tdx-collateral --ca tdxca --out old --tcb-evaluation-number 3
`

const tdxSynopsis = `Usage: attestsim tdx --ca DIR --public-key PEM [--out FILE] [flags]

Signs an Intel TDX quote, version 4, in the real binary layout (header, TD
quote body, ECDSA P-256 quote signature by an attestation key, the QE
report binding that key signed by the test PCK key, the PCK certificate
chain), whose REPORTDATA binds the enclave key in --public-key (and --nonce,
--user-data) as SEV-SNP's REPORT_DATA does (SHA-512), and writes it in an
attestkms evidence envelope of format "tdx" (docs/evidence.md).

--tcb-status chooses TEE_TCB_SVN so that the CA's TCB Info gives that
status: UpToDate (default), SWHardeningNeeded, ConfigurationNeeded,
ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded
or Revoked. --break makes hostile quotes.

Examples:
  attestsim tdx-ca --out tdxca
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out enclave.pem
  attestsim tdx --ca tdxca --public-key enclave.pem --out ev.cbor \
      --mrtd $(printf '%096d' 1) --rtmr 3=$(printf '%096d' 3)
  attestkms verify-evidence --in ev.cbor --tdx-roots tdxca/roots.pem --tdx-collateral tdxca/collateral
`

func runTDXCA(args []string, e env) error {
	flags := newFlagSet("tdx-ca", tdxCASynopsis, e)
	out := flags.String("out", "", "make the test PKI in this `directory` (created if need be; it must not hold one already)")
	fmspc := flags.String("fmspc", "", "the platform's FMSPC, 6 bytes in `hex` (default "+hex.EncodeToString(attesttest.DefaultTDXFMSPC[:])+")")
	co := tdxCollateralFlags(flags)
	if err := flags.parse(args); err != nil {
		return err
	}
	if *out == "" {
		return usageError("", "--out is required")
	}
	var o attesttest.TDXCAOptions
	if *fmspc != "" {
		b, err := hexFlag("--fmspc", *fmspc, 6)
		if err != nil {
			return err
		}
		o.FMSPC = (*[6]byte)(b)
	}
	opts, err := co.options(e)
	if err != nil {
		return err
	}
	ca, err := attesttest.NewTDXCAWith(o)
	if err != nil {
		return failure(err, "")
	}
	if err := ca.Save(*out, opts.IssueDate); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return failure(fmt.Errorf("%s already holds a test CA", *out), "choose another --out, or remove "+*out)
		}
		return failure(err, "")
	}
	// Save signed default collateral; sign again if flags asked for more.
	if co.set() {
		c, err := ca.Collateral(opts)
		if err != nil {
			return failure(err, "")
		}
		if err := c.Save(filepath.Join(*out, attesttest.TDXCollateralDir)); err != nil {
			return failure(err, "")
		}
	}
	fmt.Fprintf(e.stdout, "made a tdx test PKI for FMSPC %s in %s\ntrust it with: attestkms serve --tdx-roots %s/roots.pem --tdx-collateral %s/collateral\n",
		ca.FMSPCHex(), *out, *out, *out)
	return nil
}

func runTDXCollateral(args []string, e env) error {
	flags := newFlagSet("tdx-collateral", tdxCollateralSynopsis, e)
	caDir := flags.String("ca", "", "sign with the test PKI in this `directory` (made by attestsim tdx-ca)")
	out := flags.String("out", "", "write the collateral files to this `directory`")
	fmspc := flags.String("fmspc", "", "sign TCB Info for this FMSPC, 6 bytes in `hex`, rather than the platform's (collateral of another platform)")
	co := tdxCollateralFlags(flags)
	if err := flags.parse(args); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"--ca", *caDir}, {"--out", *out}} {
		if f.v == "" {
			return usageError("", "%s is required", f.name)
		}
	}
	opts, err := co.options(e)
	if err != nil {
		return err
	}
	if *fmspc != "" {
		b, err := hexFlag("--fmspc", *fmspc, 6)
		if err != nil {
			return err
		}
		opts.FMSPC = (*[6]byte)(b)
	}
	ca, err := attesttest.LoadTDXCA(*caDir)
	if err != nil {
		return failure(err, notFoundHint(err, "attestsim tdx-ca --out "+*caDir))
	}
	c, err := ca.Collateral(opts)
	if err != nil {
		return failure(err, "")
	}
	if err := c.Save(*out); err != nil {
		return failure(err, "")
	}
	fmt.Fprintf(e.stdout, "wrote tdx collateral for FMSPC %s in %s\n", c.FMSPC, *out)
	return nil
}

// tdxCollateralOpts are the flags that shape collateral.
type tdxCollateralOpts struct {
	issue, next           *string
	evalNum               *int
	revokePCK, revokePlat *bool
}

func tdxCollateralFlags(c *command) *tdxCollateralOpts {
	return &tdxCollateralOpts{
		issue:      c.String("issue-date", "", "the collateral's issueDate (and CRLs' thisUpdate), `RFC3339` (default now)"),
		next:       c.String("next-update", "", "the collateral's nextUpdate, `RFC3339` (default issue date + 30 days)"),
		evalNum:    c.Int("tcb-evaluation-number", 0, fmt.Sprintf("the tcbEvaluationDataNumber of TCB Info and QE Identity (default %d)", attesttest.DefaultTDXTCBEvaluationDataNumber)),
		revokePCK:  c.Bool("revoke-pck", false, "the PCK CRL lists the platform's PCK certificate"),
		revokePlat: c.Bool("revoke-platform-ca", false, "the root CRL lists the PCK Platform CA"),
	}
}

func (o *tdxCollateralOpts) set() bool {
	return *o.issue != "" || *o.next != "" || *o.evalNum != 0 || *o.revokePCK || *o.revokePlat
}

func (o *tdxCollateralOpts) options(e env) (attesttest.TDXCollateralOptions, error) {
	r := attesttest.TDXCollateralOptions{IssueDate: e.now(), TCBEvaluationDataNumber: *o.evalNum,
		RevokePCK: *o.revokePCK, RevokePlatformCA: *o.revokePlat}
	if *o.evalNum < 0 {
		return r, usageError("", "--tcb-evaluation-number must be positive")
	}
	for _, f := range []struct {
		name, v string
		to      *time.Time
	}{{"--issue-date", *o.issue, &r.IssueDate}, {"--next-update", *o.next, &r.NextUpdate}} {
		if f.v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, f.v)
		if err != nil {
			return r, usageError("for example "+f.name+" 2026-01-02T15:04:05Z", "%s %q is not an RFC3339 time", f.name, f.v)
		}
		*f.to = t
	}
	if !r.NextUpdate.IsZero() && !r.NextUpdate.After(r.IssueDate) {
		return r, usageError("", "--next-update must be after the issue date")
	}
	return r, nil
}

// rtmrFlag collects --rtmr N=HEX.
type rtmrFlag [4][]byte

func (r *rtmrFlag) String() string {
	var s []string
	for i, v := range r {
		if v != nil {
			s = append(s, fmt.Sprintf("%d=%x", i, v))
		}
	}
	return strings.Join(s, ",")
}

func (r *rtmrFlag) Set(v string) error {
	n, h, ok := strings.Cut(v, "=")
	if !ok {
		return errors.New("want N=HEX")
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 || i > 3 {
		return fmt.Errorf("RTMR index %q is not 0 to 3", n)
	}
	if r[i] != nil {
		return fmt.Errorf("RTMR%d given twice", i)
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 48 {
		return fmt.Errorf("RTMR%d is not 48 bytes of hex", i)
	}
	r[i] = b
	return nil
}

// tdxBreaks are the --break values and the knob each sets.
var tdxBreaks = map[string]func(q *attesttest.TDXQuote){
	"report-data":     func(q *attesttest.TDXQuote) { q.ReportData = make([]byte, 64) },
	"quote-signature": func(q *attesttest.TDXQuote) { q.BadQuoteSignature = true },
	"qe-report-key":   func(q *attesttest.TDXQuote) { q.QEReportOtherKey = true },
	"qe-report-signer": func(q *attesttest.TDXQuote) {
		q.QEReportNotByPCK = true
	},
}

func runTDX(args []string, e env) error {
	flags := newFlagSet("tdx", tdxSynopsis, e)
	caDir := flags.String("ca", "", "sign with the test PKI in this `directory` (made by attestsim tdx-ca)")
	keyFile := flags.String("public-key", "", "the enclave's key, a PEM `file` (- for standard input): public key, or private key of which the public half is used")
	mrtd := flags.String("mrtd", "", "MRTD, 48 bytes in `hex` (default: SHA-384 of \"attestkms test td\")")
	var rtmrs rtmrFlag
	flags.Var(&rtmrs, "rtmr", "set RTMR `N=HEX` (0 to 3, 48 bytes; repeat the flag for each); RTMRs not given are zero")
	mrConfigID := flags.String("mr-config-id", "", "MRCONFIGID, 48 bytes in `hex` (default zero)")
	mrOwner := flags.String("mr-owner", "", "MROWNER, 48 bytes in `hex` (default zero)")
	tcbStatus := flags.String("tcb-status", "UpToDate", "the `status` the CA's TCB Info gives the quote's TCB")
	debug := flags.Bool("debug", false, "a debug TD (TD_ATTRIBUTES.DEBUG set)")
	userData := flags.String("user-data", "", "the envelope's user_data, `base64`, bound in REPORTDATA")
	nonce := flags.String("nonce", "", "the envelope's nonce, `base64`, bound in REPORTDATA")
	brk := flags.String("break", "", "make a hostile quote: `what` is report-data (REPORTDATA zero), quote-signature, qe-report-key (the QE report binds another attestation key) or qe-report-signer (not signed by the PCK key)")
	// Issue 14 spells the command without --out: the envelope goes to
	// stdout unless --out names a file.
	out := flags.String("out", "-", "write the envelope to this `file` (- for stdout)")
	if err := flags.parse(args); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"--ca", *caDir}, {"--public-key", *keyFile}, {"--out", *out}} {
		if f.v == "" {
			return usageError("", "%s is required", f.name)
		}
	}
	q := attesttest.TDXQuote{RTMR: rtmrs, TCBStatus: *tcbStatus, Debug: *debug}
	if _, ok := attesttest.TDXModuleSVN(*tcbStatus); !ok {
		return usageError("one of "+strings.Join(attesttest.TDXTCBStatuses, ", "), "--tcb-status %q is not a TCB status", *tcbStatus)
	}
	var err error
	for _, f := range []struct {
		name, v string
		to      *[]byte
	}{{"--mrtd", *mrtd, &q.MRTD}, {"--mr-config-id", *mrConfigID, &q.MRConfigID}, {"--mr-owner", *mrOwner, &q.MROwner}} {
		if *f.to, err = hexFlag(f.name, f.v, 48); err != nil {
			return err
		}
	}
	if q.UserData, err = decodeBase64("--user-data", *userData); err != nil {
		return err
	}
	if q.Nonce, err = decodeBase64("--nonce", *nonce); err != nil {
		return err
	}
	if *brk != "" {
		set, ok := tdxBreaks[*brk]
		if !ok {
			return usageError("report-data, quote-signature, qe-report-key or qe-report-signer", "--break %q is not something to break", *brk)
		}
		set(&q)
	}
	der, err := enclaveKeyDER(e, *keyFile)
	if err != nil {
		return err
	}
	ca, err := attesttest.LoadTDXCA(*caDir)
	if err != nil {
		return failure(err, notFoundHint(err, "attestsim tdx-ca --out "+*caDir))
	}
	b, err := ca.Evidence(der, q)
	if err != nil {
		return failure(err, "")
	}
	what := fmt.Sprintf("a tdx evidence envelope of %d bytes, TCB %s", len(b), *tcbStatus)
	if *debug {
		what += ", debug TD"
	}
	if *brk != "" {
		what += ", broken: " + *brk
	}
	return writeEvidence(e, *out, b, what)
}
