package kms

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCreateCredential(t *testing.T) {
	s, _ := newTestService(t)
	admin := s.adminCall(t)
	acct := s.Account().AccountID
	ident := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}`
	c := s.adminCall(t)
	resp, err := s.CreateCredential(bg, c, &CreateCredentialRequest{Name: "ci", IdentityPolicy: ident, ExpiresIn: 720 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// Its record names the new access key id, was committed with it, and
	// holds no secret.
	if r := lastRecord(t, s, "CreateCredential"); r.Credential != resp.AccessKeyID || !r.Change || r.Outcome != "ok" || r.AccessKeyID != c.Principal.AccessKeyID {
		t.Errorf("the audit record %+v, want credential %q, a change", r, resp.AccessKeyID)
	}
	if b, _ := os.ReadFile(s.opts.auditPath()); strings.Contains(string(b), string(resp.SecretAccessKey)) {
		t.Error("the audit log holds the new secret")
	}
	want := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	if resp.Name != "ci" || resp.PrincipalARN != "arn:aws:iam::"+acct+":user/ci" || resp.Admin || resp.IdentityPolicy != ident ||
		!resp.CreatedAt.Equal(want) || resp.ExpiresAt == nil || !resp.ExpiresAt.Equal(want.Add(720*time.Hour)) || resp.Expired {
		t.Fatalf("CreateCredential = %+v", resp.CredentialInfo)
	}
	// It authenticates at once, with its identity policy.
	secret, p, ok := s.Credentials().Lookup(resp.AccessKeyID)
	if !ok || string(secret) != string(resp.SecretAccessKey) || p.identity == nil || p.identity.p == nil {
		t.Fatalf("Lookup = %v %+v", ok, p)
	}

	// Only a credential with the admin permission may.
	ci := s.callAs(t, resp.AccessKeyID)
	_, err = s.CreateCredential(bg, ci, &CreateCredentialRequest{Name: "mine"})
	wantKind(t, err, ErrAccessDenied)
	if !strings.Contains(err.Error(), "attestkms:CreateCredential") {
		t.Errorf("refusal: %v", err)
	}
	_, err = s.CreateCredential(bg, &Call{RequestID: "anon"}, &CreateCredentialRequest{Name: "anon"})
	wantKind(t, err, ErrAccessDenied)
	// A principal that no lookup made is nobody's.
	_, err = s.CreateCredential(bg, s.testCall(), &CreateCredentialRequest{Name: "forged"})
	wantKind(t, err, ErrAccessDenied)

	ops, err := s.CreateCredential(bg, admin, &CreateCredentialRequest{Name: "ops", Admin: true})
	if err != nil || !ops.Admin {
		t.Fatalf("an admin: %+v %v", ops, err)
	}
	if _, err := s.CreateCredential(bg, s.callAs(t, ops.AccessKeyID), &CreateCredentialRequest{Name: "made-by-ops"}); err != nil {
		t.Fatalf("a second admin creates: %v", err)
	}

	for _, tc := range []struct {
		name string
		req  CreateCredentialRequest
		kind error
		says string
	}{
		{"duplicate", CreateCredentialRequest{Name: "ci"}, ErrAlreadyExists, `"ci" exists`},
		{"bad name", CreateCredentialRequest{Name: "bad name"}, ErrValidation, "1-64 characters"},
		{"admin's name without the permission", CreateCredentialRequest{Name: "admin"}, ErrValidation, "root credential"},
		{"root with an identity policy", CreateCredentialRequest{Name: "admin", Admin: true, IdentityPolicy: ident}, ErrValidation, "cannot carry an identity policy"},
		// A scoped admin would mint itself an unscoped credential.
		{"an admin with an identity policy", CreateCredentialRequest{Name: "scoped-ops", Admin: true, IdentityPolicy: ident}, ErrValidation, "an admin credential cannot carry an identity policy"},
		{"negative expiry", CreateCredentialRequest{Name: "x", ExpiresIn: -time.Hour}, ErrValidation, "ExpiresIn"},
		{"sub-second expiry", CreateCredentialRequest{Name: "x", ExpiresIn: time.Millisecond}, ErrValidation, "ExpiresIn"},
		{"century", CreateCredentialRequest{Name: "x", ExpiresIn: maxExpiresIn + time.Hour}, ErrValidation, "ExpiresIn"},
		{"key policy as identity policy", CreateCredentialRequest{Name: "x", IdentityPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`}, ErrMalformedPolicy, "an identity policy has no Principal"},
		{"unknown condition key", CreateCredentialRequest{Name: "x", IdentityPolicy: `{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"x"}}}]}`}, ErrMalformedPolicy, "kms:ViaService"},
		{"huge policy", CreateCredentialRequest{Name: "x", IdentityPolicy: strings.Repeat(" ", maxPolicy+1)}, ErrLimitExceeded, "larger than"},
	} {
		_, err := s.CreateCredential(bg, admin, &tc.req)
		if wantKind(t, err, tc.kind); err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v; want it to say %q", tc.name, err, tc.says)
		}
	}
	if n := len(s.listCredentials()); n != 4 {
		t.Fatalf("%d credentials after the refusals, want 4", n)
	}
}

func BenchmarkCreateCredential(b *testing.B) {
	s, _ := newTestService(b)
	c := s.adminCall(b)
	for i := 0; b.Loop(); i++ {
		if _, err := s.CreateCredential(bg, c, &CreateCredentialRequest{Name: "bench-" + strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
	}
}
