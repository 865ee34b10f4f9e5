package policy

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// SecretActions are the actions whose success can put a plaintext secret of
// a key, or a secret protected by it, into the caller's hands: Decrypt and
// GenerateDataKey (a data key), GenerateDataKeyPair (PrivateKeyPlaintext),
// DeriveSharedSecret (the shared secret), and ReEncryptFrom, which opens a
// ciphertext of the key and seals its plaintext under another key that the
// caller may be able to Decrypt without evidence. Every other action releases
// no secret of the key: Encrypt and the ...WithoutPlaintext operations return
// only ciphertext under the key itself.
var SecretActions = []string{
	"kms:Decrypt",
	"kms:DeriveSharedSecret",
	"kms:GenerateDataKey",
	"kms:GenerateDataKeyPair",
	"kms:ReEncryptFrom",
}

// ReleasesSecret reports whether action (any case) is one of SecretActions.
func ReleasesSecret(action string) bool {
	for _, a := range SecretActions {
		if asciiEqualFold(a, action) {
			return true
		}
	}
	return false
}

// Severity grades a Finding.
type Severity string

const (
	// SeverityError: the server refuses the policy (CheckAttestationSafety).
	SeverityError Severity = "error"
	// SeverityWarning: a smell that policy lint reports and the server accepts.
	SeverityWarning Severity = "warning"
)

// Finding is one problem of a policy: which statement, which action (may be
// empty), why. It names statements, actions, operators and keys, never a
// condition value.
type Finding struct {
	Severity  Severity
	Statement string // e.g. `statement 0 (Sid "manage")`; empty for the whole document
	Action    string // e.g. "kms:ReEncryptFrom"; empty when no one action is concerned
	Reason    string

	index int // the statement's index, for ordering
}

// String is the finding as policy lint prints it: severity, statement,
// action and reason separated by tabs, "-" for an empty field.
func (f Finding) String() string {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	return string(f.Severity) + "\t" + dash(f.Statement) + "\t" + dash(f.Action) + "\t" + f.Reason
}

// statementName names statement i for messages: `statement 1 (Sid "x")`.
func (p *Policy) statementName(i int) string {
	name := "statement " + strconv.Itoa(i)
	if sid := p.statements[i].sid; sid != "" {
		name += " (Sid " + quote(sid) + ")"
	}
	return name
}

// analysisSteps bounds CheckAttestationSafety's work. The policy's author
// may be an attacker holding kms:PutKeyPolicy: the check compares every
// class of caller with every statement's principals, which a 32 KiB document
// of short principal ARNs makes a few million comparisons (tens of
// milliseconds, BenchmarkSafetyWorstCase), and a real policy a few hundred.
// Past the bound the policy is refused as too complex to check. A variable
// only so that a test can lower it.
var analysisSteps = 1 << 23

// CheckAttestationSafety is the policy safety check that CreateKey and
// PutKeyPolicy apply, unless BypassPolicyLockoutSafetyCheck is set, to an
// attestation-bound policy (AttestationBound): it finds every Allow statement
// through which some principal could be allowed one of SecretActions without
// evidence, or with genuine evidence of any workload — an Allow with no
// condition on a measurement of the workload's image (imageKeys: not Format,
// TdxTcbStatus, SnpHostData or a register the workload extends itself), or
// whose image conditions all hold when the request carries none (IfExists,
// ForAllValues:, the negated operators, Null: true; an …IfExists condition
// counts beside a Format condition whose evidence always gives its key:
// bindsImage) — unless a Deny surely denies that principal the action unless
// it proves one of the images the Deny lists (a Deny whose every condition
// is a negated condition on an image key that holds when it is absent:
// StringNotEquals on ImageSha384, say). It returns nothing for a policy that
// is not attestation-bound, and findings of SeverityError only.
//
// account is the key's account and resource its ARN; either may be empty
// (policy lint), and the check then reasons about every account the policy
// names and any key: an Allow's Resource is taken to match, and a Deny's only
// when it has none or it is "*".
//
// The check is sound, not complete: when it finds nothing, no request without
// measurements in its context, nor one whose image measurements the policy
// does not name, is allowed a secret action by Evaluate (FuzzPolicySafety
// checks this against Evaluate itself). It assumes that the conditions of an
// Allow on other keys (encryption context, source IP) can all be met, and that
// a Deny with such conditions might not apply; so it may refuse a policy that
// could never release a secret.
func (p *Policy) CheckAttestationSafety(account, resource string) []Finding {
	if !p.AttestationBound() {
		return nil
	}
	bound := -1 // the first statement that conditions on attestation
	for i := range p.statements {
		for _, c := range p.statements[i].conditions {
			if c.attestation && bound < 0 {
				bound = i
			}
		}
	}
	b := budget(analysisSteps)
	callers := p.candidates(account, &b)
	var out []Finding
	for i := range p.statements {
		s := &p.statements[i]
		if s.deny || s.measuresImage() {
			continue
		}
		for _, a := range SecretActions {
			if !s.actionMatches(a, &b) || !s.resourceMayMatch(resource, &b) {
				continue
			}
			for _, c := range callers {
				if !s.principalMatches(&c.caller, &b) || p.surelyDenied(&c.caller, a, resource, &b) {
					continue
				}
				reason := fmt.Sprintf("allows %s%s to %s without a verified Recipient: %s, while %s conditions on attestation",
					a, s.through(a), c.desc, s.whyUnattested(), p.statementName(bound))
				if s.requiresAttestation() {
					reason = fmt.Sprintf("allows %s%s to %s with genuine evidence of any workload: %s",
						a, s.through(a), c.desc, s.whyAnyImage())
				}
				out = append(out, Finding{Severity: SeverityError, Statement: p.statementName(i), Action: a, index: i, Reason: reason})
				break
			}
		}
		if b < 0 {
			break
		}
	}
	if b < 0 {
		return []Finding{{Severity: SeverityError, Reason: "the policy is too large for the attestation safety check: name fewer principals or write fewer statements"}}
	}
	return out
}

