package kms

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

func TestCredentials(t *testing.T) {
	s, _ := newTestService(t)
	creds := s.Admin().ListCredentials()
	if len(creds) != 1 || creds[0].Name != "admin" || creds[0].PrincipalARN != "arn:aws:iam::"+s.Account().AccountID+":root" {
		t.Fatalf("initial credentials %+v", creds)
	}
	c, err := s.Admin().CreateCredential(bg, "ci")
	if err != nil {
		t.Fatal(err)
	}
	secret, p, ok := s.Credentials().Lookup(c.AccessKeyID)
	if !ok || string(secret) != c.SecretAccessKey || p.ARN != "arn:aws:iam::"+s.Account().AccountID+":user/ci" {
		t.Fatalf("Credentials().Lookup = %v %+v", ok, p)
	}
	if _, err := s.Admin().CreateCredential(bg, "ci"); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := s.Admin().CreateCredential(bg, "bad name"); !errors.Is(err, ErrValidation) {
		t.Fatalf("bad name: %v", err)
	}
	if err := s.Admin().DeleteCredential(bg, creds[0].AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if err := s.Admin().DeleteCredential(bg, c.AccessKeyID); !errors.Is(err, ErrValidation) {
		t.Fatalf("deleting the last credential: %v", err)
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
	first, err := s.Admin().CreateCredential(bg, "rot-0")
	if err != nil {
		t.Fatal(err)
	}
	cur.Store(&cred{first.AccessKeyID, first.SecretAccessKey})

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
		next, err := s.Admin().CreateCredential(bg, fmt.Sprintf("rot-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		// Readers are using the current one while it is deleted.
		if err := s.Admin().DeleteCredential(bg, cur.Load().id); err != nil {
			t.Fatal(err)
		}
		cur.Store(&cred{next.AccessKeyID, next.SecretAccessKey})
		round.Add(1)
	}
	close(stop)
	wg.Wait()
	if spanned.Load() == 0 {
		t.Fatal("no use of a secret spanned its credential's deletion")
	}
}
