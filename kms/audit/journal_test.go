package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// crashCopy is what a crash leaves of the log at path while it is open:
// its directory copied (the log itself is not closed: Close checkpoints),
// with the log file at path's name in it cut by cut, which gets the bytes
// the file holds and the offset of the journal's epoch start (the file's
// size at its last fsync: a crash can lose only what follows; without a
// journal, its size). It returns
// the copy's log path.
func crashCopy(t *testing.T, path string, cut func(b []byte, synced int64) []byte) string {
	t.Helper()
	dir := t.TempDir()
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(path), e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cp := filepath.Join(dir, filepath.Base(path))
	if cut != nil {
		b, _ := os.ReadFile(cp)
		synced := int64(len(b)) // without a journal, the log was fsynced
		if _, err := os.Stat(JournalPath(cp)); err == nil {
			synced = epochStart(t, cp).offset
		}
		if err := os.WriteFile(cp, cut(b, synced), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cp
}

// epochStart is the epoch start of the journal of the log at path.
func epochStart(t testing.TB, path string) jrecord {
	t.Helper()
	b, err := readJournal(JournalPath(path))
	if err != nil {
		t.Fatal(err)
	}
	start, _, refused := parseJournal(b)
	if refused != "" || start.epoch == 0 {
		t.Fatalf("the journal has no epoch start (%s)", refused)
	}
	return start
}

// reopened opens the log at path (a crash's copy) and closes it: Open's
// recovery. It returns the file's bytes after.
func reopened(t *testing.T, path string) []byte {
	t.Helper()
	l, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	return b
}

// ownLines are the log's own lines in b after its first n bytes.
func ownLines(t *testing.T, b []byte, n int) []Record {
	t.Helper()
	var out []Record
	if len(b) == n {
		return nil
	}
	for _, line := range bytes.Split(bytes.TrimSuffix(b[n:], []byte("\n")), []byte("\n")) {
		rec, ok := chained(line)
		if !ok || rec.Dialect != dialectLog {
			t.Fatalf("not one of the log's own lines after the acknowledged ones: %s", line)
		}
		out = append(out, rec)
	}
	return out
}

// TestJournalCrash: whatever a crash leaves of the lines written after the
// last fsync of the log — nothing, a line cut, zeros (xfs) — Open puts every
// acknowledged line back, byte for byte where it was, says so, and the
// chain verifies; a line appended without waiting (Append) before a durable
// one comes back with it, so the durable one can be replayed at all. Also
// when the journal's epoch starts at the file's first byte (the first
// commit, of the anchor, failed: nothing before vouches for the file).
func TestJournalCrash(t *testing.T) {
	for _, firstFails := range []bool{false, true} {
		t.Run(fmt.Sprintf("first commit fails=%v", firstFails), func(t *testing.T) { testJournalCrash(t, firstFails) })
	}
}

func testJournalCrash(t *testing.T, firstFails bool) {
	path := filepath.Join(t.TempDir(), "audit.log")
	var faults syncFaults
	if firstFails {
		faults.lfail.Store(1)
	}
	l := openLog(t, Options{Path: path, OpenFile: faults.open})
	writeN(t, l, 0, 3)
	if err := l.Append(&Record{RequestID: "loose", Operation: "DescribeKey", Outcome: OK}); err != nil {
		t.Fatal(err)
	}
	writeN(t, l, 3, 2)
	acked, _ := os.ReadFile(path)
	lastLine := int64(bytes.LastIndexByte(acked[:len(acked)-1], '\n') + 1)
	if start := epochStart(t, path); (start.offset == 0) != firstFails {
		t.Fatalf("the epoch starts at %d", start.offset)
	}
	lines := 7
	if firstFails {
		lines++ // AuditLogRecovered
	}
	for _, tc := range []struct {
		name string
		cut  func(b []byte, synced int64) []byte
	}{
		{"everything after the last fsync lost", func(b []byte, s int64) []byte { return b[:s] }},
		{"the file gone (its creation not durable)", nil},
		{"the last batch lost", func(b []byte, s int64) []byte { return b[:lastLine] }},
		{"the last line cut", func(b []byte, s int64) []byte { return b[:lastLine+20] }},
		{"zeros for the lines after the fsync", func(b []byte, s int64) []byte {
			return append(b[:s:s], make([]byte, len(b)-int(s))...)
		}},
		{"zeros for the last line", func(b []byte, s int64) []byte {
			return append(b[:lastLine:lastLine], make([]byte, len(b)-int(lastLine))...)
		}},
		{"nothing lost", func(b []byte, s int64) []byte { return b }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cut == nil && !firstFails {
				t.Skip("the file was fsynced before the epoch started: a crash leaves it")
			}
			cp := crashCopy(t, path, tc.cut)
			if tc.cut == nil {
				os.Remove(cp)
			}
			got := reopened(t, cp)
			if !bytes.HasPrefix(got, acked) {
				t.Fatalf("the acknowledged lines are not all back:\n%s\nwant first\n%s", got, acked)
			}
			own := ownLines(t, got, len(acked))
			restored := len(own) > 0 && strings.HasPrefix(own[0].Message, "restored ")
			if tc.name == "nothing lost" {
				if len(own) != 0 {
					t.Fatalf("Open wrote %+v", own)
				}
			} else if !restored || own[0].Outcome != OK || !strings.Contains(own[0].Message, ".audit.log.journal") {
				t.Fatalf("no line says lines were restored: %+v", own)
			}
			if rep := mustVerify(t, cp, VerifyOptions{}); !rep.Anchored || rep.Lines != lines+len(own) {
				t.Fatalf("report %+v", rep)
			}
		})
	}
}

// syncFaults is an Options.OpenFile whose files' next syncs fail: the
// journal's jfail of them, the log's lfail.
type syncFaults struct{ jfail, lfail atomic.Int64 }

type faultyFile struct {
	*os.File
	fail *atomic.Int64
}

func (f *faultyFile) Sync() error {
	if f.fail.Add(-1) >= 0 {
		return errors.New("input/output error")
	}
	f.fail.Store(0)
	return f.File.Sync()
}

func (s *syncFaults) open(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(name, journalSuffix) {
		return &faultyFile{f, &s.jfail}, nil
	}
	return &faultyFile{f, &s.lfail}, nil
}

// TestJournalUndoneNeverReplayed: a batch whose journal record was written
// but whose sync failed (and the log's fsync after it too) is refused and
// cut off the log; a crash right after must not bring it back from the
// journal, whether the checkpoint after the cut succeeded or the journal
// had to be removed (3 journal syncs failing: the record's, the one after
// zeroing it, the new epoch's).
func TestJournalUndoneNeverReplayed(t *testing.T) {
	for _, jfail := range []int64{1, 3} {
		t.Run(fmt.Sprintf("journal syncs failing=%d", jfail), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			var faults syncFaults
			l := openLog(t, Options{Path: path, OpenFile: faults.open})
			writeN(t, l, 0, 2)
			faults.jfail.Store(jfail)
			faults.lfail.Store(1)
			if err := l.Write(&Record{RequestID: "undone"}); err == nil {
				t.Fatal("a batch whose syncs failed was acknowledged")
			}
			acked, _ := os.ReadFile(path)
			if bytes.Contains(acked, []byte("undone")) {
				t.Fatal("the refused line is still in the log")
			}
			_, err := os.Stat(JournalPath(path))
			if jfail == 3 && !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a journal that could not be started again is still there: %v", err)
			}
			got := reopened(t, crashCopy(t, path, func(b []byte, s int64) []byte { return b[:s] }))
			if bytes.Contains(got, []byte("undone")) {
				t.Fatal("Open replayed a line that was cut off the log")
			}
			if !bytes.HasPrefix(got, acked) {
				t.Fatalf("an acknowledged line is missing:\n%s", got)
			}
			mustVerify(t, path, VerifyOptions{})
			// The log goes on (fsynced without a journal), and has one again
			// once a checkpoint makes it (the next Open's first commit).
			writeN(t, l, 2, 1)
			l.Close()
			l = openLog(t, Options{Path: path})
			writeN(t, l, 3, 1)
			if fi, err := os.Stat(JournalPath(path)); err != nil || fi.Size() != journalSize {
				t.Fatalf("no journal: %v", err)
			}
			mustVerify(t, path, VerifyOptions{})
		})
	}
}

