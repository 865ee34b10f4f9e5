package kms

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/kms/internal/policy"
	"github.com/attestkms/attestkms/kms/internal/store"
)

// facts are what a policy decision may depend on: what the server verified
// (the caller's signature, the Recipient's evidence) or itself knows (the key,
// its clock, its region, the connection), and the request's encryption
// context, which is bound into the ciphertext. Never a region, header or
// field that the caller chose and the signature does not cover.
type facts struct {
	principal, account, action, resource string
	claims                               *attest.Claims // verified; nil without a Recipient
	ec                                   EncryptionContext
	secureTransport                      bool
	sourceIP                             string // the direct peer; "" when unknown
	now                                  time.Time
	region                               string
	alias                                string   // kms:RequestAlias: the alias the request named the key by
	resourceAliases                      []string // kms:ResourceAliases: the key's aliases, sorted; read only when a policy consults them
	spec                                 KeySpec
	usage                                KeyUsage
	origin                               string
}

// consulter is a key policy or an identity policy, as facts builds a
// request for either.
type consulter interface{ Consults(key string) bool }

// context is the condition context of a request for p, under the keys
// package policy evaluates (policy/keys.go): only those some condition of p
// consults, so that the default policy costs no formatting at all. With no
// Recipient there is no kms:RecipientAttestation key at all.
func (f *facts) context(p consulter) map[string][]string {
	var m map[string][]string
	set := func(key string, vals []string) {
		if m == nil {
			m = make(map[string][]string)
		}
		m[key] = vals
	}
	if p.Consults(policy.KeyCallerAccount) {
		set(policy.KeyCallerAccount, []string{f.account})
	}
	if p.Consults(policy.KeyPrincipalArn) {
		set(policy.KeyPrincipalArn, []string{f.principal})
	}
	if p.Consults(policy.KeySecureTransport) {
		set(policy.KeySecureTransport, []string{strconv.FormatBool(f.secureTransport)})
	}
	if p.Consults(policy.KeyCurrentTime) {
		set(policy.KeyCurrentTime, []string{f.now.UTC().Format(time.RFC3339)})
	}
	if p.Consults(policy.KeyEpochTime) {
		set(policy.KeyEpochTime, []string{strconv.FormatInt(f.now.Unix(), 10)})
	}
	if p.Consults(policy.KeyRequestedRegion) {
		set(policy.KeyRequestedRegion, []string{f.region})
	}
	if f.sourceIP != "" && p.Consults(policy.KeySourceIP) {
		set(policy.KeySourceIP, []string{f.sourceIP})
	}
	if f.spec != "" && p.Consults(policy.KeyKeySpec) {
		set(policy.KeyKeySpec, []string{string(f.spec)})
	}
	if f.usage != "" && p.Consults(policy.KeyKeyUsage) {
		set(policy.KeyKeyUsage, []string{string(f.usage)})
	}
	if f.origin != "" && p.Consults(policy.KeyKeyOrigin) {
		set(policy.KeyKeyOrigin, []string{f.origin})
	}
	if f.alias != "" && p.Consults(policy.KeyRequestAlias) {
		set(policy.KeyRequestAlias, []string{f.alias})
	}
	if len(f.resourceAliases) > 0 && p.Consults(policy.KeyResourceAliases) {
		set(policy.KeyResourceAliases, f.resourceAliases)
	}
	if len(f.ec) > 0 && (p.Consults(policy.KeyEncryptionContext) || p.Consults(policy.KeyContextKeys)) {
		keys := make([]string, 0, len(f.ec))
		for k, v := range f.ec {
			set(policy.KeyEncryptionContext+k, []string{v})
			keys = append(keys, k)
		}
		sort.Strings(keys)
		set(policy.KeyContextKeys, keys)
	}
	if f.claims != nil && p.Consults(attest.AttestationPrefix) {
		for k, v := range f.claims.Measurements() {
			set(k, []string{v})
		}
	}
	return m
}

func (f *facts) request(p consulter) *policy.Request {
	return &policy.Request{Principal: f.principal, Account: f.account, Action: f.action, Resource: f.resource, Context: f.context(p)}
}

