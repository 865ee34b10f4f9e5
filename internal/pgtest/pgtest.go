// Package pgtest gives a test its own PostgreSQL database, in the server
// that ATTESTKMS_TEST_POSTGRES names (.ci/run starts one with
// scripts/postgres.sh), or skips the test, saying how to run it, when that
// is not set: the README's one test command runs everywhere, and CI runs the
// PostgreSQL tests too.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env names the variable holding the server's URL, e.g.
// postgres://attestkms@127.0.0.1:5432/postgres?sslmode=disable: a role that
// may create databases.
const Env = "ATTESTKMS_TEST_POSTGRES"

// Available reports whether Env is set.
func Available() bool { return os.Getenv(Env) != "" }

// DB creates an empty database for t, dropped when t ends, and returns its
// URL. Without Env it skips t.
func DB(t testing.TB) string {
	t.Helper()
	base := os.Getenv(Env)
	if base == "" {
		t.Skipf("%s is not set: this test needs PostgreSQL (eval \"$(scripts/postgres.sh start DIR)\" starts one and sets it; .ci/run does)", Env)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "attestkms_test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connecting to %s: %v", Env, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("dropping database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("dropping database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