// TestJournalStaleRecords: a record of an older epoch after the current
// epoch's last — which would follow on in every other way (its offset, its
// chain) — is not replayed; nor is a record whose sum holds but whose lines
// do not go on with the chain (the Open line says so).
func TestJournalStaleRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path})
	writeN(t, l, 0, 2)
	acked, _ := os.ReadFile(path)
	start := epochStart(t, path)
	jb, _ := readJournal(JournalPath(path))
	_, recs, _ := parseJournal(jb)
	last := recs[len(recs)-1]
	at, ok := chainsOn(last.data, head{seq: last.seq, size: last.offset, hash: last.prev})
	if !ok {
		t.Fatal("the journal's last record does not chain")
	}
	forged, _ := appendLine(nil, []byte(`{"request_id":"forged"}`), at)
	pos := journalPage * (len(recs) + 1) // the page after the last record (each holds a page)
	for _, tc := range []struct {
		name    string
		rec     jrecord
		refused bool
	}{
		{"an older epoch", jrecord{epoch: start.epoch ^ 1, offset: at.size, seq: at.seq, prev: at.hash, data: forged}, false},
		{"lines off the chain", jrecord{epoch: start.epoch, offset: at.size, seq: at.seq, prev: at.hash, data: []byte(`{"request_id":"forged","seq":99,"prev":"00"}` + "\n")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := crashCopy(t, path, func(b []byte, s int64) []byte { return b[:s] })
			j, _ := os.ReadFile(JournalPath(cp))
			copy(j[pos:], appendRecord(nil, &tc.rec))
			os.WriteFile(JournalPath(cp), j, 0o600)
			got := reopened(t, cp)
			if bytes.Contains(got, []byte("forged")) || !bytes.HasPrefix(got, acked) {
				t.Fatalf("after Open:\n%s", got)
			}
			own := ownLines(t, got, len(acked))
			if refused := len(own) == 2 && strings.Contains(own[0].Message, "not a record the server wrote"); refused != tc.refused {
				t.Fatalf("the log's own lines %+v", own)
			}
			mustVerify(t, cp, VerifyOptions{})
		})
	}
}

