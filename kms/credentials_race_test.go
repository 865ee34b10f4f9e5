package kms

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

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
