package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"

	"github.com/attestkms/attestkms/kms"
)

const storeUsage = `Usage: attestkms store check [--data-dir DIR] [--root-key SPEC]
       attestkms store check --store postgres://USER@HOST:PORT/DB?sslmode=… --root-key SPEC
       attestkms store protect [--data-dir DIR] [--root-key SPEC]
       attestkms store protect --store postgres://USER@HOST:PORT/DB?sslmode=… --data-dir NODE_DIR --root-key SPEC

check:

Checks a whole store, while no server holds it (an embedded store; a
shared store is read while its nodes run): bbolt's own consistency check of
every page of kms.db, then every record — the meta and the root key's check,
every key (every version of its material opens under the root key and is
material of its spec), every alias (it names a key the store holds), every
credential (its secret opens), and every record's MAC under the root key
(each record that fails it is named: the database was changed outside
attestkms). Nothing is written.

Prints a summary (records per kind) and exits 0, or names the first bad
record (or page) and exits 1: then restore the store from a backup. A
PostgreSQL store gets no page check here (its own tools check its files:
pg_checksums, amcheck); every record is read and opened.

serve --check-store runs the same check before it serves, and refuses to
serve a store that fails it.

Exit status: 0 sound, 1 damaged (or the root key does not open it, or it is
in use), 2 usage, 3 unreadable input (no such data directory or root key).

protect:
Authenticates the records of a store made by an attestkms from before
records were (docs/rootkey.md, "Upgrading a store"): every key, alias,
credential and the meta get their MAC under the root key, in one audited
change (ProtectRecords), and from then on a record changed outside attestkms
is refused. Every other command and serve refuse such a store until this
ran: the MACs come from this deliberate step, not from whichever process
opens the store first (a database writer who put back an old root check
would have the records it changed MACed by it). Run it once after the
upgrade, every server of the store stopped, after attestkms store check;
on a shared store NODE_DIR is a node directory no running node uses, whose
audit log gets the record. A store authenticated already is left as it is.

Exit status: 0 protected (or it was), 1 refused or failed (the store is in
use or damaged: nothing was written), 2 usage, 3 unreadable input.

Examples:
  attestkms store check --data-dir /var/lib/attestkms
  attestkms store check --store 'postgres://attestkms@db.internal:5432/attestkms?sslmode=verify-full' \
      --root-key file:/etc/attestkms/root.key
  attestkms store protect --data-dir /var/lib/attestkms
`

func runStore(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "protect" {
		return runStoreProtect(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "check" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, storeUsage)
			return nil
		}
		return usageError("attestkms store check|protect: the store commands")
	}
	fs := newFlagSet("store check", storeUsage, stdout, stderr)
	dataDir := fs.String("data-dir", "./attestkms-data", "the store's `directory`")
	var root rootKeyFlags
	root.register(fs)
	var sf storeFlags
	sf.register(fs)
	if _, err := parseFlags(fs, args[1:], 0); err != nil {
		return err
	}
	if err := sf.check(); err != nil {
		return err
	}
	if sf.shared() && !root.given() {
		return usageError("--store postgres://… needs --root-key SPEC (or --root-key-file FILE)")
	}
	opts := kms.Options{DataDir: *dataDir}
	if err := root.apply(&opts); err != nil {
		return err
	}
	if sf.shared() {
		opts.DataDir = ""
	}
	if err := sf.apply(&opts); err != nil {
		return err
	}
	return checkStore(context.Background(), opts, sf.describe(*dataDir), stdout)
}

// runStoreProtect is attestkms store protect.
func runStoreProtect(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("store protect", storeUsage, stdout, stderr)
	dataDir := fs.String("data-dir", "./attestkms-data", "the store's `directory` (a shared store's: a node's, not in use)")
	var root rootKeyFlags
	root.register(fs)
	var sf storeFlags
	sf.register(fs)
	if _, err := parseFlags(fs, args, 0); err != nil {
		return err
	}
	if err := sf.check(); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	switch {
	case sf.shared() && !set["data-dir"]:
		return usageError("--store postgres://… needs --data-dir NODE_DIR, a node's directory for the change's audit record (no running node's)")
	case sf.shared() && !root.given():
		return usageError("--store postgres://… needs --root-key SPEC (or --root-key-file FILE), the root key the nodes use")
	}
	opts := kms.Options{DataDir: *dataDir, StoredRegion: true, ProtectRecords: true}
	if err := root.apply(&opts); err != nil {
		return err
	}
	if err := sf.apply(&opts); err != nil {
		return err
	}
	svc, err := kms.Open(opts)
	switch {
	case errors.Is(err, kms.ErrStoreInUse):
		return withHint(err, "stop every server of the store first")
	case errors.Is(err, kms.ErrNotInitialised):
		return readError(err)
	case err != nil:
		return storeError(err)
	}
	defer svc.Close()
	name := sf.describe(*dataDir)
	if !svc.Admin().ProtectedRecords() {
		_, err = fmt.Fprintf(stdout, "store %s: its records were authenticated and digested already: nothing to do\n", name)
		return err
	}
	_, err = fmt.Fprintf(stdout, "store %s: every record is authenticated under the root key and digested from now on (audited as ProtectRecords); servers may start\n", name)
	return err
}

// checkStore runs kms.CheckStore and says what it found on w.
func checkStore(ctx context.Context, opts kms.Options, name string, w io.Writer) error {
	rep, err := kms.CheckStore(ctx, opts)
	switch {
	case errors.Is(err, kms.ErrStoreInUse):
		return withHint(err, "stop the server first (the check opens kms.db read-only, which a serving process does not share), or run serve --check-store at its next start")
	case errors.Is(err, kms.ErrNotInitialised), errors.Is(err, fs.ErrNotExist):
		return readError(err)
	case err != nil:
		return storeError(err)
	}
	pages := "no page check (a PostgreSQL store: its own tools check its files)"
	if rep.Pages {
		pages = "every page consistent (bbolt's check)"
	}
	auth := fmt.Sprintf("every record's MAC verifies, and the records are those the records digest sums (generation %d)", rep.DigestGeneration)
	switch {
	case !rep.Authenticated:
		auth = "its records are not authenticated yet (a store made before records were: attestkms store protect authenticates them; until then servers refuse it)"
	case !rep.Digested:
		auth = "every record's MAC verifies; its records are not digested yet (a store made before the records digest: attestkms store protect digests them; until then servers refuse it)"
	}
	_, err = fmt.Fprintf(w, "store %s: sound: %s; %d keys (%d materials), %d aliases, %d credentials: every record decodes and opens under the root key; %s\n",
		name, pages, rep.Keys, rep.Materials, rep.Aliases, rep.Credentials, auth)
	return err
}