// TestJournalOtherFile: a journal is replayed only into the file it was
// written for. Beside another log (copied there, or the log replaced while
// the server was stopped) its lines are not put back, and Open says so;
// one started at offset 0 (a new log) is not written over a file holding
// other lines either.
func TestJournalOtherFile(t *testing.T) {
	a := filepath.Join(t.TempDir(), "audit.log")
	la := openLog(t, Options{Path: a})
	writeN(t, la, 0, 3)
	z := filepath.Join(t.TempDir(), "audit.log")
	var faults syncFaults
	faults.lfail.Store(1) // the anchor's commit fails: an epoch at offset 0
	lz := openLog(t, Options{Path: z, OpenFile: faults.open})
	writeN(t, lz, 0, 3)
	if epochStart(t, z).offset != 0 {
		t.Fatal("no epoch at offset 0")
	}
	b := filepath.Join(t.TempDir(), "audit.log")
	lb := openLog(t, Options{Path: b})
	writeN(t, lb, 100, 5)
	lb.Close()
	la2 := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: la2})
	writeN(t, l, 0, 3)
	l.Close()
	l = openLog(t, Options{Path: la2})
	writeN(t, l, 3, 3) // an epoch at an offset past b's lines' ends
	for name, journal := range map[string]string{"a new log's": a, "a log's": la2, "an epoch at offset 0": z} {
		t.Run(name, func(t *testing.T) {
			cp := crashCopy(t, b, nil)
			j, _ := os.ReadFile(JournalPath(crashCopy(t, journal, nil)))
			os.WriteFile(JournalPath(cp), j, 0o600)
			before, _ := os.ReadFile(cp)
			got := reopened(t, cp)
			if !bytes.HasPrefix(got, before) {
				t.Fatalf("Open changed the log's lines:\n%s", got)
			}
			own := ownLines(t, got, len(before))
			if len(own) != 1 || own[0].Outcome != Error || !strings.Contains(own[0].Message, "not put back") {
				t.Fatalf("the log's own lines: %+v", own)
			}
			mustVerify(t, cp, VerifyOptions{})
		})
	}
	// The log removed while the server was stopped.
	cp := crashCopy(t, la2, nil)
	os.Remove(cp)
	got := reopened(t, cp)
	if bytes.Contains(got, []byte(`"r4"`)) || !bytes.Contains(got, []byte("not put back")) {
		t.Fatalf("after the log was removed:\n%s", got)
	}
}

