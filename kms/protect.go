package kms

import (
	"context"
	"errors"
	"fmt"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// Record authentication (package store, mac.go; docs/rootkey.md, "Records
// are authenticated"). Every record kms reads goes through the
// Authenticated store (Service.auth), which refuses a record whose MAC
// under the root key does not verify: a database writer without the root
// key cannot change a key's policy or state, retarget an alias or rename a
// credential unseen. A store made by an older attestkms has no MACs: the
// first Open (which can write) MACs every record, in ONE change audited as
// ProtectRecords, and seals the root check v2 in the same change, which
// marks the store authenticated (from then on a record without a MAC is
// refused). A crash leaves the store as it was or MACed whole.

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
	return nil
}

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
