package policy

import (
	"strings"
	"testing"
)

func TestNitroExamplePolicy(t *testing.T) {
	ctx := map[string][]string{"kms:RecipientAttestation:ImageSha384": {nitroImage}}
	upper := map[string][]string{"kms:RecipientAttestation:ImageSha384": {strings.ToUpper(nitroImage)}}
	keyCase := map[string][]string{"KMS:RECIPIENTATTESTATION:IMAGESHA384": {nitroImage}}
	wrong := map[string][]string{"kms:RecipientAttestation:ImageSha384": {pcr(0)}}
	pcr0Only := map[string][]string{"kms:RecipientAttestation:PCR0": {nitroImage}}
	runEval(t, nitroPolicy, []evalCase{
		{"the image decrypts", req(dataProcessing, "kms:Decrypt", ctx), Allow},
		{"the image generates", req(dataProcessing, "kms:GenerateRandom", ctx), Allow},
		{"upper-case context value", req(dataProcessing, "kms:Decrypt", upper), Allow},
		{"key in another case", req(dataProcessing, "kms:Decrypt", keyCase), Allow},
		{"another image", req(dataProcessing, "kms:Decrypt", wrong), Deny},
		{"no attestation", req(dataProcessing, "kms:Decrypt", nil), Deny},
		{"PCR0 is not ImageSha384", req(dataProcessing, "kms:Decrypt", pcr0Only), Deny},
		{"action not listed", req(dataProcessing, "kms:Encrypt", ctx), Deny},
		{"another role", req("arn:aws:iam::111122223333:role/other", "kms:Decrypt", ctx), Deny},
	})
}

// Measurements compare without regard to case under every string operator,
// not only the IgnoreCase ones (valuesIgnoreCase).
func TestAttestationValuesIgnoreCase(t *testing.T) {
	up := strings.ToUpper(pcr(0))
	tests := []struct {
		cond string
		ctx  map[string][]string
		want Decision
	}{
		{`"StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + up + `"}`, attested(), Allow},
		{`"StringEquals":{"kms:recipientattestation:imagesha384":"` + up + `"}`, attested(), Allow},
		{`"StringEquals":{"kms:RecipientAttestation:PCR0":"` + up + `"}`, attested(), Allow},
		{`"StringEquals":{"kms:RecipientAttestation:Format":"NITRO"}`, attested(), Allow},
		{`"StringNotEquals":{"kms:RecipientAttestation:PCR0":"` + up + `"}`, attested(), Deny},
		{`"StringLike":{"kms:RecipientAttestation:PCR0":"` + up[:10] + `*"}`, attested(), Allow},
		{`"StringNotLike":{"kms:RecipientAttestation:PCR0":"` + up[:10] + `*"}`, attested(), Deny},
		{`"ForAnyValue:StringEquals":{"kms:RecipientAttestation:PCR0":["00","` + up + `"]}`, attested(), Allow},
		{`"StringEquals":{"kms:RecipientAttestation:PCR0":"` + up[:95] + `"}`, attested(), Deny},
		// Not a measurement: case-sensitive.
		{`"StringEquals":{"kms:EncryptionContext:pcr0":"` + up + `"}`, map[string][]string{"kms:EncryptionContext:pcr0": {pcr(0)}}, Deny},
	}
	for _, tt := range tests {
		p := mustParse(t, doc(`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{`+tt.cond+`}}`))
		if got := p.Evaluate(req(alice, "kms:Decrypt", tt.ctx)); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.cond, got, tt.want)
		}
	}
	for key, want := range map[string]bool{
		"kms:RecipientAttestation:PCR0":   true,
		"KMS:RECIPIENTATTESTATION:PCR0":   true,
		"kms:RecipientAttestation/PCR0":   true,
		"kms:EncryptionContext:x":         false,
		"aws:PrincipalArn":                false,
		"kms:RecipientAttestation:TpmPCR": false,
	} {
		info, ok := lookupKey(key)
		if got := ok && valuesIgnoreCase(info); got != want {
			t.Errorf("valuesIgnoreCase(%q) = %v", key, got)
		}
	}
}

