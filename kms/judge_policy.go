package kms

import (
	"slices"
	"strings"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/kms/internal/policy"
)

// PolicyQuestion is a request to judge by a key policy, offline, as the
// server judges its own requests: attestkms policy test asks it.
type PolicyQuestion struct {
	// Action is the operation, e.g. kms:Decrypt. Required.
	Action string
	// Principal is the caller's IAM ARN, arn:aws:iam::<account>:root or
	// :user/<name>. Required; its account is the key's.
	Principal string
	// KeyARN is the key's ARN, in the principal's account. Required.
	KeyARN string
	// Claims are a Recipient's verified evidence; nil for a request without
	// one. Only claims that attest verified may go here.
	Claims *attest.Claims
	// EncryptionContext is the request's (kms:EncryptionContext:*).
	EncryptionContext EncryptionContext
	// SecureTransport: the request came over TLS. Zero: plain HTTP.
	SecureTransport bool
	// SourceIP is the peer's address; "" leaves aws:SourceIp absent.
	SourceIP string
	// Time is the request's time (aws:CurrentTime). Zero: now.
	Time time.Time
	// Region is the server's region (aws:RequestedRegion). Zero: us-east-1.
	Region string
	// RequestAlias is the alias the request names the key by, "" for none.
	RequestAlias string
	// ResourceAliases are the key's aliases (alias/NAME), for
	// kms:ResourceAliases; none: the key has no alias.
	ResourceAliases []string
	// IdentityPolicy is the caller's identity policy, "" for a caller
	// without one (docs/policy.md: the delegation rule).
	IdentityPolicy string
	// KeySpec and KeyUsage are the key's. Zero: SYMMETRIC_DEFAULT and
	// ENCRYPT_DECRYPT.
	KeySpec  KeySpec
	KeyUsage KeyUsage
}

// PolicyAnswer is the server's verdict on a PolicyQuestion, with reasons.
type PolicyAnswer struct {
	Allowed bool
	// Statement names the deciding statement (the Allow that allowed, the
	// Deny that denied); empty when none decided (an implicit deny, or the
	// attestation gate).
	Statement string
	// Reasons say, for a denial, what failed: the attestation gate, the
	// Deny that applied, or every condition that kept each Allow from
	// applying. Empty when allowed.
	Reasons []string
	// Lines have one line per statement (policy.Judgement.Lines).
	Lines []string
	// IdentityStatement names the identity policy's deciding statement, as
	// Statement does the key policy's; IdentityLines are its lines. Both
	// empty without an identity policy.
	IdentityStatement string
	IdentityLines     []string
}

// JudgePolicy judges q by the policy document doc with the server's own code:
// the attestation gate, then the policy's evaluation and, with
// q.IdentityPolicy, the caller's identity policy by the delegation rule. It
// errs (wrapping ErrMalformedPolicy or ErrValidation) when a document does
// not parse or the question is malformed; it does not apply CreateKey's
// safety checks (attestkms policy lint does).
func JudgePolicy(doc string, q *PolicyQuestion) (*PolicyAnswer, error) {
	p, err := policy.Parse(doc)
	if err != nil {
		return nil, &Error{Kind: ErrMalformedPolicy, Msg: err.Error()}
	}
	var ip *policy.IdentityPolicy
	if q != nil && q.IdentityPolicy != "" {
		if ip, err = policy.ParseIdentity(q.IdentityPolicy); err != nil {
			return nil, &Error{Kind: ErrMalformedPolicy, Msg: "identity policy: " + err.Error()}
		}
	}
	account, err := questionAccount(q)
	if err != nil {
		return nil, err
	}
	aliases := slices.Clone(q.ResourceAliases)
	slices.Sort(aliases)
	f := &facts{
		principal: q.Principal, account: account, action: q.Action, resource: q.KeyARN,
		claims: q.Claims, ec: q.EncryptionContext, secureTransport: q.SecureTransport, sourceIP: q.SourceIP,
		now: q.Time, region: q.Region, alias: q.RequestAlias, resourceAliases: slices.Compact(aliases),
		spec: q.KeySpec, usage: q.KeyUsage, origin: OriginAWSKMS,
	}
	if f.now.IsZero() {
		f.now = time.Now()
	}
	if f.region == "" {
		f.region = defaultRegion
	}
	if f.spec == "" {
		f.spec = SymmetricDefault
	}
	if f.usage == "" {
		f.usage = EncryptDecrypt
	}
	j := p.Judge(f.request(p))
	a := &PolicyAnswer{Lines: j.Lines}
	var ij policy.Judgement
	var id *policy.Decision
	if ip != nil {
		ij = ip.Judge(f.request(ip))
		a.IdentityLines = ij.Lines
		if j.Decision != policy.ExplicitDeny {
			id = &ij.Decision
		}
	}
	if gated(p, q.Action, q.Claims) {
		// The gate decides; what the policy itself lacks is said too, so
		// that one run shows what evidence would have to satisfy.
		a.Reasons = append([]string{gateMessage(q.KeyARN, q.Action)}, j.Unmet...)
		return a, nil
	}
	switch decide(j.Decision, j.Grant, id) {
	case allowed:
		a.Allowed, a.Statement = true, j.Statement
		if id != nil && j.Grant == policy.GrantAccount {
			a.IdentityStatement = ij.Statement
		}
	case keyPolicyDenies:
		a.Statement = j.Statement
		if j.Statement != "" {
			a.Reasons = []string{j.Statement + " denies it"}
		} else {
			a.Reasons = []string{"the request cannot be judged (two spellings of a condition key, a value of the wrong type, or too much matching): it is denied"}
		}
	case identityPolicyDenies:
		a.IdentityStatement = ij.Statement
		if ij.Statement != "" {
			a.Reasons = []string{"the identity policy's " + ij.Statement + " denies it"}
		} else {
			a.Reasons = []string{"the identity policy cannot judge the request (two spellings of a condition key, a value of the wrong type, or too much matching): it is denied"}
		}
	case identityPolicyDoesNotAllow:
		a.Statement = j.Statement
		a.Reasons = []string{j.Statement + " allows " + q.Action + " to the account, not to the caller itself: the caller's identity policy must allow it too, and no statement of it does"}
		for _, u := range ij.Unmet {
			a.Reasons = append(a.Reasons, "identity policy: "+u)
		}
	default:
		a.Reasons = []string{"no statement allows " + q.Action}
		a.Reasons = append(a.Reasons, j.Unmet...)
	}
	return a, nil
}

