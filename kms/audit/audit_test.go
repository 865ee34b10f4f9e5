package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var fixedNow = func() time.Time { return time.Date(2026, 11, 23, 13, 0, 0, 0, time.FixedZone("CET", 3600)) }

func openLog(t testing.TB, opts Options) *Log {
	t.Helper()
	l, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// lines are the lines of the file at path.
func lines(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

func mustVerify(t testing.TB, path string, opts VerifyOptions) *Report {
	t.Helper()
	files, err := Files(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(files, opts)
	if err != nil {
		t.Fatalf("Verify(%v): %v", files, err)
	}
	return rep
}

// TestLines pins the line format byte for byte: operators and tests grep
// it. The chain's fields come last, and each prev is the previous line's
// SHA-256; the first line is the anchor.
func TestLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(Options{Path: path, Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range []*Record{
		{RequestID: "r", AccessKeyID: "AK", Principal: "p", SourceIP: "1.2.3.4", Dialect: "aws", Operation: "Decrypt",
			KeyARN: "arn:k", SourceKeyARN: "arn:s", Attestation: &Attestation{Format: "nitro", ModuleID: "m", PCR0: "00", SnpMeasurement: "aa", SnpChipID: "bb", TpmBank: "sha256", TpmPCRs: map[int]string{1: "cc", 0: "dd"}, Nonce: "ee", PublicKeySHA256: "ff", Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Debug: true},
			BypassedChecks: []string{"lockout"}, Outcome: "error", ErrorCode: "X", Message: "m"},
		{RequestID: "r2", Dialect: "tencent", Operation: "O", Outcome: "ok", Attestation: &Attestation{Format: "tpm2", PublicKeySHA256: "00"}},
		{RequestID: "r3"},
		{Time: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), RequestID: "r4", Seq: 99, Prev: "forged"}, // a time given is kept; seq and prev are the log's
	} {
		if err := l.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"time":"2026-11-23T12:00:00Z","request_id":"r","access_key_id":"AK","principal":"p","source_ip":"1.2.3.4","dialect":"aws","operation":"Decrypt","key_arn":"arn:k","source_key_arn":"arn:s","attestation":{"format":"nitro","module_id":"m","pcr0":"00","snp_measurement":"aa","snp_chip_id":"bb","tpm_bank":"sha256","tpm_pcrs":{"0":"dd","1":"cc"},"nonce":"ee","public_key_sha256":"ff","time":"2026-01-02T03:04:05.000000006Z","debug":true},"bypassed_checks":["lockout"],"outcome":"error","error_code":"X","message":"m","seq":2,"prev":"%x"}`,
		`{"time":"2026-11-23T12:00:00Z","request_id":"r2","dialect":"tencent","operation":"O","attestation":{"format":"tpm2","public_key_sha256":"00"},"outcome":"ok","seq":3,"prev":"%x"}`,
		`{"time":"2026-11-23T12:00:00Z","request_id":"r3","dialect":"","operation":"","outcome":"","seq":4,"prev":"%x"}`,
		`{"time":"2020-01-01T00:00:00Z","request_id":"r4","dialect":"","operation":"","outcome":"","seq":5,"prev":"%x"}`,
	}
	got := lines(t, path)
	if len(got) != 5 {
		t.Fatalf("%d lines:\n%s", len(got), bytes.Join(got, []byte("\n")))
	}
	var anchor Record
	if err := json.Unmarshal(got[0], &anchor); err != nil || anchor.Seq != 1 || anchor.Operation != opStart || len(anchor.Anchor) != 64 || anchor.Prev != anchor.Anchor || anchor.Dialect != "audit" {
		t.Fatalf("anchor line %s: %v", got[0], err)
	}
	for i, w := range want {
		if w = fmt.Sprintf(w, sha256.Sum256(got[i])); string(got[i+1]) != w {
			t.Fatalf("line %d:\n%s\nwant\n%s", i+2, got[i+1], w)
		}
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("audit log mode %v", fi.Mode().Perm())
	}
	// Appends to what is there, going on with the chain; a closed log refuses.
	l, err = Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(&Record{RequestID: "r5"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	for _, err := range []error{l.Write(&Record{RequestID: "r6"}), l.Append(&Record{}), l.Reopen(), l.Err(), l.Probe(context.Background())} {
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("a closed log: %v", err)
		}
	}
	if _, err := l.Change(&Record{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("a closed log took a change: %v", err)
	}
	got = lines(t, path)
	if len(got) != 6 || !bytes.Contains(got[5], []byte(`"request_id":"r5"`)) || !bytes.Contains(got[5], []byte(`"seq":6,`)) {
		t.Fatalf("after reopening:\n%s", bytes.Join(got, []byte("\n")))
	}
	if rep := mustVerify(t, path, VerifyOptions{}); rep.Lines != 6 || !rep.Anchored || rep.Head.Seq != 6 || rep.HeadHash != fmt.Sprintf("%x", sha256.Sum256(got[5])) {
		t.Fatalf("report %+v", rep)
	}
}

// writeN writes n records r0, r1, … to l.
func writeN(t testing.TB, l *Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := l.Write(&Record{RequestID: fmt.Sprintf("r%d", i), Dialect: "aws", Operation: "Encrypt", Outcome: OK}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRotation: past MaxSize the file becomes path.1, path.2, … (newest
// highest), each new file beginning with the line that names the one it
// continues, and the chain runs through them all.
func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path, MaxSize: 2000})
	writeN(t, l, 0, 60)
	l.Close()
	files, err := Files(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 || files[0] != path+".1" || files[1] != path+".2" || files[len(files)-1] != path {
		t.Fatalf("files %v", files)
	}
	for i, f := range files[1:] {
		first := lines(t, f)[0]
		if !bytes.Contains(first, []byte(`"operation":"RotateAuditLog"`)) || !bytes.Contains(first, []byte(fmt.Sprintf(`continues audit.log.%d"`, i+1))) {
			t.Fatalf("%s starts with %s", f, first)
		}
	}
	for _, f := range files[:len(files)-1] {
		if fi, _ := os.Stat(f); fi.Size() > 2000+200 {
			t.Fatalf("%s is %d bytes", f, fi.Size())
		}
	}
	rep := mustVerify(t, path, VerifyOptions{})
	if rep.Lines != 1+60+len(files)-1 || len(rep.Files) != len(files) {
		t.Fatalf("report %+v", rep)
	}
	// Reopened, it goes on in the newest file.
	l = openLog(t, Options{Path: path, MaxSize: 2000})
	writeN(t, l, 60, 1)
	l.Close()
	mustVerify(t, path, VerifyOptions{})
}

// TestChainDetects: an edited, a removed and a swapped line are found where
// they are, also across a rotation, and so is a missing first file, unless
// the check is told to start later.
func TestChainDetects(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l := openLog(t, Options{Path: path, MaxSize: 1500})
	writeN(t, l, 0, 40)
	l.Close()
	files, _ := Files(path)
	if len(files) < 3 {
		t.Fatalf("files %v", files)
	}
	pristine := map[string][]byte{}
	for _, f := range files {
		pristine[f], _ = os.ReadFile(f)
	}
	restore := func() {
		for f, b := range pristine {
			os.WriteFile(f, b, 0o600)
		}
	}
	// rewrite rewrites file f's lines with fn.
	rewrite := func(f string, fn func(ls [][]byte) [][]byte) {
		ls := fn(lines(t, f))
		os.WriteFile(f, append(bytes.Join(ls, []byte("\n")), '\n'), 0o600)
	}
	mid := files[1]
	for _, tc := range []struct {
		name   string
		change func()
		file   string
		line   int
		want   string
	}{
		{"edited", func() {
			rewrite(mid, func(ls [][]byte) [][]byte {
				ls[2] = bytes.Replace(ls[2], []byte("Encrypt"), []byte("Decrypt"), 1)
				return ls
			})
		}, mid, 3, "was altered"},
		{"removed", func() {
			rewrite(mid, func(ls [][]byte) [][]byte { return append(ls[:2:2], ls[3:]...) })
		}, mid, 3, "is missing"},
		{"swapped", func() {
			rewrite(mid, func(ls [][]byte) [][]byte { ls[2], ls[3] = ls[3], ls[2]; return ls })
		}, mid, 3, "reordered"},
		{"first line of a file removed", func() {
			rewrite(mid, func(ls [][]byte) [][]byte { return ls[1:] })
		}, mid, 1, "removed (a file?)"},
		{"last line of a rotated file removed", func() {
			rewrite(files[0], func(ls [][]byte) [][]byte { return ls[:len(ls)-1] })
		}, mid, 1, "is missing"},
		{"last line of a rotated file edited", func() {
			rewrite(files[0], func(ls [][]byte) [][]byte {
				ls[len(ls)-1] = bytes.Replace(ls[len(ls)-1], []byte(`"ok"`), []byte(`"error"`), 1)
				return ls
			})
		}, files[0], len(lines(t, files[0])), "was altered"},
		{"a line inserted", func() {
			rewrite(mid, func(ls [][]byte) [][]byte {
				return append(ls[:2:2], append([][]byte{[]byte(`{"request_id":"evil"}`)}, ls[2:]...)...)
			})
		}, mid, 3, "not a line of the chain"},
		{"a forged line inserted", func() {
			rewrite(mid, func(ls [][]byte) [][]byte { return append(ls[:3:3], ls[2:]...) }) // a copy: a repeated seq
		}, mid, 4, "reordered or repeated"},
		{"the middle file removed", func() { os.Remove(mid) }, "", 1, "removed (a file?)"},
		{"the first file removed", func() { os.Remove(files[0]) }, mid, 1, "not at its anchor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer restore()
			tc.change()
			fs, err := Files(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Verify(fs, VerifyOptions{})
			var b *Break
			if !errors.As(err, &b) || (tc.file != "" && b.File != tc.file) || b.Line != tc.line || !strings.Contains(b.Problem, tc.want) {
				t.Fatalf("Verify = %v; want %s:%d: …%s…", err, tc.file, tc.line, tc.want)
			}
		})
	}
	// Without its first file, the chain holds from where the check starts.
	os.Rename(files[0], filepath.Join(dir, "archived"))
	rep, err := Verify(files[1:], VerifyOptions{Partial: true})
	if err != nil || rep.Anchored || rep.First.Seq == 1 || len(rep.Notes) == 0 {
		t.Fatalf("partial: %+v %v", rep, err)
	}
}

// TestReopen: after the file is renamed (logrotate), Reopen starts a new one
// whose lines go on with the chain; a Reopen of a file not renamed does
// nothing.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l := openLog(t, Options{Path: path, MaxSize: -1})
	writeN(t, l, 0, 3)
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	if n := len(lines(t, path)); n != 4 {
		t.Fatalf("a Reopen without a rename wrote: %d lines", n)
	}
	if err := os.Rename(path, path+"-20261123"); err != nil {
		t.Fatal(err)
	}
	writeN(t, l, 3, 2) // still to the renamed file, until the Reopen
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	writeN(t, l, 5, 2)
	l.Close()
	old, cur := lines(t, path+"-20261123"), lines(t, path)
	if len(old) != 6 || len(cur) != 3 || !bytes.Contains(cur[0], []byte(`"operation":"ReopenAuditLog"`)) || !bytes.Contains(cur[1], []byte(`"request_id":"r5"`)) {
		t.Fatalf("renamed:\n%s\nnew:\n%s", bytes.Join(old, []byte("\n")), bytes.Join(cur, []byte("\n")))
	}
	if rep := mustVerify(t, path, VerifyOptions{}); rep.Lines != 9 || len(rep.Files) != 2 {
		t.Fatalf("report %+v", rep)
	}
}

