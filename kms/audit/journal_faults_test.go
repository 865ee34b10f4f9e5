package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Regression tests of a review of the journal: each failed before its fix.

// A checkpoint that fsyncs the log and then can neither rewrite nor remove
// the journal has made the batch durable: its waiters are told so, the
// log's own lines are written once, and the chain verifies. (Before: the
// waiter was told its line failed though it was fsynced, and Open's lines
// stayed pending and were written three times.)
func TestJournalUnremovableSyncedBatchSucceeds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	// The journal's path is a non-empty directory: neither openJournal nor
	// os.Remove can get rid of it (any failure of both does the same: EROFS,
	// EACCES on the directory, EIO).
	if err := os.MkdirAll(filepath.Join(JournalPath(path), "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Write(&Record{RequestID: "logged", Dialect: "aws", Operation: "Decrypt", Outcome: OK}); err != nil {
		t.Fatalf("Write: %v (its line was fsynced in the log)", err)
	}
	if err := l.Write(&Record{RequestID: "logged-2", Dialect: "aws", Operation: "Decrypt", Outcome: OK}); err != nil {
		t.Fatalf("second Write: %v", err)
	}
	l.Close()
	rep := mustVerify(t, path, VerifyOptions{})
	b, _ := os.ReadFile(path)
	if n := bytes.Count(b, []byte(`"operation":"StartAuditLog"`)); n != 1 {
		t.Errorf("the log's first line was written %d times:\n%s", n, b)
	}
	if rep.Lines != 4 || !bytes.Contains(b, []byte(`"request_id":"logged-2"`)) {
		t.Errorf("%d lines, want 4 (anchor, Open's note, two writes):\n%s", rep.Lines, b)
	}
}

// The same with a change record: the journal's sync fails, the commit's
// checkpoint fsyncs the log but can neither rewrite nor remove the journal.
// Change must succeed (its record is durable): before, it returned an
// error, the caller aborted, and the change:true record stayed in the log,
// never voided — a record of a change that did not happen.
func TestJournalUnremovableChangeSucceeds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	var faults syncFaults
	l := openLog(t, Options{Path: path, OpenFile: faults.open})
	writeN(t, l, 0, 1)
	faults.jfail.Store(1) // one fdatasync of the journal fails (EIO): commit checkpoints
	// The journal can no longer be replaced nor removed (here: a non-empty
	// directory put in its place; EROFS/EACCES/EIO do the same).
	os.Remove(JournalPath(path))
	if err := os.MkdirAll(filepath.Join(JournalPath(path), "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	c1, err := l.Change(&Record{RequestID: "change-1", Dialect: "aws", Operation: "ScheduleKeyDeletion", Outcome: OK})
	if err != nil {
		t.Fatalf("Change: %v (its record was fsynced in the log: the caller would abort a change the log records)", err)
	}
	c1.Commit()
	os.RemoveAll(JournalPath(path)) // the condition clears
	c, err := l.Change(&Record{RequestID: "change-2", Dialect: "aws", Operation: "CreateKey", Outcome: OK})
	if err != nil {
		t.Fatal(err)
	}
	c.Commit()
	l.Close()
	if _, err := os.Stat(JournalPath(path)); err != nil {
		t.Errorf("no journal once its path was free again: %v", err)
	}
	l2 := openLog(t, Options{Path: path, ChangeSeq: c.Seq()})
	l2.Close()
	mustVerify(t, path, VerifyOptions{ChangeSeq: c.Seq()})
	b, _ := os.ReadFile(path)
	if n := bytes.Count(b, []byte(`"request_id":"change-1"`)); n != 1 {
		t.Errorf("change-1 is in the log %d times:\n%s", n, b)
	}
	if bytes.Contains(b, []byte(`"voids"`)) {
		t.Errorf("a committed change was voided:\n%s", b)
	}
}

type failWrites struct {
	*os.File
}

func (f failWrites) Write(b []byte) (int, error) { return 0, syscall.ENOSPC }

// Replay cannot write the lines back at Open (ENOSPC, EIO, a quota): Open
// fails and keeps the journal, their only copy; once space is freed, the
// next Open puts them back. (Before: Open went on with a note "may be
// missing", and its first commit started the journal anew: lines
// acknowledged as durable were gone for good, and new lines took their
// seqs.)
// Its write comes before its cut: a file whose lost tail reads as zeros
// keeps them when the write fails.
func TestJournalReplayFailureFailsOpen(t *testing.T) {
	t.Run("tail lost", func(t *testing.T) {
		testReplayFailure(t, func(b []byte, s int64) []byte { return b[:s] })
	})
	t.Run("tail zeros", func(t *testing.T) {
		testReplayFailure(t, func(b []byte, s int64) []byte { return append(b[:s:s], make([]byte, int64(len(b))-s)...) })
	})
}

func testReplayFailure(t *testing.T, crash func(b []byte, s int64) []byte) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path})
	writeN(t, l, 0, 3)
	acked, _ := os.ReadFile(path)
	cp := crashCopy(t, path, crash)
	before, _ := os.ReadFile(cp)
	journal, _ := os.ReadFile(JournalPath(cp))
	l2, err := Open(Options{Path: cp, OpenFile: func(name string, flag int, perm os.FileMode) (File, error) {
		f, err := os.OpenFile(name, flag, perm)
		if err != nil {
			return nil, err
		}
		if name == cp { // the disk is full
			return failWrites{f}, nil
		}
		return f, nil
	}})
	if err == nil {
		l2.Close()
		t.Fatal("Open went on though the journal's lines could not be written back")
	}
	t.Logf("Open: %v", err)
	if after, _ := os.ReadFile(cp); !bytes.Equal(after, before) {
		t.Errorf("the log changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if j, _ := os.ReadFile(JournalPath(cp)); !bytes.Equal(j, journal) {
		t.Error("the journal changed")
	}
	got := reopened(t, cp) // space freed: a second Open
	if !bytes.HasPrefix(got, acked) {
		t.Errorf("acknowledged lines were not restored:\nacked:\n%s\nafter:\n%s", acked, got)
	}
}

