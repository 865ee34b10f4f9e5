package kms

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// The records digest (store/digest.go; docs/rootkey.md, "Rollback and
// deletion"): every change keeps it current in its own transaction, and
// the service compares the store's records with it
//
//   - when it opens the store (Open refuses a store whose records are not
//     those it sums: ErrStoreDamaged, nothing written);
//   - at each maintenance pass, in the same read as the pass over every key
//     (Maintain): the node that finds a difference refuses every operation
//     from then on (ErrInternal naming the damage; Ready says it too),
//     until a later pass finds the records whole again (the store restored
//     from a backup) — a record put back or deleted is served only until
//     the next pass, at most --maintain-every (a minute) after;
//   - in attestkms store check.
//
// Against the whole store put back to an older copy, digest and meta
// included (every sum then agrees), the data directory keeps the newest
// digest it has seen, its generation and MAC (recordsGenMarker: at Open,
// at each maintenance pass, after each change, at Close): a store whose
// digest is older, or does not descend from it (store.RecordsDigest's
// Descends: each digest names the RecentLinks before it), is refused — by
// Open, a pass, store check, a backup, and every change, which would
// otherwise carry the older digest's generation on past what the directory
// saw — as the service key set's generation is (servicekey.go). The MAC
// and the history are for a shared store: put back to a generation one
// node never passed, the store is carried past another node's generation
// by the first node's changes, and only the history tells the other node
// that the digest it sees is not a descendant of the one it saw. A copy
// taken after the last of those checks, a data directory without the file
// (a new node's), or a node that saw nothing for RecentLinks changes,
// cannot tell.

// checkDigest turns the comparison off when false: only for the tests of
// the defences behind it (a record refused on its own, at the request that
// reads it: what a node serves between two passes), whose tampering the
// digest would otherwise find first.
var checkDigest = true

// recordsGenMarker is the file, in a data directory, that holds the
// newest records digest this directory's node has verified: its generation
// and its MAC, in hex ("GEN MAC"; a file of an earlier version holds the
// generation alone).
const recordsGenMarker = "records-generation"

// seenDigest is what a data directory remembers of the newest records
// digest its node verified (recordsGenMarker).
type seenDigest struct {
	gen uint64
	mac []byte // nil: not known (none yet, or a file that held none)
}

// checkSeen refuses d, the store's records digest, if it is older than
// seen, or of another history: a digest of seen's generation that is not
// the one seen, or a newer one whose Recent names another (the store put
// back to an older copy, then changed by a node that had not seen the
// newer: generations alone would not tell them apart). p names the file.
func checkSeen(d *store.RecordsDigest, seen seenDigest, p string) error {
	if d.Generation < seen.gen {
		return rolledBack(d.Generation, seen.gen, p)
	}
	if seen.mac == nil {
		return nil
	}
	if descends, known := d.Descends(seen.gen, seen.mac); known && !descends {
		return fmt.Errorf("%w%w: the store's records digest (generation %d) does not descend from the one of generation %d this data directory saw (%s): the store was put back to an older copy outside attestkms and changed since (a key deleted, disabled or re-policied, a credential revoked, would be back); nothing was written. Restore the store from a backup into a new data directory, then rotate the root key (every older copy then stops opening)", ErrStoreDamaged, errOtherHistory, d.Generation, seen.gen, p)
	}
	return nil
}

// checkedDigest compares r's records with its digest, and the digest with
// seen, the newest the data directory had seen before r's read began
// (seenDigest, read first: a change that commits meanwhile notes a newer
// one, which r's snapshot need not hold), and returns the digest (nil:
// nothing to compare). It writes nothing.
func (s *Service) checkedDigest(r store.Reader, seen seenDigest) (*store.RecordsDigest, error) {
	if !s.auth.Digested() || !checkDigest {
		return nil, nil
	}
	d, err := store.VerifyDigest(r)
	if err != nil {
		return nil, integrityDamage(err)
	}
	if err := checkSeen(d, seen, filepath.Join(s.opts.DataDir, recordsGenMarker)); err != nil {
		return nil, err
	}
	return d, nil
}

// seenDigest is the newest records digest the data directory has seen
// (zero: none, or no data directory): the file's, read once, then kept in
// memory, which a followed change raises before the file (noteDigest).
func (s *Service) seenDigest() (seenDigest, error) {
	if s.opts.DataDir == "" || !checkDigest {
		return seenDigest{}, nil
	}
	s.recordsGenMu.Lock()
	defer s.recordsGenMu.Unlock()
	if err := s.loadSeenLocked(); err != nil {
		return seenDigest{}, err
	}
	return s.seen, nil
}

// loadSeenLocked reads the file into s.seen the first time (recordsGenMu
// held).
func (s *Service) loadSeenLocked() error {
	if s.seenLoaded {
		return nil
	}
	seen, err := readSeen(filepath.Join(s.opts.DataDir, recordsGenMarker))
	if err != nil {
		return err
	}
	s.seen, s.seenLoaded = seen, true
	return nil
}

