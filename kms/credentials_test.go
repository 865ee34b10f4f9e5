package kms

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms/internal/store"
)

func TestCredentials(t *testing.T) {
	s, _ := newTestService(t)
	creds := s.Admin().ListCredentials()
	if len(creds) != 1 || creds[0].Name != "admin" || creds[0].PrincipalARN != "arn:aws:iam::"+s.Account().AccountID+":root" {
		t.Fatalf("initial credentials %+v", creds)
	}
	c, err := s.Admin().CreateCredential(bg, &CreateCredentialRequest{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	secret, p, ok := s.Credentials().Lookup(c.AccessKeyID)
	if !ok || string(secret) != string(c.SecretAccessKey) || p.ARN != "arn:aws:iam::"+s.Account().AccountID+":user/ci" {
		t.Fatalf("Credentials().Lookup = %v %+v", ok, p)
	}
	if _, err := s.Admin().CreateCredential(bg, &CreateCredentialRequest{Name: "ci"}); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := s.Admin().CreateCredential(bg, &CreateCredentialRequest{Name: "bad name"}); !errors.Is(err, ErrValidation) {
		t.Fatalf("bad name: %v", err)
	}
	if err := s.Admin().DeleteCredential(bg, creds[0].AccessKeyID); !errors.Is(err, ErrValidation) || !strings.Contains(err.Error(), "last admin credential") {
		t.Fatalf("deleting the last admin credential: %v", err)
	}
	ops, err := s.Admin().CreateCredential(bg, &CreateCredentialRequest{Name: "ops", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Admin().DeleteCredential(bg, creds[0].AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if err := s.Admin().DeleteCredential(bg, ops.AccessKeyID); !errors.Is(err, ErrValidation) {
		t.Fatalf("deleting the last admin credential: %v", err)
	}
	if err := s.Admin().DeleteCredential(bg, "AKIANOSUCHKEY"); !errors.Is(err, ErrCredentialNotFound) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting an unknown credential: %v", err)
	}
	if _, _, ok := s.Credentials().Lookup(creds[0].AccessKeyID); ok {
		t.Fatal("deleted credential still authenticates")
	}
	// Survives reopening.
	s.Close()
	s2, err := Open(s.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.st, s.audit = s2.st, s2.audit }()
	if _, _, ok := s2.Credentials().Lookup(c.AccessKeyID); !ok {
		t.Fatal("credential lost on reopen")
	}
	if _, _, ok := s2.Credentials().Lookup(creds[0].AccessKeyID); ok {
		t.Fatal("deleted credential back after reopen")
	}
}

// TestLookupWhileCredentialsChange looks credentials up and signs with the
// secrets it gets, as the dialects' signature checks do, while the
// credential each names is deleted and another created. A secret a lookup
// returned must stay that credential's secret for as long as the caller uses
// it: never cleared or changed underneath it. Each reader keeps using its
// secret until the credential has certainly been deleted (two rounds on), so
// that its use spans the deletion. The race detector alone would not see a
// clear (it does not instrument the clear builtin): the readers compare.
func TestLookupWhileCredentialsChange(t *testing.T) {
	s, _ := newTestService(t)
	type cred struct{ id, secret string }
	var cur atomic.Pointer[cred]
	var round atomic.Int64 // rounds whose deletion is done
	first, err := s.Admin().CreateCredential(bg, &CreateCredentialRequest{Name: "rot-0"})
	if err != nil {
		t.Fatal(err)
	}
	cur.Store(&cred{first.AccessKeyID, string(first.SecretAccessKey)})

	var wg sync.WaitGroup
	stop := make(chan struct{})
	var spanned atomic.Int64 // uses that outlived their credential
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := round.Load()
				c := cur.Load()
				secret, _, ok := s.Credentials().Lookup(c.id)
				if !ok {
					continue // deleted meanwhile
				}
				want := hmac.New(sha256.New, []byte(c.secret))
				want.Write([]byte("string to sign"))
				for done := false; !done; {
					done = round.Load() >= r+2 // c is deleted by now
					got := hmac.New(sha256.New, secret)
					got.Write([]byte("string to sign"))
					if !hmac.Equal(got.Sum(nil), want.Sum(nil)) {
						t.Errorf("the secret of %s changed while in use", c.id)
						return
					}
					select {
					case <-stop:
						return
					default:
					}
				}
				clear(secret) // the caller's copy
				spanned.Add(1)
			}
		}()
	}
	for i := 1; i <= 50; i++ {
		next, err := s.Admin().CreateCredential(bg, &CreateCredentialRequest{Name: fmt.Sprintf("rot-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		// Readers are using the current one while it is deleted.
		if err := s.Admin().DeleteCredential(bg, cur.Load().id); err != nil {
			t.Fatal(err)
		}
		cur.Store(&cred{next.AccessKeyID, string(next.SecretAccessKey)})
		round.Add(1)
	}
	close(stop)
	wg.Wait()
	if spanned.Load() == 0 {
		t.Fatal("no use of a secret spanned its credential's deletion")
	}
}

// TestCredentialExpiry: past its expiry a credential is refused exactly as
// an unknown access key is, loses the admin permission, and is listed as
// expired. Lookup, Known and isAdmin answer by one rule (live): each
// instant, all three say the credential is there, or none does.
func TestCredentialExpiry(t *testing.T) {
	s, clk := newTestService(t)
	c := mustCredential(t, s, &CreateCredentialRequest{Name: "temp", Admin: true, ExpiresIn: 90 * time.Minute})
	agree := func(when string, want bool) {
		t.Helper()
		creds := s.Credentials()
		_, _, ok := creds.Lookup(c.AccessKeyID)
		if known, admin := creds.Known(c.AccessKeyID), creds.isAdmin(c.AccessKeyID); ok != want || known != want || admin != want {
			t.Fatalf("%s: Lookup %v, Known %v, isAdmin %v; want %v", when, ok, known, admin, want)
		}
		if creds.Known("AKIANOSUCHKEY") || creds.isAdmin("AKIANOSUCHKEY") {
			t.Fatalf("%s: an unknown access key is known", when)
		}
	}
	agree("fresh", true)
	call := s.callAs(t, c.AccessKeyID)
	clk.add(90*time.Minute - time.Second)
	agree("a second before its expiry", true)
	clk.add(time.Second)
	agree("at its expiry", false)
	secret, p, ok := s.Credentials().Lookup(c.AccessKeyID)
	unknownSecret, unknownP, unknownOK := s.Credentials().Lookup("AKIANOSUCHKEY")
	if ok || secret != nil || p != nil || ok != unknownOK || unknownSecret != nil || unknownP != nil {
		t.Fatalf("an expired credential: %v %v %v; an unknown one: %v", secret, p, ok, unknownOK)
	}
	// A request authenticated before the expiry may not manage after it.
	_, err := s.CreateCredential(bg, call, &CreateCredentialRequest{Name: "late"})
	wantKind(t, err, ErrAccessDenied)
	if got := s.Admin().ListCredentials(); len(got) != 2 || got[1].Name != "temp" || !got[1].Expired {
		t.Fatalf("list: %+v", got)
	}
	// Expiry survives reopening.
	s.Close()
	s2, err := Open(s.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.st, s.audit = s2.st, s2.audit }()
	if _, _, ok := s2.Credentials().Lookup(c.AccessKeyID); ok {
		t.Fatal("expired credential authenticates after reopening")
	}
}

// TestScopedCredentialSealing: kms seals the secret of a credential with
// a scope (an admin permission, an identity policy, an expiry) bound to it
// (store.SealCredential; its own test has every case), so that a scope
// changed in the database does not open; a plain one's opens as before.
func TestScopedCredentialSealing(t *testing.T) {
	s, _ := newTestService(t)
	ident := `{"Statement":[{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}]}`
	plain := mustCredential(t, s, &CreateCredentialRequest{Name: "plain"})
	scoped := mustCredential(t, s, &CreateCredentialRequest{Name: "scoped", IdentityPolicy: ident, ExpiresIn: time.Hour})
	read := func(id string) *store.Credential {
		var rec *store.Credential
		err := s.st.View(bg, func(r store.Reader) error {
			var err error
			rec, err = r.Credential(id)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	for _, c := range []*CreateCredentialResponse{plain, scoped} {
		rec := read(c.AccessKeyID)
		if sec, err := store.OpenCredential(s.sealer, rec); err != nil || !bytes.Equal(sec, c.SecretAccessKey) {
			t.Fatalf("credential %s: %v", c.Name, err)
		}
	}
	rec := read(scoped.AccessKeyID)
	if rec.IdentityPolicy != ident || rec.ExpiresAt == nil {
		t.Fatalf("the scoped record: %+v", rec)
	}
	rec.IdentityPolicy = ""
	if _, err := store.OpenCredential(s.sealer, rec); err == nil {
		t.Fatal("a scoped credential opens without its identity policy")
	}
}

// TestOfflineCredentialChangesAudited: the offline commands' credential
// changes (Admin) are changes like any other, committed with their audit
// record (request "offline", no principal), the secret never in it.
func TestOfflineCredentialChangesAudited(t *testing.T) {
	s, _ := newTestService(t)
	a := s.Admin()
	cred, err := a.CreateCredential(bg, &CreateCredentialRequest{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := a.RotateCredential(bg, cred.AccessKeyID)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteCredential(bg, rot.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	// A refused change is recorded too.
	wantKind(t, a.DeleteCredential(bg, rot.AccessKeyID), ErrNotFound)
	for _, want := range []struct{ op, cred, outcome string }{
		{"CreateCredential", cred.AccessKeyID, "ok"}, {"RotateCredential", rot.AccessKeyID, "ok"},
	} {
		r := lastRecord(t, s, want.op)
		if r.RequestID != "offline" || r.Principal != "" || !r.Change || r.Credential != want.cred || r.Outcome != want.outcome {
			t.Errorf("%s: the record %+v", want.op, r)
		}
	}
	if r := lastRecord(t, s, "DeleteCredential"); r.RequestID != "offline" || r.Outcome != "error" || r.ErrorCode == "" {
		t.Errorf("the refused deletion's record %+v", r)
	}
	b, err := os.ReadFile(s.opts.auditPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range [][]byte{cred.SecretAccessKey, rot.SecretAccessKey} {
		if bytes.Contains(b, secret) {
			t.Fatal("a secret in the audit log")
		}
	}
	if n := bytes.Count(b, []byte(`"operation":"DeleteCredential"`)); n != 2 {
		t.Fatalf("%d DeleteCredential records; want the deletion's and the refusal's", n)
	}
}
