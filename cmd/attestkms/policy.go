package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/kms"
)

const policyUsage = `Usage:
  attestkms policy lint --in FILE                        the server's checks of a key policy
  attestkms policy test --in FILE --action ACTION [...]  the server's verdict on one request

Both judge with the server's own code (kms.LintPolicy, kms.JudgePolicy): what
they say is what CreateKey, PutKeyPolicy and every keyed operation would do.
Run "attestkms policy lint --help" or "attestkms policy test --help" for flags.

Examples:
  attestkms policy lint --in policy.json
  attestkms policy test --in policy.json --action kms:Decrypt \
      --evidence doc.cbor --nitro-roots ca/root.pem
`

const policyLintUsage = `Usage: attestkms policy lint --in FILE

Runs the checks the server applies to a new key policy (CreateKey,
PutKeyPolicy), for any key of any account, and the weaker smells it accepts.
It prints one line per finding, tab-separated:

  SEVERITY  STATEMENT  ACTION  REASON

SEVERITY is "error" (the document does not parse, or it is attestation-bound
and lets some principal obtain a secret without a verified Recipient: the
server refuses it) or "warning" (a smell the server accepts); STATEMENT and
ACTION are "-" when the finding concerns the whole document or no one action.
A clean policy prints nothing. The lockout check, which depends on who puts
the policy, is not run.

Exit status: 0 no findings; 1 findings (of any severity); 2 usage; 3 the file
cannot be read (missing, a directory, larger than 1 MiB).

Examples:
  attestkms policy lint --in policy.json
  aws kms get-key-policy --key-id KEY --policy-name default --output text \
      --endpoint-url http://127.0.0.1:8080 | attestkms policy lint --in -
`

const policyTestUsage = `Usage: attestkms policy test --in FILE --action ACTION [--evidence DOC]
         [--identity-policy FILE] [--principal ARN] [--key-arn ARN] [--context KEY=VALUE]...
         [--at RFC3339] [--region NAME] [--allow-debug-enclaves] [--explain] [--nitro-roots PEM] ...

Judges one request by a key policy exactly as the server would: first the
attestation gate (an attestation-bound key releases no secret without a
verified Recipient), then the policy and, with --identity-policy, the
caller's identity policy (credential create --policy) by the delegation rule:
a key policy Allow that names only the account needs the identity policy's
Allow too, and an explicit Deny in either wins (docs/policy.md). It prints

  allowed | denied
  statement: STATEMENT            (the deciding statement, or "none")
  identity statement: STATEMENT   (with --identity-policy: the identity policy's, or "none")
  reason: REASON                  (for a denial, one line per reason)
  explain: LINE                   (with --explain, one line per statement)
  explain: identity policy: LINE  (with --explain and --identity-policy)

--evidence is the Recipient's attestation document (raw or base64, as
verify-evidence reads it), verified at --at by the server's verifiers with the
trust flags below; its measurements are the kms:RecipientAttestation keys.
Evidence the server would refuse makes the verdict "denied", with the reason.

The caller is --principal (default: the root of the account of --key-arn, else
of the only account the policy names). The key is --key-arn (default
arn:aws:kms:REGION:ACCOUNT:key/00000000-0000-0000-0000-000000000000): a policy
whose Resource names a particular key needs --key-arn. --context sets what the
request carries (key names in any case):
  aws:SecureTransport=true|false   (default false: plain HTTP)
  aws:SourceIp=ADDRESS             (default: absent)
  kms:EncryptionContext:KEY=VALUE  (repeat for each KEY; kms:EncryptionContextKeys follows)
  kms:RequestAlias=alias/NAME      (the request names the key by this alias)
  kms:ResourceAliases=alias/A,alias/B   (the key's aliases; default: none)
  kms:KeySpec=SPEC, kms:KeyUsage=USAGE   (default SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT)
Measurements come only from --evidence, the caller from --principal, the time
from --at and the region from --region.

Exit status: 0 allowed; 1 denied, or a policy does not parse; 2 usage; 3 a
policy, the evidence or a roots file cannot be read.

Examples:
  attestkms policy test --in policy.json --action kms:DescribeKey
  attestkms policy test --in policy.json --action kms:Decrypt \
      --evidence doc.cbor --nitro-roots ca/root.pem
  attestkms policy test --in policy.json --action kms:Decrypt --explain \
      --principal arn:aws:iam::111122223333:user/ci \
      --context aws:SecureTransport=true --context kms:EncryptionContext:app=billing
  attestkms policy test --in policy.json --action kms:Decrypt \
      --principal arn:aws:iam::111122223333:user/ci --identity-policy ci-policy.json \
      --context kms:ResourceAliases=alias/ci
`

