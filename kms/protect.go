package kms

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// Record authentication (package store, mac.go; docs/rootkey.md, "Records
// are authenticated"). Every record kms reads goes through the
// Authenticated store (Service.auth), which refuses a record whose MAC
// under the root key does not verify: a database writer without the root
// key cannot change a key's policy or state, retarget an alias or rename a
// credential unseen. A store made by an older attestkms has no MACs: an
// Open told to (Options.ProtectRecords: attestkms store protect) MACs every
// record, in ONE change audited as ProtectRecords, and seals the root check
// v2 in the same change, which marks the store authenticated (from then on
// a record without a MAC is refused); any other Open refuses the store
// (ErrUnprotected). A crash leaves the store as it was or MACed whole.

// errProtected: the store was marked authenticated by another node while
// this one waited to migrate it.
var errProtected = errors.New("the store's records are authenticated already")

// protectRecords MACs every record of a store made before records were
// authenticated, and marks it so, in one change; nothing if it is so
// already.
func (s *Service) protectRecords() error {
	if s.auth.Required() {
		return nil
	}
	c := systemCall("open", "ProtectRecords")
	ctx := context.Background()
	err := s.change(ctx, c, func(tx store.Txn) error {
		m, err := tx.Meta() // locked until the change ends: one node migrates
		if err != nil {
			return err
		}
		if s.auth.Required() {
			return errProtected // the meta read shows the v2 root check
		}
		var keys []*store.Key
		if err := eachKey(tx, func(k *store.Key) error { keys = append(keys, k); return nil }); err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.PutKey(k); err != nil {
				return err
			}
		}
		nAliases, err := rewriteAliases(tx)
		if err != nil {
			return err
		}
		creds, err := tx.Credentials()
		if err != nil {
			return err
		}
		for _, cr := range creds {
			if err := tx.DeleteCredential(cr.AccessKeyID); err != nil {
				return err
			}
			if err := tx.CreateCredential(cr); err != nil {
				return err
			}
		}
		if m.RootCheck, err = store.SealRootCheck(s.sealer); err != nil {
			return internal(err)
		}
		if err := tx.PutMeta(m); err != nil {
			return err
		}
		c.op.message = fmt.Sprintf("every record of the store is authenticated under the root key from now on (a store made before records were): MACed %d keys, %d aliases, %d credentials and the meta", len(keys), nAliases, len(creds))
		return nil
	})
	if errors.Is(err, errProtected) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("authenticating the store's records: %w", err)
	}
	s.auth.Require()
	s.protectedNow = true
	return nil
}

// ProtectedRecords reports whether Open authenticated the store's records
// (Options.ProtectRecords on a store made before records were): false if
// they were authenticated already.
func (a *Admin) ProtectedRecords() bool { return a.s.protectedNow }

// rewriteAliases writes every alias of tx again as it is, and says how
// many: the Authenticated store MACs them under the key it writes with now
// (ProtectRecords, a root-key rotation).
func rewriteAliases(tx store.Txn) (int, error) {
	var aliases []*store.Alias
	for start := ""; ; {
		page, err := tx.Aliases(start, 1000)
		if err != nil {
			return 0, err
		}
		aliases = append(aliases, page...)
		if len(page) < 1000 {
			break
		}
		start = page[len(page)-1].Name + "\x00"
	}
	for _, a := range aliases {
		if err := tx.PutAlias(a); err != nil {
			return 0, err
		}
	}
	return len(aliases), nil
}

// protectedMarker is the file, in a data directory (an embedded store's,
// or a node's of a shared store), that says this directory has opened the
// store with its records authenticated. It lives outside the database:
// a database writer who kept an old root check (v1: a backup's meta, a
// dump, a value read once before the upgrade) could put it back, strip the
// MACs of records it changed, and have the next Open's ProtectRecords MAC
// its changes. A directory with the marker refuses a v1 store instead.
const protectedMarker = "records-authenticated"

// checkProtectedMarker refuses a store whose records are not authenticated
// (its root check v1) if dataDir has opened it authenticated before.
func (s *Service) checkProtectedMarker(dataDir string) error {
	if dataDir == "" || s.auth.Required() {
		return nil
	}
	p := filepath.Join(dataDir, protectedMarker)
	if _, err := os.Stat(p); err != nil {
		return nil // never authenticated here: a store to protect
	}
	return fmt.Errorf("%w: %s says this data directory opened the store with its records authenticated, and the store's root check is now one from before (v1): a database writer put back an old value, to have records it changed MACed by this Open; nothing was written. Restore the store from a backup, then rotate the root key (every old value stops opening)", ErrStoreDamaged, p)
}

// markProtected writes dataDir's marker once the store is authenticated
// (nothing without a data directory, or if it is there).
func markProtected(dataDir string) error {
	if dataDir == "" {
		return nil
	}
	p := filepath.Join(dataDir, protectedMarker)
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	err := writeFileSync(p, []byte("this directory opened its store with every record authenticated (docs/rootkey.md): a store whose root check is older is refused\n"), 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	return err
}
