package kms

import (
	"sort"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/kms/internal/policy"
)

// Condition keys this service puts in every policy evaluation's context.
const (
	condCallerAccount     = "kms:CallerAccount"
	condPrincipalArn      = "aws:PrincipalArn"
	condEncryptionContext = "kms:EncryptionContext:"
	condContextKeys       = "kms:EncryptionContextKeys"
	condAttestation       = "kms:RecipientAttestation:"
)

// conditions is the condition context of a request: who calls, the
// encryption context, and the measurements of a verified Recipient. With no
// Recipient there are no kms:RecipientAttestation keys, so a statement
// conditioned on them does not apply.
func (s *Service) conditions(c *Call, claims *attest.Claims, ec EncryptionContext) map[string][]string {
	m := map[string][]string{
		condCallerAccount: {s.account.AccountID},
		condPrincipalArn:  {c.Principal.ARN},
	}
	if len(ec) > 0 {
		keys := make([]string, 0, len(ec))
		for k, v := range ec {
			m[condEncryptionContext+k] = []string{v}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m[condContextKeys] = keys
	}
	if claims != nil {
		for k, v := range claims.Measurements() {
			m[condAttestation+k] = []string{v}
		}
	}
	return m
}

// authorize evaluates k's key policy for action. An explicit Deny wins;
// otherwise a statement must allow the request.
func (s *Service) authorize(c *Call, k *key, action string, claims *attest.Claims, ec EncryptionContext) error {
	arn := s.keyARN(c, k.rec.ID)
	if c.Principal == nil {
		return errorf(ErrAccessDenied, "an unauthenticated caller is not authorized to perform %s on %s", action, arn)
	}
	if k.policyErr != nil {
		return errorf(ErrAccessDenied, "User: %s is not authorized to perform: %s on resource: %s because its key policy cannot be evaluated", c.Principal.ARN, action, arn)
	}
	req := &policy.Request{
		Principal: c.Principal.ARN, Account: s.account.AccountID, Action: action, Resource: arn,
		Context: s.conditions(c, claims, ec),
	}
	switch k.policy.Evaluate(req) {
	case policy.Allow:
		return nil
	case policy.ExplicitDeny:
		return errorf(ErrAccessDenied, "User: %s is not authorized to perform: %s on resource: %s with an explicit deny in a resource-based policy", c.Principal.ARN, action, arn)
	}
	return errorf(ErrAccessDenied, "User: %s is not authorized to perform: %s on resource: %s because no resource-based policy allows the %s action", c.Principal.ARN, action, arn, action)
}

// checkNewPolicy parses a policy about to be stored on key id and, unless
// bypassed, applies AWS's lockout safety check: the caller must still be
// allowed to change the policy afterwards.
func (s *Service) checkNewPolicy(c *Call, id, doc string, bypassLockoutCheck bool) error {
	p, err := policy.Parse(doc)
	if err != nil {
		return &Error{Kind: ErrMalformedPolicy, Msg: err.Error()}
	}
	if bypassLockoutCheck {
		return nil
	}
	if c.Principal == nil || !p.AllowsPolicyUpdate(c.Principal.ARN, s.account.AccountID, s.keyARN(c, id)) {
		return errorf(ErrMalformedPolicy, "The new key policy will not allow you to update the key policy in the future.")
	}
	return nil
}
