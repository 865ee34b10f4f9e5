package postgres

import (
	"context"
	"embed"
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// The schema's versions: migrations/NNNN_name.sql takes a store from
// version NNNN-1 to NNNN. A released file never changes; a change to the
// schema is a new file. TestMigrationFiles holds them to this.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string // the file's, without its number and .sql
	file    string
	sql     string
}

// migrations are the schema's versions in order: migrations[i] makes
// version i+1.
var migrations = loadMigrations()

func loadMigrations() []migration {
	entries, err := migrationFS.ReadDir("migrations")
	if err != nil {
		panic(err)
	}
	var out []migration
	for i, e := range entries { // ReadDir sorts by name
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != i+1 || len(num) != 4 {
			panic("postgres: migration " + e.Name() + " is not numbered NNNN_name.sql in sequence")
		}
		b, err := migrationFS.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			panic(err)
		}
		out = append(out, migration{version: v, name: name, file: e.Name(), sql: string(b)})
	}
	return out
}

// migrationsTable records the versions applied, one row each. Its name says
// whose it is: a database whose tables are another program's is not taken
// for a store.
const migrationsTable = "attestkms_migrations"

// lockMigrations waits for the advisory lock that migrations take, until
// the transaction on c ends: nodes that start together migrate one at a
// time, and the later ones find nothing to do.
func lockMigrations(ctx context.Context, c *pgx.Conn) error {
	_, err := c.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", advisoryKey("migrate", ""))
	if err != nil {
		return fmt.Errorf("postgres: waiting for the migration lock: %w", err)
	}
	return nil
}

// schemaVersion is the version of the schema in c's database: 0 if it has
// none.
func schemaVersion(ctx context.Context, c *pgx.Conn) (int, error) {
	var exists bool
	if err := c.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", migrationsTable).Scan(&exists); err != nil {
		return 0, fmt.Errorf("postgres: reading the schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := c.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+migrationsTable).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: reading the schema version: %w", err)
	}
	return v, nil
}

// migrate takes the schema on c, in a transaction that holds the migration
// lock, from version from to version to: store.ErrNotAStore if from is
// newer than this package knows. Each step records its version in the same
// transaction.
func migrate(ctx context.Context, c *pgx.Conn, from, to int) error {
	if from > len(migrations) {
		return fmt.Errorf("%w: its schema is version %d, newer than this attestkms knows (%d): run a newer attestkms", store.ErrNotAStore, from, len(migrations))
	}
	if from == 0 && to > 0 {
		_, err := c.Exec(ctx, "CREATE TABLE "+migrationsTable+` (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`)
		if err != nil {
			return fmt.Errorf("postgres: creating %s: %w", migrationsTable, err)
		}
	}
	for _, m := range migrations[from:to] {
		if _, err := c.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("postgres: migrating to schema version %d (%s): %w", m.version, m.name, err)
		}
		if _, err := c.Exec(ctx, "INSERT INTO "+migrationsTable+" (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return fmt.Errorf("postgres: recording schema version %d: %w", m.version, err)
		}
	}
	return nil
}
