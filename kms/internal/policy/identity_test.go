package policy

import (
	"errors"
	"strings"
	"testing"
)

// TestParseIdentity: an identity policy is a key policy's grammar without a
// principal, and with its resources named; the closed set of condition keys
// holds, and the attestation safety check does not apply.
func TestParseIdentity(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string // want: "" parses, else a part of the error
	}{
		{"decrypt on one alias", doc(`{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/ci"}}}`), ""},
		{"NotResource", doc(`{"Effect":"Deny","Action":"kms:*","NotResource":"` + keyARN + `"}`), ""},
		{"attestation condition, no safety check", doc(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"kms:RecipientAttestation:ImageSha384":"` + pcr(0) + `"}}}`), ""},
		{"Principal", doc(`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`), "an identity policy has no Principal"},
		{"NotPrincipal", doc(`{"Effect":"Deny","NotPrincipal":{"AWS":"` + alice + `"},"Action":"kms:Decrypt","Resource":"*"}`), "an identity policy has no NotPrincipal"},
		{"no Resource", doc(`{"Effect":"Allow","Action":"kms:Decrypt"}`), "has no Resource or NotResource"},
		{"unknown condition key", doc(`{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpc":"vpc-1"}}}`), "aws:SourceVpc"},
		{"unknown element", doc(`{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Grantee":"x"}`), "unknown element"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ip, err := ParseIdentity(tc.doc)
			if tc.want == "" {
				if err != nil || ip == nil {
					t.Fatalf("ParseIdentity: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) || ip != nil {
				t.Fatalf("ParseIdentity = %v, %v; want ErrMalformed saying %q", ip, err, tc.want)
			}
		})
	}
	// A key policy still needs its principal.
	if _, err := Parse(doc(`{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}`)); err == nil || !strings.Contains(err.Error(), "no Principal") {
		t.Fatalf("a key policy without a Principal: %v", err)
	}
}

// TestIdentityEvaluate: every statement applies to whoever carries the
// policy; kms:ResourceAliases is multivalued.
func TestIdentityEvaluate(t *testing.T) {
	ip, err := ParseIdentity(doc(
		`{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/ci"}}}`,
		`{"Effect":"Deny","Action":"kms:Decrypt","Resource":"`+otherKey+`"}`,
	))
	if err != nil {
		t.Fatal(err)
	}
	aliases := func(a ...string) map[string][]string { return map[string][]string{"kms:ResourceAliases": a} }
	for _, tc := range []struct {
		name string
		r    *Request
		want Decision
	}{
		{"the alias", req(alice, "kms:Decrypt", aliases("alias/ci")), Allow},
		{"the alias among others", req(bob, "kms:Decrypt", aliases("alias/a", "alias/ci")), Allow},
		{"another alias", req(alice, "kms:Decrypt", aliases("alias/prod")), Deny},
		{"no alias", req(alice, "kms:Decrypt", nil), Deny},
		{"another action", req(alice, "kms:Encrypt", aliases("alias/ci")), Deny},
		{"the denied key", &Request{Principal: alice, Account: acct, Action: "kms:Decrypt", Resource: otherKey, Context: aliases("alias/ci")}, ExplicitDeny},
		{"malformed request", &Request{Principal: "alice", Account: acct, Action: "kms:Decrypt", Resource: keyARN}, ExplicitDeny},
	} {
		if got := ip.Evaluate(tc.r); got != tc.want {
			t.Errorf("%s: Evaluate = %v, want %v", tc.name, got, tc.want)
		}
		if j := ip.Judge(tc.r); j.Decision != tc.want || j.Grant != GrantNone {
			t.Errorf("%s: Judge = %v %v, want %v none", tc.name, j.Decision, j.Grant, tc.want)
		}
	}
	if !ip.Consults(KeyResourceAliases) || ip.Consults(KeyRequestAlias) {
		t.Error("Consults")
	}
	var none *IdentityPolicy
	if none.Evaluate(req(alice, "kms:Decrypt", nil)) != ExplicitDeny || none.Consults(KeyResourceAliases) {
		t.Error("a nil identity policy must deny")
	}
}

