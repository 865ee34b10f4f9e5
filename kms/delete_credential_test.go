package kms

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDeleteCredential(t *testing.T) {
	s, clk := newTestService(t)
	admin := s.adminCall(t)
	ci := mustCredential(t, s, &CreateCredentialRequest{Name: "ci"})
	ciCall := s.callAs(t, ci.AccessKeyID)

	// A non-admin may not, not even itself.
	_, err := s.DeleteCredential(bg, ciCall, &DeleteCredentialRequest{AccessKeyID: ci.AccessKeyID})
	wantKind(t, err, ErrAccessDenied)

	c := s.adminCall(t)
	resp, err := s.DeleteCredential(bg, c, &DeleteCredentialRequest{AccessKeyID: ci.AccessKeyID})
	if err != nil || resp.AccessKeyID != ci.AccessKeyID || resp.Name != "ci" {
		t.Fatalf("DeleteCredential = %+v, %v", resp, err)
	}
	if r := lastRecord(t, s, "DeleteCredential"); r.Credential != ci.AccessKeyID || !r.Change || r.Outcome != "ok" {
		t.Errorf("the audit record %+v, want credential %q, a change", r, ci.AccessKeyID)
	}
	// Refused from now on: no lookup finds it.
	if _, _, ok := s.Credentials().Lookup(ci.AccessKeyID); ok {
		t.Fatal("a deleted credential still authenticates")
	}
	_, err = s.DeleteCredential(bg, admin, &DeleteCredentialRequest{AccessKeyID: ci.AccessKeyID})
	wantKind(t, err, ErrNotFound)
	_, err = s.DeleteCredential(bg, admin, &DeleteCredentialRequest{})
	wantKind(t, err, ErrValidation)

	// The last admin stays; with another, it may go, even by its own hand,
	// and then its calls are refused.
	_, err = s.DeleteCredential(bg, admin, &DeleteCredentialRequest{AccessKeyID: admin.Principal.AccessKeyID})
	if wantKind(t, err, ErrValidation); !strings.Contains(err.Error(), "last admin credential") {
		t.Fatalf("deleting the last admin: %v", err)
	}
	// An expired admin does not count.
	old := mustCredential(t, s, &CreateCredentialRequest{Name: "old-admin", Admin: true, ExpiresIn: time.Hour})
	clk.add(time.Hour)
	_, err = s.DeleteCredential(bg, admin, &DeleteCredentialRequest{AccessKeyID: admin.Principal.AccessKeyID})
	wantKind(t, err, ErrValidation)
	if _, err := s.DeleteCredential(bg, admin, &DeleteCredentialRequest{AccessKeyID: old.AccessKeyID}); err != nil {
		t.Fatalf("deleting an expired admin: %v", err)
	}
	ops := mustCredential(t, s, &CreateCredentialRequest{Name: "ops", Admin: true})
	if _, err := s.DeleteCredential(bg, admin, &DeleteCredentialRequest{AccessKeyID: admin.Principal.AccessKeyID}); err != nil {
		t.Fatalf("deleting the root with another admin left: %v", err)
	}
	_, err = s.ListCredentials(bg, admin, &ListCredentialsRequest{})
	wantKind(t, err, ErrAccessDenied)
	if _, err := s.ListCredentials(bg, s.callAs(t, ops.AccessKeyID), &ListCredentialsRequest{}); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkDeleteCredential(b *testing.B) {
	s, _ := newTestService(b)
	c := s.adminCall(b)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		cred := mustCredential(b, s, &CreateCredentialRequest{Name: "bench-" + strconv.Itoa(i)})
		b.StartTimer()
		if _, err := s.DeleteCredential(bg, c, &DeleteCredentialRequest{AccessKeyID: cred.AccessKeyID}); err != nil {
			b.Fatal(err)
		}
	}
}