// maxPolicyInput bounds what policy lint and test read. The parser refuses
// documents over 32 KiB (AWS's limit) as a finding; anything past 1 MiB is
// not a policy at all and is refused as unreadable before it is read whole.
const maxPolicyInput = 1 << 20

const lintHint = "attestkms policy lint --in FILE lists every problem of a policy"

// defaultKeyID is the key of policy test's default --key-arn.
const defaultKeyID = "00000000-0000-0000-0000-000000000000"

func runPolicy(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("policy needs a subcommand: lint or test")
	}
	switch args[0] {
	case "lint":
		return runPolicyLint(args[1:], stdout, stderr)
	case "test":
		return runPolicyTest(args[1:], stdout, stderr)
	case "-h", "--help", "-help", "help":
		io.WriteString(stdout, policyUsage)
		return nil
	}
	return usageError("unknown policy subcommand %q: use lint or test", args[0])
}

func runPolicyLint(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy lint", policyLintUsage, stdout, stderr)
	in := fs.String("in", "", "the policy document's `file` (- for standard input)")
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if *in == "" {
		return usageError("--in is required")
	}
	doc, err := readPolicy(*in)
	if err != nil {
		return readError(err)
	}
	findings := kms.LintPolicy(doc)
	for _, f := range findings {
		fmt.Fprintln(stdout, f.String())
	}
	if len(findings) > 0 {
		return exitStatus(1)
	}
	return nil
}

func runPolicyTest(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy test", policyTestUsage, stdout, stderr)
	in := fs.String("in", "", "the policy document's `file` (- for standard input)")
	action := fs.String("action", "", "the request's `action`, e.g. kms:Decrypt (required)")
	evidence := fs.String("evidence", "", "the Recipient's attestation document `file`, raw or base64 (default: no Recipient)")
	identity := fs.String("identity-policy", "", "the caller's identity policy `file` (default: the caller has none)")
	principal := fs.String("principal", "", "the caller's IAM `ARN` (default: the root of --key-arn's account, else of the policy's only account)")
	keyARN := fs.String("key-arn", "", "the key's `ARN` (default arn:aws:kms:REGION:ACCOUNT:key/"+defaultKeyID+")")
	region := fs.String("region", "us-east-1", "the server's `region` (aws:RequestedRegion)")
	at := fs.String("at", "", "judge and verify at this `instant` (RFC 3339) instead of now")
	explain := fs.Bool("explain", false, "also print, per statement, whether it applies and why not")
	allowDebug := fs.Bool("allow-debug-enclaves", false, "accept evidence of debug-mode enclaves, as serve does with this flag")
	var ctxFlags contextFlags
	fs.Var(&ctxFlags, "context", "a condition `KEY=VALUE` the request carries (repeatable; see above)")
	var ev evidenceFlags
	ev.register(fs)
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	ev.allowDebug = *allowDebug
	if *in == "" {
		return usageError("--in is required")
	}
	if *action == "" {
		return usageError("--action is required, e.g. --action kms:Decrypt")
	}
	if *in == "-" && *evidence == "-" {
		return usageError("--in and --evidence cannot both be standard input")
	}
	if *identity == "-" && (*in == "-" || *evidence == "-") {
		return usageError("--identity-policy and --in or --evidence cannot both be standard input")
	}
	if *region == "" {
		return usageError("--region must not be empty")
	}
	q := &kms.PolicyQuestion{Action: *action, Principal: *principal, KeyARN: *keyARN, Region: *region, Time: time.Now()}
	if *at != "" {
		t, err := time.Parse(time.RFC3339Nano, *at)
		if err != nil {
			return usageError("--at %q is not an RFC 3339 time, e.g. 2024-01-24T18:14:26Z", *at)
		}
		q.Time = t
	}
	if err := ctxFlags.apply(q); err != nil {
		return err
	}

	// Read every input before judging: an unreadable one is exit 3.
	doc, err := readPolicy(*in)
	if err != nil {
		return readError(err)
	}
	if *identity != "" {
		if q.IdentityPolicy, err = readPolicy(*identity); err != nil {
			return readError(err)
		}
		if err := kms.CheckIdentityPolicy(q.IdentityPolicy); err != nil {
			return fmt.Errorf("the identity policy does not parse: %w", err)
		}
	}
	var evidenceDoc []byte
	if *evidence != "" {
		if evidenceDoc, err = readEvidence(*evidence); err != nil {
			return readError(err)
		}
	}
	// The trust flags are read as serve and verify-evidence read them, even
	// without --evidence, so that a bad roots file never goes unnoticed.
	set, err := ev.verifiers()
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	if err != nil {
		return readError(err)
	}
	if err := defaultCaller(doc, q); err != nil {
		return err
	}

	// The server verifies the Recipient before it judges the policy, and
	// refuses evidence that fails (recipient.go's verifyRecipient), a
	// debug-mode enclave's among it unless --allow-debug-enclaves.
	var refused error
	if evidenceDoc != nil {
		q.Claims, refused = set.Verify(evidenceDoc, q.Time)
	}
	a, err := kms.JudgePolicy(doc, q)
	switch {
	case errors.Is(err, kms.ErrMalformedPolicy):
		return withHint(fmt.Errorf("the policy does not parse: %w", err), lintHint)
	case errors.Is(err, kms.ErrValidation):
		return usageError("%s", kms.Message(err))
	case err != nil:
		return err
	}
	if refused != nil {
		a = &kms.PolicyAnswer{Reasons: []string{"the Recipient's evidence is refused: " + refused.Error()}}
		if hint := evidenceHint(refused, ev); hint != "" {
			defer fmt.Fprintf(stderr, "attestkms: hint: %s\n", hint)
		}
	}
	printAnswer(stdout, a, *explain, *identity != "")
	if !a.Allowed {
		return exitStatus(1)
	}
	return nil
}

