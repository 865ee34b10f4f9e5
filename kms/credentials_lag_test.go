package kms

import (
	"testing"
	"time"
)

// TestCredentialChangesReadTheStore: a node sharing a store may not have
// read yet a credential another node just made (its cache lags by up to
// the follow bound). Rotating or deleting it there must work all the same,
// from the record as committed: here the node's cache is made to lag by
// dropping the credential from it.
func TestCredentialChangesReadTheStore(t *testing.T) {
	s, _ := newTestService(t)
	made := func(name string) string {
		resp, err := s.CreateCredential(bg, s.adminCall(t), &CreateCredentialRequest{Name: name, ExpiresIn: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		s.creds.set(resp.AccessKeyID, nil) // not read yet by this node
		return resp.AccessKeyID
	}
	id := made("worker")
	rot, err := s.RotateCredential(bg, s.adminCall(t), &RotateCredentialRequest{AccessKeyID: id})
	if err != nil {
		t.Fatalf("rotating a credential this node has not read: %v", err)
	}
	if rot.Name != "worker" || rot.ExpiresAt == nil || rot.Replaced != id {
		t.Fatalf("rotated from the record as committed: %+v", rot.CredentialInfo)
	}
	if _, _, ok := s.creds.Lookup(rot.AccessKeyID); !ok {
		t.Fatal("the new access key is not usable on this node")
	}
	id = made("other")
	del, err := s.DeleteCredential(bg, s.adminCall(t), &DeleteCredentialRequest{AccessKeyID: id})
	if err != nil || del.Name != "other" {
		t.Fatalf("deleting a credential this node has not read: %+v, %v", del, err)
	}
	if _, err := s.DeleteCredential(bg, s.adminCall(t), &DeleteCredentialRequest{AccessKeyID: id}); err == nil {
		t.Fatal("deleted twice")
	}
}