// failFile is a File whose writes and syncs fail while full is set (a full
// disk), writing part of what it is given first, as a real one does.
type failFile struct {
	*os.File
	full  *atomic.Bool
	syncs *atomic.Int64
}

var errFull = errors.New("no space left on device")

func (f *failFile) Write(b []byte) (int, error) {
	if f.full.Load() {
		n, _ := f.File.Write(b[:len(b)/2])
		return n, errFull
	}
	return f.File.Write(b)
}

func (f *failFile) Sync() error {
	f.syncs.Add(1)
	if f.full.Load() {
		return errFull
	}
	return f.File.Sync()
}

// failing is an Options.OpenFile of failFiles.
func failing(full *atomic.Bool, syncs *atomic.Int64) func(string, int, os.FileMode) (File, error) {
	return func(name string, flag int, perm os.FileMode) (File, error) {
		f, err := os.OpenFile(name, flag, perm)
		if err != nil {
			return nil, err
		}
		return &failFile{File: f, full: full, syncs: syncs}, nil
	}
}

// TestFullDisk: a write that fails is refused and cut off the file (the
// chain stays whole), the log reports it until a write succeeds, Probe tries
// one, and the first line written again says how many were not.
func TestFullDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	var full atomic.Bool
	var syncs atomic.Int64
	l := openLog(t, Options{Path: path, OpenFile: failing(&full, &syncs)})
	writeN(t, l, 0, 2)
	size := func() int64 { fi, _ := os.Stat(path); return fi.Size() }
	before := size()
	full.Store(true)
	if err := l.Write(&Record{RequestID: "refused"}); !errors.Is(err, errFull) {
		t.Fatalf("Write on a full disk: %v", err)
	}
	if err := l.Append(&Record{RequestID: "read"}); !errors.Is(err, errFull) {
		t.Fatalf("Append on a full disk: %v", err)
	}
	if _, err := l.Change(&Record{RequestID: "change"}); !errors.Is(err, errFull) {
		t.Fatalf("Change on a full disk: %v", err)
	}
	if size() != before {
		t.Fatalf("a failed write left %d bytes", size()-before)
	}
	if err := l.Err(); !errors.Is(err, errFull) {
		t.Fatalf("Err = %v", err)
	}
	if err := l.Probe(context.Background()); !errors.Is(err, errFull) {
		t.Fatalf("Probe on a full disk = %v", err)
	}
	full.Store(false)
	if err := l.Probe(context.Background()); err != nil || l.Err() != nil {
		t.Fatalf("Probe once space returned = %v, %v", err, l.Err())
	}
	writeN(t, l, 2, 1)
	l.Close()
	got := lines(t, path)
	var gap Record
	if err := json.Unmarshal(got[3], &gap); err != nil || gap.Operation != opRecovered || gap.Count != 3 || !strings.Contains(gap.Message, "no space left") {
		t.Fatalf("gap line %s", got[3])
	}
	if bytes.Contains(bytes.Join(got, nil), []byte(`"request_id":"refused"`)) {
		t.Fatal("a refused line was written")
	}
	mustVerify(t, path, VerifyOptions{})
}

