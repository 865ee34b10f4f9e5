package policy

import (
	"fmt"
	"strings"
)

// statement is one parsed Statement.
type statement struct {
	sid          string
	deny         bool
	notPrincipal bool
	principals   principals
	notAction    bool
	actions      []string // patterns, matched without regard to case
	notResource  bool
	resources    []string // patterns, case-sensitive; nil means "*"
	conditions   []condition
}

// principals is a Principal or NotPrincipal element.
type principals struct {
	any      bool         // "*" or {"AWS": "*"}
	accounts []accountRef // an account id or an account's root ARN
	arns     []string     // other IAM ARNs, matched exactly
	// Service, Federated and CanonicalUser principals are checked for form
	// and then dropped: they never match an attestkms caller.
}

// accountRef names an account: all of its principals match.
type accountRef struct {
	partition string // "" for a bare account id, which matches in any partition
	id        string
}

// caller is a Request's principal, taken apart.
type caller struct {
	arn       string
	partition string
	account   string
	root      bool // arn is the account's root, arn:<partition>:iam::<account>:root
}

// parseCaller checks a request's principal, account, action and resource.
func parseCaller(r *Request) (caller, bool) {
	partition, service, account, rest, ok := splitARN(r.Principal)
	if !ok || service != "iam" || account != r.Account || !isAccountID(account) || rest == "" {
		return caller{}, false
	}
	if r.Action == "" || r.Resource == "" {
		return caller{}, false
	}
	return caller{arn: r.Principal, partition: partition, account: account, root: service == "iam" && rest == "root"}, true
}

// splitARN splits arn:<partition>:<service>::<account>:<rest>, the form of
// IAM and STS ARNs (no region).
func splitARN(s string) (partition, service, account, rest string, ok bool) {
	s, ok = strings.CutPrefix(s, "arn:")
	if !ok {
		return
	}
	partition, s, ok = strings.Cut(s, ":")
	if !ok || !isPartition(partition) {
		return "", "", "", "", false
	}
	service, s, ok = strings.Cut(s, "::")
	if !ok {
		return "", "", "", "", false
	}
	account, rest, ok = strings.Cut(s, ":")
	return partition, service, account, rest, ok
}

func isPartition(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || c == '-') {
			return false
		}
	}
	return true
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// matches reports whether the statement's principal, action and resource
// elements match; conditions are separate.
func (s *statement) matches(c *caller, action, resource string, b *budget) bool {
	if s.principals.match(c) == s.notPrincipal {
		return false
	}
	if anyMatch(s.actions, action, true, b) == s.notAction {
		return false
	}
	if s.resources == nil { // no Resource element: the key itself
		return true
	}
	return anyMatch(s.resources, resource, false, b) != s.notResource
}

// grantsCaller reports whether the statement, which matches c, names c
// itself rather than only c's account: "*", c's ARN, a NotPrincipal (which
// names whom it excludes, not an account), or c's account when c is its
// root (the root ARN is both).
func (s *statement) grantsCaller(c *caller) bool {
	if s.notPrincipal || s.principals.any || c.root {
		return true
	}
	for _, arn := range s.principals.arns {
		if arn == c.arn {
			return true
		}
	}
	return false
}

// conditionsHold reports whether every condition holds (true when there are
// none), and whether the request's context was ambiguous for one of them.
func (s *statement) conditionsHold(ctx map[string][]string, b *budget) (holds, ambiguous bool) {
	for i := range s.conditions {
		ok, amb := s.conditions[i].holds(ctx, b)
		if amb {
			return false, true
		}
		if !ok {
			return false, false
		}
	}
	return true, false
}

func (ps *principals) match(c *caller) bool {
	if ps.any {
		return true
	}
	for _, a := range ps.accounts {
		if a.id == c.account && (a.partition == "" || a.partition == c.partition) {
			return true
		}
	}
	for _, arn := range ps.arns {
		if arn == c.arn {
			return true
		}
	}
	return false
}