// gated reports whether the attestation gate refuses the request, whatever
// the policy says: the key is attestation-bound (its policy names a
// kms:RecipientAttestation measurement), the action can release a plaintext
// secret of the key or one protected by it (policy.SecretActions: Decrypt,
// GenerateDataKey, GenerateDataKeyPair, DeriveSharedSecret, ReEncryptFrom),
// and no verified Recipient will receive it. This is the one place the
// invariant is enforced; every operation of every dialect that releases a
// secret passes its action through authorize, and so through here.
func gated(p *policy.Policy, action string, claims *attest.Claims) bool {
	return claims == nil && policy.ReleasesSecret(action) && p.AttestationBound()
}

func gateMessage(arn, action string) string {
	return arn + " is attestation-bound: its key policy has kms:RecipientAttestation conditions, so " + action +
		" releases a secret of it only to a verified Recipient, and this request has none. Send a Recipient " +
		"(an attestation document); a public key alone (EncryptionPublicKey) proves nothing about who holds its private key, " +
		"and ReEncrypt from such a key is never allowed. To let a caller without evidence use the key, change its policy."
}

// facts gathers what the policy may judge of a request on k.
func (s *Service) facts(c *Call, k *key, action string, claims *attest.Claims, ec EncryptionContext) *facts {
	f := s.accountFacts(c, action, s.keyARN(c, k.rec.ID))
	f.claims, f.ec = claims, ec
	f.alias, f.spec, f.usage, f.origin = c.requestAlias(k.rec.ID), KeySpec(k.rec.Spec), KeyUsage(k.rec.Usage), OriginAWSKMS
	return f
}

// authorize judges a request on k for action: the attestation gate, then
// k's key policy and the caller's identity policy, if it has one, by the
// delegation rule (decide).
func (s *Service) authorize(c *Call, k *key, action string, claims *attest.Claims, ec EncryptionContext) error {
	arn := s.keyARN(c, k.rec.ID)
	if c.Principal == nil {
		return errorf(ErrAccessDenied, "an unauthenticated caller is not authorized to perform %s on %s", action, arn)
	}
	if k.policyErr != nil {
		// A policy stored by an older, laxer parser: nothing is allowed but
		// its replacement by the account's root credential, which the audit
		// line records like any policy change (PolicyProblems).
		if action == "kms:PutKeyPolicy" && c.Principal.ARN == principalARN(s.account, adminName) {
			return nil
		}
		return errorf(ErrAccessDenied, "User: %s is not authorized to perform: %s on resource: %s because its key policy cannot be evaluated (it no longer parses: the account's root credential may replace it with PutKeyPolicy)", c.Principal.ARN, action, arn)
	}
	if gated(k.policy, action, claims) {
		return errorf(ErrAccessDenied, "User: %s is not authorized to perform: %s on resource: %s", c.Principal.ARN, action, gateMessage(arn, action))
	}
	ip := c.Principal.identity
	if ip != nil && ip.err != nil {
		return errorf(ErrAccessDenied, "User: %s is not authorized to perform: %s on resource: %s because its identity policy cannot be evaluated (it no longer parses: delete the credential and create another)", c.Principal.ARN, action, arn)
	}
	f := s.facts(c, k, action, claims, ec)
	if k.policy.Consults(policy.KeyResourceAliases) || ip != nil && ip.p.Consults(policy.KeyResourceAliases) {
		aliases, err := s.keyAliases(k)
		if err != nil {
			return err
		}
		f.resourceAliases = aliases
	}
	kd, grant := k.policy.EvaluateGrant(f.request(k.policy))
	var id *policy.Decision
	if ip != nil && kd != policy.ExplicitDeny {
		d := ip.p.Evaluate(f.request(ip.p))
		id = &d
	}
	switch decide(kd, grant, id) {
	case allowed:
		return nil
	case keyPolicyDenies:
		return errorf(ErrAccessDenied, "User: %s is not authorized to perform: %s on resource: %s with an explicit deny in a resource-based policy", c.Principal.ARN, action, arn)
	case identityPolicyDenies:
		return errorf(ErrAccessDenied, "User: %s is not authorized to perform: %s on resource: %s with an explicit deny in an identity-based policy", c.Principal.ARN, action, arn)
	case identityPolicyDoesNotAllow:
		return errorf(ErrAccessDenied, "User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", c.Principal.ARN, action, arn, action)
	}
	return errorf(ErrAccessDenied, "User: %s is not authorized to perform: %s on resource: %s because no resource-based policy allows the %s action", c.Principal.ARN, action, arn, action)
}