// TestChange: a change record and the store's seq; its void when the
// commit fails (now, or once the disk has room), and Open's when the server
// stopped between record and commit; Open's reinstatement when a voided
// change is in the store after all.
func TestChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	var full atomic.Bool
	var syncs atomic.Int64
	l, err := Open(Options{Path: path, OpenFile: failing(&full, &syncs)})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := l.Change(&Record{RequestID: "c1", Operation: "CreateKey", Outcome: OK})
	if err != nil || ch.Seq() != 2 {
		t.Fatalf("Change: %v", err)
	}
	ch.Commit()
	// A commit that failed: voided at once.
	ch, err = l.Change(&Record{RequestID: "c2", Operation: "CreateKey", Outcome: OK})
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Void(&Record{RequestID: "c2", Operation: "CreateKey", Outcome: Error}); err != nil {
		t.Fatal(err)
	}
	// A commit that failed on a full disk: the void waits, and goes first.
	ch, err = l.Change(&Record{RequestID: "c3", Operation: "CreateKey", Outcome: OK})
	if err != nil {
		t.Fatal(err)
	}
	full.Store(true)
	if err := ch.Void(&Record{RequestID: "c3", Operation: "CreateKey", Outcome: Error}); !errors.Is(err, errFull) {
		t.Fatalf("Void on a full disk: %v", err)
	}
	full.Store(false)
	writeN(t, l, 0, 1)
	// A change whose server stopped before its commit: no Commit, no Void.
	ch, err = l.Change(&Record{RequestID: "c4", Operation: "CreateCredential", Credential: "AKIAEXAMPLE", Outcome: OK})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	recs := records(t, path)
	byID := func(id string, voids bool) *Record {
		for i := range recs {
			if recs[i].RequestID == id && (recs[i].Voids != 0) == voids {
				return &recs[i]
			}
		}
		return nil
	}
	if r := byID("c1", false); r == nil || !r.Change {
		t.Fatalf("c1 %+v", r)
	}
	if v := byID("c2", true); v == nil || v.Voids != byID("c2", false).Seq {
		t.Fatalf("c2's void %+v", v)
	}
	if v := byID("c3", true); v == nil || v.Voids != byID("c3", false).Seq || v.Seq != byID("c3", false).Seq+1 || byID("r0", false).Seq != v.Seq+2 || v.Dialect != "" {
		t.Fatalf("c3's void %+v (before the gap line and r0)", v)
	}
	// Open with the store at c1's seq: c4 never committed.
	l, err = Open(Options{Path: path, ChangeSeq: byID("c1", false).Seq})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	recs = records(t, path)
	if v := byID("c4", true); v == nil || v.Voids != ch.Seq() || !strings.Contains(v.Message, "stopped") || v.Credential != "AKIAEXAMPLE" {
		t.Fatalf("c4's void at Open: %+v", v)
	}
	// Opened again, nothing more to void.
	n := len(recs)
	l, _ = Open(Options{Path: path, ChangeSeq: byID("c1", false).Seq})
	l.Close()
	if recs = records(t, path); len(recs) != n {
		t.Fatalf("reopening wrote %d lines", len(recs)-n)
	}
	// A change the store has although its record was voided: reinstated.
	l, _ = Open(Options{Path: path})
	ch, _ = l.Change(&Record{RequestID: "c5", Operation: "CreateKey", Outcome: OK})
	ch.Void(&Record{RequestID: "c5", Operation: "CreateKey", Outcome: Error})
	l.Close()
	l, _ = Open(Options{Path: path, ChangeSeq: ch.Seq()})
	l.Close()
	recs = records(t, path)
	if last := recs[len(recs)-1]; last.Reinstates != ch.Seq() || last.RequestID != "c5" {
		t.Fatalf("not reinstated: %+v", last)
	}
	rep := mustVerify(t, path, VerifyOptions{ChangeSeq: ch.Seq()})
	if rep.Changes != 5 || rep.Voided != 3 {
		t.Fatalf("report %+v", rep)
	}
	// The store's seq beyond the log: its newest lines were removed.
	files, _ := Files(path)
	var b *Break
	if _, err := Verify(files, VerifyOptions{ChangeSeq: rep.Head.Seq + 1}); !errors.As(err, &b) || !strings.Contains(b.Problem, "newest lines were removed") {
		t.Fatalf("a log shorter than the store's seq: %v", err)
	}
	if _, err := Verify(files, VerifyOptions{ChangeSeq: byID("r0", false).Seq}); !errors.As(err, &b) || !strings.Contains(b.Problem, "not a change record") {
		t.Fatalf("the store's seq on a line that is no change: %v", err)
	}
}

