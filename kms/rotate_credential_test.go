package kms

import (
	"reflect"
	"testing"
	"time"
)

func TestRotateCredential(t *testing.T) {
	s, clk := newTestService(t)
	ident := `{"Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}`
	ci := mustCredential(t, s, &CreateCredentialRequest{Name: "ci", IdentityPolicy: ident, ExpiresIn: 24 * time.Hour})
	clk.add(time.Hour)

	_, err := s.RotateCredential(bg, s.callAs(t, ci.AccessKeyID), &RotateCredentialRequest{AccessKeyID: ci.AccessKeyID})
	wantKind(t, err, ErrAccessDenied)

	c := s.adminCall(t)
	resp, err := s.RotateCredential(bg, c, &RotateCredentialRequest{AccessKeyID: ci.AccessKeyID})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Replaced != ci.AccessKeyID || resp.AccessKeyID == ci.AccessKeyID || string(resp.SecretAccessKey) == string(ci.SecretAccessKey) {
		t.Fatalf("RotateCredential = %+v", resp)
	}
	if r := lastRecord(t, s, "RotateCredential"); r.Credential != resp.AccessKeyID || !r.Change || r.Message != "replaces "+ci.AccessKeyID {
		t.Errorf("the audit record %+v, want credential %q replacing %q, a change", r, resp.AccessKeyID, ci.AccessKeyID)
	}
	// The same name, principal, permission, policy and expiry; a new pair.
	want := ci.CredentialInfo
	want.AccessKeyID, want.CreatedAt = resp.AccessKeyID, ci.CreatedAt.Add(time.Hour)
	if !reflect.DeepEqual(resp.CredentialInfo, want) {
		t.Fatalf("rotated %+v, want %+v", resp.CredentialInfo, want)
	}
	if _, _, ok := s.Credentials().Lookup(ci.AccessKeyID); ok {
		t.Fatal("the replaced access key still authenticates")
	}
	secret, p, ok := s.Credentials().Lookup(resp.AccessKeyID)
	if !ok || string(secret) != string(resp.SecretAccessKey) || p.Name != "ci" || p.identity == nil {
		t.Fatalf("the new access key: %v %+v", ok, p)
	}
	// Survives reopening.
	s.Close()
	s2, err := Open(s.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.st, s.audit = s2.st, s2.audit }()
	if got := s2.listCredentials(); len(got) != 2 || got[1].AccessKeyID != resp.AccessKeyID || got[1].IdentityPolicy != ident || !got[1].ExpiresAt.Equal(*ci.ExpiresAt) {
		t.Fatalf("after reopening: %+v", got)
	}

	// The root may be rotated; an expired credential is not.
	admin := s2.adminCall(t)
	root, err := s2.RotateCredential(bg, admin, &RotateCredentialRequest{AccessKeyID: admin.Principal.AccessKeyID})
	if err != nil || !root.Admin || root.Name != adminName {
		t.Fatalf("rotating the root: %+v %v", root, err)
	}
	clk.add(24 * time.Hour)
	_, err = s2.RotateCredential(bg, s2.callAs(t, root.AccessKeyID), &RotateCredentialRequest{AccessKeyID: resp.AccessKeyID})
	wantKind(t, err, ErrValidation)
	_, err = s2.RotateCredential(bg, s2.callAs(t, root.AccessKeyID), &RotateCredentialRequest{AccessKeyID: "AKIANONE"})
	wantKind(t, err, ErrNotFound)
}

func BenchmarkRotateCredential(b *testing.B) {
	s, _ := newTestService(b)
	c := s.adminCall(b)
	id := mustCredential(b, s, &CreateCredentialRequest{Name: "bench"}).AccessKeyID
	for b.Loop() {
		resp, err := s.RotateCredential(bg, c, &RotateCredentialRequest{AccessKeyID: id})
		if err != nil {
			b.Fatal(err)
		}
		id = resp.AccessKeyID
	}
}