// Lint returns CheckAttestationSafety's findings for any key of any account
// and these warnings, in statement order:
//   - an Allow to every principal ("*", or NotPrincipal): in attestkms that
//     is every credential of the account;
//   - a Deny with a measurement condition that does not hold when the
//     request carries no measurement (StringEquals, say): it does not deny a
//     caller who sends no Recipient, which is rarely what its author meant;
//   - an Allow with conditions on Nitro measurements (ImageSha384, PCRn)
//     but none on kms:RecipientAttestation:Format: it relies on the keys'
//     names alone to tell the evidence formats apart; say "nitro" outright.
func (p *Policy) Lint() []Finding {
	out := p.CheckAttestationSafety("", "")
	for i := range p.statements {
		s := &p.statements[i]
		name := p.statementName(i)
		warn := func(reason string) {
			out = append(out, Finding{Severity: SeverityWarning, Statement: name, Reason: reason, index: i})
		}
		if !s.deny && (s.principals.any && !s.notPrincipal) {
			warn(`allows every principal ("*"), which in attestkms is every credential of the account: name the principals`)
		}
		if !s.deny && s.notPrincipal {
			warn("allows every principal not listed in NotPrincipal: name the principals in Principal instead")
		}
		nitro, format := "", false
		for j := range s.conditions {
			c := &s.conditions[j]
			if !c.attestation {
				continue
			}
			if s.deny && !c.holdsWhenAbsent() {
				warn(fmt.Sprintf("%s on %s in a Deny does not apply to a caller who sends no Recipient: "+
					"to deny all but the expected measurement write its negation (StringNotEquals), or require attestation with a conditioned Allow", c.operator, c.key))
			}
			if c.key == "kms:RecipientAttestation:Format" && !c.holdsWhenAbsent() {
				format = true
			} else if nitro == "" && isNitroKey(c.key) {
				nitro = c.key
			}
		}
		if !s.deny && nitro != "" && !format {
			warn(fmt.Sprintf(`conditions on the Nitro measurement %s without one on kms:RecipientAttestation:Format: add "kms:RecipientAttestation:Format": "nitro" so that the statement says which evidence it trusts`, nitro))
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].index != out[b].index {
			return out[a].index < out[b].index
		}
		return out[a].Severity == SeverityError && out[b].Severity != SeverityError
	})
	return out
}

func isNitroKey(key string) bool {
	name, ok := strings.CutPrefix(key, "kms:RecipientAttestation:")
	return ok && (name == "ImageSha384" || strings.HasPrefix(name, "PCR"))
}

// requiresAttestation reports whether some condition of the statement is on
// a measurement and false for a request that carries none: the statement
// then never applies to a caller without a verified Recipient.
func (s *statement) requiresAttestation() bool {
	for i := range s.conditions {
		if c := &s.conditions[i]; c.attestation && !c.holdsWhenAbsent() {
			return true
		}
	}
	return false
}

// whyAnyImage says why a statement that requires evidence admits any
// workload's.
func (s *statement) whyAnyImage() string {
	return "its measurement conditions (" + s.measurementConditions() + ") name no measurement of the workload's image " +
		"that its evidence must carry: condition also on " + imageKeyNames
}

// measurementConditions lists the statement's conditions on a
// kms:RecipientAttestation key, as "operator on key", for findings; "" if
// none.
func (s *statement) measurementConditions() string {
	var weak []string
	for i := range s.conditions {
		if c := &s.conditions[i]; c.attestation {
			weak = append(weak, c.operator+" on "+c.key)
		}
	}
	return strings.Join(weak, ", ")
}

// whyUnattested says why the statement applies to a caller with no Recipient.
func (s *statement) whyUnattested() string {
	weak := s.measurementConditions()
	if weak == "" {
		return "it has no condition on a kms:RecipientAttestation measurement"
	}
	return "its measurement conditions (" + weak + ") hold when the request carries no evidence"
}

// through says how the statement's Action element reaches action: through
// NotAction, or through a wildcard; nothing when it names the action.
func (s *statement) through(action string) string {
	if s.notAction {
		return " (through NotAction)"
	}
	for _, p := range s.actions {
		b := budget(maxSteps)
		if wildcardMatch(p, action, true, &b) {
			if asciiEqualFold(p, action) {
				return ""
			}
			return " (through " + quote(p) + ")"
		}
	}
	return ""
}

