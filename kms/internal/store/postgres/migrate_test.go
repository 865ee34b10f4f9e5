package postgres

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/attestkms/attestkms/internal/pgtest"
	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
	"github.com/attestkms/attestkms/kms/internal/store/bolt"
)

// TestMigrationFiles: no released migration has changed since its hash
// was written in testdata/migrations.sha256 (databases have applied it: a
// change to the schema is a new file, whose hash is added there), and every
// migration has its hash.
func TestMigrationFiles(t *testing.T) {
	sums, err := os.ReadFile("testdata/migrations.sha256")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(sums)), "\n")
	if len(lines) != len(migrations) {
		t.Fatalf("%d migrations, %d hashes in testdata/migrations.sha256: add the new one's (sha256sum migrations/*.sql)", len(migrations), len(lines))
	}
	for i, m := range migrations {
		sum := sha256.Sum256([]byte(m.sql))
		if got, want := hex.EncodeToString(sum[:])+"  migrations/"+m.file, lines[i]; got != want {
			t.Errorf("migration %d: %s; released as %s: a released migration never changes, put the change in a new one", m.version, got, want)
		}
	}
}

// connect is a plain connection to the database u, closed when t ends.
func connect(t testing.TB, u string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(bg, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func exec(t testing.TB, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(bg, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// schemaAt makes the schema of version v in the database u, as a binary
// that knew only the first v migrations would have.
func schemaAt(t testing.TB, u string, v int) {
	t.Helper()
	c := connect(t, u)
	exec(t, c, "BEGIN")
	if err := migrate(bg, c, 0, v); err != nil {
		t.Fatal(err)
	}
	exec(t, c, "COMMIT")
}

// fixture is the records of the store that bolt's testdata holds (a data
// directory made before the store layer), read through package bolt, and
// its root key.
type fixture struct {
	meta        *store.Meta
	seq         uint64
	keys        []*store.Key
	aliases     []*store.Alias
	credentials []*store.Credential
	sealer      *sealer.Sealer
}

func readFixture(t *testing.T) *fixture {
	t.Helper()
	const dir = "../bolt/testdata/before-store-layer"
	b, err := os.ReadFile(filepath.Join(dir, "kms.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kms.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	rk, err := os.ReadFile(filepath.Join(dir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(rk)))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{}
	if f.sealer, err = sealer.New(root); err != nil {
		t.Fatal(err)
	}
	s, err := bolt.Open(path, bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(bg, func(r store.Reader) error {
		var err error
		if f.meta, err = r.Meta(); err != nil {
			return err
		}
		if f.seq, err = r.AuditChangeSeq(""); err != nil {
			return err
		}
		if f.keys, err = r.Keys("", 1000); err != nil {
			return err
		}
		if f.aliases, err = r.Aliases("", 1000); err != nil {
			return err
		}
		f.credentials, err = r.Credentials()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.keys) == 0 || len(f.aliases) == 0 || len(f.credentials) == 0 || f.seq == 0 {
		t.Fatalf("the fixture holds %d keys, %d aliases, %d credentials, seq %d", len(f.keys), len(f.aliases), len(f.credentials), f.seq)
	}
	return f
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMigrateFromVersion1: a database made by schema version 1 alone,
// holding the records of a real store (bolt's fixture) written the way
// version 1 writes them, is migrated by Open to the current version; every
// record reads back as it was, every sealed value opens under the root key,
// versions go on growing, and what migration 2 added (notifications) works
// on the migrated store.
func TestMigrateFromVersion1(t *testing.T) {
	f := readFixture(t)
	u := pgtest.DB(t)
	schemaAt(t, u, 1)
	c := connect(t, u)
	exec(t, c, "BEGIN")
	exec(t, c, "INSERT INTO meta (account_id, project_id, region, root_check) VALUES ($1, $2, $3, $4)",
		f.meta.AccountID, f.meta.ProjectID, f.meta.Region, f.meta.RootCheck)
	exec(t, c, "INSERT INTO audit_chains (chain, seq) VALUES ('', $1)", int64(f.seq))
	for _, k := range f.keys {
		exec(t, c, "INSERT INTO keys (id, state, record) VALUES ($1, $2, $3)", k.ID, k.State, mustJSON(t, k))
	}
	for _, a := range f.aliases {
		exec(t, c, "INSERT INTO aliases (name, key_id, record) VALUES ($1, $2, $3)", a.Name, a.KeyID, mustJSON(t, a))
	}
	for _, cr := range f.credentials {
		exec(t, c, "INSERT INTO credentials (access_key_id, name, record) VALUES ($1, $2, $3)", cr.AccessKeyID, cr.Name, mustJSON(t, cr))
	}
	exec(t, c, "COMMIT")
	var maxVersion int64
	if err := c.QueryRow(bg, "SELECT max(version) FROM keys").Scan(&maxVersion); err != nil {
		t.Fatal(err)
	}

	s := open(t, u)
	var v int
	if err := c.QueryRow(bg, "SELECT max(version) FROM attestkms_migrations").Scan(&v); err != nil || v != len(migrations) {
		t.Fatalf("schema version %d, %v after Open; want %d", v, err, len(migrations))
	}
	err := s.View(bg, func(r store.Reader) error {
		m, err := r.Meta()
		if err != nil {
			return err
		}
		if string(mustJSON(t, m)) != string(mustJSON(t, f.meta)) {
			t.Errorf("meta %+v; want %+v", m, f.meta)
		}
		if err := store.CheckRoot(f.sealer, m); err != nil {
			t.Error(err)
		}
		if seq, err := r.AuditChangeSeq(""); err != nil || seq != f.seq {
			t.Errorf("audit change seq %d, %v; want %d", seq, err, f.seq)
		}
		keys, err := r.Keys("", 1000)
		if err != nil {
			return err
		}
		if len(keys) != len(f.keys) {
			t.Fatalf("%d keys; the fixture has %d", len(keys), len(f.keys))
		}
		for i, k := range keys {
			if got, want := mustJSON(t, k), mustJSON(t, f.keys[i]); !bytes.Equal(got, want) {
				t.Errorf("key reads back as\n%s\nwas\n%s", got, want)
			}
			for j := range k.Materials {
				if _, err := store.OpenMaterial(f.sealer, k.ID, &k.Materials[j]); err != nil {
					t.Errorf("key %s material %d: %v", k.ID, k.Materials[j].Version, err)
				}
			}
		}
		aliases, err := r.Aliases("", 1000)
		if err != nil {
			return err
		}
		if !bytes.Equal(mustJSON(t, aliases), mustJSON(t, f.aliases)) {
			t.Errorf("aliases %s; were %s", mustJSON(t, aliases), mustJSON(t, f.aliases))
		}
		creds, err := r.Credentials()
		if err != nil {
			return err
		}
		if !bytes.Equal(mustJSON(t, creds), mustJSON(t, f.credentials)) {
			t.Errorf("credentials %s; were %s", mustJSON(t, creds), mustJSON(t, f.credentials))
		}
		for _, cr := range creds {
			if _, err := store.OpenCredential(f.sealer, cr); err != nil {
				t.Errorf("credential %s: %v", cr.AccessKeyID, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Migration 2's notifications, on the migrated store: a change to a
	// key made before it is told, at a version above every earlier one.
	changes := watchOf(t, s)
	changes.next(t, store.ChangedAll)
	k := f.keys[0]
	err = s.Update(bg, func(tx store.Txn) error {
		k, err := tx.Key(k.ID)
		if err != nil {
			return err
		}
		k.Description = "after the migration"
		return tx.PutKey(k)
	})
	if err != nil {
		t.Fatal(err)
	}
	got := changes.next(t, store.ChangedKey)
	if got.ID != k.ID || got.Version <= uint64(maxVersion) {
		t.Fatalf("told %+v; want key %s above version %d", got, k.ID, maxVersion)
	}
}

// TestOpenRefuses: a database with no store, one whose tables are another
// program's, and one whose schema is newer than this package knows are not
// opened (store.ErrNotAStore), and are left as they were; Create refuses a
// database holding a store (store.ErrExists) and leaves nothing when its
// function fails.
func TestOpenRefuses(t *testing.T) {
	empty := pgtest.DB(t)
	if _, err := Open(bg, empty, Options{}); !errors.Is(err, store.ErrNotAStore) {
		t.Fatalf("Open of an empty database: %v", err)
	}
	other := pgtest.DB(t)
	exec(t, connect(t, other), "CREATE TABLE keys (id text PRIMARY KEY)")
	if _, err := Open(bg, other, Options{}); !errors.Is(err, store.ErrNotAStore) {
		t.Fatalf("Open of another program's database: %v", err)
	}

	newer := newDB(t)
	c := connect(t, newer)
	exec(t, c, "INSERT INTO attestkms_migrations (version, name) VALUES ($1, 'from the future')", len(migrations)+1)
	_, err := Open(bg, newer, Options{})
	if !errors.Is(err, store.ErrNotAStore) || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema: %v", err)
	}

	u := newDB(t)
	if err := Create(bg, u, Options{}, func(store.Txn) error { return nil }); !errors.Is(err, store.ErrExists) {
		t.Fatalf("Create over a store: %v", err)
	}
	failed := pgtest.DB(t)
	errFail := errors.New("fail")
	if err := Create(bg, failed, Options{}, func(tx store.Txn) error {
		if err := tx.PutMeta(&store.Meta{AccountID: "1"}); err != nil {
			return err
		}
		return errFail
	}); err != errFail {
		t.Fatalf("Create whose function fails: %v", err)
	}
	var tables int
	if err := connect(t, failed).QueryRow(bg, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()").Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("a failed Create left %d tables (%v)", tables, err)
	}
	if _, err := Open(bg, failed, Options{}); !errors.Is(err, store.ErrNotAStore) {
		t.Fatalf("Open after a failed Create: %v", err)
	}
}

// TestConcurrentOpen: nodes that start together on a database of schema
// version 1 all open it, and it is migrated once.
func TestConcurrentOpen(t *testing.T) {
	u := pgtest.DB(t)
	schemaAt(t, u, 1)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(bg, u, Options{})
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n, v int
	if err := connect(t, u).QueryRow(bg, "SELECT count(*), max(version) FROM attestkms_migrations").Scan(&n, &v); err != nil || n != len(migrations) || v != len(migrations) {
		t.Fatalf("%d migrations recorded, up to %d (%v)", n, v, err)
	}
}

// TestOpenRefusesUndurableCommits: a database whose commits are
// acknowledged before they are durable is refused, saying why.
func TestOpenRefusesUndurableCommits(t *testing.T) {
	u := newDB(t)
	c := connect(t, u)
	var db string
	if err := c.QueryRow(bg, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatal(err)
	}
	exec(t, c, "ALTER DATABASE "+pgx.Identifier{db}.Sanitize()+" SET synchronous_commit = off")
	_, err := Open(bg, u, Options{})
	if err == nil || !strings.Contains(err.Error(), "synchronous_commit off") {
		t.Fatalf("Open with synchronous_commit off: %v", err)
	}
}
