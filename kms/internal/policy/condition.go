package policy

import (
	"cmp"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// op is the comparison family of a condition operator.
type op uint8

const (
	opEquals  op = iota // StringEquals and its variants
	opLike              // StringLike, StringNotLike
	opBool              // Bool
	opNull              // Null
	opIP                // IpAddress, NotIpAddress
	opDate              // DateEquals ... DateGreaterThanEquals
	opNumeric           // NumericEquals ... NumericGreaterThanEquals
	opArn               // ArnEquals, ArnLike, ArnNotEquals, ArnNotLike
)

// accepts reports whether the family applies to keys of type t.
func (o op) accepts(t keyType) bool {
	switch o {
	case opEquals, opLike:
		return t == typeString || t == typeARN
	case opBool:
		return t == typeBool
	case opIP:
		return t == typeIP
	case opDate:
		return t == typeDate || t == typeEpoch
	case opNumeric:
		return t == typeEpoch
	case opArn:
		return t == typeARN
	}
	return true // Null tests presence, of any key
}

// order is the comparison of Date and Numeric operators.
type order uint8

const (
	orderEq order = iota
	orderLt
	orderLe
	orderGt
	orderGe
)

// setOp is a condition operator's set prefix.
type setOp uint8

const (
	setNone setOp = iota
	setAnyValue
	setAllValues
)

// condition is one key under one operator, e.g. StringEquals
// {"kms:RecipientAttestation:PCR0": ["ab..", "cd.."]}.
type condition struct {
	op          op
	order       order // opDate, opNumeric
	negated     bool  // the Not operators: StringNotEquals, NotIpAddress, DateNotEquals, ...
	ignoreCase  bool  // the operator's or the key's (valuesIgnoreCase)
	ifExists    bool
	set         setOp
	attestation bool   // the key is a kms:RecipientAttestation measurement
	operator    string // as written, for Explain and findings
	key         string // as the server spells it (lookupKey), for Explain and findings
	values      []string
	// Parsed values, for the typed families: one entry per value.
	prefixes []netip.Prefix // opIP
	times    []time.Time    // opDate
	numbers  []float64      // opNumeric
}

// valuesIgnoreCase is attestkms's one rule for case in condition values: the
// values of every kms:RecipientAttestation measurement compare without regard
// to case, under StringEquals, StringNotEquals, StringLike and StringNotLike
// as under the IgnoreCase operators. They are hex measurements or format
// names, whose case carries no meaning: a policy that writes a PCR in
// upper-case hex must match the lower-case hex attest.Claims.Measurements
// gives (AWS's own examples use StringEqualsIgnoreCase for this).
func valuesIgnoreCase(k keyInfo) bool { return k.attestation }

// operators maps each operator's base name (no set prefix, no IfExists) to
// its condition template.
var operators = map[string]condition{
	"StringEquals":              {op: opEquals},
	"StringNotEquals":           {op: opEquals, negated: true},
	"StringEqualsIgnoreCase":    {op: opEquals, ignoreCase: true},
	"StringNotEqualsIgnoreCase": {op: opEquals, negated: true, ignoreCase: true},
	"StringLike":                {op: opLike},
	"StringNotLike":             {op: opLike, negated: true},
	"Bool":                      {op: opBool},
	"Null":                      {op: opNull},
	"IpAddress":                 {op: opIP},
	"NotIpAddress":              {op: opIP, negated: true},
	"DateEquals":                {op: opDate, order: orderEq},
	"DateNotEquals":             {op: opDate, order: orderEq, negated: true},
	"DateLessThan":              {op: opDate, order: orderLt},
	"DateLessThanEquals":        {op: opDate, order: orderLe},
	"DateGreaterThan":           {op: opDate, order: orderGt},
	"DateGreaterThanEquals":     {op: opDate, order: orderGe},
	"NumericEquals":             {op: opNumeric, order: orderEq},
	"NumericNotEquals":          {op: opNumeric, order: orderEq, negated: true},
	"NumericLessThan":           {op: opNumeric, order: orderLt},
	"NumericLessThanEquals":     {op: opNumeric, order: orderLe},
	"NumericGreaterThan":        {op: opNumeric, order: orderGt},
	"NumericGreaterThanEquals":  {op: opNumeric, order: orderGe},
	"ArnEquals":                 {op: opArn},
	"ArnLike":                   {op: opArn},
	"ArnNotEquals":              {op: opArn, negated: true},
	"ArnNotLike":                {op: opArn, negated: true},
}

// parseOperator reads an operator name such as ForAnyValue:StringLikeIfExists.
// Operator names are case-sensitive, as AWS writes them.
func parseOperator(name string) (condition, bool) {
	base := name
	set := setNone
	if rest, ok := strings.CutPrefix(base, "ForAnyValue:"); ok {
		set, base = setAnyValue, rest
	} else if rest, ok := strings.CutPrefix(base, "ForAllValues:"); ok {
		set, base = setAllValues, rest
	}
	ifExists := false
	if rest, ok := strings.CutSuffix(base, "IfExists"); ok {
		ifExists, base = true, rest
	}
	c, ok := operators[base]
	if !ok {
		return c, false
	}
	if c.op == opNull && (ifExists || set != setNone) {
		return c, false // Null tests existence; neither qualifier means anything on it
	}
	c.set, c.ifExists = set, ifExists
	return c, true
}

// parseConditions reads a Condition element.
func parseConditions(n *node) ([]condition, error) {
	if n.kind != kindObject {
		return nil, problem("must be an object, not %s", n.kind)
	}
	if len(n.keys) == 0 {
		return nil, problem("empty object")
	}
	var out []condition
	for i, name := range n.keys {
		proto, ok := parseOperator(name)
		if !ok {
			return nil, problem("unknown or unsupported operator %s", quote(name))
		}
		body := n.vals[i]
		if body.kind != kindObject {
			return nil, problem("%s: must be an object of condition keys, not %s", name, body.kind)
		}
		if len(body.keys) == 0 {
			return nil, problem("%s: no condition keys", name)
		}
		for j, key := range body.keys {
			info, err := checkConditionKey(key)
			if err != nil {
				return nil, problem("%s: %s", name, err)
			}
			if !proto.op.accepts(info.typ) {
				return nil, problem("%s cannot be used with %s, whose values are %s", name, info.canonical, info.typ)
			}
			c := proto
			c.operator, c.key, c.attestation = name, info.canonical, info.attestation
			if err := c.parseValues(body.vals[j]); err != nil {
				return nil, problem("%s: %s: %s", name, key, err)
			}
			if valuesIgnoreCase(info) {
				c.ignoreCase = true
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// checkConditionKey accepts the keys attestkms evaluates (keys.go).
func checkConditionKey(key string) (keyInfo, error) {
	if strings.Contains(key, "${") {
		return keyInfo{}, problem("policy variables are not supported: %s", quote(key))
	}
	info, ok := lookupKey(key)
	if !ok {
		return keyInfo{}, problem("unknown condition key %s: %s", quote(key), unknownKeyHint(key))
	}
	return info, nil
}

// parseValues reads the values of one key: a string, number or boolean, or a
// non-empty list of them. A number is kept as written. Bool and Null take only
// true and false (as JSON literals or strings); the typed families parse
// theirs here, once.
func (c *condition) parseValues(n *node) error {
	one := []*node{n}
	if n.kind == kindArray {
		if len(n.vals) == 0 {
			return problem("empty list of values")
		}
		one = n.vals
	}
	c.values = make([]string, len(one))
	for i, v := range one {
		switch v.kind {
		case kindString, kindNumber, kindBool:
		default:
			return problem("a value is %s, not a string, number or boolean", v.kind)
		}
		if v.kind == kindString && strings.Contains(v.text, "${") {
			return problem("policy variables are not supported: %s", quote(v.text))
		}
		c.values[i] = v.text
		switch c.op {
		case opBool, opNull:
			if v.text != "true" && v.text != "false" {
				return problem("value %s is not true or false", quote(v.text))
			}
		case opIP:
			p, ok := parsePrefix(v.text)
			if !ok {
				return problem("value %s is not an IP address or CIDR block", quote(v.text))
			}
			c.prefixes = append(c.prefixes, p)
		case opDate:
			t, ok := parseDate(v.text)
			if !ok {
				return problem("value %s is not a date (RFC 3339 such as 2026-01-02T15:04:05Z, a day such as 2026-01-02, or seconds since 1970)", quote(v.text))
			}
			c.times = append(c.times, t)
		case opNumeric:
			x, ok := parseNumber(v.text)
			if !ok {
				return problem("value %s is not a decimal number", quote(v.text))
			}
			c.numbers = append(c.numbers, x)
		case opArn:
			if !isARNPattern(v.text) {
				return problem("value %s is not an ARN arn:<partition>:<service>:<region>:<account>:<resource> (wildcards allowed)", quote(v.text))
			}
		}
	}
	return nil
}

// parsePrefix reads an IP address or a CIDR block in canonical form: a
// block whose address has bits past its length (10.1.2.3/8) is refused, as it
// is most likely a typo for another block.
func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" || p.Masked() != p {
			return netip.Prefix{}, false
		}
		return p, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// parseDate reads a date as AWS's date operators take one: RFC 3339 (with or
// without fractional seconds), a day (midnight UTC), or whole seconds since
// 1970 (aws:EpochTime's form).
func parseDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if isDigits(s) {
		if len(s) > 12 { // past the year 33658: surely not a date
			return time.Time{}, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return time.Unix(n, 0).UTC(), err == nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// parseNumber reads a decimal number: an optional minus, digits, and
// optionally a point and more digits. No exponents, no hex, no NaN.
func parseNumber(s string) (float64, bool) {
	body := strings.TrimPrefix(s, "-")
	whole, frac, hasPoint := strings.Cut(body, ".")
	if len(s) > 40 || !isDigits(whole) || (hasPoint && !isDigits(frac)) {
		return 0, false
	}
	x, err := strconv.ParseFloat(s, 64)
	return x, err == nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isARNPattern accepts arn:<partition>:<service>:<region>:<account>:<resource>,
// any part with wildcards, the resource possibly holding more colons.
func isARNPattern(s string) bool {
	rest, ok := strings.CutPrefix(s, "arn:")
	if !ok {
		return false
	}
	for range 4 {
		if _, rest, ok = strings.Cut(rest, ":"); !ok {
			return false
		}
	}
	return true
}

// holds evaluates the condition on a request context, and reports whether
// the context was ambiguous for its key (two spellings of it) or held a value
// of the wrong type: the request then cannot be judged.
func (c *condition) holds(ctx map[string][]string, b *budget) (ok, ambiguous bool) {
	vals, ambiguous := lookup(ctx, c.key, b)
	if ambiguous {
		return false, true
	}
	return c.holdsFor(vals, b)
}

// holdsFor evaluates the condition on the request's values of its key (none:
// the key is absent).
func (c *condition) holdsFor(vals []string, b *budget) (ok, ambiguous bool) {
	present := len(vals) > 0
	if c.op == opNull {
		// Null: true holds when the key is absent, Null: false when present.
		for _, v := range c.values {
			if (v == "true") != present {
				return true, false
			}
		}
		return false, false
	}
	if !present {
		switch {
		case c.ifExists:
			return true, false
		case c.set == setAllValues:
			return true, false // AWS: the empty set satisfies ForAllValues
		case c.set == setAnyValue:
			return false, false
		}
		// AWS: a negated operator holds when the key is absent.
		return c.negated, false
	}
	switch c.set {
	case setAnyValue:
		for _, v := range vals {
			hold, bad := c.valueHolds(v, b)
			if bad {
				return false, true
			}
			if hold {
				return true, false
			}
		}
		return false, false
	case setAllValues:
		for _, v := range vals {
			hold, bad := c.valueHolds(v, b)
			if bad {
				return false, true
			}
			if !hold {
				return false, false
			}
		}
		return true, false
	}
	// No set operator: a positive operator holds when some request value
	// matches some policy value, a negated one when no request value does.
	result := c.negated
	for _, v := range vals {
		hold, bad := c.valueHolds(v, b)
		if bad {
			return false, true
		}
		if c.negated && !hold {
			result = false
		}
		if !c.negated && hold {
			result = true
		}
	}
	return result, false
}

// holdsWhenAbsent is the condition's value for a request that does not
// carry its key at all.
func (c *condition) holdsWhenAbsent() bool {
	b := budget(maxSteps)
	ok, _ := c.holdsFor(nil, &b)
	return ok
}

// valueHolds applies the operator to one request value: it matches one of the
// policy's values or, negated, none of them. bad reports a request value that
// is not of the key's type (the server never sends one; policy test might).
func (c *condition) valueHolds(v string, b *budget) (hold, bad bool) {
	hit := false
	switch c.op {
	case opIP:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false, true
		}
		a = a.Unmap()
		for _, p := range c.prefixes {
			b.spend(1)
			if p.Contains(a) {
				hit = true
				break
			}
		}
	case opDate:
		t, ok := parseDate(v)
		if !ok {
			return false, true
		}
		hit = someHolds(c.order, c.times, b, func(p time.Time) int { return t.Compare(p) })
	case opNumeric:
		x, ok := parseNumber(v)
		if !ok {
			return false, true
		}
		hit = someHolds(c.order, c.numbers, b, func(p float64) int { return cmp.Compare(x, p) })
	default:
		for _, p := range c.values {
			if c.compare(p, v, b) {
				hit = true
				break
			}
		}
	}
	return hit != c.negated, false
}

// someHolds reports whether the request value, compared with some policy
// value (compare gives -1, 0 or 1), satisfies the order.
func someHolds[T any](o order, policy []T, b *budget, compare func(T) int) bool {
	for _, p := range policy {
		b.spend(1)
		if o.holds(compare(p)) {
			return true
		}
	}
	return false
}

// holds reports whether a comparison's result (request value against policy
// value: -1, 0, 1) satisfies the order.
func (o order) holds(cmp int) bool {
	switch o {
	case orderLt:
		return cmp < 0
	case orderLe:
		return cmp <= 0
	case orderGt:
		return cmp > 0
	case orderGe:
		return cmp >= 0
	}
	return cmp == 0
}

func (c *condition) compare(policy, request string, b *budget) bool {
	switch c.op {
	case opLike:
		return wildcardMatch(policy, request, c.ignoreCase, b)
	case opArn:
		return arnMatch(policy, request, b)
	}
	if !b.spend(1 + min(len(policy), len(request))) {
		return false
	}
	if c.op == opBool {
		return asciiEqualFold(policy, request)
	}
	if c.ignoreCase {
		return strings.EqualFold(policy, request)
	}
	return policy == request
}

// arnMatch matches an ARN against a pattern as AWS's Arn operators do: each
// of the six colon-separated parts separately, with * and ? (ArnEquals and
// ArnLike alike), the last part taking any further colons.
func arnMatch(pattern, arn string, b *budget) bool {
	for i := 0; i < 5; i++ {
		pp, prest, ok1 := strings.Cut(pattern, ":")
		ap, arest, ok2 := strings.Cut(arn, ":")
		if !ok1 || !ok2 || !wildcardMatch(pp, ap, false, b) {
			return false
		}
		pattern, arn = prest, arest
	}
	return wildcardMatch(pattern, arn, false, b)
}

// lookup finds a condition key in a request context without regard to (ASCII)
// case. Two spellings of the key in ctx are ambiguous.
func lookup(ctx map[string][]string, key string, b *budget) (vals []string, ambiguous bool) {
	found := false
	for k, v := range ctx {
		b.spend(1)
		if len(k) != len(key) || !asciiEqualFold(k, key) {
			continue
		}
		if found {
			return nil, true
		}
		vals, found = v, true
	}
	return vals, false
}