func (s *statement) actionMatches(action string, b *budget) bool {
	return anyMatch(s.actions, action, true, b) != s.notAction
}

func (s *statement) principalMatches(c *caller, b *budget) bool {
	b.spend(1 + len(s.principals.accounts) + len(s.principals.arns))
	return s.principals.match(c) != s.notPrincipal
}

// resourceMayMatch: could the statement's Resource match the key? With the
// key unknown (""), yes unless NotResource excludes everything.
func (s *statement) resourceMayMatch(resource string, b *budget) bool {
	if s.resources == nil {
		return true
	}
	if resource != "" {
		return anyMatch(s.resources, resource, false, b) != s.notResource
	}
	if s.notResource {
		for _, r := range s.resources {
			if r == "*" {
				return false
			}
		}
	}
	return true
}

// resourceSurelyMatches: does the statement's Resource match the key for
// sure? With the key unknown, only when it is absent or "*".
func (s *statement) resourceSurelyMatches(resource string, b *budget) bool {
	if s.resources == nil {
		return true
	}
	if resource != "" {
		return anyMatch(s.resources, resource, false, b) != s.notResource
	}
	if s.notResource {
		return false
	}
	for _, r := range s.resources {
		if r == "*" {
			return true
		}
	}
	return false
}

// surelyDenied reports whether some Deny statement applies to caller c's
// request for action on resource whenever it carries no measurement, or
// none of the image measurements the Deny lists, whatever else it carries:
// every condition of the Deny is a negated condition on an image key that
// holds when the key is absent (deniesOtherImages).
func (p *Policy) surelyDenied(c *caller, action, resource string, b *budget) bool {
	for i := range p.statements {
		s := &p.statements[i]
		if !s.deny || !s.principalMatches(c, b) || !s.actionMatches(action, b) || !s.resourceSurelyMatches(resource, b) {
			continue
		}
		sure := true
		for j := range s.conditions {
			if c := &s.conditions[j]; !c.deniesOtherImages() {
				sure = false
				break
			}
		}
		if sure {
			return true
		}
	}
	return false
}

// candidate is a caller that stands for every caller the policy's principal
// elements cannot tell apart from it.
type candidate struct {
	caller caller
	desc   string // for findings
}

// candidates lists one caller of each class that principal matching
// (principals.match) distinguishes: each IAM ARN the policy names exactly,
// and for each account (the given one, or every account the policy names and
// one it does not) and each partition named, its root and a principal the
// policy does not name.
func (p *Policy) candidates(account string, b *budget) []candidate {
	accounts := map[string]bool{}
	partitions := map[string]bool{"aws": true}
	named := map[string]bool{}
	var arns []string
	for i := range p.statements {
		ps := &p.statements[i].principals
		b.spend(1 + len(ps.accounts) + len(ps.arns))
		for _, a := range ps.accounts {
			if account == "" {
				accounts[a.id] = true
			}
			if a.partition != "" {
				partitions[a.partition] = true
			}
		}
		for _, arn := range ps.arns {
			if !named[arn] {
				named[arn] = true
				arns = append(arns, arn)
			}
			if a := accountOf(arn); account == "" && a != "" {
				accounts[a] = true // its other principals are a class too
			}
		}
	}
	if account != "" {
		accounts[account] = true
	} else {
		// An account and a partition no statement names, for "*" and
		// NotPrincipal, and for accounts named with a partition.
		fresh := 999999999999
		for accounts[strconv.Itoa(fresh)] {
			fresh--
		}
		accounts[strconv.Itoa(fresh)] = true
		part := "attestkms-unnamed"
		for partitions[part] {
			part += "-x"
		}
		partitions[part] = true
	}
	other := "user/attestkms-unnamed-principal"
	for n := 0; ; n++ {
		clash := false
		for _, arn := range arns {
			if strings.HasSuffix(arn, ":"+other) {
				clash = true
			}
		}
		if !clash {
			break
		}
		other = "user/attestkms-unnamed-principal-" + strconv.Itoa(n)
	}

	var out []candidate
	for _, arn := range arns {
		c, ok := parseCaller(&Request{Principal: arn, Account: accountOf(arn), Action: "-", Resource: "-"})
		if ok && accounts[c.account] {
			out = append(out, candidate{caller: c, desc: arn})
		}
	}
	// "aws", attestkms's own partition, first: findings name the first
	// caller that gets through.
	delete(partitions, "aws")
	parts := append([]string{"aws"}, sortedKeys(partitions)...)
	for _, id := range sortedKeys(accounts) {
		for _, part := range parts {
			root := "arn:" + part + ":iam::" + id + ":root"
			out = append(out,
				candidate{caller{arn: root, partition: part, account: id}, root},
				candidate{caller{arn: "arn:" + part + ":iam::" + id + ":" + other, partition: part, account: id}, "any principal of account " + id})
		}
	}
	return out
}

// accountOf returns the account of an IAM ARN, "" if it has none.
func accountOf(arn string) string {
	_, _, account, _, _ := splitARN(arn)
	return account
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
