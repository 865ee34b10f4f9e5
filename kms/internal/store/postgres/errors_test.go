package postgres

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/attestkms/attestkms/internal/pgtest"
	"github.com/attestkms/attestkms/kms/internal/store"
)

// TestFailedStatementFailsCommit: a statement's error that fn does not
// return (the transaction is aborted) fails the Update at its commit,
// store.ErrConflict, and nothing fn wrote is there.
func TestFailedStatementFailsCommit(t *testing.T) {
	s := open(t, newDB(t))
	k := testKey(1)
	err := s.Update(bg, func(tx store.Txn) error {
		if err := tx.CreateKey(k); err != nil {
			return err
		}
		_, err := tx.(*txn).each("SELECT 1/0", nil, nil)
		if err == nil {
			t.Fatal("1/0 did not fail")
		}
		return nil // ignoring it
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Update: %v; want ErrConflict", err)
	}
	if _, err := s.Key(bg, k.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the key written before the failed statement: %v", err)
	}
	createKey(t, s, k) // the connection went back to the pool usable
}

// TestNotText: ids PostgreSQL's text cannot hold (NUL, invalid UTF-8) are
// found nowhere, and cannot be written.
func TestNotText(t *testing.T) {
	s := open(t, newDB(t))
	for _, id := range []string{"a\x00b", "\xff\xfe"} {
		if _, err := s.Key(bg, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Key(%q): %v", id, err)
		}
		if _, err := s.Alias(bg, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Alias(%q): %v", id, err)
		}
		err := s.Update(bg, func(tx store.Txn) error {
			if _, err := tx.Credential(id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Credential(%q): %v", id, err)
			}
			if err := tx.DeleteKey(id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("DeleteKey(%q): %v", id, err)
			}
			k := testKey(1)
			k.ID = id
			if err := tx.CreateKey(k); err == nil {
				t.Errorf("CreateKey(%q) succeeded", id)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestNoPasswordShown: no error of Open or Create shows the URL's
// password, whether the URL does not parse or the server is not there;
// RedactURL hides it.
func TestNoPasswordShown(t *testing.T) {
	const pw = "pw-Secret-1"
	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	for _, u := range []string{
		"postgres://attestkms:" + pw + "@127.0.0.1:1/db?sslmode=disable", // nothing listens on port 1
		"postgres://attestkms:" + pw + "@127.0.0.1:99999999/db",          // does not parse
		"postgres://attestkms@127.0.0.1:1/db?sslmode=disable&password=" + pw,
		"host=127.0.0.1 port=1 password=" + pw + " sslmode=disable",
		"host=127.0.0.1 port=x password='" + pw,
		"postgres://attestkms@127.0.0.1:1/db?sslmode=disable&sslpassword=" + pw,
		"postgres://attestkms@127.0.0.1:1/db?sslmode=disable&PassWord=" + pw,
	} {
		_, err := Open(ctx, u, Options{})
		if err == nil {
			t.Fatalf("Open(%s) succeeded", RedactURL(u))
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("Open's error shows the password: %v", err)
		}
		err = Create(ctx, u, Options{Password: pw}, func(store.Txn) error { return nil })
		if err == nil || strings.Contains(err.Error(), pw) {
			t.Errorf("Create's error shows the password, or none: %v", err)
		}
		if r := RedactURL(u); strings.Contains(r, pw) {
			t.Errorf("RedactURL: %s", r)
		}
	}
	_, err := Open(ctx, "postgres://attestkms:"+pw+"@127.0.0.1:1/db?sslmode=disable", Options{})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open with no server: %v; want ErrUnavailable", err)
	}
	if r := RedactURL("postgres://u:" + pw + "@h:5432/db?sslmode=verify-full"); r != "postgres://u:xxxxx@h:5432/db?sslmode=verify-full" {
		t.Errorf("RedactURL: %s", r)
	}
}

// TestBrokenConnections: the pool's connections ended under it (as a
// server restart ends them) cost no request: Key, Alias, View and Update
// each find theirs broken, send their first statement again on a new one,
// and succeed.
func TestBrokenConnections(t *testing.T) {
	u := newDB(t)
	s := open(t, u)
	k := testKey(1)
	createKey(t, s, k)
	ops := map[string]func() error{
		"Key":   func() error { _, err := s.Key(bg, k.ID); return err },
		"Alias": func() error { _, err := s.Alias(bg, "alias/none"); return ignore(err, store.ErrNotFound) },
		"View":  func() error { return s.View(bg, func(r store.Reader) error { _, err := r.Key(k.ID); return err }) },
		"Update": func() error {
			return s.Update(bg, func(tx store.Txn) error {
				k, err := tx.Key(k.ID)
				if err != nil {
					return err
				}
				k.Description += "x"
				return tx.PutKey(k)
			})
		},
	}
	for name, op := range ops {
		if err := op(); err != nil { // a connection in the pool
			t.Fatal(err)
		}
		if n := terminate(t, u, "attestkms"); n == 0 {
			t.Fatal("no connection to end")
		}
		if err := op(); err != nil {
			t.Errorf("%s on a broken connection: %v", name, err)
		}
	}
}

func ignore(err, want error) error {
	if errors.Is(err, want) {
		return nil
	}
	return err
}

// TestDatabaseOutage: while the database takes no connections and has
// ended every session, each method fails with store.ErrUnavailable saying
// why, and Watch tells WatchLost; once it takes them again, the store
// works again by itself and Watch tells WatchResumed (nothing committed
// meanwhile), then changes.
func TestDatabaseOutage(t *testing.T) {
	u := newDB(t)
	s := open(t, u)
	k := testKey(1)
	createKey(t, s, k)
	changes := watchOf(t, s)
	changes.next(t, store.ChangedAll)

	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	db := pgx.Identifier{strings.TrimPrefix(pu.Path, "/")}.Sanitize()
	admin := connect(t, os.Getenv(pgtest.Env))
	exec(t, admin, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS false")
	restored := false
	defer func() {
		if !restored {
			exec(t, admin, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS true")
		}
	}()
	exec(t, admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", pu.Path[1:])
	changes.next(t, store.WatchLost)

	unavailable := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "not currently accepting connections") {
			t.Errorf("%s during the outage: %v; want ErrUnavailable saying why", what, err)
		}
	}
	_, err = s.Key(bg, k.ID)
	unavailable("Key", err)
	unavailable("View", s.View(bg, func(r store.Reader) error { _, err := r.Key(k.ID); return err }))
	unavailable("Update", s.Update(bg, func(tx store.Txn) error { _, err := tx.Key(k.ID); return err }))
	_, err = s.TryLock(bg, "maintain")
	unavailable("TryLock", err)

	exec(t, admin, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS true")
	restored = true
	if got, err := s.Key(bg, k.ID); err != nil || got.Version != k.Version {
		t.Fatalf("Key after the outage: %+v, %v", got, err)
	}
	changes.next(t, store.WatchResumed)
	createKey(t, s, testKey(2))
	if c := changes.next(t, store.ChangedKey); c.ID != testKey(2).ID {
		t.Fatalf("after the outage, told %+v", c)
	}
}