func TestEveryPCR(t *testing.T) {
	for i := 0; i < 32; i++ {
		key := "kms:RecipientAttestation:PCR" + itoa(i)
		p := mustParse(t, doc(`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{"StringEquals":{"`+key+`":"`+strings.ToUpper(pcr(i))+`"}}}`))
		if got := p.Evaluate(req(alice, "kms:Decrypt", attested())); got != Allow {
			t.Errorf("PCR%d: %v", i, got)
		}
		ctx := attested()
		ctx[key] = []string{pcr(i + 1)}
		if got := p.Evaluate(req(alice, "kms:Decrypt", ctx)); got != Deny {
			t.Errorf("PCR%d changed: %v", i, got)
		}
		delete(ctx, key)
		if got := p.Evaluate(req(alice, "kms:Decrypt", ctx)); got != Deny {
			t.Errorf("PCR%d absent: %v", i, got)
		}
	}
}

// How to require attestation, and how not to: see the package doc.
func TestRequiringAttestation(t *testing.T) {
	good, bad := pcr(0), pcr(9)
	withImage := func(img string) map[string][]string {
		return map[string][]string{"kms:RecipientAttestation:ImageSha384": {img}}
	}
	base := `{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*"}`

	// Deny + positive condition: does not apply without attestation.
	runEval(t, doc(base, `{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"`+bad+`"}}}`), []evalCase{
		{"deny bad: bad image", req(alice, "kms:Decrypt", withImage(bad)), ExplicitDeny},
		{"deny bad: good image", req(alice, "kms:Decrypt", withImage(good)), Allow},
		{"deny bad: no attestation is NOT denied", req(alice, "kms:Decrypt", nil), Allow},
	})
	// Deny + negated condition: applies without attestation, so requires it.
	runEval(t, doc(base, `{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Condition":{"StringNotEquals":{"kms:RecipientAttestation:ImageSha384":"`+good+`"}}}`), []evalCase{
		{"deny all but good: good image", req(alice, "kms:Decrypt", withImage(good)), Allow},
		{"deny all but good: bad image", req(alice, "kms:Decrypt", withImage(bad)), ExplicitDeny},
		{"deny all but good: no attestation", req(alice, "kms:Decrypt", nil), ExplicitDeny},
		{"deny all but good: other action", req(alice, "kms:Encrypt", nil), Allow},
	})
	// Allow + positive condition: the way to require attestation.
	runEval(t, doc(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"`+good+`"}}}`), []evalCase{
		{"allow good: good image", req(alice, "kms:Decrypt", withImage(good)), Allow},
		{"allow good: bad image", req(alice, "kms:Decrypt", withImage(bad)), Deny},
		{"allow good: no attestation", req(alice, "kms:Decrypt", nil), Deny},
	})
	// Allow + negated condition: also allows requests without attestation.
	runEval(t, doc(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Condition":{"StringNotEquals":{"kms:RecipientAttestation:ImageSha384":"`+bad+`"}}}`), []evalCase{
		{"allow all but bad: bad image", req(alice, "kms:Decrypt", withImage(bad)), Deny},
		{"allow all but bad: no attestation IS allowed", req(alice, "kms:Decrypt", nil), Allow},
	})
}

