package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/attestkms/attestkms/kms"
)

// storeFlags are --store and --store-password-file, shared by serve, init
// and audit verify.
type storeFlags struct {
	store, passwordFile string
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.store, "store", "", "the store: `bolt:PATH` or postgres://USER@HOST:PORT/DB?sslmode=… (default: the bbolt file DIR/kms.db)")
	fs.StringVar(&f.passwordFile, "store-password-file", "", "read the PostgreSQL role's password from this `file` (mode 0600; default: PGPASSWORD or ~/.pgpass)")
}

// shared reports whether --store names a store several nodes share.
func (f *storeFlags) shared() bool { return kms.SharedStore(f.store) }

// check refuses a --store that is neither form, a URL with a password in
// it, and a password file without a shared store.
func (f *storeFlags) check() error {
	switch {
	case f.store == "":
	case strings.HasPrefix(f.store, "bolt:"):
		if f.store == "bolt:" {
			return usageError("--store bolt:PATH names no file")
		}
	case f.shared():
		if err := kms.CheckStoreURL(f.store); errors.Is(err, kms.ErrStorePassword) {
			return &exitError{code: 2, err: fmt.Errorf("--store: %w", err),
				hint: "a command line is visible to every user of the machine: remove the password from the URL and give it in PGPASSWORD, ~/.pgpass or --store-password-file FILE"}
		} else if err != nil {
			return usageError("--store: %v", err)
		}
	default:
		return usageError("--store must be bolt:PATH or a postgres://USER@HOST:PORT/DB URL")
	}
	if f.passwordFile != "" && !f.shared() {
		return usageError("--store-password-file goes with --store postgres://…")
	}
	return nil
}

// apply sets opts's store and reads the password file.
func (f *storeFlags) apply(opts *kms.Options) error {
	opts.Store = f.store
	if f.passwordFile == "" {
		return nil
	}
	fi, err := os.Stat(f.passwordFile)
	if err != nil {
		return readError(fmt.Errorf("--store-password-file: %w", err))
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return withHint(fmt.Errorf("--store-password-file %s is readable by others (mode %v)", f.passwordFile, fi.Mode().Perm()), "chmod 600 it")
	}
	b, err := os.ReadFile(f.passwordFile)
	if err != nil {
		return readError(fmt.Errorf("--store-password-file: %w", err))
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" || strings.ContainsAny(pw, "\r\n") {
		return fmt.Errorf("--store-password-file %s must hold the password alone, on one line", f.passwordFile)
	}
	opts.StorePassword = pw
	return nil
}

// describe is the store as serve names it on stderr (a URL carries no
// password: check refused one).
func (f *storeFlags) describe(dataDir string) string {
	if f.store == "" {
		return "bolt:" + dataDir + "/kms.db"
	}
	return f.store
}

// restoreHint is what to do about a store whose database is missing or
// damaged.
const restoreHint = "restore the store from a backup into a new data directory (attestkms restore --in BACKUP --data-dir NEWDIR) and serve that"

// storeError gives a store that is missing or damaged its hint (exit 1);
// other errors pass as they are.
func storeError(err error) error {
	switch {
	case errors.Is(err, kms.ErrStoreMissing):
		return withHint(err, restoreHint+"; if this data directory is really meant to start over, remove it (or give another --data-dir)")
	case errors.Is(err, kms.ErrStoreDamaged):
		return withHint(err, restoreHint+"; nothing was written to the damaged store")
	case errors.Is(err, kms.ErrUnprotected):
		return withHint(err, "after upgrading attestkms, stop every server of the store, check that nobody changed its database outside attestkms since (attestkms store check), then run attestkms store protect with the same --data-dir/--store and --root-key, once")
	}
	return err
}
