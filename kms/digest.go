package kms

import (
	"context"
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
// included (every sum then agrees), the data directory keeps the highest
// generation of the digest it has seen (recordsGenMarker: at Open, at each
// maintenance pass, after each change, at Close): a store whose digest is
// older is refused — by Open, a pass, store check, a backup, and every
// change, which would otherwise carry the older digest's generation on
// past what the directory saw — as the service key set's generation is
// (servicekey.go). A copy taken
// after the last of those, or a data directory without the file (a new
// node's), cannot tell.

// checkDigest turns the comparison off when false: only for the tests of
// the defences behind it (a record refused on its own, at the request that
// reads it: what a node serves between two passes), whose tampering the
// digest would otherwise find first.
var checkDigest = true

// recordsGenMarker is the file, in a data directory, that holds the highest
// generation of the records digest this directory's node has verified.
const recordsGenMarker = "records-generation"

// digestGen compares r's records with its digest, and the digest's
// generation with seen, the highest the data directory had seen before r's
// read began (seenGen, read first: a change that commits meanwhile notes a
// newer one, which r's snapshot need not hold), and returns the
// generation (0: nothing to compare). It writes nothing.
func (s *Service) digestGen(r store.Reader, seen uint64) (uint64, error) {
	if !s.auth.Digested() || !checkDigest {
		return 0, nil
	}
	if err := store.VerifyDigest(r); err != nil {
		return 0, integrityDamage(err)
	}
	gen, err := store.DigestGeneration(r)
	if err != nil {
		return 0, integrityDamage(err)
	}
	if gen < seen {
		return 0, rolledBack(gen, seen, filepath.Join(s.opts.DataDir, recordsGenMarker))
	}
	return gen, nil
}

// seenGen is the highest generation of the records digest the data
// directory has seen (0: none, or no data directory).
func (s *Service) seenGen() (uint64, error) {
	if s.opts.DataDir == "" || !checkDigest {
		return 0, nil
	}
	s.recordsGenMu.Lock()
	defer s.recordsGenMu.Unlock()
	return readGenFile(filepath.Join(s.opts.DataDir, recordsGenMarker))
}

// verifyDigest is digestGen in a read of its own (Open, and tests): it
// writes nothing (Open notes the generation once nothing refused it).
func (s *Service) verifyDigest(ctx context.Context) (gen uint64, err error) {
	seen, err := s.seenGen()
	if err != nil {
		return 0, err
	}
	err = s.view(ctx, func(r store.Reader) error {
		gen, err = s.digestGen(r, seen)
		return err
	})
	return gen, err
}

// noteRecordsGen raises the data directory's generation to gen (nothing if
// it is there already, or higher: a change noted a newer one meanwhile).
// Failures are logged: the file hardens later checks, it decides nothing
// now.
func (s *Service) noteRecordsGen(gen uint64) {
	if s.opts.DataDir == "" || gen == 0 {
		return
	}
	s.recordsGenMu.Lock()
	defer s.recordsGenMu.Unlock()
	p := filepath.Join(s.opts.DataDir, recordsGenMarker)
	seen, err := readGenFile(p)
	if err == nil && gen <= seen {
		return
	}
	if err == nil {
		err = putFileSync(p, []byte(strconv.FormatUint(gen, 10)+"\n"), 0o600, os.Rename)
	}
	if err != nil {
		s.log.Error("recording the records digest's generation", "file", p, "err", err)
	}
}

// rolledBack is the refusal of a store whose digest, of generation gen, is
// older than the generation seen that file p holds.
func rolledBack(gen, seen uint64, p string) error {
	return fmt.Errorf("%w: the store's records digest is of generation %d, and this data directory has seen generation %d (%s): the whole store was put back to an older copy outside attestkms (a key deleted, disabled or re-policied since, a credential revoked since, would be back); nothing was written. Restore the store from a backup into a new data directory, then rotate the root key (every older copy then stops opening)", ErrStoreDamaged, gen, seen, p)
}

// readGenFile is the generation file p holds, 0 if there is none.
func readGenFile(p string) (uint64, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 32)) // a decimal uint64 and a newline; more is not ours
	if err != nil {
		return 0, err
	}
	gen, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s does not hold a generation: %v", ErrStoreDamaged, p, err)
	}
	return gen, nil
}

// noteGeneration records the digest's generation as the store has it now,
// so that the changes made since the last pass are part of what the data
// directory remembers (Close). Failures are logged: the file hardens later
// Opens, it decides nothing now.
func (s *Service) noteGeneration() {
	if s.opts.DataDir == "" || !s.auth.Digested() || !checkDigest {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var gen uint64
	err := s.view(ctx, func(r store.Reader) error {
		var err error
		gen, err = store.DigestGeneration(r)
		return err
	})
	if err != nil {
		s.log.Warn("recording the records digest's generation at close", "err", err)
		return
	}
	s.noteRecordsGen(gen)
}

// setDamaged makes the node refuse every operation with err (nil: serve
// again), and reports whether that changed anything.
func (s *Service) setDamaged(err error) bool {
	if err == nil {
		return s.damaged.Swap(nil) != nil
	}
	prev := s.damaged.Swap(&err)
	return prev == nil
}

// damage is why the node refuses every operation, or nil.
func (s *Service) damage() error {
	if p := s.damaged.Load(); p != nil {
		return *p
	}
	return nil
}