// verifyDigest is checkedDigest in a read of its own (Open, and tests): it
// writes nothing (Open notes the digest once nothing refused it).
func (s *Service) verifyDigest(ctx context.Context) (d *store.RecordsDigest, err error) {
	seen, err := s.seenDigest()
	if err != nil {
		return nil, err
	}
	err = s.view(ctx, func(r store.Reader) error {
		d, err = s.checkedDigest(r, seen)
		return err
	})
	return d, err
}

// noteDigest raises the data directory's digest to d, in memory and in
// its file (nothing if it holds d, or a newer one: a change noted a newer
// one meanwhile). Failures are logged: the file hardens later checks, it
// decides nothing now.
func (s *Service) noteDigest(d *store.RecordsDigest) { s.noteDigestAs(d, true) }

// seenPersistDelay is how long a digest noted by following another node's
// change (followDigest) may stay in memory before the file holds it:
// every node writes its file for its own changes at once, and at most
// once this often for the others' (a credential's stream of changes is
// not one synced write a change on every node).
const seenPersistDelay = time.Second

// noteDigestAs is noteDigest, the file written at once (persist) or within
// seenPersistDelay.
func (s *Service) noteDigestAs(d *store.RecordsDigest, persist bool) {
	if s.opts.DataDir == "" || d == nil || d.Generation == 0 || !checkDigest || s.history.Load() != nil {
		return
	}
	s.recordsGenMu.Lock()
	defer s.recordsGenMu.Unlock()
	if err := s.loadSeenLocked(); err != nil {
		s.log.Error("recording the records digest's generation", "err", err)
		return
	}
	if d.Generation > s.seen.gen || d.Generation == s.seen.gen && s.seen.mac == nil {
		s.seen = seenDigest{gen: d.Generation, mac: bytes.Clone(d.MAC)}
		s.seenDirty = true
	}
	switch {
	case !s.seenDirty:
	case persist:
		s.persistSeenLocked()
	case s.seenTimer == nil:
		s.seenTimer = time.AfterFunc(seenPersistDelay, s.persistSeen)
	}
}

// persistSeen writes the digest noted in memory to the file, if the file
// does not hold it yet (Close, and seenPersistDelay after a followed one).
func (s *Service) persistSeen() {
	s.recordsGenMu.Lock()
	defer s.recordsGenMu.Unlock()
	s.persistSeenLocked()
}

// persistSeenLocked is persistSeen with recordsGenMu held.
func (s *Service) persistSeenLocked() {
	if s.seenTimer != nil {
		s.seenTimer.Stop()
		s.seenTimer = nil
	}
	if !s.seenDirty {
		return
	}
	p := filepath.Join(s.opts.DataDir, recordsGenMarker)
	if err := putFileSync(p, []byte(strconv.FormatUint(s.seen.gen, 10)+" "+hex.EncodeToString(s.seen.mac)+"\n"), 0o600, os.Rename); err != nil {
		s.log.Error("recording the records digest's generation", "file", p, "err", err)
		return
	}
	s.seenDirty = false
}

// rolledBack is the refusal of a store whose digest, of generation gen, is
// older than the generation seen that file p holds.
func rolledBack(gen, seen uint64, p string) error {
	return fmt.Errorf("%w%w: the store's records digest is of generation %d, and this data directory has seen generation %d (%s): the whole store was put back to an older copy outside attestkms (a key deleted, disabled or re-policied since, a credential revoked since, would be back); nothing was written. Restore the store from a backup into a new data directory, then rotate the root key (every older copy then stops opening)", ErrStoreDamaged, errOtherHistory, gen, seen, p)
}

// readSeen is the digest file p holds (zero if there is none): "GEN MAC"
// in hex, or "GEN" alone.
func readSeen(p string) (seenDigest, error) {
	refused := filepath.Join(filepath.Dir(p), historyMarker)
	if b, err := readBounded(refused, 4096); err == nil {
		return seenDigest{}, fmt.Errorf("%w%w: this data directory's node refused the store's history earlier (%s says why: %s); it serves that store no more. Restore the store from a backup into a new data directory, then rotate the root key", ErrStoreDamaged, errOtherHistory, refused, strings.TrimSpace(string(b)))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return seenDigest{}, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return seenDigest{}, nil
	}
	if err != nil {
		return seenDigest{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 128)) // a decimal uint64, 64 hex digits and a newline; more is not ours
	if err != nil {
		return seenDigest{}, err
	}
	bad := func(why error) error {
		return fmt.Errorf("%w: %s does not hold a generation and a MAC: %v", ErrStoreDamaged, p, why)
	}
	genText, macText, hasMAC := strings.Cut(strings.TrimSpace(string(b)), " ")
	var seen seenDigest
	if seen.gen, err = strconv.ParseUint(genText, 10, 64); err != nil {
		return seenDigest{}, bad(err)
	}
	if hasMAC {
		if seen.mac, err = hex.DecodeString(macText); err != nil || len(seen.mac) != 32 {
			return seenDigest{}, bad(fmt.Errorf("MAC %q", macText))
		}
	}
	return seen, nil
}