// accountFacts gathers what an identity policy may judge of a request that
// names no key: the caller, the server's clock, region and connection, on
// resource (an alias ARN, or "*" for an account-level action). facts adds a
// key's to them.
func (s *Service) accountFacts(c *Call, action, resource string) *facts {
	f := &facts{action: action, resource: resource, account: s.account.AccountID,
		secureTransport: c.SecureTransport, sourceIP: c.SourceIP, now: s.now(), region: s.Region()}
	if c.Principal != nil {
		f.principal = c.Principal.ARN
	}
	return f
}

// authorizeIdentity judges a request that no key policy governs: an
// account-level action (kms:CreateKey, kms:ListKeys, kms:ListAliases, on
// resource "*") or an alias change on the alias itself (kms:CreateAlias,
// kms:UpdateAlias, kms:DeleteAlias on the alias ARN, which authorize judges
// on the key besides). As in AWS, where such a permission comes from an IAM
// policy only, the caller's identity policy decides: a credential without
// one is allowed, as every credential of the account always was (the root
// credential never has one; the admin permission plays no part, as in
// authorize); one with an identity policy is allowed only what that policy
// allows; one whose policy no longer parses, nothing.
func (s *Service) authorizeIdentity(c *Call, f *facts) error {
	if c.Principal == nil {
		return errorf(ErrAccessDenied, "an unauthenticated caller is not authorized to perform %s on %s", f.action, f.resource)
	}
	ip := c.Principal.identity
	if ip == nil {
		return nil
	}
	if ip.err != nil {
		return errorf(ErrAccessDenied, "User: %s is not authorized to perform: %s on resource: %s because its identity policy cannot be evaluated (it no longer parses: delete the credential and create another)", c.Principal.ARN, f.action, f.resource)
	}
	switch ip.p.Evaluate(f.request(ip.p)) {
	case policy.Allow:
		return nil
	case policy.ExplicitDeny:
		return errorf(ErrAccessDenied, "User: %s is not authorized to perform: %s on resource: %s with an explicit deny in an identity-based policy", c.Principal.ARN, f.action, f.resource)
	}
	return errorf(ErrAccessDenied, "User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", c.Principal.ARN, f.action, f.resource, f.action)
}

// verdict is what decide finds of a request: allowed, or which rule
// refused it.
type verdict int

const (
	allowed                    verdict = iota
	keyPolicyDenies                    // an explicit Deny in the key policy
	identityPolicyDenies               // an explicit Deny in the identity policy
	identityPolicyDoesNotAllow         // the key policy allows the account only, and the identity policy does not allow
	keyPolicyDoesNotAllow              // no statement of the key policy allows
)

// decide is the delegation rule, as in AWS for a caller in the key's
// account: an explicit Deny in the key policy or in the identity policy
// wins; else a key policy Allow that names the caller itself (its ARN, "*",
// policy.GrantCaller) allows; else a key policy Allow that names only the
// caller's account (its id or root ARN, policy.GrantAccount) allows a
// caller without an identity policy (identity nil), as it always has, and
// one with an identity policy only if that policy allows too. The identity
// policy never allows what the key policy does not: it only narrows.
func decide(key policy.Decision, grant policy.Grant, identity *policy.Decision) verdict {
	switch {
	case key == policy.ExplicitDeny:
		return keyPolicyDenies
	case identity != nil && *identity == policy.ExplicitDeny:
		return identityPolicyDenies
	case key != policy.Allow:
		return keyPolicyDoesNotAllow
	case grant == policy.GrantCaller || identity == nil:
		return allowed
	case *identity == policy.Allow:
		return allowed
	}
	return identityPolicyDoesNotAllow
}