// TestEvaluateGrant: an Allow names the caller (its ARN, "*", a
// NotPrincipal, or the root by its account) or only its account, which AWS
// reads as a delegation to the account's identity policies.
func TestEvaluateGrant(t *testing.T) {
	for _, tc := range []struct {
		name, policy string
		caller       string
		d            Decision
		g            Grant
	}{
		{"account root ARN", defaultPolicy, alice, Allow, GrantAccount},
		{"account id", doc(`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*"}`), alice, Allow, GrantAccount},
		{"the root by its account", defaultPolicy, root, Allow, GrantCaller},
		{"the caller's ARN", doc(`{"Effect":"Allow","Principal":{"AWS":"` + alice + `"},"Action":"kms:Decrypt"}`), alice, Allow, GrantCaller},
		{"star", doc(`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt"}`), alice, Allow, GrantCaller},
		{"NotPrincipal", doc(`{"Effect":"Allow","NotPrincipal":{"AWS":"` + bob + `"},"Action":"kms:Decrypt"}`), alice, Allow, GrantCaller},
		{"account and ARN in one statement", doc(`{"Effect":"Allow","Principal":{"AWS":["111122223333","` + alice + `"]},"Action":"kms:Decrypt"}`), alice, Allow, GrantCaller},
		{"account, then ARN", doc(
			`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt"}`,
			`{"Effect":"Allow","Principal":{"AWS":"`+alice+`"},"Action":"kms:Decrypt"}`), alice, Allow, GrantCaller},
		{"ARN of another", doc(
			`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt"}`,
			`{"Effect":"Allow","Principal":{"AWS":"`+bob+`"},"Action":"kms:Decrypt"}`), alice, Allow, GrantAccount},
		{"explicit deny", doc(
			`{"Effect":"Allow","Principal":{"AWS":"`+alice+`"},"Action":"kms:Decrypt"}`,
			`{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt"}`), alice, ExplicitDeny, GrantNone},
		{"implicit deny", doc(`{"Effect":"Allow","Principal":{"AWS":"` + bob + `"},"Action":"kms:Decrypt"}`), alice, Deny, GrantNone},
	} {
		p := mustParse(t, tc.policy)
		r := req(tc.caller, "kms:Decrypt", nil)
		if d, g := p.EvaluateGrant(r); d != tc.d || g != tc.g {
			t.Errorf("%s: EvaluateGrant = %v %v, want %v %v", tc.name, d, g, tc.d, tc.g)
		}
		if d := p.Evaluate(r); d != tc.d {
			t.Errorf("%s: Evaluate = %v, want %v", tc.name, d, tc.d)
		}
		if j := p.Judge(r); j.Decision != tc.d || j.Grant != tc.g {
			t.Errorf("%s: Judge = %v %v, want %v %v", tc.name, j.Decision, j.Grant, tc.d, tc.g)
		}
	}
}

func TestResourceAliasesKey(t *testing.T) {
	p := mustParse(t, doc(`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{"ForAnyValue:StringLike":{"KMS:resourcealiases":"alias/ci-*"}}}`))
	if !p.Consults(KeyResourceAliases) {
		t.Fatal("kms:ResourceAliases in another case is not consulted")
	}
	if d := p.Evaluate(req(alice, "kms:Decrypt", map[string][]string{KeyResourceAliases: {"alias/x", "alias/ci-build"}})); d != Allow {
		t.Fatalf("Evaluate = %v", d)
	}
	if _, err := Parse(doc(`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Condition":{"IpAddress":{"kms:ResourceAliases":"10.0.0.0/8"}}}`)); err == nil {
		t.Fatal("IpAddress on kms:ResourceAliases accepted")
	}
}
