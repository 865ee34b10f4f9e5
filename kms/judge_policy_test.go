package kms

import (
	"errors"
	"strings"
	"testing"
)

// TestJudgePolicyIdentity: policy test judges with an identity policy by
// the server's delegation rule, and says which rule refused.
func TestJudgePolicyIdentity(t *testing.T) {
	acct := Account{AccountID: "111122223333"}
	key := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	ci := "arn:aws:iam::111122223333:user/ci"
	ident := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"ci","Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/ci"}}},
	  {"Sid":"never","Effect":"Deny","Action":"kms:ScheduleKeyDeletion","Resource":"*"}]}`
	named := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"account","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*"},
	  {"Sid":"ci","Effect":"Allow","Principal":{"AWS":"` + ci + `"},"Action":["kms:Encrypt","kms:ScheduleKeyDeletion"]}]}`
	for _, tc := range []struct {
		name, doc, action string
		aliases           []string
		allowed           bool
		statement, istmt  string
		reason            string
	}{
		{"delegated and allowed", defaultPolicy(acct), "kms:Decrypt", []string{"alias/ci"}, true, `statement 0 (Sid "Enable IAM User Permissions")`, `statement 0 (Sid "ci")`, ""},
		{"delegated, another key", defaultPolicy(acct), "kms:Decrypt", []string{"alias/prod"}, false, `statement 0 (Sid "Enable IAM User Permissions")`, "", "to the account, not to the caller itself"},
		{"delegated, another action", defaultPolicy(acct), "kms:Encrypt", []string{"alias/ci"}, false, `statement 0 (Sid "Enable IAM User Permissions")`, "", "no statement of it does"},
		{"named caller", named, "kms:Encrypt", nil, true, `statement 1 (Sid "ci")`, "", ""},
		{"identity Deny beats a named caller", named, "kms:ScheduleKeyDeletion", nil, false, "", `statement 1 (Sid "never")`, `the identity policy's statement 1 (Sid "never") denies it`},
	} {
		a, err := JudgePolicy(tc.doc, &PolicyQuestion{Action: tc.action, Principal: ci, KeyARN: key, ResourceAliases: tc.aliases, IdentityPolicy: ident})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if a.Allowed != tc.allowed || a.Statement != tc.statement || a.IdentityStatement != tc.istmt || len(a.IdentityLines) != 2 {
			t.Errorf("%s: %+v", tc.name, a)
		}
		if tc.reason != "" && (len(a.Reasons) == 0 || !strings.Contains(strings.Join(a.Reasons, "\n"), tc.reason)) {
			t.Errorf("%s: reasons %q, want %q", tc.name, a.Reasons, tc.reason)
		}
	}
	// Without an identity policy, the account's Allow is the caller's.
	a, err := JudgePolicy(defaultPolicy(acct), &PolicyQuestion{Action: "kms:Encrypt", Principal: ci, KeyARN: key})
	if err != nil || !a.Allowed || a.IdentityLines != nil {
		t.Fatalf("without an identity policy: %+v %v", a, err)
	}
	// A key policy where an identity policy is expected, and back.
	_, err = JudgePolicy(defaultPolicy(acct), &PolicyQuestion{Action: "kms:Encrypt", Principal: ci, KeyARN: key, IdentityPolicy: defaultPolicy(acct)})
	if !errors.Is(err, ErrMalformedPolicy) || !strings.Contains(err.Error(), "identity policy: ") {
		t.Fatalf("a key policy as identity policy: %v", err)
	}
	if err := CheckIdentityPolicy(ident); err != nil {
		t.Fatal(err)
	}
	if err := CheckIdentityPolicy(defaultPolicy(acct)); !errors.Is(err, ErrMalformedPolicy) {
		t.Fatalf("CheckIdentityPolicy of a key policy: %v", err)
	}
}