// printAnswer writes policy test's verdict: allowed or denied, the deciding
// statement (and the identity policy's, with one), the reasons of a denial
// and, if asked, one line per statement.
func printAnswer(w io.Writer, a *kms.PolicyAnswer, explain, identity bool) {
	verdict, statement := "denied", "none"
	if a.Allowed {
		verdict = "allowed"
	}
	if a.Statement != "" {
		statement = a.Statement
	}
	fmt.Fprintf(w, "%s\nstatement: %s\n", verdict, statement)
	if identity {
		is := "none"
		if a.IdentityStatement != "" {
			is = a.IdentityStatement
		}
		fmt.Fprintf(w, "identity statement: %s\n", is)
	}
	if !a.Allowed {
		for _, r := range a.Reasons {
			fmt.Fprintf(w, "reason: %s\n", r)
		}
	}
	if explain {
		for _, l := range a.Lines {
			fmt.Fprintf(w, "explain: %s\n", l)
		}
		for _, l := range a.IdentityLines {
			fmt.Fprintf(w, "explain: identity policy: %s\n", l)
		}
	}
}

// defaultCaller fills in q's principal and key ARN when the flags left them
// out: the principal is the root of the key's account, else of the only
// account the policy names; the key is the default key of the principal's
// account in q.Region. kms.JudgePolicy checks both.
func defaultCaller(doc string, q *kms.PolicyQuestion) error {
	if q.Principal == "" {
		account := ""
		if q.KeyARN != "" {
			parts := strings.SplitN(q.KeyARN, ":", 6)
			if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kms" || parts[4] == "" {
				return usageError("--key-arn %q is not a key ARN arn:aws:kms:REGION:ACCOUNT:key/ID", q.KeyARN)
			}
			account = parts[4]
		} else {
			accounts, err := kms.PolicyAccounts(doc)
			if err != nil {
				return withHint(fmt.Errorf("the policy does not parse: %w", err), lintHint)
			}
			switch len(accounts) {
			case 1:
				account = accounts[0]
			case 0:
				return usageError("the policy names no account to take the caller from: pass --principal arn:aws:iam::ACCOUNT:root (or :user/NAME)")
			default:
				return usageError("the policy names %d accounts (%s): pass --principal to say which caller to judge", len(accounts), strings.Join(accounts, ", "))
			}
		}
		q.Principal = "arn:aws:iam::" + account + ":root"
	}
	if q.KeyARN == "" {
		account := ""
		if rest, ok := strings.CutPrefix(q.Principal, "arn:aws:iam::"); ok {
			account, _, _ = strings.Cut(rest, ":")
		}
		q.KeyARN = "arn:aws:kms:" + q.Region + ":" + account + ":key/" + defaultKeyID
	}
	return nil
}

// readPolicy reads a policy document (- is standard input), refusing one
// larger than maxPolicyInput before reading it whole.
func readPolicy(path string) (string, error) {
	r := io.Reader(os.Stdin)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxPolicyInput+1))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > maxPolicyInput {
		return "", fmt.Errorf("%s: more than %d bytes, far larger than any key policy (AWS's limit is 32 KiB)", path, maxPolicyInput)
	}
	return string(b), nil
}

// contextFlags are policy test's --context KEY=VALUE flags, as given.
type contextFlags []string