// keyAliases are the aliases of key k (alias/NAME), sorted: the values of
// kms:ResourceAliases. It reads the store: only for a policy that consults
// the key's aliases. A key judged inside a change's transaction (policyOf)
// has its aliases read in that transaction, as the change sees them;
// another, in a read transaction of its own.
func (s *Service) keyAliases(k *key) ([]string, error) {
	var out []string
	read := func(r store.Reader) error {
		as, err := r.AliasesOf(k.rec.ID)
		for _, a := range as {
			out = append(out, a.Name)
		}
		return err
	}
	var err error
	if k.tx != nil {
		err = read(k.tx)
	} else {
		// authorize has no ctx to give: the read is one transaction, and
		// every operation checked its ctx before loading the key.
		err = s.st.View(context.Background(), read)
	}
	if err != nil {
		return nil, internal(err)
	}
	return out, nil // the store's order: sorted
}

// Checks a new policy can fail, as the audit line names them when
// BypassPolicyLockoutSafetyCheck skipped them.
const (
	CheckLockout           = "lockout"
	CheckAttestationSafety = "attestation-safety"
)

// checkNewPolicy parses a policy about to be stored on key id and applies
// the two safety checks that BypassPolicyLockoutSafetyCheck skips: AWS's
// lockout check (the caller must still be allowed to change the policy
// afterwards) and the attestation safety check (an attestation-bound policy
// must not allow any principal a secret of the key without evidence, or with
// genuine evidence of a workload image it does not name:
// policy.CheckAttestationSafety). A bypassed check that would have failed
// is recorded on the call for the audit line; the attestation gate still
// holds at run time.
func (s *Service) checkNewPolicy(c *Call, id, doc string, bypass bool) error {
	p, err := policy.Parse(doc)
	if err != nil {
		return &Error{Kind: ErrMalformedPolicy, Msg: err.Error()}
	}
	arn := s.keyARN(c, id)
	var failed []string
	lockout := c.Principal == nil || !p.AllowsPolicyUpdate(c.Principal.ARN, s.account.AccountID, arn)
	if lockout {
		failed = append(failed, CheckLockout)
	}
	// The check reasons about the key under any ARN (resource ""), not only
	// today's: an Allow that names the key in another region is inert on
	// this one-region server, but would come alive when the store moves
	// there (--rename-region rewrites this region's ARNs, not that one's). A
	// Deny counts only with no Resource or "*".
	findings := p.CheckAttestationSafety(s.account.AccountID, "")
	if len(findings) > 0 {
		failed = append(failed, CheckAttestationSafety)
	}
	if bypass {
		c.noteBypassed(failed)
		return nil
	}
	if lockout {
		return errorf(ErrMalformedPolicy, "The new key policy will not allow you to update the key policy in the future.")
	}
	if len(findings) > 0 {
		return errorf(ErrMalformedPolicy, "%s", unsafePolicyMessage(findings))
	}
	return nil
}

// unsafePolicyMessage says why an attestation-bound policy is refused: the
// first finding in full, and how many more.
func unsafePolicyMessage(findings []policy.Finding) string {
	f := findings[0]
	var b strings.Builder
	b.WriteString("The new key policy lets a caller without evidence, or with evidence of a workload it does not name, obtain a secret of an attestation-bound key: ")
	if f.Statement != "" {
		b.WriteString(f.Statement + " ")
	}
	b.WriteString(f.Reason)
	if n := len(findings) - 1; n > 0 {
		b.WriteString(" (and " + strconv.Itoa(n) + " more: run attestkms policy lint on it)")
	}
	b.WriteString(". Condition every Allow of kms:Decrypt, kms:GenerateDataKey, kms:GenerateDataKeyPair, kms:DeriveSharedSecret " +
		"and kms:ReEncryptFrom on a measurement of the workload's image, or list only administrative actions; BypassPolicyLockoutSafetyCheck skips this check, " +
		"but the server still releases no secret of the key without a verified Recipient.")
	return b.String()
}