func anyMatch(patterns []string, s string, ignoreCase bool, b *budget) bool {
	for _, p := range patterns {
		if wildcardMatch(p, s, ignoreCase, b) {
			return true
		}
	}
	return false
}

// parseStatement fills st from the i-th statement. A statement of an
// identity policy names no principal (it applies to whoever carries the
// policy) and names its resources.
func parseStatement(st *statement, i int, n *node, identity bool) error {
	where := fmt.Sprintf("statement %d", i)
	if n.kind != kindObject {
		return malformed("%s is %s, not an object", where, n.kind)
	}
	if sid := n.get("Sid"); sid != nil {
		if sid.kind != kindString {
			return malformed("%s: Sid must be a string, not %s", where, sid.kind)
		}
		st.sid = sid.text
		where += " (Sid " + quote(sid.text) + ")"
	}
	var effect, principal, action, resource, cond *node
	for j, k := range n.keys {
		v := n.vals[j]
		switch k {
		case "Sid":
		case "Effect":
			effect = v
		case "Principal", "NotPrincipal":
			if principal != nil {
				return malformed("%s has both Principal and NotPrincipal", where)
			}
			principal, st.notPrincipal = v, k == "NotPrincipal"
		case "Action", "NotAction":
			if action != nil {
				return malformed("%s has both Action and NotAction", where)
			}
			action, st.notAction = v, k == "NotAction"
		case "Resource", "NotResource":
			if resource != nil {
				return malformed("%s has both Resource and NotResource", where)
			}
			resource, st.notResource = v, k == "NotResource"
		case "Condition":
			cond = v
		default:
			return malformed("%s: unknown element %s", where, quote(k))
		}
	}

	switch {
	case effect == nil:
		return malformed("%s has no Effect", where)
	case effect.kind == kindString && effect.text == "Allow":
	case effect.kind == kindString && effect.text == "Deny":
		st.deny = true
	case effect.kind == kindString:
		return malformed("%s: Effect must be \"Allow\" or \"Deny\", not %s", where, quote(effect.text))
	default:
		return malformed("%s: Effect must be a string, not %s", where, effect.kind)
	}

	elem := "Principal"
	if st.notPrincipal {
		elem = "NotPrincipal"
	}
	switch {
	case identity && principal != nil:
		return malformed("%s: an identity policy has no %s: it applies to the credential that carries it", where, elem)
	case identity:
		st.principals.any = true
	case principal == nil:
		return malformed("%s has no Principal or NotPrincipal", where)
	default:
		if err := parsePrincipals(&st.principals, principal); err != nil {
			return malformed("%s: %s: %s", where, elem, err)
		}
	}
	if identity && resource == nil {
		return malformed("%s has no Resource or NotResource: an identity policy names the keys it applies to (\"*\" for every key)", where)
	}

	if action == nil {
		return malformed("%s has no Action or NotAction", where)
	}
	elem = "Action"
	if st.notAction {
		elem = "NotAction"
	}
	actions, err := stringList(action)
	if err == nil {
		for _, a := range actions {
			if err = checkAction(a); err != nil {
				break
			}
		}
	}
	if err != nil {
		return malformed("%s: %s: %s", where, elem, err)
	}
	st.actions = actions

	if resource != nil {
		elem = "Resource"
		if st.notResource {
			elem = "NotResource"
		}
		resources, err := stringList(resource)
		if err == nil {
			for _, r := range resources {
				if err = checkResource(r); err != nil {
					break
				}
			}
		}
		if err != nil {
			return malformed("%s: %s: %s", where, elem, err)
		}
		st.resources = resources
	}

	if cond != nil {
		conds, err := parseConditions(cond)
		if err != nil {
			return malformed("%s: Condition: %s", where, err)
		}
		st.conditions = conds
	}
	return nil
}