func records(t testing.TB, path string) []Record {
	t.Helper()
	var out []Record
	for _, line := range lines(t, path) {
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// TestRotationWaitsForChange: no rotation while a change record is
// unresolved, so that Open finds it in the newest file.
func TestRotationWaitsForChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	// A line is about 240 bytes: the 12 lines before the commit pass
	// MaxSize, the new file's continuation line and the one written after
	// do not, so that a tick of the writer between that write and Files
	// cannot rotate a second time (it did with 300, under load).
	l := openLog(t, Options{Path: path, MaxSize: 600})
	ch, err := l.Change(&Record{RequestID: "c", Operation: "CreateKey", Outcome: OK})
	if err != nil {
		t.Fatal(err)
	}
	writeN(t, l, 0, 10)
	if files, _ := Files(path); len(files) != 1 {
		t.Fatalf("rotated with a change unresolved: %v", files)
	}
	ch.Commit()
	writeN(t, l, 10, 1)
	if files, _ := Files(path); len(files) != 2 {
		t.Fatalf("not rotated once resolved: %v", files)
	}
}

// TestOpenRecovers: an unfinished last line is cut off; an empty file goes
// on from the newest rotated one; a rotation stopped halfway is finished;
// lines from before the chain are covered by its anchor; a log missing while
// the store has changes restarts, which Verify reports.
func TestOpenRecovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l := openLog(t, Options{Path: path})
	writeN(t, l, 0, 2)
	l.Close()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"time":"2026-`)
	f.Close()
	l = openLog(t, Options{Path: path})
	l.Close()
	if got := lines(t, path); len(got) != 4 || !bytes.Contains(got[3], []byte("unfinished last line of 14 bytes")) {
		t.Fatalf("torn tail:\n%s", bytes.Join(got, []byte("\n")))
	}
	// Renamed away and not reopened (a crash): the chain goes on from it.
	os.Rename(path, path+".1")
	l = openLog(t, Options{Path: path})
	writeN(t, l, 2, 1)
	l.Close()
	if got := lines(t, path); !bytes.Contains(got[0], []byte("continues audit.log.1")) {
		t.Fatalf("after a crash in a rotation: %s", got[0])
	}
	mustVerify(t, path, VerifyOptions{})
	// A rotation stopped after its first rename.
	os.Rename(path, path+".2")
	os.WriteFile(path+".new", nil, 0o600)
	l = openLog(t, Options{Path: path})
	l.Close()
	if _, err := os.Stat(path + ".new"); err == nil {
		t.Fatal("the half-made file is still there")
	}
	mustVerify(t, path, VerifyOptions{})

	// Lines from before the chain.
	legacy := filepath.Join(dir, "legacy.log")
	old := `{"time":"2026-01-01T00:00:00Z","request_id":"old","dialect":"aws","operation":"Decrypt","outcome":"ok"}` + "\n"
	os.WriteFile(legacy, []byte(old+old), 0o600)
	l = openLog(t, Options{Path: legacy})
	writeN(t, l, 0, 1)
	l.Close()
	if rep := mustVerify(t, legacy, VerifyOptions{}); !rep.Anchored || rep.Lines != 2 {
		t.Fatalf("report %+v", rep)
	}
	b, _ := os.ReadFile(legacy)
	os.WriteFile(legacy, bytes.Replace(b, []byte(`"old"`), []byte(`"new"`), 1), 0o600)
	var br *Break
	if _, err := Verify([]string{legacy}, VerifyOptions{}); !errors.As(err, &br) || br.Line != 3 {
		t.Fatalf("an altered line before the chain: %v", err)
	}

	// Gone while the store has changes: a new chain, which Verify refuses.
	lost := filepath.Join(t.TempDir(), "audit.log")
	l = openLog(t, Options{Path: lost, ChangeSeq: 40})
	l.Close()
	if _, err := Verify([]string{lost}, VerifyOptions{}); !errors.As(err, &br) || !strings.Contains(br.Problem, "starts again at seq 41") {
		t.Fatalf("a restarted log: %v", err)
	}
}

