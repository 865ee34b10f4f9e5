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
// record, in ONE change audited as ProtectRecords, sums them in the
// records digest (store/digest.go) and seals the root check v3 in the same
// change, which marks the store authenticated and digested (from then on a
// record without a MAC is refused, and every change keeps the digest
// current); any other Open refuses the store (ErrUnprotected). A store of
// an attestkms from before the digest (root check v2: MACed, no digest)
// takes the same step: its records are read verified, written back and
// digested. A crash leaves the store as it was or protected whole.

// errProtected: the store was marked authenticated and digested by another
// node while this one waited to migrate it.
var errProtected = errors.New("the store's records are authenticated and digested already")

// protectRecords MACs every record of a store made before records were
// authenticated (or verifies them, in a store made before the digest),
// digests them, and marks the store so, in one change; nothing if it is so
// already.
func (s *Service) protectRecords() error {
	if s.auth.Digested() {
		return nil
	}
	wasAuthenticated := s.auth.Required()
	c := systemCall("open", "ProtectRecords")
	ctx := context.Background()
	err := s.change(ctx, c, func(tx store.Txn) error {
		m, err := tx.Meta() // locked until the change ends: one node migrates
		if err != nil {
			return err
		}
		if s.auth.Digested() {
			return errProtected // the meta read shows the v3 root check
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
		// Every record as it now stands, each read verified above (a
		// MACed store's) or MACed (an older one's), in the digest.
		if err := store.RebuildDigest(tx); err != nil {
			return err
		}
		if m.RootCheck, err = store.SealRootCheck(s.sealer); err != nil {
			return internal(err)
		}
		if err := tx.PutMeta(m); err != nil {
			return err
		}
		if wasAuthenticated {
			c.op.message = fmt.Sprintf("every record of the store is digested from now on (a store made before the records digest): verified and digested %d keys, %d aliases, %d credentials", len(keys), nAliases, len(creds))
		} else {
			c.op.message = fmt.Sprintf("every record of the store is authenticated under the root key and digested from now on (a store made before records were): MACed %d keys, %d aliases, %d credentials and the meta", len(keys), nAliases, len(creds))
		}
		return nil
	})
	if errors.Is(err, errProtected) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("authenticating the store's records: %w", err)
	}
	s.auth.MarkDigested()
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
	if err := eachAlias(tx, func(a *store.Alias) error { aliases = append(aliases, a); return nil }); err != nil {
		return 0, err
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

// digestedMarker is protectedMarker's for the records digest: this
// directory has opened the store digested (root check v3). A database
// writer who kept a v2 root check (a meta from before the upgrade) could
// put it back, with the digest removed, and have store protect digest the
// records it had put back or deleted; a directory with the marker refuses
// a v2 store instead.
const digestedMarker = "records-digested"

// checkProtectedMarker refuses a store whose records are not authenticated
// (its root check v1) if dataDir has opened it authenticated before, and
// one not digested (v1 or v2) if dataDir has opened it digested.
func (s *Service) checkProtectedMarker(dataDir string) error {
	if dataDir == "" || s.auth.Digested() {
		return nil
	}
	if !s.auth.Required() {
		p := filepath.Join(dataDir, protectedMarker)
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%w: %s says this data directory opened the store with its records authenticated, and the store's root check is now one from before (v1): a database writer put back an old value, to have records it changed MACed by this Open; nothing was written. Restore the store from a backup, then rotate the root key (every old value stops opening)", ErrStoreDamaged, p)
		}
	}
	p := filepath.Join(dataDir, digestedMarker)
	if _, err := os.Stat(p); err == nil {
		return fmt.Errorf("%w: %s says this data directory opened the store with its records digested, and the store's root check is now one from before the records digest: a database writer put back an old value, to have records it put back or deleted digested; nothing was written. Restore the store from a backup, then rotate the root key (every old value stops opening)", ErrStoreDamaged, p)
	}
	return nil // never authenticated (or digested) here: a store to protect
}

// markProtected writes dataDir's markers once the store is authenticated
// and digested (nothing without a data directory, or if they are there).
func markProtected(dataDir string) error {
	if dataDir == "" {
		return nil
	}
	for _, m := range []struct{ name, text string }{
		{protectedMarker, "this directory opened its store with every record authenticated (docs/rootkey.md): a store whose root check is older is refused\n"},
		{digestedMarker, "this directory opened its store with its records digested (docs/rootkey.md): a store whose root check is older is refused\n"},
	} {
		p := filepath.Join(dataDir, m.name)
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if err := writeFileSync(p, []byte(m.text), 0o600); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	return nil
}