// followDigest reads the records digest another node's change left (one
// row, no pass over the records: follow.go calls it for every change it is
// told of) and compares it with the newest the data directory saw: one
// older, or not descending from it — the store put back whole and changed
// since, which a node that never saw the newer would carry on unseen —
// makes the node refuse every operation, as a pass that found it would;
// else the directory notes it, so that every node remembers every
// change's digest within the follow bound, not only its own. A read that
// fails is left to the next pass (a digest that does not verify: a
// root-key rotation, whose new key the node learns by its meta).
func (s *Service) followDigest(ctx context.Context) {
	if !s.auth.Digested() || !checkDigest {
		return
	}
	seen, err := s.seenDigest() // before the read: its snapshot is newer
	if err != nil {
		return
	}
	var d *store.RecordsDigest
	err = s.view(ctx, func(r store.Reader) error {
		var err error
		d, err = store.ReadDigest(r)
		return err
	})
	if err != nil {
		return
	}
	if err := checkSeen(d, seen, filepath.Join(s.opts.DataDir, recordsGenMarker)); err != nil {
		if s.setDamaged(err) {
			s.log.Error("the store's records digest is not one this node's data directory saw come before it: refusing every operation", "err", err)
		}
		return
	}
	s.noteDigestAs(d, false)
}

// noteGeneration records the store's digest as it is now, so that the
// changes made since the last pass are part of what the data directory
// remembers (Close): only a digest that descends from the one the
// directory saw (checkSeen), or the directory would take a store put back
// and changed since by another node for its own, and the next Open would
// serve it. Failures are logged: the file hardens later Opens, it decides
// nothing now.
func (s *Service) noteGeneration() {
	if s.opts.DataDir == "" || !s.auth.Digested() || !checkDigest {
		return
	}
	seen, err := s.seenDigest() // before the read: its snapshot is newer
	if err != nil {
		s.log.Warn("recording the records digest's generation at close", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var d *store.RecordsDigest
	err = s.view(ctx, func(r store.Reader) error {
		var err error
		if d, err = store.ReadDigest(r); err != nil {
			return err
		}
		return checkSeen(d, seen, filepath.Join(s.opts.DataDir, recordsGenMarker))
	})
	if err != nil {
		s.log.Error("recording the records digest's generation at close", "err", err)
		s.persistSeen() // what was noted in memory, verified then
		return
	}
	s.noteDigest(d)
}

// errOtherHistory marks checkSeen's refusals: the store's records digest
// is older than one this data directory saw, or does not descend from it.
// Its message is empty: it adds nothing to the refusal's text.
var errOtherHistory = errors.New("")

// historyMarker is the file, in a data directory, that says its node
// refused the store's history (errOtherHistory), with why. readSeen refuses
// while it is there, so that neither a pass nor a restart serves that store
// again: once the put-back store has been carried on for more than
// store.RecentLinks changes (by a node with a new data directory), its
// digest no longer names the one this directory saw, and checkSeen alone
// would take it. A new data directory is the way back (the refusal's
// text says how).
const historyMarker = "records-history-refused"

// setDamaged makes the node refuse every operation with err (not nil),
// and reports whether it served until then. A refusal of the store's
// history stays (history, historyMarker): clearDamaged does not clear it.
// Every call counts one more finding (damageSeq), whoever found it: a pass
// whose read began before may no longer clear the node's damage.
func (s *Service) setDamaged(err error) bool {
	if errors.Is(err, errOtherHistory) && s.history.CompareAndSwap(nil, &err) && s.opts.DataDir != "" {
		p := filepath.Join(s.opts.DataDir, historyMarker)
		if werr := putFileSync(p, []byte(err.Error()+"\n"), 0o600, os.Rename); werr != nil {
			s.log.Error("recording that the store's history was refused", "file", p, "err", werr)
		}
	}
	s.damageMu.Lock()
	defer s.damageMu.Unlock()
	s.damageFound++
	prev := s.damaged.Swap(&err)
	return prev == nil
}

// damageSeq counts the damage found so far (setDamaged): what a pass notes
// before its read begins, for clearDamaged.
func (s *Service) damageSeq() uint64 {
	s.damageMu.Lock()
	defer s.damageMu.Unlock()
	return s.damageFound
}

// clearDamaged makes the node serve again, for a pass that found the
// records whole in a read that began when damageSeq was since, and reports
// whether that changed anything (a refusal of the store's history stays).
// Damage found since then (by another pass, the follower, a change) stays:
// the pass's snapshot may predate the record put back that it names, and
// clearing it would serve that record until the next pass. The next pass,
// whose read begins after it, decides.
func (s *Service) clearDamaged(since uint64) bool {
	s.damageMu.Lock()
	defer s.damageMu.Unlock()
	if s.damageFound != since {
		return false
	}
	return s.damaged.Swap(nil) != nil && s.history.Load() == nil
}

// damage is why the node refuses every operation, or nil.
func (s *Service) damage() error {
	if p := s.history.Load(); p != nil {
		return *p
	}
	if p := s.damaged.Load(); p != nil {
		return *p
	}
	return nil
}

// readBounded reads at most max bytes of the file at p.
func readBounded(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}
