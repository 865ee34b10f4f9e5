package kms

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
	"github.com/attestkms/attestkms/kms/internal/store/postgres"
)

// StoreCheck is what CheckStore found in a sound store.
type StoreCheck struct {
	// Pages reports whether the storage's pages were checked: bbolt's own
	// consistency check of every page. A PostgreSQL store has no page check
	// here (its own tools check its files).
	Pages bool
	// Counts of the records read, each of which decoded and whose sealed
	// values opened under the root key.
	Keys, Materials, Aliases, Credentials int
	// Authenticated reports whether every record carries a MAC that
	// verified (protect.go). False: a store made before records were
	// authenticated that no server has opened since (the next Open MACs
	// them); its records were checked as before, unauthenticated.
	Authenticated bool
	// Digested reports whether the store keeps a records digest (root
	// check v3) and its records are those it sums; DigestGeneration is
	// the digest's generation (changes that wrote records since it was
	// made). False: a store made before the digest (store protect makes
	// it).
	Digested         bool
	DigestGeneration uint64
}

// CheckStore checks the whole store opts names, while no server holds it
// (an embedded store is opened read-only: ErrStoreInUse while a server
// runs; a shared one is read in one transaction): bbolt's consistency
// check of every page, then every record: the meta and the root key's
// check (ErrRootKeyMismatch), every key (its record decodes, its policy is
// kept as it is, every version of its material opens under the root key
// and is material of its spec), every alias (it names a key that exists)
// and every credential (its secret opens), and every record's MAC
// (protect.go), and the records against the records digest (a record
// deleted, put back or added outside attestkms). The first bad record is
// ErrStoreDamaged naming it; records whose MACs fail are all named,
// ErrStoreDamaged wrapping store.ErrIntegrity, as a digest that does not
// sum the records is. Nothing is written.
func CheckStore(ctx context.Context, opts Options) (*StoreCheck, error) {
	sp, err := opts.storeSpec()
	if err != nil {
		return nil, err
	}
	var st store.Store
	rep := &StoreCheck{}
	if sp.shared() {
		sctx, cancel := context.WithTimeout(ctx, sharedOpenTimeout)
		defer cancel()
		if st, err = postgres.Open(sctx, sp.url, postgres.Options{Password: opts.StorePassword}); err != nil {
			return nil, err
		}
	} else {
		if err := existingStore(opts, sp); err != nil {
			return nil, err
		}
		bst, err := openReadOnly(sp.path)
		switch {
		case errors.Is(err, ErrStoreInUse):
			return nil, fmt.Errorf("%w (stop the running server first)", err)
		case err != nil:
			return nil, err
		}
		st = bst
		if err := bst.CheckPages(ctx); err != nil {
			st.Close()
			return nil, err
		}
		rep.Pages = true
	}
	defer st.Close()
	sl, err := openRoot(opts)
	if err != nil {
		return nil, err
	}
	defer sl.Close()
	// The data directory's records digest, read before the read of the
	// store begins (a shared store's node may note a newer one meanwhile,
	// which the read's snapshot need not hold), as Maintain reads it.
	var seen seenDigest
	var seenErr error
	if opts.DataDir != "" && checkDigest {
		seen, seenErr = readSeen(filepath.Join(opts.DataDir, recordsGenMarker))
	}
	err = st.View(ctx, func(r store.Reader) error { return checkRecords(r, sl, opts, seen, seenErr, rep) })
	if !sp.shared() {
		err = damagedAt(err, sp.path)
	}
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// existingStore is nil if the embedded store sp exists, else why not.
func existingStore(opts Options, sp storeSpec) error {
	if _, err := os.Stat(sp.path); err != nil {
		if err := missingStore(opts, sp.path); err != nil {
			return err
		}
		return fmt.Errorf("%w: %s", ErrNotInitialised, sp.path)
	}
	return nil
}

// checkRecords reads and opens every record of r (CheckStore); seen is
// the data directory's records digest (readSeen's, and its error), read
// before r's read began.
func checkRecords(r store.Reader, sl *sealer.Sealer, opts Options, seen seenDigest, seenErr error, rep *StoreCheck) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrStoreDamaged, fmt.Sprintf(format, args...))
	}
	m, err := r.Meta()
	if err != nil {
		return err
	}
	if m.AccountID == "" || m.ProjectID == "" {
		return bad("the meta record has no account")
	}
	if err := checkRoot(sl, m, opts); err != nil {
		return err
	}
	// Every record's MAC, every failure named: a v2 or v3 root check requires
	// one on every record; a v1 store has none yet.
	v, err := store.RootCheckVersion(sl, m)
	if err != nil {
		return err
	}
	required := v >= 2
	var forged []string
	if err := store.VerifyMAC(m, required, sl); err != nil {
		forged = append(forged, integrityDetail(err))
	}
	defer func() {
		rep.Authenticated = required && len(forged) == 0
	}()
	// A store made before answers were signed has none until a server
	// opens it; a set that is there must open.
	if len(m.ServiceKeys) > 0 {
		if _, err := openServiceKeyRecords(sl, m.ServiceKeys); err != nil {
			return err
		}
	}
	if _, err := r.AuditChangeSeq(""); err != nil {
		return err
	}
	const batch = 100
	keys := map[string]bool{}
	for start := ""; ; {
		recs, err := r.Keys(start, batch)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if rec.ID == start && start != "" {
				continue
			}
			if err := store.VerifyMAC(rec, required, sl); err != nil {
				forged = append(forged, integrityDetail(err))
			}
			k := &key{rec: rec}
			err := k.open(sl)
			k.zero()
			if err != nil {
				return bad("%v", err)
			}
			keys[rec.ID] = true
			rep.Keys++
			rep.Materials += len(rec.Materials)
		}
		if len(recs) < batch {
			break
		}
		start = recs[len(recs)-1].ID
	}
	for start := ""; ; {
		recs, err := r.Aliases(start, batch)
		if err != nil {
			return err
		}
		for _, a := range recs {
			if a.Name == start && start != "" {
				continue
			}
			if err := store.VerifyMAC(a, required, sl); err != nil {
				forged = append(forged, integrityDetail(err))
			}
			if !keys[a.KeyID] {
				return bad("stored alias %q names key %q, which the store does not hold", a.Name, a.KeyID)
			}
			rep.Aliases++
		}
		if len(recs) < batch {
			break
		}
		start = recs[len(recs)-1].Name
	}
	creds, err := r.Credentials()
	if err != nil {
		return err
	}
	for _, c := range creds {
		if err := store.VerifyMAC(c, required, sl); err != nil {
			forged = append(forged, integrityDetail(err))
		}
		secret, err := store.OpenCredential(sl, c)
		if errors.Is(err, sealer.ErrUnavailable) {
			return err
		}
		if err != nil {
			return bad("stored credential %q does not open under the root key that opens the store: %v", c.AccessKeyID, err)
		}
		clear(secret)
		rep.Credentials++
	}
	if len(forged) > 0 {
		return fmt.Errorf("%w: %w: %d records (the database was changed outside attestkms): %s", ErrStoreDamaged, store.ErrIntegrity, len(forged), strings.Join(forged, "; "))
	}
	if v >= 3 {
		d, err := store.VerifyDigest(r, sl)
		if err != nil {
			return integrityDamage(err)
		}
		rep.DigestGeneration = d.Generation
		// The whole store put back to an older copy, as Open refuses it
		// (digest.go): the data directory has seen a newer digest, or
		// one of another history.
		if opts.DataDir != "" && checkDigest {
			if seenErr != nil {
				return seenErr
			}
			if err := checkSeen(d, seen, filepath.Join(opts.DataDir, recordsGenMarker)); err != nil {
				return err
			}
		}
		rep.Digested = true
	}
	return nil
}

