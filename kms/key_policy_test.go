package kms

import (
	"bytes"
	"slices"
	"testing"
)

func TestKeyPolicy(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")

	pol, err := s.GetKeyPolicy(bg, c, &GetKeyPolicyRequest{KeyID: md.KeyID})
	if err != nil || !bytes.Contains([]byte(pol.Policy), []byte(":"+s.Account().AccountID+":root")) {
		t.Fatalf("default policy %+v, %v", pol, err)
	}
	newPol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`
	if _, err := s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, PolicyName: "default", Policy: newPol}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetKeyPolicy(bg, c, &GetKeyPolicyRequest{KeyID: md.KeyID, PolicyName: "default"}); err != nil || got.Policy != newPol {
		t.Fatalf("policy not returned as given: %+v, %v", got, err)
	}
	wantKind(t, errOf(s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, PolicyName: "other", Policy: newPol})), ErrNotFound)
	wantKind(t, errOf(s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: "[]"})), ErrMalformedPolicy)
	wantKind(t, errOf(s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: `{"Statement":[],"Version":"2099-01-01"}`})), ErrMalformedPolicy)

	lp, err := s.ListKeyPolicies(bg, c, &ListKeyPoliciesRequest{KeyID: md.KeyID})
	if err != nil || !slices.Equal(lp.PolicyNames, []string{DefaultPolicyName}) || lp.NextMarker != "" || lp.KeyID != md.KeyID || lp.KeyARN != md.KeyARN {
		t.Fatalf("ListKeyPolicies = %+v, %v", lp, err)
	}
	_, err = s.ListKeyPolicies(bg, c, &ListKeyPoliciesRequest{KeyID: md.KeyID, Limit: 1001})
	wantKind(t, err, ErrValidation)
}

func BenchmarkPutKeyPolicy(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	req := &PutKeyPolicyRequest{KeyID: id, Policy: defaultPolicy(s.Account())}
	for b.Loop() {
		if _, err := s.PutKeyPolicy(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetKeyPolicy(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	req := &GetKeyPolicyRequest{KeyID: id}
	for b.Loop() {
		if _, err := s.GetKeyPolicy(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListKeyPolicies(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	req := &ListKeyPoliciesRequest{KeyID: id}
	for b.Loop() {
		if _, err := s.ListKeyPolicies(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}
