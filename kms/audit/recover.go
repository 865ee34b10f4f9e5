package audit

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// recover finds the end of the chain and what Open must write before any
// other line: Open's work before the writer starts (the package doc).
func (l *Log) recover() error {
	path := l.opts.Path
	// A rotation stopped after the old file was renamed and before the new
	// one took its place: finish it.
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(path + rotatedSuffixNew); err == nil {
			if err := os.Rename(path+rotatedSuffixNew, path); err != nil {
				return err
			}
		}
	} else if err != nil {
		return err
	} else {
		os.Remove(path + rotatedSuffixNew) // a rotation stopped before it renamed anything
	}
	// The journal first: what it puts back is read as if never lost.
	l.j.path = JournalPath(path)
	notes, err := l.replay()
	if err != nil {
		return err
	}
	_, serr := os.Stat(path)
	f, err := l.open(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	l.f = f
	if errors.Is(serr, fs.ErrNotExist) {
		syncDir(path) // made: its lines are durable only if it is
	}
	if err := l.findHead(); err != nil {
		f.Close()
		return err
	}
	for _, rec := range notes {
		l.pending = append(l.pending, l.own(rec))
	}
	// The records just replayed (or refused) must not be followed by new
	// ones: the first commit, of Open's own lines or of the first durable
	// line, is a checkpoint. Until then they are harmless (replaying them
	// again changes nothing; refused, they stay refused), and an Open that
	// writes nothing writes nothing to the journal either (a start refused
	// for a damaged store leaves the data directory as it was).
	l.j.stale = true
	return nil
}

func (l *Log) findHead() error {
	path, storeSeq := l.opts.Path, l.opts.ChangeSeq
	t, err := scanTail(path, storeSeq)
	if err != nil {
		return err
	}
	if t.torn > 0 {
		if err := l.f.Truncate(t.end); err != nil {
			return err
		}
		l.pending = append(l.pending, l.own(&Record{Operation: opOpen, Outcome: OK,
			Message: fmt.Sprintf("removed an unfinished last line of %d bytes: a write the server did not finish before it stopped (no request was answered on it)", t.torn)}))
	}
	l.written = head{size: t.end}
	switch {
	case t.found:
		l.written.seq, l.written.hash = t.seq, t.hash
	case t.end > 0:
		// Lines of an attestkms from before the chain: the anchor covers
		// them with their hash.
		sum, err := hashPrefix(path, t.end)
		if err != nil {
			return err
		}
		l.anchor(&sum, 1, "the chain starts here: the lines above it were written before it, and its prev is their SHA-256")
	default:
		// An empty file: the chain goes on from the newest rotated file.
		s, err := newestSibling(path, storeSeq)
		if err != nil {
			return err
		}
		if s != nil {
			t = s
			l.written.seq, l.written.hash = s.seq, s.hash
			l.pending = append(l.pending, l.own(&Record{Operation: opOpen, Outcome: OK,
				Message: "continues " + filepath.Base(s.name) + ", the newest file of the log: " + filepath.Base(path) + " was empty or missing"}))
			break
		}
		if storeSeq == 0 {
			l.anchor(nil, 1, "a new audit log")
		} else {
			l.anchor(nil, storeSeq+1, fmt.Sprintf("no audit file was found at %s or beside it, but the store has committed changes up to the one recorded at seq %d: the log before this line is missing", path, storeSeq))
		}
	}
	l.synced = l.written
	l.resolve(t)
	return nil
}

// anchor starts a chain at seq with a random anchor: its first line's prev
// is the anchor, or prev if given.
func (l *Log) anchor(prev *[32]byte, seq uint64, msg string) {
	var a [32]byte
	rand.Read(a[:])
	if prev == nil {
		prev = &a
	}
	l.written.seq, l.written.hash = seq-1, *prev
	l.pending = append(l.pending, l.own(&Record{Operation: opStart, Outcome: OK, Message: msg, Anchor: hexHash(a)}))
}

// resolve settles the newest change record t found (the package doc): a
// record above the store's change seq is voided, a voided one that is the
// store's is reinstated, and a log that ends below the store's is said to.
func (l *Log) resolve(t *tailInfo) {
	storeSeq := l.opts.ChangeSeq
	if t.found && t.seq < storeSeq {
		l.pending = append(l.pending, l.own(&Record{Operation: opOpen, Outcome: Error,
			Message: fmt.Sprintf("the store has committed the change recorded at seq %d, but the audit log ends at seq %d: its newest lines are missing", storeSeq, t.seq)}))
	}
	c := t.change
	switch {
	case c == nil:
	case c.Seq > storeSeq && !t.voided:
		v := l.line(&Record{RequestID: c.RequestID, AccessKeyID: c.AccessKeyID, Principal: c.Principal, SourceIP: c.SourceIP,
			Dialect: c.Dialect, Operation: c.Operation, KeyARN: c.KeyARN, SourceKeyARN: c.SourceKeyARN, Credential: c.Credential, Outcome: Error,
			Message: "the change was not committed: the server stopped between its record and its commit", Voids: c.Seq})
		v.keep, v.resolves = true, true
		l.inflight++
		l.pending = append(l.pending, v)
	case c.Seq == storeSeq && t.voided && !t.reinstated:
		r := l.line(&Record{RequestID: c.RequestID, AccessKeyID: c.AccessKeyID, Principal: c.Principal, SourceIP: c.SourceIP,
			Dialect: c.Dialect, Operation: c.Operation, KeyARN: c.KeyARN, SourceKeyARN: c.SourceKeyARN, Outcome: OK,
			Message: "the change did commit: its commit failed after reaching the disk, so the line voiding it was wrong", Reinstates: c.Seq})
		r.keep = true
		l.pending = append(l.pending, r)
	}
}
