package policy

// Judgement is Evaluate's decision with its reasons, for people: which
// statement decided, and why each statement applied or did not.
type Judgement struct {
	Decision Decision
	// Grant is to whom an Allow was granted (EvaluateGrant); GrantNone
	// unless Decision is Allow.
	Grant Grant
	// Statement names the statement that decided: the first Deny that
	// applied (ExplicitDeny), or the first Allow (Allow) that granted as
	// Grant says (naming the caller itself for GrantCaller); empty for an
	// implicit Deny and for a request that cannot be judged.
	Statement string
	// Unmet says, for an implicit Deny, what each Allow statement that
	// matched the principal, action and resource lacked: every condition
	// that does not hold, e.g. `statement 1 (Sid "enclave"): StringEquals on
	// kms:RecipientAttestation:ImageSha384 does not hold (the key is absent)`.
	Unmet []string
	// Lines has one line per statement: whether it applies and, if not, the
	// first of principal, action and resource that does not match, or every
	// condition that does not hold.
	Lines []string
}

// Judge evaluates r as Evaluate does and says why. Its lines name
// statements, elements, operators and condition keys, never a value. It
// allocates; Evaluate is the hot path.
func (p *Policy) Judge(r *Request) Judgement {
	var j Judgement
	j.Decision, j.Grant = p.EvaluateGrant(r)
	if p == nil || r == nil {
		j.Lines = []string{"no policy or no request"}
		return j
	}
	c, ok := parseCaller(r)
	if !ok {
		j.Lines = []string{"the request cannot be judged: its principal, account, action or resource is malformed"}
		return j
	}
	j.Lines = make([]string, 0, len(p.statements))
	for i := range p.statements {
		s := &p.statements[i]
		name := p.statementName(i)
		effect := "Allow"
		if s.deny {
			effect = "Deny"
		}
		b := budget(maxSteps)
		switch {
		case s.principals.match(&c) == s.notPrincipal:
			j.Lines = append(j.Lines, name+": does not apply: the principal does not match")
			continue
		case anyMatch(s.actions, r.Action, true, &b) == s.notAction:
			j.Lines = append(j.Lines, name+": does not apply: the action does not match")
			continue
		case !s.matches(&c, r.Action, r.Resource, &b):
			j.Lines = append(j.Lines, name+": does not apply: the resource does not match")
			continue
		}
		var unmet []string
		for k := range s.conditions {
			cond := &s.conditions[k]
			holds, ambiguous := cond.holds(r.Context, &b)
			switch {
			case ambiguous:
				unmet = append(unmet, cond.operator+" on "+cond.key+": the request carries two spellings of the key or a value that is not "+cond.valueType())
			case !holds:
				vals, _ := lookup(r.Context, cond.key, &b)
				state := "absent"
				if len(vals) > 0 {
					state = "present"
				}
				unmet = append(unmet, cond.operator+" on "+cond.key+" does not hold (the key is "+state+")")
			}
		}
		if b < 0 {
			j.Lines = append(j.Lines, name+": cannot be judged: matching it takes too long")
			continue
		}
		if len(unmet) == 0 {
			j.Lines = append(j.Lines, name+": applies: "+effect)
			if j.Statement == "" && (s.deny && j.Decision == ExplicitDeny || !s.deny && j.Decision == Allow && (j.Grant != GrantCaller || s.grantsCaller(&c))) {
				j.Statement = name
			}
			continue
		}
		line := name + ": does not apply: "
		for k, u := range unmet {
			if k > 0 {
				line += "; "
			}
			line += u
			if !s.deny {
				j.Unmet = append(j.Unmet, name+": "+u)
			}
		}
		j.Lines = append(j.Lines, line)
	}
	if j.Decision != Deny {
		j.Unmet = nil
	}
	return j
}

// Explain is Judge's decision and lines.
func (p *Policy) Explain(r *Request) (Decision, []string) {
	j := p.Judge(r)
	return j.Decision, j.Lines
}

// valueType names the type of the condition's key's values, for messages.
func (c *condition) valueType() string {
	switch c.op {
	case opIP:
		return typeIP.String()
	case opDate:
		return typeDate.String()
	case opNumeric:
		return "a number"
	case opArn:
		return typeARN.String()
	case opBool:
		return typeBool.String()
	}
	return typeString.String()
}
