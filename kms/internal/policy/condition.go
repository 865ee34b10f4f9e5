package policy

import (
	"strings"
)

// op is the comparison of a condition operator.
type op uint8

const (
	opEquals op = iota // StringEquals and its variants
	opLike             // StringLike, StringNotLike
	opBool             // Bool
	opNull             // Null
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
	op         op
	negated    bool // StringNotEquals, StringNotEqualsIgnoreCase, StringNotLike
	ignoreCase bool // the operator's or the key's (valuesIgnoreCase)
	ifExists   bool
	set        setOp
	operator   string // as written, for Explain
	key        string
	values     []string // for Bool and Null, "true" or "false"
}

// valuesIgnoreCase is attestkms's one rule for case in condition values: the
// values of every kms:RecipientAttestation: key compare without regard to
// case, under StringEquals, StringNotEquals, StringLike and StringNotLike as
// under the IgnoreCase operators. They are hex measurements or format names,
// whose case carries no meaning: a policy that writes a PCR in upper-case hex
// must match the lower-case hex attest.Claims.Measurements gives (AWS's own
// examples use StringEqualsIgnoreCase for this). key is matched without
// regard to case, as condition keys are.
func valuesIgnoreCase(key string) bool {
	const prefix = "kms:RecipientAttestation:"
	return len(key) >= len(prefix) && asciiEqualFold(key[:len(prefix)], prefix)
}

// parseOperator reads an operator name such as ForAnyValue:StringLikeIfExists.
// Operator names are case-sensitive, as AWS writes them.
func parseOperator(name string) (condition, bool) {
	var c condition
	base := name
	if rest, ok := strings.CutPrefix(base, "ForAnyValue:"); ok {
		c.set, base = setAnyValue, rest
	} else if rest, ok := strings.CutPrefix(base, "ForAllValues:"); ok {
		c.set, base = setAllValues, rest
	}
	if rest, ok := strings.CutSuffix(base, "IfExists"); ok {
		c.ifExists, base = true, rest
	}
	switch base {
	case "StringEquals":
	case "StringNotEquals":
		c.negated = true
	case "StringEqualsIgnoreCase":
		c.ignoreCase = true
	case "StringNotEqualsIgnoreCase":
		c.negated, c.ignoreCase = true, true
	case "StringLike":
		c.op = opLike
	case "StringNotLike":
		c.op, c.negated = opLike, true
	case "Bool":
		c.op = opBool
	case "Null":
		if c.ifExists || c.set != setNone {
			return c, false // Null tests existence; neither qualifier means anything on it
		}
		c.op = opNull
	default:
		return c, false
	}
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
			if err := checkConditionKey(key); err != nil {
				return nil, problem("%s: %s", name, err)
			}
			values, err := conditionValues(proto.op, body.vals[j])
			if err != nil {
				return nil, problem("%s: %s: %s", name, key, err)
			}
			c := proto
			c.operator, c.key = name, key
			c.values = values
			if valuesIgnoreCase(key) {
				c.ignoreCase = true
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func checkConditionKey(key string) error {
	prefix, name, ok := strings.Cut(key, ":")
	if !ok || prefix == "" || name == "" {
		return problem("%s is not a condition key <prefix>:<name>", quote(key))
	}
	if strings.Contains(key, "${") {
		return problem("policy variables are not supported: %s", quote(key))
	}
	return nil
}

// conditionValues reads the values of one key: a string, number or boolean,
// or a non-empty list of them. A number is kept as written. Bool and Null
// take only true and false (as JSON literals or strings).
func conditionValues(o op, n *node) ([]string, error) {
	one := []*node{n}
	if n.kind == kindArray {
		if len(n.vals) == 0 {
			return nil, problem("empty list of values")
		}
		one = n.vals
	}
	out := make([]string, len(one))
	for i, v := range one {
		switch v.kind {
		case kindString, kindNumber, kindBool:
		default:
			return nil, problem("a value is %s, not a string, number or boolean", v.kind)
		}
		if (o == opBool || o == opNull) && v.text != "true" && v.text != "false" {
			return nil, problem("value %s is not true or false", quote(v.text))
		}
		if v.kind == kindString && strings.Contains(v.text, "${") {
			return nil, problem("policy variables are not supported: %s", quote(v.text))
		}
		out[i] = v.text
	}
	return out, nil
}

// holds evaluates the condition on a request context, and reports whether
// the context was ambiguous for its key (two spellings of it).
func (c *condition) holds(ctx map[string][]string, b *budget) (ok, ambiguous bool) {
	vals, ambiguous := lookup(ctx, c.key, b)
	if ambiguous {
		return false, true
	}
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
			if c.valueHolds(v, b) {
				return true, false
			}
		}
		return false, false
	case setAllValues:
		for _, v := range vals {
			if !c.valueHolds(v, b) {
				return false, false
			}
		}
		return true, false
	}
	// No set operator: a positive operator holds when some request value
	// matches some policy value, a negated one when no request value does.
	if c.negated {
		for _, v := range vals {
			if !c.valueHolds(v, b) {
				return false, false
			}
		}
		return true, false
	}
	for _, v := range vals {
		if c.valueHolds(v, b) {
			return true, false
		}
	}
	return false, false
}

// valueHolds applies the operator to one request value: it matches one of the
// policy's values or, negated, none of them.
func (c *condition) valueHolds(v string, b *budget) bool {
	hit := false
	for _, p := range c.values {
		if c.compare(p, v, b) {
			hit = true
			break
		}
	}
	return hit != c.negated
}

func (c *condition) compare(policy, request string, b *budget) bool {
	if c.op == opLike {
		return wildcardMatch(policy, request, c.ignoreCase, b)
	}
	if !b.spend(1 + min(len(policy), len(request))) {
		return false
	}
	switch c.op {
	case opBool:
		return asciiEqualFold(policy, request)
	}
	if c.ignoreCase {
		return strings.EqualFold(policy, request)
	}
	return policy == request
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
