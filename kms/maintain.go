package kms

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// maintenanceLock is the store-wide lock (Store.TryLock) Maintain holds.
const maintenanceLock = "maintain"

// MaintenanceResult counts what Maintain did.
type MaintenanceResult struct {
	Destroyed int // keys whose deletion date passed
	Rotated   int // keys rotated automatically
	// Refused counts the key records that failed their integrity check
	// (docs/rootkey.md): left alone, each logged, the others maintained.
	Refused int
}

// Maintain compares the store's records with their digest (digest.go: a
// difference makes this node refuse every operation until a pass finds
// them whole again, and is Maintain's error, with nothing changed),
// destroys keys whose deletion window has ended and rotates keys
// whose rotation date has come, each change with its audit record
// (request_id "maintain", dialect "admin"), and then, if keys were
// destroyed, compacts a store that can be (shred.go: a CompactStore
// record). The server calls it periodically; it is safe
// to call at any time. It runs once at a time across the processes that
// share the store (the store's lock "maintain"): while another holds it,
// Maintain only compares the records with their digest (digestPass), and
// changes nothing. A done ctx stops it before
// its next transaction, with what it did so far counted and ErrCanceled.
func (a *Admin) Maintain(ctx context.Context) (MaintenanceResult, error) {
	s := a.s
	if err := canceled(ctx); err != nil {
		return MaintenanceResult{}, err
	}
	var res MaintenanceResult
	// Once across the processes that share the store: another holder of
	// the lock is maintaining it now.
	release, err := s.st.TryLock(ctx, maintenanceLock)
	if errors.Is(err, store.ErrHeld) {
		// The records against their digest all the same: what this
		// node serves is this node's to check (digest.go), whoever
		// maintains the store.
		return res, s.digestPass(ctx)
	}
	if err != nil {
		return res, asKMSError(err)
	}
	defer release()
	var expired, due []string
	var damage error
	var digest *store.RecordsDigest
	seen, err := s.seenDigest() // before the read: its snapshot is newer
	if err != nil {
		return res, err
	}
	since := s.damageSeq() // before the read: judgePass
	// The read under one root key: a root-key rotation committing beside
	// it would leave its snapshot's digest and records MACed under a key
	// no longer accepted (found "forged", and the node refusing all).
	s.rootMu.RLock()
	err = s.view(ctx, func(r store.Reader) error {
		// Every key whose record verifies: one a database writer
		// changed is refused (and logged, by the Authenticated store)
		// but stops no other key's deletion or rotation.
		for start := ""; ; {
			good, bad, next, err := store.AuthenticKeys(r, start, 1000)
			if err != nil {
				return err
			}
			res.Refused += len(bad)
			for _, k := range good {
				switch {
				case s.expired(k):
					expired = append(expired, k.ID)
				case k.RotationEnabled && KeyState(k.State) == Enabled && k.NextRotation != nil && !s.now().Before(*k.NextRotation):
					due = append(due, k.ID)
				}
			}
			if next == "" {
				break
			}
			start = next
		}
		// The records against their digest, in the same read (digest.go).
		digest, damage = s.checkedDigest(r, seen)
		return nil
	})
	s.rootMu.RUnlock()
	if err != nil {
		return res, err
	}
	if err := s.judgePass(since, digest, damage); err != nil {
		return res, err
	}
	for _, id := range expired {
		if err := s.destroyKey(ctx, systemCall("maintain", "DestroyKey"), id); err != nil {
			return res, err
		}
		res.Destroyed++
	}
	for _, id := range due {
		c := systemCall("maintain", "RotateKey")
		c.noteKey(s.keyARN(c, id))
		c.op.message = "rotated automatically: its rotation period passed"
		err := s.updateKey(ctx, c, id, func(_ store.Reader, rec *store.Key) error {
			now := s.now().UTC().Truncate(time.Millisecond)
			if !rec.RotationEnabled || KeyState(rec.State) != Enabled || rec.NextRotation == nil || now.Before(*rec.NextRotation) {
				return errNoChange
			}
			if err := s.rotate(rec, now, RotationAutomatic); err != nil {
				return internal(err)
			}
			next := rec.NextRotation.Add(time.Duration(rec.RotationPeriodDays) * 24 * time.Hour)
			if next.Before(now) { // the server was down for whole periods
				next = now.Add(time.Duration(rec.RotationPeriodDays) * 24 * time.Hour)
			}
			rec.NextRotation = &next
			return nil
		})
		if err == errNoChange {
			continue
		}
		if err != nil {
			return res, err
		}
		res.Rotated++
	}
	// Destroyed keys (these, or a request's) leave nothing the root key
	// opens in the store's files (shred.go).
	if err := s.shred(ctx, "maintain"); err != nil {
		return res, err
	}
	return res, nil
}

// digestPass is Maintain's comparison of the records with their digest
// alone, in a read of its own (a node whose pass found another
// maintaining the store): a difference makes the node refuse every
// operation, records found whole again make it serve, as Maintain's.
func (s *Service) digestPass(ctx context.Context) error {
	seen, err := s.seenDigest() // before the read: its snapshot is newer
	if err != nil {
		return err
	}
	since := s.damageSeq() // before the read: judgePass
	var digest *store.RecordsDigest
	var damage error
	s.rootMu.RLock() // the read under one root key (Maintain's)
	err = s.view(ctx, func(r store.Reader) error {
		digest, damage = s.checkedDigest(r, seen)
		return nil
	})
	s.rootMu.RUnlock()
	if err != nil {
		return err
	}
	return s.judgePass(since, digest, damage)
}

// judgePass acts on a pass's comparison of the records with their digest
// (checkedDigest's digest and error, in a read that began when damageSeq
// was since): fail closed — the node serves nothing until a pass finds the
// records whole again (the store restored from a backup) — or note the
// digest and serve again. Records found whole do not clear damage found
// since the read began (clearDamaged): that damage is the pass's error,
// and Maintain changes nothing on a store found damaged.
func (s *Service) judgePass(since uint64, digest *store.RecordsDigest, damage error) error {
	if h := judgePassHook.Load(); h != nil {
		(*h)()
	}
	if h := s.history.Load(); h != nil {
		return *h // no pass clears it (historyMarker)
	}
	if damage != nil {
		s.setDamaged(damage)
		return damage
	}
	s.noteDigest(digest)
	if s.clearDamaged(since) {
		s.log.Warn("the store's records are those its digest sums again: serving")
	}
	return s.damage() // nil, unless found since the read began
}

// judgePassHook, if set, runs when a pass's read has ended, before its
// comparison is acted on (tests: a pass that ends late).
var judgePassHook atomic.Pointer[func()]