// TestConditions runs one condition block on contexts: Allow when it holds.
func TestConditions(t *testing.T) {
	type c = map[string][]string
	tests := []struct {
		name, cond string
		ctx        c
		want       bool
	}{
		// StringEquals: case-sensitive values, case-insensitive keys.
		{"equals", `{"StringEquals":{"kms:EncryptionContext:purpose":"backup"}}`, c{"kms:EncryptionContext:purpose": {"backup"}}, true},
		{"equals: value case", `{"StringEquals":{"kms:EncryptionContext:purpose":"backup"}}`, c{"kms:EncryptionContext:purpose": {"Backup"}}, false},
		{"equals: key case", `{"StringEquals":{"kms:EncryptionContext:Purpose":"backup"}}`, c{"KMS:encryptioncontext:PURPOSE": {"backup"}}, true},
		{"equals: absent", `{"StringEquals":{"kms:EncryptionContext:purpose":"backup"}}`, c{}, false},
		{"equals: nil context", `{"StringEquals":{"kms:EncryptionContext:purpose":"backup"}}`, nil, false},
		{"equals: empty value list is absent", `{"StringEquals":{"kms:EncryptionContext:purpose":""}}`, c{"kms:EncryptionContext:purpose": {}}, false},
		{"equals: empty string", `{"StringEquals":{"kms:EncryptionContext:purpose":""}}`, c{"kms:EncryptionContext:purpose": {""}}, true},
		{"equals: values ORed", `{"StringEquals":{"kms:EncryptionContext:purpose":["a","backup"]}}`, c{"kms:EncryptionContext:purpose": {"backup"}}, true},
		{"equals: number literal", `{"StringEquals":{"kms:EncryptionContext:n":5}}`, c{"kms:EncryptionContext:n": {"5"}}, true},
		{"equals: number kept as written", `{"StringEquals":{"kms:EncryptionContext:n":5.0}}`, c{"kms:EncryptionContext:n": {"5"}}, false},
		{"equals: bool literal", `{"StringEquals":{"kms:EncryptionContext:b":true}}`, c{"kms:EncryptionContext:b": {"true"}}, true},
		{"equals: no wildcards", `{"StringEquals":{"kms:EncryptionContext:purpose":"b*"}}`, c{"kms:EncryptionContext:purpose": {"backup"}}, false},
		{"equals: multivalued request, any", `{"StringEquals":{"kms:EncryptionContextKeys":"a"}}`, c{"kms:EncryptionContextKeys": {"x", "a"}}, true},

		// StringNotEquals: matches none of the values; absent holds (AWS).
		{"not equals: other", `{"StringNotEquals":{"kms:CallerAccount":["1","2"]}}`, c{"kms:CallerAccount": {"3"}}, true},
		{"not equals: listed", `{"StringNotEquals":{"kms:CallerAccount":["1","2"]}}`, c{"kms:CallerAccount": {"2"}}, false},
		{"not equals: case differs", `{"StringNotEquals":{"kms:EncryptionContext:a":"x"}}`, c{"kms:EncryptionContext:a": {"X"}}, true},
		{"not equals: absent", `{"StringNotEquals":{"kms:CallerAccount":"1"}}`, c{}, true},
		{"not equals: multivalued request", `{"StringNotEquals":{"kms:EncryptionContextKeys":"a"}}`, c{"kms:EncryptionContextKeys": {"x", "a"}}, false},

		{"equals ignore case", `{"StringEqualsIgnoreCase":{"kms:EncryptionContext:a":"BackUp"}}`, c{"kms:EncryptionContext:a": {"backup"}}, true},
		{"equals ignore case: unicode", `{"StringEqualsIgnoreCase":{"kms:EncryptionContext:a":"ÉTÉ"}}`, c{"kms:EncryptionContext:a": {"été"}}, true},
		{"equals ignore case: other", `{"StringEqualsIgnoreCase":{"kms:EncryptionContext:a":"BackUp"}}`, c{"kms:EncryptionContext:a": {"backups"}}, false},
		{"not equals ignore case", `{"StringNotEqualsIgnoreCase":{"kms:EncryptionContext:a":"BackUp"}}`, c{"kms:EncryptionContext:a": {"backup"}}, false},
		{"not equals ignore case: other", `{"StringNotEqualsIgnoreCase":{"kms:EncryptionContext:a":"BackUp"}}`, c{"kms:EncryptionContext:a": {"restore"}}, true},

		// StringLike: * and ?.
		{"like ?", `{"StringLike":{"kms:EncryptionContext:a":"a?c"}}`, c{"kms:EncryptionContext:a": {"abc"}}, true},
		{"like ? needs one", `{"StringLike":{"kms:EncryptionContext:a":"a?c"}}`, c{"kms:EncryptionContext:a": {"ac"}}, false},
		{"like ? is one rune", `{"StringLike":{"kms:EncryptionContext:a":"a?c"}}`, c{"kms:EncryptionContext:a": {"aéc"}}, true},
		{"like * empty", `{"StringLike":{"kms:EncryptionContext:a":"ab*"}}`, c{"kms:EncryptionContext:a": {"ab"}}, true},
		{"like * inside", `{"StringLike":{"kms:EncryptionContext:a":"*b*d"}}`, c{"kms:EncryptionContext:a": {"abcbd"}}, true},
		{"like * anchors", `{"StringLike":{"kms:EncryptionContext:a":"*b"}}`, c{"kms:EncryptionContext:a": {"abc"}}, false},
		{"like case-sensitive", `{"StringLike":{"kms:EncryptionContext:a":"A*"}}`, c{"kms:EncryptionContext:a": {"abc"}}, false},
		{"like values ORed", `{"StringLike":{"kms:EncryptionContext:a":["x*","?b?"]}}`, c{"kms:EncryptionContext:a": {"abc"}}, true},
		{"like absent", `{"StringLike":{"kms:EncryptionContext:a":"*"}}`, c{}, false},
		{"not like", `{"StringNotLike":{"kms:EncryptionContext:a":["x*","?b?"]}}`, c{"kms:EncryptionContext:a": {"abc"}}, false},
		{"not like: none match", `{"StringNotLike":{"kms:EncryptionContext:a":["x*","?b"]}}`, c{"kms:EncryptionContext:a": {"abc"}}, true},
		{"not like: absent", `{"StringNotLike":{"kms:EncryptionContext:a":"x*"}}`, c{}, true},

		// AND and OR.
		{"keys ANDed: both", `{"StringEquals":{"kms:EncryptionContext:a":"1","kms:EncryptionContext:b":"2"}}`, c{"kms:EncryptionContext:a": {"1"}, "kms:EncryptionContext:b": {"2"}}, true},
		{"keys ANDed: one", `{"StringEquals":{"kms:EncryptionContext:a":"1","kms:EncryptionContext:b":"2"}}`, c{"kms:EncryptionContext:a": {"1"}}, false},
		{"operators ANDed: both", `{"StringEquals":{"kms:EncryptionContext:a":"1"},"StringLike":{"kms:EncryptionContext:b":"2*"}}`, c{"kms:EncryptionContext:a": {"1"}, "kms:EncryptionContext:b": {"22"}}, true},
		{"operators ANDed: one", `{"StringEquals":{"kms:EncryptionContext:a":"1"},"StringLike":{"kms:EncryptionContext:b":"2*"}}`, c{"kms:EncryptionContext:a": {"1"}, "kms:EncryptionContext:b": {"32"}}, false},
		{"two spellings of one key ANDed", `{"StringEquals":{"kms:EncryptionContext:a":"1","KMS:EncryptionContext:A":"2"}}`, c{"kms:EncryptionContext:a": {"1"}}, false},

		// IfExists.
		{"IfExists: absent", `{"StringEqualsIfExists":{"kms:EncryptionContext:a":"1"}}`, c{}, true},
		{"IfExists: match", `{"StringEqualsIfExists":{"kms:EncryptionContext:a":"1"}}`, c{"kms:EncryptionContext:a": {"1"}}, true},
		{"IfExists: mismatch", `{"StringEqualsIfExists":{"kms:EncryptionContext:a":"1"}}`, c{"kms:EncryptionContext:a": {"2"}}, false},
		{"NotLikeIfExists: absent", `{"StringNotLikeIfExists":{"kms:EncryptionContext:a":"1*"}}`, c{}, true},
		{"NotLikeIfExists: match", `{"StringNotLikeIfExists":{"kms:EncryptionContext:a":"1*"}}`, c{"kms:EncryptionContext:a": {"12"}}, false},
		{"BoolIfExists: absent", `{"BoolIfExists":{"aws:SecureTransport":"true"}}`, c{}, true},
		{"BoolIfExists: false", `{"BoolIfExists":{"aws:SecureTransport":"true"}}`, c{"aws:SecureTransport": {"false"}}, false},

		// Null.
		{"Null true: absent", `{"Null":{"kms:EncryptionContext:a":"true"}}`, c{}, true},
		{"Null true: empty list", `{"Null":{"kms:EncryptionContext:a":true}}`, c{"kms:EncryptionContext:a": {}}, true},
		{"Null true: present", `{"Null":{"kms:EncryptionContext:a":"true"}}`, c{"kms:EncryptionContext:a": {""}}, false},
		{"Null false: present", `{"Null":{"kms:EncryptionContext:a":"false"}}`, c{"kms:EncryptionContext:a": {"x"}}, true},
		{"Null false: absent", `{"Null":{"kms:EncryptionContext:a":false}}`, c{}, false},
		{"Null false: attestation absent", `{"Null":{"kms:RecipientAttestation:ImageSha384":"false"}}`, c{}, false},
		{"Null false: attestation present", `{"Null":{"kms:RecipientAttestation:ImageSha384":"false"}}`, attested(), true},

		// Bool.
		{"Bool true", `{"Bool":{"aws:SecureTransport":"true"}}`, c{"aws:SecureTransport": {"true"}}, true},
		{"Bool literal", `{"Bool":{"aws:SecureTransport":true}}`, c{"aws:SecureTransport": {"true"}}, true},
		{"Bool context case", `{"Bool":{"aws:SecureTransport":true}}`, c{"aws:SecureTransport": {"TRUE"}}, true},
		{"Bool false", `{"Bool":{"aws:SecureTransport":"true"}}`, c{"aws:SecureTransport": {"false"}}, false},
		{"Bool not a boolean", `{"Bool":{"aws:SecureTransport":"true"}}`, c{"aws:SecureTransport": {"1"}}, false},
		{"Bool absent", `{"Bool":{"aws:SecureTransport":false}}`, c{}, false},

		// Set operators.
		{"ForAnyValue: one in", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["a","b"]}}`, c{"kms:EncryptionContextKeys": {"b", "c"}}, true},
		{"ForAnyValue: none in", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["a","b"]}}`, c{"kms:EncryptionContextKeys": {"c"}}, false},
		{"ForAnyValue: absent", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["a","b"]}}`, c{}, false},
		{"ForAnyValue: empty", `{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["a","b"]}}`, c{"kms:EncryptionContextKeys": {}}, false},
		{"ForAnyValue:StringNotEquals: one out", `{"ForAnyValue:StringNotEquals":{"kms:EncryptionContextKeys":["a","b"]}}`, c{"kms:EncryptionContextKeys": {"a", "c"}}, true},
		{"ForAnyValue:StringNotEquals: all in", `{"ForAnyValue:StringNotEquals":{"kms:EncryptionContextKeys":["a","b"]}}`, c{"kms:EncryptionContextKeys": {"a", "b"}}, false},
		{"ForAnyValue:StringNotEquals: absent", `{"ForAnyValue:StringNotEquals":{"kms:EncryptionContextKeys":"a"}}`, c{}, false},
		{"ForAnyValue:StringLike", `{"ForAnyValue:StringLike":{"kms:EncryptionContextKeys":"t-*"}}`, c{"kms:EncryptionContextKeys": {"x", "t-1"}}, true},
		{"ForAnyValue IfExists: absent", `{"ForAnyValue:StringEqualsIfExists":{"kms:EncryptionContextKeys":"a"}}`, c{}, true},
		{"ForAllValues: subset", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["a","b"]}}`, c{"kms:EncryptionContextKeys": {"b", "a"}}, true},
		{"ForAllValues: one out", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["a","b"]}}`, c{"kms:EncryptionContextKeys": {"a", "c"}}, false},
		{"ForAllValues: absent holds (AWS quirk)", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["a","b"]}}`, c{}, true},
		{"ForAllValues: empty holds (AWS quirk)", `{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["a","b"]}}`, c{"kms:EncryptionContextKeys": {}}, true},
		{"ForAllValues:StringNotEquals: none in", `{"ForAllValues:StringNotEquals":{"kms:EncryptionContextKeys":["a","b"]}}`, c{"kms:EncryptionContextKeys": {"c", "d"}}, true},
		{"ForAllValues:StringNotEquals: one in", `{"ForAllValues:StringNotEquals":{"kms:EncryptionContextKeys":["a","b"]}}`, c{"kms:EncryptionContextKeys": {"c", "a"}}, false},
		{"ForAllValues:StringLike", `{"ForAllValues:StringLike":{"kms:EncryptionContextKeys":["t-*","x"]}}`, c{"kms:EncryptionContextKeys": {"x", "t-1"}}, true},
		{"ForAllValues:StringLike: one out", `{"ForAllValues:StringLike":{"kms:EncryptionContextKeys":["t-*","x"]}}`, c{"kms:EncryptionContextKeys": {"y", "t-1"}}, false},

		// Encryption context: the key name in any case, the value exact.
		{"encryption context", `{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}`, c{"kms:encryptioncontext:department": {"IT"}}, true},
		{"encryption context value case", `{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}`, c{"kms:EncryptionContext:Department": {"it"}}, false},
		{"encryption context key differs", `{"StringEquals":{"kms:EncryptionContext:Department":"IT"}}`, c{"kms:EncryptionContext:Departments": {"IT"}}, false},
		{"encryption context non-ASCII key is exact", `{"StringEquals":{"kms:EncryptionContext:Été":"IT"}}`, c{"kms:EncryptionContext:été": {"IT"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":`+tt.cond+`}`))
			want := Deny
			if tt.want {
				want = Allow
			}
			if got := p.Evaluate(req(alice, "kms:Decrypt", tt.ctx)); got != want {
				t.Errorf("got %v, want %v", got, want)
			}
			// The same condition on a Deny gives ExplicitDeny exactly when it holds.
			p = mustParse(t, doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*"}`,
				`{"Effect":"Deny","Principal":"*","Action":"kms:*","Condition":`+tt.cond+`}`))
			want = Allow
			if tt.want {
				want = ExplicitDeny
			}
			if got := p.Evaluate(req(alice, "kms:Decrypt", tt.ctx)); got != want {
				t.Errorf("as a Deny: got %v, want %v", got, want)
			}
		})
	}
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		fold, want bool
	}{
		{"", "", false, true},
		{"", "a", false, false},
		{"*", "", false, true},
		{"**", "abc", false, true},
		{"?", "", false, false},
		{"a*b*c", "aXbYbZc", false, true},
		{"a*b*c", "aXbYbZ", false, false},
		{"*a", "aaaa", false, true},
		{"a*a*a*a*b", strings.Repeat("a", 200), false, false},
		{"?*?", "é", false, false},
		{"??", "é", false, false},
		{"?", "é", false, true},
		{"É*", "été", true, true},
		{"É*", "été", false, false},
		{"K", "\u212a", true, true}, // Kelvin sign folds to K
		{"?", "\xff", false, true},
		{"a", "\xff", true, false},
		{"*c", "ab\xffc", false, true},
	}
	for _, tt := range tests {
		b := budget(maxSteps)
		if got := wildcardMatch(tt.pattern, tt.s, tt.fold, &b); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q, %v) = %v", tt.pattern, tt.s, tt.fold, got)
		}
	}
}

// A policy author and a caller together can ask for 2^28 steps of wildcard
// matching; Evaluate stops at maxSteps and refuses the request.
func TestEvaluateBudget(t *testing.T) {
	var patterns []string
	for len(patterns) < 250 {
		patterns = append(patterns, "*"+strings.Repeat("a", 100)+"b")
	}
	p := mustParse(t, doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*","Condition":{"StringLike":{"kms:EncryptionContext:x":["`+strings.Join(patterns, `","`)+`"]}}}`))
	long := map[string][]string{"kms:EncryptionContext:x": {strings.Repeat("a", 8192)}}
	if got := p.Evaluate(req(alice, "kms:Decrypt", long)); got != ExplicitDeny {
		t.Errorf("a request that needs 2^27 steps: %v", got)
	}
	short := map[string][]string{"kms:EncryptionContext:x": {strings.Repeat("a", 100) + "b"}}
	if got := p.Evaluate(req(alice, "kms:Decrypt", short)); got != Allow {
		t.Errorf("a request that needs 2^15 steps: %v", got)
	}
	b := budget(10)
	if wildcardMatch("*b", "aaaaaaaaaaaaaaab", false, &b) || b >= 0 {
		t.Errorf("wildcardMatch went past its budget: %d", b)
	}
}
