package policy

import (
	"strings"
	"testing"
)

type evalCase struct {
	name string
	r    *Request
	want Decision
}

func runEval(t *testing.T, policy string, tests []evalCase) {
	t.Helper()
	p := mustParse(t, policy)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Evaluate(tt.r); got != tt.want {
				t.Errorf("Evaluate = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDefaultPolicy(t *testing.T) {
	for _, policy := range []string{defaultPolicy, kmsDefaultPolicy} {
		runEval(t, policy, []evalCase{
			{"root decrypts", req(root, "kms:Decrypt", nil), Allow},
			{"root puts policy", req(root, "kms:PutKeyPolicy", nil), Allow},
			{"user decrypts", req(alice, "kms:Decrypt", nil), Allow},
			{"user schedules deletion", req(bob, "kms:ScheduleKeyDeletion", nil), Allow},
			{"user with attestation", req(alice, "kms:GenerateDataKey", attested()), Allow},
			{"action case", req(alice, "KMS:decrypt", nil), Allow},
			{"other account's user", req(stranger, "kms:Decrypt", nil), Deny},
			{"other account's root", req(otherRt, "kms:Decrypt", nil), Deny},
			{"non-kms action", req(alice, "s3:GetObject", nil), Deny},
		})
	}
}

func TestExplicitDenyWins(t *testing.T) {
	policy := doc(
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}`,
		`{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":["kms:ScheduleKeyDeletion","kms:PutKeyPolicy"],"Resource":"*"}`,
	)
	runEval(t, policy, []evalCase{
		{"denied action", req(alice, "kms:ScheduleKeyDeletion", nil), ExplicitDeny},
		{"denied action, other case", req(alice, "kms:putkeypolicy", nil), ExplicitDeny},
		{"allowed action", req(alice, "kms:Decrypt", nil), Allow},
		{"other user", req(bob, "kms:ScheduleKeyDeletion", nil), Allow},
	})
	// The order of statements does not matter.
	policy = doc(
		`{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt"}`,
		`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt"}`,
	)
	runEval(t, policy, []evalCase{{"deny first", req(alice, "kms:Decrypt", nil), ExplicitDeny}})
}

func TestImplicitDeny(t *testing.T) {
	policy := doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt"}`)
	runEval(t, policy, []evalCase{
		{"alice decrypts", req(alice, "kms:Decrypt", nil), Allow},
		{"alice encrypts", req(alice, "kms:Encrypt", nil), Deny},
		{"bob decrypts", req(bob, "kms:Decrypt", nil), Deny},
		{"root decrypts", req(root, "kms:Decrypt", nil), Deny}, // a user ARN is that user only
		{"user ARN case", req("arn:aws:iam::111122223333:user/Alice", "kms:Decrypt", nil), Deny},
	})
}

func TestPrincipals(t *testing.T) {
	runEval(t, doc(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt"}`), []evalCase{
		{"account id: user", req(alice, "kms:Decrypt", nil), Allow},
		{"account id: root", req(root, "kms:Decrypt", nil), Allow},
		{"account id: other account", req(stranger, "kms:Decrypt", nil), Deny},
	})
	runEval(t, doc(`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt"}`), []evalCase{
		{"star: user", req(alice, "kms:Decrypt", nil), Allow},
		{"star: other account", req(stranger, "kms:Decrypt", nil), Allow},
	})
	runEval(t, doc(`{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::444455556666:root","arn:aws:iam::111122223333:user/bob"]},"Action":"kms:Decrypt"}`), []evalCase{
		{"list: other account's root entry", req(stranger, "kms:Decrypt", nil), Allow},
		{"list: bob", req(bob, "kms:Decrypt", nil), Allow},
		{"list: alice", req(alice, "kms:Decrypt", nil), Deny},
	})
	runEval(t, doc(`{"Effect":"Allow","Principal":{"AWS":"arn:aws-cn:iam::111122223333:root"},"Action":"kms:Decrypt"}`), []evalCase{
		{"another partition's root", req(alice, "kms:Decrypt", nil), Deny},
	})
	runEval(t, doc(`{"Effect":"Allow","Principal":{"Service":"kms.amazonaws.com","Federated":"accounts.google.com","CanonicalUser":"abc"},"Action":"kms:*"}`), []evalCase{
		{"service principals match no caller", req(root, "kms:Decrypt", nil), Deny},
	})
	runEval(t, doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*"}`,
		`{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Decrypt"}`), []evalCase{
		{"NotPrincipal: listed", req(alice, "kms:Decrypt", nil), Allow},
		{"NotPrincipal: not listed", req(bob, "kms:Decrypt", nil), ExplicitDeny},
		{"NotPrincipal: other action", req(bob, "kms:Encrypt", nil), Allow},
	})
	runEval(t, doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*"}`,
		`{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*"}`), []evalCase{
		{"NotPrincipal account: in account", req(bob, "kms:Decrypt", nil), Allow},
		{"NotPrincipal account: other account", req(stranger, "kms:Decrypt", nil), ExplicitDeny},
	})
	runEval(t, doc(`{"Effect":"Allow","NotPrincipal":{"AWS":"*"},"Action":"kms:*"}`), []evalCase{
		{"NotPrincipal star matches no one", req(root, "kms:Decrypt", nil), Deny},
	})
}

