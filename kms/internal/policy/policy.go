package policy

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/attestkms/attestkms/attest"
)

// ErrMalformed is wrapped by every error of Parse, whose text names what is
// wrong and where (statement index and Sid, element).
var ErrMalformed = errors.New("malformed policy document")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// quote quotes a string from the document for an error message, cut short.
func quote(s string) string {
	if len(s) > maxQuoted {
		return strconv.Quote(s[:maxQuoted]) + "..."
	}
	return strconv.Quote(s)
}

// Policy is a parsed key policy. It is immutable, so one Policy may be
// evaluated by many goroutines at once.
type Policy struct {
	version    string // "" when absent
	id         string
	statements []statement
	consults   map[string]bool // the condition keys the statements name, spelt as the server spells them
}

// Request is what Evaluate judges. Every field is required except Context.
type Request struct {
	// Principal is the caller's ARN: arn:aws:iam::<account>:root or
	// arn:aws:iam::<account>:user/<name>.
	Principal string
	// Account is the 12-digit account that owns the key and the caller; it
	// must be the account in Principal.
	Account string
	// Action is the operation, e.g. "kms:Decrypt".
	Action string
	// Resource is the key's ARN, arn:aws:kms:<region>:<account>:key/<id>.
	Resource string
	// Context maps condition keys (any letter case) to the request's values.
	// A key that is absent, or present with no values, is absent. Values of
	// kms:RecipientAttestation:<name> keys must come from verified evidence.
	Context map[string][]string
}

// Decision is the outcome of Evaluate.
type Decision int

const (
	// Deny is the implicit deny: no statement allowed the request.
	Deny Decision = iota
	// Allow: a statement allowed the request and none denied it.
	Allow
	// ExplicitDeny: a Deny statement applied, or the request could not be
	// judged (see Evaluate).
	ExplicitDeny
)

func (d Decision) String() string {
	switch d {
	case Deny:
		return "Deny"
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	}
	return "Decision(" + strconv.Itoa(int(d)) + ")"
}

// ID returns the policy's Id element, "" when absent.
func (p *Policy) ID() string { return p.id }

// Version returns the policy's Version element, "" when absent.
func (p *Policy) Version() string { return p.version }

// Parse reads a key policy document. Every error wraps ErrMalformed; the
// Policy is nil whenever the error is not.
func Parse(doc string) (*Policy, error) { return parse(doc, false) }

// parse reads a key policy or, with identity, an identity policy
// (ParseIdentity), whose statements name no principal and must name their
// resources.
func parse(doc string, identity bool) (*Policy, error) {
	root, err := decodeJSON(doc)
	if err != nil {
		return nil, err
	}
	if root.kind != kindObject {
		return nil, malformed("the document is %s, not an object", root.kind)
	}
	p := &Policy{}
	var stmts *node
	for i, k := range root.keys {
		v := root.vals[i]
		switch k {
		case "Version":
			if v.kind != kindString || (v.text != "2012-10-17" && v.text != "2008-10-17") {
				return nil, malformed("Version must be \"2012-10-17\" or \"2008-10-17\"")
			}
			p.version = v.text
		case "Id":
			if v.kind != kindString {
				return nil, malformed("Id must be a string, not %s", v.kind)
			}
			p.id = v.text
		case "Statement":
			stmts = v
		default:
			return nil, malformed("unknown top-level element %s", quote(k))
		}
	}
	if stmts == nil {
		return nil, malformed("no Statement")
	}
	list := []*node{stmts}
	if stmts.kind == kindArray {
		list = stmts.vals
	}
	if len(list) == 0 {
		return nil, malformed("Statement is empty")
	}
	if len(list) > maxStatements {
		return nil, malformed("%d statements, more than %d", len(list), maxStatements)
	}
	sids := make(map[string]int)
	p.statements = make([]statement, len(list))
	for i, n := range list {
		if err := parseStatement(&p.statements[i], i, n, identity); err != nil {
			return nil, err
		}
		for _, c := range p.statements[i].conditions {
			if p.consults == nil {
				p.consults = map[string]bool{}
			}
			p.consults[c.key] = true // canonical (lookupKey)
			switch {
			case c.attestation:
				p.consults[consultsAttestation] = true
			case len(c.key) > len(KeyEncryptionContext) && asciiEqualFold(c.key[:len(KeyEncryptionContext)], KeyEncryptionContext):
				p.consults[consultsContext] = true
			}
		}
		if sid := p.statements[i].sid; sid != "" {
			if j, dup := sids[sid]; dup {
				return nil, malformed("statements %d and %d have the same Sid %s", j, i, quote(sid))
			}
			sids[sid] = i
		}
	}
	return p, nil
}

// Evaluate judges a request by the policy: ExplicitDeny if an applicable
// statement denies it, else Allow if one allows it, else Deny.
//
// A request that cannot be judged gets ExplicitDeny, so that nothing layered
// above the key policy can allow it: a nil request or policy; a Principal
// that is not an IAM ARN of Account; an Account that is not 12 digits; an
// empty Action or Resource; a Context holding two spellings (differing only
// in case) of a key that a condition consults; a request whose evaluation
// would take more than maxSteps steps of matching (see budget).
//
// Evaluate does not allocate.
func (p *Policy) Evaluate(r *Request) Decision {
	d, _ := p.EvaluateGrant(r)
	return d
}