// TestAuthFailureSummaries: failed authentications are one line per source
// and interval, from a bounded table; past the bound, one line counts the
// rest.
func TestAuthFailureSummaries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path, MaxSources: 3, Now: fixedNow})
	for i := range 100000 {
		src := fmt.Sprintf("192.0.2.%d", i%5)
		dialect := []string{"aws", "huawei"}[i%2]
		l.AuthFailure(src, dialect, fmt.Sprintf("Code%d", i/5%20))
	}
	l.AuthFailure(strings.Repeat("x", 1000), "aws", "Code")
	l.Close()
	recs := records(t, path)
	if len(recs) != 1+4 {
		t.Fatalf("%d lines", len(recs))
	}
	total := 0
	for _, r := range recs[1:] {
		total += r.Count
		if r.Operation != opAuthFailures || r.First == nil || r.Last == nil || len(r.Dialects) != 2 || len(r.Reasons) > maxReasons+1 {
			t.Fatalf("summary %+v", r)
		}
	}
	if total != 100001 || recs[4].SourceIP != otherSources || recs[1].SourceIP != "192.0.2.0" || recs[1].Count != 20000 || recs[1].Reasons[otherSources] == 0 {
		t.Fatalf("summaries %+v", recs[1:])
	}
	// Once per interval.
	path = filepath.Join(t.TempDir(), "audit.log")
	l = openLog(t, Options{Path: path, SummaryInterval: 20 * time.Millisecond})
	l.AuthFailure("192.0.2.1", "aws", "X")
	deadline := time.Now().Add(5 * time.Second)
	for len(lines(t, path)) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := lines(t, path); len(got) != 2 {
		t.Fatalf("no summary within its interval: %d lines", len(got))
	}
}