// elementError is a problem inside one element, without the ErrMalformed
// prefix: parseStatement adds it with the statement and element names.
type elementError string

func (e elementError) Error() string { return string(e) }

func problem(format string, args ...any) error {
	return elementError(fmt.Sprintf(format, args...))
}

// stringList reads a string or a non-empty list of strings.
func stringList(n *node) ([]string, error) {
	switch n.kind {
	case kindString:
		return []string{n.text}, nil
	case kindArray:
		if len(n.vals) == 0 {
			return nil, problem("empty list")
		}
		out := make([]string, len(n.vals))
		for i, v := range n.vals {
			if v.kind != kindString {
				return nil, problem("entry %d is %s, not a string", i, v.kind)
			}
			out[i] = v.text
		}
		return out, nil
	}
	return nil, problem("%s, not a string or a list of strings", n.kind)
}

func parsePrincipals(ps *principals, n *node) error {
	switch n.kind {
	case kindString:
		if n.text != "*" {
			return problem("must be \"*\" or an object such as {\"AWS\": ...}, not %s", quote(n.text))
		}
		ps.any = true
		return nil
	case kindObject:
	default:
		return problem("must be \"*\" or an object, not %s", n.kind)
	}
	if len(n.keys) == 0 {
		return problem("empty object")
	}
	for i, typ := range n.keys {
		vals, err := stringList(n.vals[i])
		if err != nil {
			return problem("%s: %s", typ, err)
		}
		switch typ {
		case "AWS":
			for _, v := range vals {
				if err := ps.addAWS(v); err != nil {
					return problem("AWS: %s", err)
				}
			}
		case "Service", "Federated", "CanonicalUser":
			for _, v := range vals {
				if v == "" {
					return problem("%s: empty principal", typ)
				}
			}
		default:
			return problem("unknown principal type %s", quote(typ))
		}
	}
	return nil
}

// addAWS adds one value of an AWS principal: "*", an account id, or an IAM or
// STS ARN without wildcards (AWS allows none but "*" alone).
func (ps *principals) addAWS(v string) error {
	if v == "*" {
		ps.any = true
		return nil
	}
	if isAccountID(v) {
		ps.accounts = append(ps.accounts, accountRef{id: v})
		return nil
	}
	if strings.ContainsAny(v, "*?") {
		return problem("wildcards are not allowed in a principal ARN: %s", quote(v))
	}
	partition, service, account, rest, ok := splitARN(v)
	if !ok || (service != "iam" && service != "sts") || !isAccountID(account) || rest == "" {
		return problem("%s is not \"*\", a 12-digit account id or an IAM ARN arn:aws:iam::<account>:<name>", quote(v))
	}
	if strings.Contains(rest, "${") {
		return problem("policy variables are not supported: %s", quote(v))
	}
	if service == "iam" && rest == "root" {
		ps.accounts = append(ps.accounts, accountRef{partition: partition, id: account})
		return nil
	}
	ps.arns = append(ps.arns, v)
	return nil
}

// checkAction accepts "*" and <service>:<name>, the name with wildcards.
func checkAction(a string) error {
	if a == "*" {
		return nil
	}
	service, name, ok := strings.Cut(a, ":")
	if !ok || service == "" || name == "" {
		return problem("%s is not \"*\" or <service>:<action>", quote(a))
	}
	for i := 0; i < len(service); i++ {
		if c := service[i]; !isAlnum(c) && c != '-' {
			return problem("%s: bad service prefix", quote(a))
		}
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && c != '*' && c != '?' {
			return problem("%s: bad action name", quote(a))
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// checkResource accepts "*" and ARN patterns.
func checkResource(r string) error {
	if r == "*" {
		return nil
	}
	if !strings.HasPrefix(r, "arn:") {
		return problem("%s is not \"*\" or an ARN", quote(r))
	}
	if strings.Contains(r, "${") {
		return problem("policy variables are not supported: %s", quote(r))
	}
	return nil
}