// questionAccount checks q's principal and key and returns their account.
func questionAccount(q *PolicyQuestion) (string, error) {
	if q == nil || q.Action == "" {
		return "", errorf(ErrValidation, "an action such as kms:Decrypt is required")
	}
	rest, ok := strings.CutPrefix(q.Principal, "arn:aws:iam::")
	account, name, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || len(account) != 12 || !isDigits(account) || name == "" {
		return "", errorf(ErrValidation, "principal %q is not an IAM ARN arn:aws:iam::<account>:root or arn:aws:iam::<account>:user/<name>", q.Principal)
	}
	parts := strings.SplitN(q.KeyARN, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kms" || !strings.HasPrefix(parts[5], "key/") {
		return "", errorf(ErrValidation, "key %q is not a key ARN arn:aws:kms:<region>:<account>:key/<id>", q.KeyARN)
	}
	if parts[4] != account {
		return "", errorf(ErrValidation, "the key is in account %s and the principal in %s: attestkms serves one account, and its keys' callers are of it", parts[4], account)
	}
	return account, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// PolicyFinding is one problem attestkms policy lint reports.
type PolicyFinding struct {
	Severity  string // "error": CreateKey and PutKeyPolicy refuse the policy; "warning": a smell
	Statement string // e.g. `statement 0 (Sid "manage")`; "" for the whole document
	Action    string // e.g. kms:ReEncryptFrom; "" when no one action is concerned
	Reason    string
}

// String is the finding as one line: severity, statement, action and
// reason, separated by tabs, "-" for an empty field.
func (f PolicyFinding) String() string {
	return policy.Finding{Severity: policy.Severity(f.Severity), Statement: f.Statement, Action: f.Action, Reason: f.Reason}.String()
}

// CheckIdentityPolicy parses an identity policy as CreateCredential does,
// wrapping ErrMalformedPolicy when it does not parse.
func CheckIdentityPolicy(doc string) error {
	if _, err := policy.ParseIdentity(doc); err != nil {
		return &Error{Kind: ErrMalformedPolicy, Msg: err.Error()}
	}
	return nil
}

// LintPolicy runs the server's checks of a new policy on doc, for any key of
// any account — the parser, and the attestation safety check (errors) — and
// reports the weaker smells (warnings) of policy.Policy.Lint. It does not
// run the lockout check, which depends on who puts the policy.
func LintPolicy(doc string) []PolicyFinding {
	p, err := policy.Parse(doc)
	if err != nil {
		return []PolicyFinding{{Severity: string(policy.SeverityError), Reason: err.Error()}}
	}
	var out []PolicyFinding
	for _, f := range p.Lint() {
		out = append(out, PolicyFinding{Severity: string(f.Severity), Statement: f.Statement, Action: f.Action, Reason: f.Reason})
	}
	return out
}

// PolicyAccounts returns the accounts a policy document's principals name,
// sorted: policy test's default principal is the root of the only one.
func PolicyAccounts(doc string) ([]string, error) {
	p, err := policy.Parse(doc)
	if err != nil {
		return nil, &Error{Kind: ErrMalformedPolicy, Msg: err.Error()}
	}
	return p.Accounts(), nil
}