func (c *contextFlags) String() string { return strings.Join(*c, " ") }

func (c *contextFlags) Set(s string) error {
	*c = append(*c, s)
	return nil
}

// contextKeySpecs and contextKeyUsages are the values the server gives kms:KeySpec and
// kms:KeyUsage: those of the keys it makes.
var (
	contextKeySpecs  = []kms.KeySpec{kms.SymmetricDefault, kms.EccNistP256, kms.EccNistP384, kms.EccNistP521, kms.EccSecgP256k1, kms.Sm2}
	contextKeyUsages = []kms.KeyUsage{kms.EncryptDecrypt, kms.KeyAgreement}
)

// apply sets the request facts the --context flags give on q. Only the keys
// a caller's request may choose are accepted; the others name the flag that
// sets them, or say why nothing does.
func (c contextFlags) apply(q *kms.PolicyQuestion) error {
	seen := map[string]bool{}
	for _, kv := range c {
		key, value, ok := strings.Cut(kv, "=")
		if !ok || key == "" {
			return usageError("--context %q is not KEY=VALUE", kv)
		}
		lower := strings.ToLower(key)
		if seen[lower] {
			return usageError("--context %s is given twice", key)
		}
		seen[lower] = true
		instead := func(flag, why string) error {
			return &exitError{code: 2, err: fmt.Errorf("--context %s: %s", key, why), hint: "use " + flag}
		}
		switch {
		case attest.IsAttestationKey(key):
			return instead("--evidence (with its roots, e.g. --nitro-roots)", "measurements come only from verified evidence, never from the command line")
		case lower == "aws:principalarn" || lower == "kms:calleraccount":
			return instead("--principal", "the caller is set with --principal")
		case lower == "aws:currenttime" || lower == "aws:epochtime":
			return instead("--at", "the request's time is set with --at")
		case lower == "aws:requestedregion":
			return instead("--region", "the server's region is set with --region")
		case lower == "kms:encryptioncontextkeys":
			return instead("--context kms:EncryptionContext:KEY=VALUE", "it is derived from the kms:EncryptionContext:KEY entries")
		case lower == "kms:keyorigin":
			return usageError("--context %s: every attestkms key's origin is AWS_KMS", key)
		case lower == "aws:securetransport":
			switch strings.ToLower(value) {
			case "true":
				q.SecureTransport = true
			case "false":
				q.SecureTransport = false
			default:
				return usageError("--context %s=%q: want true or false", key, value)
			}
		case lower == "aws:sourceip":
			addr, err := netip.ParseAddr(value)
			if err != nil {
				return usageError("--context %s=%q is not an IP address", key, value)
			}
			q.SourceIP = addr.String()
		case strings.HasPrefix(lower, "kms:encryptioncontext:"):
			k := key[len("kms:EncryptionContext:"):]
			if k == "" {
				return usageError("--context %s: name the encryption context key, kms:EncryptionContext:KEY=VALUE", key)
			}
			if q.EncryptionContext == nil {
				q.EncryptionContext = kms.EncryptionContext{}
			}
			q.EncryptionContext[k] = value
		case lower == "kms:resourcealiases":
			for _, alias := range strings.Split(value, ",") {
				if !strings.HasPrefix(alias, "alias/") || len(alias) == len("alias/") {
					return usageError("--context %s=%q: want alias/NAME[,alias/NAME...]", key, value)
				}
				q.ResourceAliases = append(q.ResourceAliases, alias)
			}
		case lower == "kms:requestalias":
			if !strings.HasPrefix(value, "alias/") || len(value) == len("alias/") {
				return usageError("--context %s=%q: want alias/NAME", key, value)
			}
			q.RequestAlias = value
		case lower == "kms:keyspec":
			if !oneOf(value, contextKeySpecs) {
				return usageError("--context %s=%q: want one of %s", key, value, joined(contextKeySpecs))
			}
			q.KeySpec = kms.KeySpec(value)
		case lower == "kms:keyusage":
			if !oneOf(value, contextKeyUsages) {
				return usageError("--context %s=%q: want one of %s", key, value, joined(contextKeyUsages))
			}
			q.KeyUsage = kms.KeyUsage(value)
		default:
			return usageError("--context %s: not a condition key attestkms evaluates", key)
		}
	}
	return nil
}

func oneOf[T ~string](v string, set []T) bool {
	for _, s := range set {
		if string(s) == v {
			return true
		}
	}
	return false
}

func joined[T ~string](set []T) string {
	s := make([]string, len(set))
	for i, v := range set {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

var _ flag.Value = (*contextFlags)(nil)