// TestThrottledSummaries: requests refused for their access key's budget
// are one line per access key and interval, apart from failed
// authentications, and from a bounded table too.
func TestThrottledSummaries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path, MaxSources: 2, Now: fixedNow})
	for i := range 30000 {
		l.Throttled(fmt.Sprintf("AKIA%d", i%3), "tencent", "RequestLimitExceeded")
	}
	l.AuthFailure("192.0.2.1", "aws", "InvalidSignatureException")
	l.Close()
	recs := records(t, path)
	if len(recs) != 1+1+2+1 {
		t.Fatalf("%d lines: %+v", len(recs), recs)
	}
	if r := recs[1]; r.Operation != opAuthFailures || r.SourceIP != "192.0.2.1" || r.Count != 1 {
		t.Fatalf("the failed authentication: %+v", r)
	}
	if r := recs[2]; r.Operation != opThrottled || r.AccessKeyID != "AKIA0" || r.SourceIP != "" || r.Count != 10000 ||
		r.Reasons["RequestLimitExceeded"] != 10000 || r.Dialect != "tencent" {
		t.Fatalf("the first key's summary: %+v", r)
	}
	if r := recs[4]; r.Operation != opThrottled || r.AccessKeyID != otherSources || r.Count != 10000 {
		t.Fatalf("past the bound: %+v", r)
	}
}

// TestGroupCommit: concurrent writers share fsyncs, and each line is
// durable when its Write returns.
func TestGroupCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	var full atomic.Bool
	var syncs atomic.Int64
	l := openLog(t, Options{Path: path, OpenFile: failing(&full, &syncs)})
	const writers, each = 32, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() { writeN(t, l, w*each, each) })
	}
	wg.Wait()
	l.Close()
	if n := syncs.Load(); n >= writers*each {
		t.Fatalf("%d fsyncs for %d lines", n, writers*each)
	}
	t.Logf("%d fsyncs for %d lines", syncs.Load(), writers*each)
	if rep := mustVerify(t, path, VerifyOptions{}); rep.Lines != 1+writers*each {
		t.Fatalf("report %+v", rep)
	}
}