// TestJournalRotation: a crash after rotations brings back the newest
// file's lost lines, and the chain verifies through the files; a crash
// after a logrotate renamed the file, before the server reopened it, brings
// them back into the renamed file, the one they were written to.
func TestJournalRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path, MaxSize: 2000})
	writeN(t, l, 0, 30)
	files, _ := Files(path)
	if len(files) < 3 {
		t.Fatalf("files %v", files)
	}
	acked, _ := os.ReadFile(path)
	cp := crashCopy(t, path, func(b []byte, s int64) []byte { return b[:s] })
	got := reopened(t, cp)
	if !bytes.HasPrefix(got, acked) || !bytes.Contains(got, []byte("restored")) {
		t.Fatalf("after the crash:\n%s", got)
	}
	if rep := mustVerify(t, cp, VerifyOptions{}); rep.Lines < 31 || len(rep.Files) != len(files) {
		t.Fatalf("report %+v", rep)
	}

	path = filepath.Join(t.TempDir(), "audit.log")
	l = openLog(t, Options{Path: path, MaxSize: -1})
	writeN(t, l, 0, 3)
	l.Close()
	l = openLog(t, Options{Path: path, MaxSize: -1}) // an epoch past the file's start
	writeN(t, l, 3, 1)
	renamed := path + "-20261207"
	if err := os.Rename(path, renamed); err != nil {
		t.Fatal(err)
	}
	writeN(t, l, 4, 3) // to the renamed file: no SIGHUP yet
	acked, _ = os.ReadFile(renamed)
	cp = crashCopy(t, path, nil)
	cr := cp + "-20261207"
	b, _ := os.ReadFile(cr)
	os.WriteFile(cr, b[:epochStart(t, cp).offset], 0o600)
	reopened(t, cp)
	if got, _ := os.ReadFile(cr); !bytes.Equal(got, acked) {
		t.Fatalf("the renamed file after the crash:\n%s\nwant\n%s", got, acked)
	}
	if got, _ := os.ReadFile(cp); !bytes.Contains(got, []byte("restored 3 lines of audit.log-20261207 (seq 6 to 8)")) {
		t.Fatalf("the new file:\n%s", got)
	}
	mustVerify(t, cp, VerifyOptions{})
}

// TestJournalIsNoLogFile: the journal is beside the log, 0600, of its fixed
// size, and never taken for one of the log's files: not by Files (audit
// verify), a rotation's numbering, Open's search for the newest rotated
// file, nor a shipper's "audit.log*".
func TestJournalIsNoLogFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l := openLog(t, Options{Path: path, MaxSize: 1500})
	writeN(t, l, 0, 20)
	fi, err := os.Stat(filepath.Join(dir, ".audit.log.journal"))
	if err != nil || fi.Size() != journalSize || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the journal: %v %v", fi, err)
	}
	files, _ := Files(path)
	for _, f := range files {
		if strings.Contains(f, "journal") {
			t.Fatalf("Files lists the journal: %v", files)
		}
	}
	if glob, _ := filepath.Glob(path + "*"); len(glob) != len(files) {
		t.Fatalf("audit.log* is %v", glob)
	}
	if n, _ := nextRotation(path); n != fmt.Sprintf("%s.%d", path, len(files)) {
		t.Fatalf("the next rotation is %s", n)
	}
	l.Close()
	// Emptied (a rotation interrupted): Open goes on from the newest
	// rotated file, not from the copies of lines in the journal.
	os.WriteFile(path, nil, 0o600)
	got := reopened(t, path)
	if !bytes.Contains(got, []byte(fmt.Sprintf("continues audit.log.%d,", len(files)-1))) {
		t.Fatalf("after emptying:\n%s", got)
	}
	mustVerify(t, path, VerifyOptions{})
}

// TestJournalHostile: a journal of garbage, of a huge length field, or
// longer than its size is read no further than journalSize, replays
// nothing, is said to be unreadable, and is made anew.
func TestJournalHostile(t *testing.T) {
	huge := appendRecord(nil, &jrecord{epoch: 1, offset: 5})
	huge[56] = 0xff // a length of 4 GB
	for name, j := range map[string][]byte{
		"garbage":    bytes.Repeat([]byte{0xff}, 5000),
		"huge":       huge,
		"oversized":  bytes.Repeat([]byte("AKJRNL"), 3<<20),
		"zeros only": make([]byte, journalSize),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			l := openLog(t, Options{Path: path})
			writeN(t, l, 0, 2)
			l.Close()
			before, _ := os.ReadFile(path)
			os.WriteFile(JournalPath(path), j, 0o600)
			got := reopened(t, path)
			if !bytes.HasPrefix(got, before) {
				t.Fatal("the log's lines changed")
			}
			own := ownLines(t, got, len(before))
			if want := name != "zeros only"; (len(own) == 1 && strings.Contains(own[0].Message, "not a record the server wrote")) != want {
				t.Fatalf("the log's own lines: %+v", own)
			}
			if fi, _ := os.Stat(JournalPath(path)); fi.Size() != journalSize {
				t.Fatalf("the journal is %d bytes", fi.Size())
			}
			mustVerify(t, path, VerifyOptions{})
		})
	}
}

