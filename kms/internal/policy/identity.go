package policy

// IdentityPolicy is a parsed identity policy: a policy a credential carries,
// which judges what that credential may do, as an IAM identity-based policy
// does in AWS. Its grammar is a key policy's (the same elements, operators
// and closed set of condition keys) but for two things, as in IAM: a
// statement names no Principal or NotPrincipal (it applies to whoever
// carries the policy), and it must name its Resource or NotResource ("*"
// for every key).
//
// It is its own type so that it cannot be stored or judged as a key
// policy: it has no lockout check and no attestation safety check (an
// identity policy can only narrow what a key policy allows, and the
// attestation gate is the key's), and kms consults it only where a key
// policy delegates to the account (Grant).
type IdentityPolicy struct{ p Policy }

// ParseIdentity reads an identity policy document. Every error wraps
// ErrMalformed; the policy is nil whenever the error is not.
func ParseIdentity(doc string) (*IdentityPolicy, error) {
	p, err := parse(doc, true)
	if err != nil {
		return nil, err
	}
	return &IdentityPolicy{p: *p}, nil
}

// Evaluate judges r by the identity policy, as Policy.Evaluate does (every
// statement applies to r.Principal): ExplicitDeny, Allow or Deny. A nil
// policy or request is ExplicitDeny. It does not allocate.
func (ip *IdentityPolicy) Evaluate(r *Request) Decision {
	if ip == nil {
		return ExplicitDeny
	}
	return ip.p.Evaluate(r)
}

// Judge is Evaluate with its reasons, as Policy.Judge gives them.
func (ip *IdentityPolicy) Judge(r *Request) Judgement {
	if ip == nil {
		return Judgement{Decision: ExplicitDeny, Lines: []string{"no policy or no request"}}
	}
	j := ip.p.Judge(r)
	j.Grant = GrantNone // an identity policy grants nothing by itself
	return j
}

// Consults is Policy.Consults for the identity policy's conditions.
func (ip *IdentityPolicy) Consults(key string) bool {
	if ip == nil {
		return false
	}
	return ip.p.Consults(key)
}
