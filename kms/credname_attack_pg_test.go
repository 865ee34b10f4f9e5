package kms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// A database writer (no root key) renames credentials every way the
// PostgreSQL schema lets it, to make ci, an unscoped credential (no admin
// flag, identity policy or expiry: its secret is sealed to its access key
// id alone), act as the root credential (admin) or as payments (which a
// key policy names). The name kms uses is the record's, under its MAC;
// credentials.name is a column kept for the unique constraint, never read.

// credNameAttack is the cluster those tests attack: node a running, ci,
// payments, and a key only payments may decrypt under.
type credNameAttack struct {
	cl                 *cluster
	a                  *Service
	db                 *pgx.Conn
	root, ci, payments string // access key ids
	blob               []byte // encrypted under the key payments may use
}

func newCredNameAttack(t *testing.T) *credNameAttack {
	cl := newCluster(t)
	a := cl.node("a")
	acct := a.account.AccountID
	x := &credNameAttack{cl: cl, a: a, root: cl.cred.AccessKeyID}
	x.payments = mustCredential(t, a, &CreateCredentialRequest{Name: "payments"}).AccessKeyID
	x.ci = mustCredential(t, a, &CreateCredentialRequest{Name: "ci"}).AccessKeyID
	key := mustKey(t, a, "", "")
	pol := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"NotAction":"kms:Decrypt"},
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:user/payments"},"Action":"kms:Decrypt"}]}`
	if _, err := a.PutKeyPolicy(bg, a.testCall(), &PutKeyPolicyRequest{KeyID: key.KeyID, Policy: pol}); err != nil {
		t.Fatal(err)
	}
	enc, err := a.Encrypt(bg, a.testCall(), &EncryptRequest{KeyID: key.KeyID, Plaintext: []byte("payments only")})
	if err != nil {
		t.Fatal(err)
	}
	x.blob = enc.CiphertextBlob
	x.assertHarmless(t, a, "before the writer")
	ctx := context.Background()
	if x.db, err = pgx.Connect(ctx, cl.url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.db.Close(ctx) })
	return x
}

func (x *credNameAttack) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := x.db.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// assertHarmless: on s, ci is ci (principal user/ci, no admin permission,
// payments' grant not its), payments decrypts, the root credential is the
// admin, and the listing names each credential by its own name.
func (x *credNameAttack) assertHarmless(t *testing.T, s *Service, when string) {
	t.Helper()
	acct := s.account.AccountID
	want := map[string]struct{ name, arn string }{
		x.root:     {adminName, "arn:aws:iam::" + acct + ":root"},
		x.ci:       {"ci", "arn:aws:iam::" + acct + ":user/ci"},
		x.payments: {"payments", "arn:aws:iam::" + acct + ":user/payments"},
	}
	for id, w := range want {
		_, p, ok := s.Credentials().Lookup(id)
		if !ok || p.Name != w.name || p.ARN != w.arn {
			t.Errorf("%s: credential %s authenticates %v as %+v, want %s", when, id, ok, p, w.arn)
		}
	}
	for _, ci := range s.listCredentials() {
		if w, ok := want[ci.AccessKeyID]; ok && ci.Name != w.name {
			t.Errorf("%s: listed %s named %q, want %q", when, ci.AccessKeyID, ci.Name, w.name)
		}
	}
	if s.creds.isAdmin(x.ci) || !s.creds.isAdmin(x.root) || s.creds.isAdmin(x.payments) {
		t.Errorf("%s: admin: ci %v, root %v, payments %v", when, s.creds.isAdmin(x.ci), s.creds.isAdmin(x.root), s.creds.isAdmin(x.payments))
	}
	if _, err := s.CreateCredential(bg, s.callAs(t, x.ci), &CreateCredentialRequest{Name: "by-ci"}); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("%s: ci creating a credential: %v, want access denied", when, err)
	}
	if _, err := s.Decrypt(bg, s.callAs(t, x.ci), &DecryptRequest{CiphertextBlob: x.blob}); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("%s: ci decrypting under payments' grant: %v, want access denied", when, err)
	}
	if _, err := s.Decrypt(bg, s.callAs(t, x.payments), &DecryptRequest{CiphertextBlob: x.blob}); err != nil {
		t.Errorf("%s: payments decrypting: %v", when, err)
	}
}

// settled waits until node a has followed every change committed so far:
// it commits one more from node b and waits for a to know it (a node is
// told changes in commit order).
func (x *credNameAttack) settled(t *testing.T, b *Service, name string) {
	t.Helper()
	m := mustCredential(t, b, &CreateCredentialRequest{Name: name})
	within(t, time.Now(), followBound, "node a follows "+name, func() bool { return x.a.Credentials().Known(m.AccessKeyID) })
}