// readStore runs fn in one read transaction of the store opts names, with
// its root key, while no server holds it (an embedded store is opened
// read-only: ErrStoreInUse while a server runs).
func readStore(ctx context.Context, opts Options, fn func(store.Reader, *sealer.Sealer) error) error {
	sp, err := opts.storeSpec()
	if err != nil {
		return err
	}
	var st store.Store
	if sp.shared() {
		sctx, cancel := context.WithTimeout(ctx, sharedOpenTimeout)
		defer cancel()
		if st, err = postgres.Open(sctx, sp.url, postgres.Options{Password: opts.StorePassword}); err != nil {
			return err
		}
	} else {
		if err := existingStore(opts, sp); err != nil {
			return err
		}
		bst, err := openReadOnly(sp.path)
		switch {
		case errors.Is(err, ErrStoreInUse):
			return fmt.Errorf("%w (stop the running server first, or ask it: GET /service-key)", err)
		case err != nil:
			return err
		}
		st = bst
	}
	defer st.Close()
	sl, err := openRoot(opts)
	if err != nil {
		return err
	}
	defer sl.Close()
	// Records verified as they are read, as a server reads them.
	err = store.Authenticate(st, sl, nil).View(ctx, func(r store.Reader) error { return fn(r, sl) })
	if errors.Is(err, store.ErrRootKey) {
		err = fmt.Errorf("%w (%s; a store rotated to another root key opens only under that one)", ErrRootKeyMismatch, opts.rootKeyName())
	}
	if !sp.shared() {
		err = damagedAt(err, sp.path)
	}
	return err
}

// integrityDetail is what an *store.IntegrityError says of its record.
func integrityDetail(err error) string {
	var ie *store.IntegrityError
	if errors.As(err, &ie) {
		return ie.Record + ": " + ie.Reason
	}
	return err.Error()
}