// FuzzJournalRecord: parseRecord reads any bytes without panicking, takes
// nothing past them, and whatever it accepts encodes to exactly the bytes
// it read; a failed parse returns nothing. parseJournal returns only
// records of one epoch, each going on from the one before.
func FuzzJournalRecord(f *testing.F) {
	line, _ := appendLine(nil, []byte(`{"request_id":"r"}`), head{seq: 4})
	f.Add(appendRecord(nil, &jrecord{epoch: 7, offset: 100, seq: 4}))
	f.Add(appendRecord(nil, &jrecord{epoch: 7, offset: 100, seq: 4, data: line}))
	f.Add(appendRecord(nil, &jrecord{epoch: 7, offset: 100, seq: 4, data: line})[:110])
	f.Add([]byte("AKJRNL\x00\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := parseRecord(b)
		if err != nil {
			if n != 0 || r.data != nil || r.epoch != 0 {
				t.Fatalf("a failed parse returned %+v, %d", r, n)
			}
		} else if n > len(b) || !bytes.Equal(appendRecord(nil, &r), b[:n]) {
			t.Fatalf("%x parsed as %+v, which encodes otherwise", b, r)
		}
		start, recs, _ := parseJournal(b)
		at := head{seq: start.seq, hash: start.prev, size: start.offset}
		for _, r := range recs {
			if r.epoch != start.epoch || r.offset != at.size || r.seq != at.seq {
				t.Fatalf("record %+v after %+v", r, at)
			}
			var ok bool
			if at, ok = chainsOn(r.data, at); !ok {
				t.Fatal("a record off the chain")
			}
		}
	})
}

const killEnv = "AUDIT_TEST_KILL_DIR"

// TestJournalKilled: a process writing durable lines from several
// goroutines is killed (SIGKILL) while it writes; every line it was told
// was durable is in the log after Open, the chain verifies, also when
// everything the log held past its last fsync is dropped after the kill
// (as a power loss could: a kill keeps the page cache). Run several times
// into the same log.
func TestJournalKilled(t *testing.T) {
	if dir := os.Getenv(killEnv); dir != "" {
		killedChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	path := filepath.Join(t.TempDir(), "audit.log")
	var acked []string
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestJournalKilled$")
		cmd.Env = append(os.Environ(), killEnv+"="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for sc.Scan() {
			acked = append(acked, sc.Text())
			if n++; n == 150+round*37 {
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		cmd.Wait()
		if n < 150 {
			t.Fatalf("round %d: the child acknowledged %d lines", round, n)
		}
		if round%2 == 1 {
			b, _ := os.ReadFile(path)
			os.WriteFile(path, b[:epochStart(t, path).offset], 0o600)
		}
		l, err := Open(Options{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		got, _ := os.ReadFile(path)
		for _, id := range acked {
			if !bytes.Contains(got, []byte(`"request_id":"`+id+`"`)) {
				t.Fatalf("round %d: %s was acknowledged, and is not in the log", round, id)
			}
		}
		mustVerify(t, path, VerifyOptions{})
	}
	t.Logf("%d lines acknowledged by 4 processes killed", len(acked))
}

// killedChild writes durable lines until killed, printing each one's id
// once Write returned.
func killedChild(path string) {
	l, err := Open(Options{Path: path})
	if err != nil {
		os.Exit(2)
	}
	var mu sync.Mutex
	var n atomic.Int64
	for w := range 4 {
		go func() {
			for {
				id := fmt.Sprintf("p%d-w%d-%d", os.Getpid(), w, n.Add(1))
				if l.Write(&Record{RequestID: id, Dialect: "aws", Operation: "GenerateDataKey", Outcome: OK}) != nil {
					os.Exit(3)
				}
				mu.Lock()
				fmt.Println(id)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(time.Minute)
	os.Exit(4)
}

// TestJournalFull: once a record would not fit, a checkpoint starts the
// journal over at a later offset of the log, and a crash after it still
// loses nothing.
func TestJournalFull(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path})
	writeN(t, l, 0, 1)
	first := epochStart(t, path)
	msg := strings.Repeat("x", 9000) // a record of three pages
	for i := range journalSize / (3 * journalPage) {
		if err := l.Write(&Record{RequestID: fmt.Sprintf("big%d", i), Message: msg}); err != nil {
			t.Fatal(err)
		}
	}
	writeN(t, l, 1, 2)
	start := epochStart(t, path)
	if start.epoch == first.epoch || start.offset <= first.offset {
		t.Fatalf("no checkpoint: the epoch started at %d, now at %d", first.offset, start.offset)
	}
	acked, _ := os.ReadFile(path)
	got := reopened(t, crashCopy(t, path, func(b []byte, s int64) []byte { return b[:s] }))
	if !bytes.HasPrefix(got, acked) || !bytes.Contains(got[len(acked):], []byte("restored")) {
		t.Fatal("lines lost after a checkpoint")
	}
}