// BenchmarkAuditWrite: writers in parallel (1, 8, 32, 128 goroutines), each
// waiting for its line to be durable, as an operation that uses a key does:
// ns/op is the cost of one line with its share of the batch's fsync.
func BenchmarkAuditWrite(b *testing.B) {
	rec := Record{RequestID: "6f1c1f4e-4bd8-4a5e-9a53-2c1bbd0f7e1a", AccessKeyID: "AKIAEXAMPLEEXAMPLE12", Principal: "arn:aws:iam::111122223333:root", SourceIP: "10.0.0.1",
		Dialect: "aws", Operation: "Decrypt", KeyARN: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", Outcome: "ok",
		Attestation: &Attestation{Format: "nitro", PCR0: strings.Repeat("ab", 48), PublicKeySHA256: strings.Repeat("cd", 32), Nonce: "0011"}}
	for _, writers := range []int{1, 8, 32, 128} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			l, err := Open(Options{Path: filepath.Join(b.TempDir(), "audit.log")})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.SetParallelism((writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := rec
					if err := l.Write(&r); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkAuditAppend: the cost of a public read's line.
func BenchmarkAuditAppend(b *testing.B) {
	l, err := Open(Options{Path: filepath.Join(b.TempDir(), "audit.log")})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	rec := Record{RequestID: "r", AccessKeyID: "AK", Principal: "arn:aws:iam::111122223333:root", Dialect: "aws", Operation: "DescribeKey", KeyARN: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", Outcome: "ok"}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := rec
			if err := l.Append(&r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type counter struct {
	mu sync.Mutex
	n  float64
}

func (c *counter) Add(v float64) { c.mu.Lock(); c.n += v; c.mu.Unlock() }

func (c *counter) get() float64 { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

// TestCountBytes: a Counter given to CountBytes counts every byte written
// after, and nothing once taken away.
func TestCountBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Write(&Record{RequestID: "before"}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	c := &counter{}
	l.CountBytes(c)
	for _, id := range []string{"a", "b"} {
		if err := l.Write(&Record{RequestID: id, Dialect: "aws", Operation: "Encrypt", Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := os.Stat(path)
	if want := float64(after.Size() - before.Size()); c.get() != want {
		t.Fatalf("counted %v bytes; the file grew by %v", c.get(), want)
	}
	if c.get() == 0 {
		t.Fatal("nothing counted")
	}
	// A line answered once written (Append) is counted before its answer:
	// a scrape right after it must see it (TestMetricsAfterAMixedWorkload
	// failed once in CI when the count came after the answer).
	for i := range 200 {
		if err := l.Append(&Record{RequestID: fmt.Sprintf("loose %d", i)}); err != nil {
			t.Fatal(err)
		}
		now, _ := os.Stat(path)
		if want := float64(now.Size() - before.Size()); c.get() != want {
			t.Fatalf("after Append %d: counted %v bytes; the file grew by %v", i, c.get(), want)
		}
	}
	after, _ = os.Stat(path)
	l.CountBytes(nil)
	l.Write(&Record{RequestID: "c"})
	if want := float64(after.Size() - before.Size()); c.get() != want {
		t.Fatal("counted after CountBytes(nil)")
	}
}

// TestRecordBounded: a record whose fields carry what a client sent (a
// megabyte of an error message, escaped six times over) is written clipped
// to maxRecord, marked so; the chain verifies and the log opens again,
// where a line past maxLine would have made both refuse it.
func TestRecordBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path})
	huge := strings.Repeat("\x01", 1<<20)
	if err := l.Write(&Record{RequestID: "r", Dialect: "aws", Operation: huge, KeyARN: huge, Outcome: Error, ErrorCode: "ValidationException", Message: huge}); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(&Record{RequestID: "r2", Dialect: "aws", Operation: "Encrypt", Outcome: OK}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	ls := lines(t, path)
	if len(ls) != 3 {
		t.Fatalf("%d lines", len(ls))
	}
	if n := len(ls[1]); n > maxRecord+200 { // seq and prev are added to the record
		t.Fatalf("a %d-byte line", n)
	}
	recs := records(t, path)
	if r := recs[1]; !strings.HasSuffix(r.Message, "[record clipped]") || r.ErrorCode != "ValidationException" || r.RequestID != "r" {
		t.Fatalf("the clipped record %+v", r)
	}
	mustVerify(t, path, VerifyOptions{})
	l = openLog(t, Options{Path: path})
	l.Close()
}

// TestVerifyNoChainWithChangeSeq: Verify of files holding no chained line
// is a Break when the store has a change the log must hold, not a report of
// an intact log of 0 lines.
func TestVerifyNoChainWithChangeSeq(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, []byte("{\"message\":\"not chained\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var b *Break
	if _, err := Verify([]string{path}, VerifyOptions{ChangeSeq: 7}); !errors.As(err, &b) || !strings.Contains(b.Problem, "seq 7") {
		t.Fatalf("Verify = %v; want a Break naming seq 7", err)
	}
	if rep, err := Verify([]string{path}, VerifyOptions{}); err != nil || rep.Lines != 0 {
		t.Fatalf("without a change seq: %+v, %v", rep, err)
	}
}

// TestAuthFailureSourceBounded: a source longer than any address is kept
// to maxSourceLen bytes in the table and its summary line, and two that
// differ only past that share one entry.
func TestAuthFailureSourceBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path, Now: fixedNow})
	long := strings.Repeat("x", 10000)
	l.AuthFailure(long+"a", "aws", "Code")
	l.AuthFailure(long+"b", "aws", "Code")
	l.Close()
	recs := records(t, path)
	if len(recs) != 1+1 {
		t.Fatalf("%d lines: %+v", len(recs), recs)
	}
	if r := recs[1]; len(r.SourceIP) != maxSourceLen || r.Count != 2 {
		t.Fatalf("a %d-byte source counted %d times", len(r.SourceIP), r.Count)
	}
}

// BenchmarkDurableLines: writers goroutines each write durable lines (Write,
// as a key use does); cpu-µs/line is the process's CPU (user and system,
// from getrusage) per line, the batch's fsync included, and wall-µs/line
// the elapsed time per line: what the audit log costs a server, measurable
// in-process.
func BenchmarkDurableLines(b *testing.B) {
	rec := Record{RequestID: "6f1c1f4e-4bd8-4a5e-9a53-2c1bbd0f7e1a", AccessKeyID: "AKIAEXAMPLEEXAMPLE12", Principal: "arn:aws:iam::111122223333:root", SourceIP: "10.0.0.1",
		Dialect: "aws", Operation: "GenerateDataKey", KeyARN: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", Outcome: "ok"}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for _, writers := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			l, err := Open(Options{Path: filepath.Join(b.TempDir(), "audit.log")})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			if err := l.Write(&Record{RequestID: "first"}); err != nil { // the files made, outside the figures
				b.Fatal(err)
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			c0, t0 := cpu(), time.Now()
			for range writers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						r := rec
						if err := l.Write(&r); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			c, w := cpu()-c0, time.Since(t0)
			b.StopTimer()
			b.ReportMetric(float64(c.Microseconds())/float64(b.N), "cpu-µs/line")
			b.ReportMetric(float64(w.Microseconds())/float64(b.N), "wall-µs/line")
		})
	}
}

// slowSyncFile's Sync sleeps while slow is set: a batch stays in its sync.
type slowSyncFile struct {
	*os.File
	slow *atomic.Bool
}

func (f *slowSyncFile) Sync() error {
	if f.slow.Load() {
		time.Sleep(300 * time.Millisecond)
	}
	return f.File.Sync()
}

// TestCountBytesBeforeLooseAnswer: a line answered once written (Append)
// in a batch that must also be synced (a durable line with it) is counted
// before its answer, not after the batch's sync: a scrape right after the
// answer saw the log grown by a line the counter had not yet counted
// (TestMetricsAfterAMixedWorkload failed once in CI).
func TestCountBytesBeforeLooseAnswer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	var slow atomic.Bool
	l := openLog(t, Options{Path: path, OpenFile: func(name string, flag int, perm os.FileMode) (File, error) {
		f, err := os.OpenFile(name, flag, perm)
		if err != nil {
			return nil, err
		}
		return &slowSyncFile{File: f, slow: &slow}, nil
	}})
	c := &counter{}
	l.CountBytes(c)
	if err := l.Write(&Record{RequestID: "first"}); err != nil {
		t.Fatal(err)
	}
	base := c.get()
	slow.Store(true)
	defer slow.Store(false)
	done := make(chan error, 2)
	go func() { done <- l.Write(&Record{RequestID: "hold"}) }() // the writer sleeps in its sync
	time.Sleep(100 * time.Millisecond)
	go func() { done <- l.Write(&Record{RequestID: "durable"}) }() // queued: the next batch
	time.Sleep(50 * time.Millisecond)
	if err := l.Append(&Record{RequestID: "loose"}); err != nil { // the same batch, answered before its sync
		t.Fatal(err)
	}
	got := c.get()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lineLen := func(id string) float64 {
		i := bytes.Index(b, []byte(`"request_id":"`+id+`"`))
		if i < 0 {
			t.Fatalf("no line %q in the log", id)
		}
		return float64(bytes.IndexByte(b[i:], '\n') + 1 + i - (bytes.LastIndexByte(b[:i], '\n') + 1))
	}
	if want := base + lineLen("hold") + lineLen("loose"); got < want {
		t.Fatalf("when Append returned the counter said %v bytes; the lines answered by then are %v", got, want)
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuthFailureManySources: an attacker with many addresses (1024 IPv4
// addresses, or IPv6 /64s from one /54), each far inside its failure
// budget, made one line per source and interval, up to the table's 1024:
// ≈500 KB per interval, 4 GB a day, kept forever. The lines of an interval
// are bounded now whatever the number of sources: the sources that failed
// most get a line each, the rest one line that says how many sources and
// failures it stands for, by dialect and error code.
func TestAuthFailureManySources(t *testing.T) {
	// docs/audit.md's bound: 64 lines and the other line, each under ~700
	// bytes with every code of the three dialects.
	const maxAuthSummaryBytes = 48 << 10
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path, Now: fixedNow})
	// Every code a failed authentication gets through the three dialects,
	// and the longest sources a summary names: the longest lines there are.
	codes := []string{"InvalidSignatureException", "IncompleteSignatureException", "UnrecognizedClientException",
		"MissingAuthenticationTokenException", "KMS.0301", "AuthFailure.InvalidAuthorization",
		"AuthFailure.SignatureExpire", "AuthFailure.SignatureFailure"}
	dialects := []string{"aws", "huawei", "tencent"}
	const intervals, perInterval, heavy = 5, 2000, 3
	size := func() int {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return int(fi.Size())
	}
	l.Flush()
	for k := range intervals {
		before, seen := size(), len(lines(t, path))
		want := 0
		for i := range perInterval {
			src := fmt.Sprintf("2001:db8:%04x:%04x::/64", k, i) // 10,000 distinct in all
			n := 1
			if i >= 500 && i < 500+heavy {
				n = 50 // seen late, after 64 others: still named, for failing most
			}
			for j := range n {
				l.AuthFailure(src, dialects[(i+j)%3], codes[(i+j)%len(codes)])
			}
			want += n
		}
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		written := size() - before
		recs := records(t, path)[seen:]
		var longest int
		for _, line := range lines(t, path)[seen:] {
			longest = max(longest, len(line)+1)
		}
		t.Logf("interval %d: %d lines, %d bytes, the longest %d", k, len(recs), written, longest)
		if written > maxAuthSummaryBytes {
			t.Fatalf("interval %d: %d summary bytes in %d lines, want at most %d", k, written, len(recs), maxAuthSummaryBytes)
		}
		// The counts add up: the named sources and the other line's
		// account for every source and every failure, exactly.
		var agg struct {
			Sources int `json:"sources"`
		}
		count, named, other := 0, 0, -1
		for i, r := range recs {
			if r.Operation != opAuthFailures {
				t.Fatalf("interval %d: %+v", k, r)
			}
			count += r.Count
			if r.SourceIP == otherSources {
				other = i
				continue
			}
			named++
			if n, _ := strconv.ParseInt(r.SourceIP[len("2001:db8:0000:"):][:4], 16, 32); r.Count == 50 != (n >= 500 && n < 500+heavy) {
				t.Fatalf("interval %d: %s named with %d failures", k, r.SourceIP, r.Count)
			}
		}
		if other < 0 {
			t.Fatalf("interval %d: no other line", k)
		}
		if err := json.Unmarshal(lines(t, path)[seen+other], &agg); err != nil {
			t.Fatal(err)
		}
		o := recs[other]
		reasons := 0
		for _, n := range o.Reasons {
			reasons += n
		}
		if count != want || named+agg.Sources != perInterval || reasons != o.Count || len(o.Dialects) != 3 || o.Dialect != "" {
			t.Fatalf("interval %d: %d failures of %d, %d sources named and %d in the other line of %d: %s",
				k, count, want, named, agg.Sources, perInterval, lines(t, path)[seen+other])
		}
		for i := range heavy {
			if !slices.ContainsFunc(recs, func(r Record) bool { return r.SourceIP == fmt.Sprintf("2001:db8:%04x:%04x::/64", k, 500+i) }) {
				t.Fatalf("interval %d: the source that failed most, seen late, has no line", k)
			}
		}
	}
}