func TestActions(t *testing.T) {
	tests := []struct {
		pattern, action string
		want            bool
	}{
		{"*", "kms:Decrypt", true},
		{"kms:*", "kms:Decrypt", true},
		{"kms:*", "s3:GetObject", false},
		{"kms:Decrypt", "kms:Decrypt", true},
		{"kms:Decrypt", "kms:Decrypts", false},
		{"kms:Decrypt", "kms:ReEncryptFrom", false},
		{"KMS:DECRYPT", "kms:Decrypt", true},
		{"kms:decrypt", "KMS:Decrypt", true},
		{"kms:Generate*", "kms:GenerateDataKey", true},
		{"kms:Generate*", "kms:GenerateRandom", true},
		{"kms:Generate*", "kms:Generate", true},
		{"kms:Generate*", "kms:Decrypt", false},
		{"kms:generate*", "kms:GenerateDataKeyPairWithoutPlaintext", true},
		{"kms:*Key", "kms:DescribeKey", true},
		{"kms:*Key", "kms:CreateKey", true},
		{"kms:*Key", "kms:GenerateDataKeyPair", false},
		{"kms:*Key*", "kms:GenerateDataKeyPair", true},
		{"kms:Re*crypt*", "kms:ReEncryptTo", true},
		{"kms:?ecrypt", "kms:Decrypt", true},
		{"kms:?ecrypt", "kms:Encrypt", false},
		{"kms:??crypt", "kms:Decrypt", true},
		{"kms:???crypt", "kms:Decrypt", false},
		{"kms:Encrypt?", "kms:Encrypt", false},
		{"s3:*", "kms:Decrypt", false},
		{"kmsx:*", "kms:Decrypt", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.action, func(t *testing.T) {
			p := mustParse(t, doc(`{"Effect":"Allow","Principal":"*","Action":"`+tt.pattern+`"}`))
			want := Deny
			if tt.want {
				want = Allow
			}
			if got := p.Evaluate(req(alice, tt.action, nil)); got != want {
				t.Errorf("Action: got %v, want %v", got, want)
			}
			// NotAction matches exactly the other requests.
			p = mustParse(t, doc(`{"Effect":"Allow","Principal":"*","NotAction":"`+tt.pattern+`"}`))
			want = Allow
			if tt.want {
				want = Deny
			}
			if got := p.Evaluate(req(alice, tt.action, nil)); got != want {
				t.Errorf("NotAction: got %v, want %v", got, want)
			}
		})
	}
}

func TestNotAction(t *testing.T) {
	policy := doc(
		`{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"NotAction":["kms:Decrypt","kms:Generate*"]}`,
		`{"Sid":"no deletion","Effect":"Deny","Principal":"*","NotAction":["kms:Describe*","kms:List*","kms:Get*"],"Condition":{"StringEquals":{"kms:EncryptionContext:stage":"frozen"}}}`,
	)
	frozen := map[string][]string{"kms:EncryptionContext:stage": {"frozen"}}
	runEval(t, policy, []evalCase{
		{"admin may manage", req(alice, "kms:ScheduleKeyDeletion", nil), Allow},
		{"admin may not decrypt", req(alice, "kms:Decrypt", nil), Deny},
		{"admin may not generate", req(alice, "kms:GenerateDataKey", nil), Deny},
		{"frozen: deny all but reads", req(alice, "kms:ScheduleKeyDeletion", frozen), ExplicitDeny},
		{"frozen: reads pass the deny", req(alice, "kms:DescribeKey", frozen), Allow},
	})
}

func TestResources(t *testing.T) {
	tests := []struct {
		element string
		want    map[string]Decision // by request resource
	}{
		{`"Resource":"*"`, map[string]Decision{keyARN: Allow, otherKey: Allow}},
		{``, map[string]Decision{keyARN: Allow, otherKey: Allow}}, // absent is "*"
		{`"Resource":"` + keyARN + `"`, map[string]Decision{keyARN: Allow, otherKey: Deny, strings.ToUpper(keyARN): Deny}},
		{`"Resource":["` + otherKey + `","` + keyARN + `"]`, map[string]Decision{keyARN: Allow, otherKey: Allow}},
		{`"Resource":"arn:aws:kms:*:111122223333:key/*"`, map[string]Decision{keyARN: Allow, "arn:aws:kms:us-east-1:444455556666:key/x": Deny, "arn:aws:kms:us-east-1:111122223333:alias/x": Deny}},
		{`"Resource":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-????-*"`, map[string]Decision{keyARN: Allow, otherKey: Deny}},
		{`"Resource":"arn:aws:kms:us-east-1:111122223333:KEY/*"`, map[string]Decision{keyARN: Deny}}, // case-sensitive
		{`"NotResource":"` + keyARN + `"`, map[string]Decision{keyARN: Deny, otherKey: Allow}},
		{`"NotResource":"*"`, map[string]Decision{keyARN: Deny}},
	}
	for _, tt := range tests {
		el := tt.element
		if el != "" {
			el = "," + el
		}
		p := mustParse(t, doc(`{"Effect":"Allow","Principal":"*","Action":"kms:*"`+el+`}`))
		for res, want := range tt.want {
			r := req(alice, "kms:Decrypt", nil)
			r.Resource = res
			if got := p.Evaluate(r); got != want {
				t.Errorf("%s on %s: got %v, want %v", tt.element, res, got, want)
			}
		}
	}
}