// TestSharedCredentialNameColumnAttack: the writer shuffles the name
// column (ci's says admin, the root's payments, payments' ci), which it
// may do freely, the unique constraint kept. Harmless: no node reads the
// column, on Open or following the change, and the root credential still
// is the admin (on a fresh node too).
func TestSharedCredentialNameColumnAttack(t *testing.T) {
	x := newCredNameAttack(t)
	x.exec(t, `UPDATE credentials SET name = 'tmp' WHERE access_key_id = $1`, x.payments)
	x.exec(t, `UPDATE credentials SET name = 'payments' WHERE access_key_id = $1`, x.root)
	x.exec(t, `UPDATE credentials SET name = 'admin' WHERE access_key_id = $1`, x.ci)
	x.exec(t, `UPDATE credentials SET name = 'ci' WHERE access_key_id = $1`, x.payments)
	b := x.cl.node("b")
	x.assertHarmless(t, b, "a node opened after the writer")
	x.settled(t, b, "marker")
	x.assertHarmless(t, x.a, "a node that followed the writer")
}

// TestSharedCredentialRecordNameAttack: the writer renames ci in its
// record (to admin, or payments), its MAC kept or stripped, and in the
// column too. Refused: a running node drops ci at once (it authenticates
// nothing), a node opening refuses the store; put back as it was, ci is
// ci again.
func TestSharedCredentialRecordNameAttack(t *testing.T) {
	x := newCredNameAttack(t)
	b := x.cl.node("b")
	ctx := context.Background()
	var genuine []byte
	if err := x.db.QueryRow(ctx, `SELECT record FROM credentials WHERE access_key_id = $1`, x.ci).Scan(&genuine); err != nil {
		t.Fatal(err)
	}
	for i, v := range []struct {
		name  string
		strip bool
	}{{adminName, false}, {adminName, true}, {"payments", false}, {"payments", true}} {
		var rec map[string]any
		if err := json.Unmarshal(genuine, &rec); err != nil {
			t.Fatal(err)
		}
		rec["name"] = v.name
		if v.strip {
			delete(rec, "mac")
		}
		forged, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		// The column must stay unique: the writer moves the other's
		// column out of the way.
		x.exec(t, `UPDATE credentials SET name = 'moved' WHERE name = $1`, v.name)
		x.exec(t, `UPDATE credentials SET name = $2, record = $3 WHERE access_key_id = $1`, x.ci, v.name, forged)
		x.settled(t, b, fmt.Sprintf("renamed%d", i))
		if _, p, ok := x.a.Credentials().Lookup(x.ci); ok || x.a.creds.isAdmin(x.ci) {
			t.Errorf("renamed %s (MAC stripped %v): ci authenticates on the running node as %+v (admin %v)", v.name, v.strip, p, x.a.creds.isAdmin(x.ci))
		}
		if s, err := Open(x.cl.opts(fmt.Sprintf("open%d", i))); err == nil {
			_, p, ok := s.Credentials().Lookup(x.ci)
			t.Errorf("renamed %s (MAC stripped %v): a node opened the store; ci authenticates %v as %+v", v.name, v.strip, ok, p)
			s.Close()
		} else if !errors.Is(err, store.ErrIntegrity) {
			t.Errorf("renamed %s (MAC stripped %v): Open: %v, want an integrity error", v.name, v.strip, err)
		}
		x.exec(t, `UPDATE credentials SET name = 'ci', record = $2 WHERE access_key_id = $1`, x.ci, genuine)
		x.exec(t, `UPDATE credentials SET name = $1 WHERE name = 'moved'`, v.name)
		x.settled(t, b, fmt.Sprintf("putback%d", i))
		x.assertHarmless(t, x.a, "ci put back")
	}
}

// TestSharedCredentialRowSwapAttack: the writer swaps the records (MACs
// and all) of ci and the root credential between their rows, and their
// names with them, so that ci's access key id reads the root's record.
// Refused: each row holds another's record (store.ErrDamaged); a running
// node drops both, a node opening refuses the store.
func TestSharedCredentialRowSwapAttack(t *testing.T) {
	x := newCredNameAttack(t)
	x.exec(t, `UPDATE credentials SET name = 'tmp' WHERE access_key_id = $1`, x.root)
	x.exec(t, `UPDATE credentials SET name = 'admin' WHERE access_key_id = $1`, x.ci)
	x.exec(t, `UPDATE credentials SET name = 'ci' WHERE access_key_id = $1`, x.root)
	x.exec(t, `UPDATE credentials c SET record = o.record FROM credentials o
		WHERE (c.access_key_id, o.access_key_id) IN (($1, $2), ($2, $1))`, x.ci, x.root)
	// Node a is told both rows changed and drops both; reading either
	// again fails (it keeps trying), so neither comes back.
	time.Sleep(followBound)
	for who, id := range map[string]string{"ci": x.ci, "the root": x.root} {
		if _, p, ok := x.a.Credentials().Lookup(id); ok || x.a.creds.isAdmin(id) {
			t.Errorf("after the swap, %s authenticates on the running node as %+v (admin %v)", who, p, x.a.creds.isAdmin(id))
		}
	}
	if s, err := Open(x.cl.opts("c")); err == nil {
		_, p, ok := s.Credentials().Lookup(x.ci)
		t.Errorf("after the swap, a node opened the store; ci authenticates %v as %+v (admin %v)", ok, p, s.creds.isAdmin(x.ci))
		s.Close()
	} else if !errors.Is(err, store.ErrDamaged) && !errors.Is(err, store.ErrIntegrity) {
		t.Errorf("Open after the swap: %v, want the store refused (damaged: a row holds another's record)", err)
	}
}
