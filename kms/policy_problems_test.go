package kms

import (
	"strings"
	"testing"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// A policy an older, laxer parser stored (here a condition on aws:TagKeys,
// which attestkms never evaluated) denies everything, is reported by
// PolicyProblems, and only the account's root credential may replace it.
func TestUnparseableStoredPolicy(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	acct := s.Account().AccountID
	md := mustKey(t, s, "", "")
	old := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:*",` +
		`"Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":"x"}}}]}`
	err := s.updateKey(bg, systemCall("test", "TestChange"), md.KeyID, func(_ store.Reader, rec *store.Key) error { rec.Policy = old; return nil })
	if err != nil {
		t.Fatal(err)
	}
	problems, err := s.Admin().PolicyProblems(bg)
	if err != nil || len(problems) != 1 || !strings.HasPrefix(problems[0], md.KeyID+": ") || !strings.Contains(problems[0], "aws:TagKeys") {
		t.Fatalf("PolicyProblems = %q, %v", problems, err)
	}
	_, err = s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID})
	wantKind(t, err, ErrAccessDenied)
	if !strings.Contains(err.Error(), "no longer parses") {
		t.Errorf("DescribeKey: %v", err)
	}
	user := &Call{RequestID: "u", Principal: &Principal{ARN: "arn:aws:iam::" + acct + ":user/ci"}}
	wantKind(t, errOf(s.PutKeyPolicy(bg, user, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: defaultPolicy(s.Account())})), ErrAccessDenied)
	// The root may replace it, and the new policy passes the usual checks.
	wantKind(t, errOf(s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: old})), ErrMalformedPolicy)
	if _, err := s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: defaultPolicy(s.Account())}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}
	if problems, _ := s.Admin().PolicyProblems(bg); len(problems) != 0 {
		t.Fatalf("PolicyProblems after the fix: %q", problems)
	}
}