// Grant says to whom the Allow statements that allowed a request granted
// it: the caller itself, or only its account. AWS reads an Allow to an
// account (its id or root ARN) in a key policy as a delegation to the
// account's identity policies, and package kms does too for a caller that
// carries one (docs/policy.md, "Identity policies").
type Grant uint8

const (
	// GrantNone: the request is not allowed.
	GrantNone Grant = iota
	// GrantCaller: some applicable Allow names the caller itself: by its
	// ARN, by "*", through a NotPrincipal that does not name it, or, for
	// the account's root, by its account.
	GrantCaller
	// GrantAccount: every applicable Allow names only the caller's account
	// (its id or root ARN), and the caller is not the root.
	GrantAccount
)

func (g Grant) String() string {
	switch g {
	case GrantNone:
		return "none"
	case GrantCaller:
		return "caller"
	case GrantAccount:
		return "account"
	}
	return "Grant(" + strconv.Itoa(int(g)) + ")"
}

// EvaluateGrant is Evaluate, and for an Allow to whom it was granted
// (GrantCaller or GrantAccount); GrantNone whenever the decision is not
// Allow. It does not allocate.
func (p *Policy) EvaluateGrant(r *Request) (Decision, Grant) {
	if p == nil || r == nil {
		return ExplicitDeny, GrantNone
	}
	c, ok := parseCaller(r)
	if !ok {
		return ExplicitDeny, GrantNone
	}
	grant := GrantNone
	b := budget(maxSteps)
	for i := range p.statements {
		s := &p.statements[i]
		matches := s.matches(&c, r.Action, r.Resource, &b)
		if b < 0 {
			return ExplicitDeny, GrantNone
		}
		if !matches {
			continue
		}
		holds, ambiguous := s.conditionsHold(r.Context, &b)
		if ambiguous || b < 0 {
			return ExplicitDeny, GrantNone
		}
		if !holds {
			continue
		}
		if s.deny {
			return ExplicitDeny, GrantNone
		}
		if grant != GrantCaller {
			grant = GrantAccount
			if s.grantsCaller(&c) {
				grant = GrantCaller
			}
		}
	}
	if grant != GrantNone {
		return Allow, grant
	}
	return Deny, GrantNone
}

// AllowsPolicyUpdate is the policy lockout safety check that AWS KMS applies
// in PutKeyPolicy and CreateKey unless BypassPolicyLockoutSafetyCheck is set:
// it reports whether principal of account would still be allowed
// kms:PutKeyPolicy on resource (the key's ARN) under this policy, so that the
// caller cannot lock itself out of the key.
//
// It answers true only when the answer does not depend on a request's
// condition values: some Allow statement without any Condition matches, and
// no Deny statement matches, whatever its conditions. So an Allow that needs
// context (attestation measurements, encryption context, even one that an
// ...IfExists would pass on an empty context) does not count, and a Deny that
// might apply counts as applying. The check errs towards refusing the update;
// the caller can bypass it.
func (p *Policy) AllowsPolicyUpdate(principal, account, resource string) bool {
	if p == nil {
		return false
	}
	c, ok := parseCaller(&Request{Principal: principal, Account: account, Action: putKeyPolicy, Resource: resource})
	if !ok {
		return false
	}
	allowed := false
	b := budget(maxSteps)
	for i := range p.statements {
		s := &p.statements[i]
		matches := s.matches(&c, putKeyPolicy, resource, &b)
		if b < 0 {
			return false
		}
		if !matches {
			continue
		}
		if s.deny {
			return false
		}
		if len(s.conditions) == 0 {
			allowed = true
		}
	}
	return allowed
}

const putKeyPolicy = "kms:PutKeyPolicy"

// AttestationBound reports whether any statement has a condition on a
// kms:RecipientAttestation measurement: the key's owner expects attested
// callers. Package kms then never releases a plaintext secret of the key, or
// one protected by it, without a verified Recipient, whatever the statements
// allow (see SecretActions), and CheckAttestationSafety refuses a policy that
// would allow it.
func (p *Policy) AttestationBound() bool {
	if p == nil {
		return false
	}
	for i := range p.statements {
		for _, c := range p.statements[i].conditions {
			if c.attestation {
				return true
			}
		}
	}
	return false
}

// Accounts returns the accounts the policy's principals name (by id or by
// root ARN), sorted, each once.
func (p *Policy) Accounts() []string {
	seen := map[string]bool{}
	for i := range p.statements {
		for _, a := range p.statements[i].principals.accounts {
			seen[a.id] = true
		}
	}
	return sortedKeys(seen)
}

// Consults reports whether some condition of the policy names key, given as
// the server spells it (the Key constants, attest.IsConditionKey's canonical
// names), so that a caller building a request's context may leave out what no
// condition reads. KeyEncryptionContext (the prefix itself) stands for any
// kms:EncryptionContext:<key>, and attest.AttestationPrefix for any
// measurement. It does not allocate.
func (p *Policy) Consults(key string) bool {
	if p == nil {
		return false
	}
	switch key {
	case KeyEncryptionContext:
		return p.consults[consultsContext]
	case attest.AttestationPrefix:
		return p.consults[consultsAttestation]
	}
	return p.consults[key]
}

// Entries of Policy.consults for key families (no condition key has a space).
const (
	consultsContext     = "encryption context"
	consultsAttestation = "attestation"
)