// A record written whose datasync failed, and the log's fsync failing in
// both checkpoints (commit's and the one after the cut): the waiter is told
// its line failed, so the record must not be replayed: its pages are
// zeroed and the journal datasynced. (Before: it stayed valid in the
// current epoch, and a crash put the refused line back.)
func TestJournalFailedRecordWiped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	var faults syncFaults
	l := openLog(t, Options{Path: path, OpenFile: faults.open})
	writeN(t, l, 0, 2)
	faults.jfail.Store(1)
	faults.lfail.Store(2)
	if err := l.Write(&Record{RequestID: "undone"}); err == nil {
		t.Fatal("acknowledged")
	}
	got := reopened(t, crashCopy(t, path, func(b []byte, s int64) []byte { return b[:s] }))
	if bytes.Contains(got, []byte("undone")) {
		t.Errorf("a line whose waiter was told it failed was replayed from the journal:\n%s", got)
	}
	if !bytes.Contains(got, []byte(`"request_id":"r1"`)) {
		t.Errorf("an acknowledged line is missing:\n%s", got)
	}
}

// The same, but the record cannot be zeroed either (the journal's syncs
// fail), and the journal can then be neither rewritten nor removed: it may
// hold the refused line's record, so nothing is written to the log (a
// replay would write that record over the new lines) until it can be; then
// writes succeed again, and the refused line never comes back.
func TestJournalPoisonedRefusesBeforeWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	var faults syncFaults
	l := openLog(t, Options{Path: path, OpenFile: faults.open})
	writeN(t, l, 0, 2)
	faults.jfail.Store(2) // the record's datasync, and the one after zeroing it
	faults.lfail.Store(2) // commit's checkpoint, and the one after the cut
	if err := l.Write(&Record{RequestID: "undone"}); err == nil {
		t.Fatal("acknowledged")
	}
	before, _ := os.ReadFile(path)
	os.Remove(JournalPath(path))
	if err := os.MkdirAll(filepath.Join(JournalPath(path), "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(&Record{RequestID: "refused"}); err == nil {
		t.Fatal("a line was answered while the journal could hold a record of lines cut off")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Errorf("the log was written while the journal was poisoned:\n%s", after)
	}
	os.RemoveAll(JournalPath(path))
	if err := l.Write(&Record{RequestID: "later"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	mustVerify(t, path, VerifyOptions{})
	b, _ := os.ReadFile(path)
	if bytes.Contains(b, []byte(`"undone"`)) || bytes.Contains(b, []byte(`"refused"`)) || !bytes.Contains(b, []byte(`"later"`)) {
		t.Errorf("want later, without undone nor refused:\n%s", b)
	}
}

// A FIFO at the journal's path: Open must not block on it (before: it
// hung forever, readJournal's open waiting for a writer); it is not a
// journal, and is replaced by one.
func TestJournalFIFONotOpened(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := syscall.Mkfifo(JournalPath(path), 0o600); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() {
		l, err := Open(Options{Path: path})
		if err == nil {
			err = l.Write(&Record{RequestID: "r0"})
			l.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		// unblock it
		if f, err := os.OpenFile(JournalPath(path), os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("Open blocked on a FIFO at the journal's path")
	}
	if fi, err := os.Lstat(JournalPath(path)); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the FIFO was not replaced by a journal: %v %v", fi, err)
	}
}

// A journal already there, of the right size but group/world readable, is
// not reused: it is made anew, 0600. (Before: every line written went to
// a file others could read.)
func TestJournalModeEnforced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(JournalPath(path), make([]byte, journalSize), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(JournalPath(path), 0o644)
	l := openLog(t, Options{Path: path})
	writeN(t, l, 0, 1)
	fi, err := os.Stat(JournalPath(path))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the journal's mode is %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(JournalPath(path))
	if !bytes.Contains(b, []byte(`"request_id":"r0"`)) {
		t.Error("the journal does not hold the line written")
	}
	l.Close()
}

// A symbolic link at the journal's path, whether there at the checkpoint's
// Lstat or swapped in after it, is never written through: the file it
// points to (the store, say) keeps its bytes. Nor is it read as a journal.
func TestJournalSymlinkNotWrittenThrough(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	victim := filepath.Join(dir, "kms.db")
	want := bytes.Repeat([]byte("store"), journalSize/5+1)[:journalSize]
	if err := os.WriteFile(victim, want, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("there before", func(t *testing.T) {
		if err := os.Symlink(victim, JournalPath(path)); err != nil {
			t.Fatal(err)
		}
		l := openLog(t, Options{Path: path})
		writeN(t, l, 0, 1)
		l.Close()
		if fi, err := os.Lstat(JournalPath(path)); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("the link was not replaced by a journal: %v", err)
		}
	})
	t.Run("swapped in after the Lstat", func(t *testing.T) {
		path := filepath.Join(dir, "other", "audit.log")
		if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(JournalPath(path), make([]byte, journalSize), 0o600); err != nil {
			t.Fatal(err)
		}
		swapped := false
		l := openLog(t, Options{Path: path, OpenFile: func(name string, flag int, perm os.FileMode) (File, error) {
			if name == JournalPath(path) && !swapped && flag&os.O_CREATE == 0 {
				swapped = true
				os.Remove(name)
				if err := os.Symlink(victim, name); err != nil {
					return nil, err
				}
			}
			return os.OpenFile(name, flag, perm)
		}})
		writeN(t, l, 0, 1)
		l.Close()
		if !swapped {
			t.Error("the journal was never opened as an existing file")
		}
		if fi, err := os.Lstat(JournalPath(path)); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("the link was not replaced by a journal: %v", err)
		}
	})
	if got, _ := os.ReadFile(victim); !bytes.Equal(got, want) {
		t.Error("the file a link at the journal's path points to was written")
	}
}

// truncFaults is syncFaults whose log file's Truncate also fails, trunc
// times.
type truncFaults struct {
	syncFaults
	trunc atomic.Int64
}

type truncFile struct {
	*faultyFile
	fail *atomic.Int64
}

func (f truncFile) Truncate(size int64) error {
	if f.fail.Add(-1) >= 0 {
		return errors.New("input/output error")
	}
	f.fail.Store(0)
	return f.faultyFile.Truncate(size)
}

func (s *truncFaults) open(name string, flag int, perm os.FileMode) (File, error) {
	f, err := s.syncFaults.open(name, flag, perm)
	if err != nil || strings.HasSuffix(name, journalSuffix) {
		return f, err
	}
	return truncFile{f.(*faultyFile), &s.trunc}, nil
}

// The same when the cut of the failed batch fails too (the log is broken:
// the next batch truncates first, and no checkpoint follows the cut): the
// record is zeroed all the same, so a crash then does not replay it.
func TestJournalFailedRecordWipedWhenCutFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	var faults truncFaults
	l := openLog(t, Options{Path: path, OpenFile: faults.open})
	writeN(t, l, 0, 2)
	faults.jfail.Store(1)
	faults.lfail.Store(1)
	faults.trunc.Store(1)
	if err := l.Write(&Record{RequestID: "undone"}); err == nil {
		t.Fatal("acknowledged")
	}
	got := reopened(t, crashCopy(t, path, func(b []byte, s int64) []byte { return b[:s] }))
	if bytes.Contains(got, []byte("undone")) {
		t.Errorf("a line whose waiter was told it failed was replayed from the journal:\n%s", got)
	}
	if !bytes.Contains(got, []byte(`"request_id":"r1"`)) {
		t.Errorf("an acknowledged line is missing:\n%s", got)
	}
	if err := l.Write(&Record{RequestID: "later"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	mustVerify(t, path, VerifyOptions{})
	if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("undone")) {
		t.Errorf("the refused line is in the log:\n%s", b)
	}
}

// TestJournalUnreadableFailsOpen: a journal the server made that cannot be
// read (EIO, its permissions) fails Open and is left as it is: it may hold
// lines answered as durable, which the first commit would overwrite (it
// gave a note and Open went on).
func TestJournalUnreadableFailsOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path})
	if err := l.Write(&Record{RequestID: "r0"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	before, err := os.ReadFile(JournalPath(path))
	if err != nil {
		t.Fatal(err)
	}
	readJournalFile = func(string) ([]byte, error) { return nil, syscall.EIO }
	defer func() { readJournalFile = readJournal }()
	if l, err := Open(Options{Path: path}); err == nil {
		l.Close()
		t.Fatal("Open went on with a journal it could not read")
	} else if !strings.Contains(err.Error(), "could not be read") || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Open refused with %v", err)
	}
	if after, _ := os.ReadFile(JournalPath(path)); !bytes.Equal(before, after) {
		t.Fatal("the refused Open changed the journal")
	}
}
