package policy

import "strconv"

// Explain evaluates r as Evaluate does and says why, one line per statement:
// whether it applies and, if not, the first of principal, action and resource
// that does not match, or every condition that does not hold (not only the
// first), so that one run answers "why was I denied". The lines name
// statements, elements, operators and condition keys, never a value.
// It allocates; Evaluate is the hot path.
func (p *Policy) Explain(r *Request) (Decision, []string) {
	d := p.Evaluate(r)
	if p == nil || r == nil {
		return d, []string{"no policy or no request"}
	}
	c, ok := parseCaller(r)
	if !ok {
		return d, []string{"the request cannot be judged: its principal, account, action or resource is malformed"}
	}
	lines := make([]string, 0, len(p.statements))
	for i := range p.statements {
		s := &p.statements[i]
		name := "statement " + strconv.Itoa(i)
		if s.sid != "" {
			name += " (Sid " + quote(s.sid) + ")"
		}
		effect := "Allow"
		if s.deny {
			effect = "Deny"
		}
		b := budget(maxSteps)
		switch {
		case s.principals.match(&c) == s.notPrincipal:
			lines = append(lines, name+": does not apply: the principal does not match")
			continue
		case anyMatch(s.actions, r.Action, true, &b) == s.notAction:
			lines = append(lines, name+": does not apply: the action does not match")
			continue
		case !s.matches(&c, r.Action, r.Resource, &b):
			lines = append(lines, name+": does not apply: the resource does not match")
			continue
		}
		var unmet []string
		for j := range s.conditions {
			cond := &s.conditions[j]
			holds, ambiguous := cond.holds(r.Context, &b)
			switch {
			case ambiguous:
				unmet = append(unmet, cond.operator+" on "+cond.key+": the request carries two spellings of the key")
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
			lines = append(lines, name+": cannot be judged: matching it takes too long")
			continue
		}
		if len(unmet) == 0 {
			lines = append(lines, name+": applies: "+effect)
			continue
		}
		line := name + ": does not apply: "
		for j, u := range unmet {
			if j > 0 {
				line += "; "
			}
			line += u
		}
		lines = append(lines, line)
	}
	return d, lines
}
