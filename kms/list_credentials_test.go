package kms

import (
	"reflect"
	"testing"
	"time"
)

func TestListCredentials(t *testing.T) {
	s, clk := newTestService(t)
	admin := s.adminCall(t)
	ident := `{"Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}`
	ci := mustCredential(t, s, &CreateCredentialRequest{Name: "ci", IdentityPolicy: ident, ExpiresIn: time.Hour})
	mustCredential(t, s, &CreateCredentialRequest{Name: "ops", Admin: true})
	clk.add(30 * time.Minute)
	resp, err := s.ListCredentials(bg, admin, &ListCredentialsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := resp.Credentials
	if len(got) != 3 || got[0].Name != "admin" || got[1].Name != "ci" || got[2].Name != "ops" {
		t.Fatalf("ListCredentials = %+v", got)
	}
	if !got[0].Admin || got[0].PrincipalARN != "arn:aws:iam::"+s.Account().AccountID+":root" || got[0].ExpiresAt != nil {
		t.Errorf("root: %+v", got[0])
	}
	if got[1].Admin || got[1].IdentityPolicy != ident || got[1].ExpiresAt == nil || got[1].Expired || got[1].AccessKeyID != ci.AccessKeyID {
		t.Errorf("ci: %+v", got[1])
	}
	if !got[2].Admin || got[2].IdentityPolicy != "" {
		t.Errorf("ops: %+v", got[2])
	}
	if off := s.Admin().ListCredentials(); !reflect.DeepEqual(off, got) {
		t.Errorf("Admin's list %+v differs from the admin API's %+v", off, got)
	}
	for _, ci := range got {
		if ci.CreatedAt.Nanosecond() != 0 || ci.CreatedAt.Location() != time.UTC {
			t.Errorf("%s: created_at %v is not to the second in UTC", ci.Name, ci.CreatedAt)
		}
	}

	// An expired credential is listed, marked, until deleted.
	clk.add(time.Hour)
	got = s.Admin().ListCredentials()
	if !got[1].Expired {
		t.Errorf("ci past its expiry: %+v", got[1])
	}

	_, err = s.ListCredentials(bg, s.callAs(t, got[2].AccessKeyID), &ListCredentialsRequest{})
	if err != nil {
		t.Errorf("a second admin lists: %v", err)
	}
	clk.add(-2 * time.Hour)
	_, err = s.ListCredentials(bg, s.callAs(t, ci.AccessKeyID), &ListCredentialsRequest{})
	wantKind(t, err, ErrAccessDenied)
}

func BenchmarkListCredentials(b *testing.B) {
	s, _ := newTestService(b)
	for i := range 20 {
		mustCredential(b, s, &CreateCredentialRequest{Name: "c" + string(rune('a'+i))})
	}
	c := s.adminCall(b)
	for b.Loop() {
		if _, err := s.ListCredentials(bg, c, &ListCredentialsRequest{}); err != nil {
			b.Fatal(err)
		}
	}
}