// A request Evaluate cannot judge is refused even by a policy that allows
// everyone everything.
func TestUnjudgeableRequests(t *testing.T) {
	p := mustParse(t, doc(`{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"StringEqualsIfExists":{"kms:EncryptionContext:purpose":"x"}}}`))
	ok := req(alice, "kms:Decrypt", nil)
	if got := p.Evaluate(ok); got != Allow {
		t.Fatalf("the well-formed request: %v", got)
	}
	mod := func(f func(r *Request)) *Request {
		r := *ok
		f(&r)
		return &r
	}
	tests := []evalCase{
		{"nil request", nil, ExplicitDeny},
		{"account mismatch", mod(func(r *Request) { r.Account = otherAcc }), ExplicitDeny},
		{"short account", mod(func(r *Request) { r.Account = "11112222333"; r.Principal = "arn:aws:iam::11112222333:user/alice" }), ExplicitDeny},
		{"empty account", mod(func(r *Request) { r.Account = "" }), ExplicitDeny},
		{"empty principal", mod(func(r *Request) { r.Principal = "" }), ExplicitDeny},
		{"principal not an ARN", mod(func(r *Request) { r.Principal = "alice" }), ExplicitDeny},
		{"principal not IAM", mod(func(r *Request) { r.Principal = "arn:aws:sts::111122223333:assumed-role/r/s" }), ExplicitDeny},
		{"principal without name", mod(func(r *Request) { r.Principal = "arn:aws:iam::111122223333:" }), ExplicitDeny},
		{"empty action", mod(func(r *Request) { r.Action = "" }), ExplicitDeny},
		{"empty resource", mod(func(r *Request) { r.Resource = "" }), ExplicitDeny},
		{"two spellings of a consulted key", mod(func(r *Request) {
			r.Context = map[string][]string{"kms:EncryptionContext:purpose": {"x"}, "kms:EncryptionContext:Purpose": {"y"}}
		}), ExplicitDeny},
		{"two spellings of a key not consulted", mod(func(r *Request) {
			r.Context = map[string][]string{"kms:EncryptionContext:other": {"x"}, "kms:EncryptionContext:Other": {"y"}}
		}), Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Evaluate(tt.r); got != tt.want {
				t.Errorf("Evaluate = %v, want %v", got, tt.want)
			}
		})
	}
	var nilPolicy *Policy
	if got := nilPolicy.Evaluate(ok); got != ExplicitDeny {
		t.Errorf("nil policy: %v", got)
	}
}

func TestDecisionString(t *testing.T) {
	for d, want := range map[Decision]string{Deny: "Deny", Allow: "Allow", ExplicitDeny: "ExplicitDeny", 7: "Decision(7)"} {
		if got := d.String(); got != want {
			t.Errorf("%d: %q, want %q", int(d), got, want)
		}
	}
	if Deny != 0 {
		t.Error("the zero Decision must be Deny")
	}
}

// A Policy is immutable: many goroutines evaluate one at once (run with -race).
func TestEvaluateConcurrently(t *testing.T) {
	p := mustParse(t, attestedPolicy)
	r := req("arn:aws:iam::111122223333:user/enclave", "kms:Decrypt", map[string][]string{
		"kms:RecipientAttestation:ImageSha384": {pcr(0)}, "kms:RecipientAttestation:PCR0": {pcr(0)},
		"kms:RecipientAttestation:PCR1": {pcr(1)}, "kms:RecipientAttestation:PCR2": {pcr(2)},
		"kms:EncryptionContext:tenant": {"t-1"},
	})
	done := make(chan Decision)
	for range 8 {
		go func() {
			d := Allow
			for range 100 {
				if got := p.Evaluate(r); got != Allow {
					d = got
				}
				p.AllowsPolicyUpdate(root, acct, keyARN)
			}
			done <- d
		}()
	}
	for range 8 {
		if d := <-done; d != Allow {
			t.Errorf("Evaluate = %v", d)
		}
	}
}
