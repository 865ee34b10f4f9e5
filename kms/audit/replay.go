package audit

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// replay puts back into the log the lines the journal holds that the file
// lost (the package doc's "Durability: the journal"), before Open reads the
// file's end. It returns the log's own lines saying what it did, if
// anything: restored lines, or records it refused. It fails if the journal
// holds lines for a file here that it could not write back (a full disk,
// an I/O error): the journal is then their only copy, and Open must not go
// on (its first commit would start the journal anew); the operator frees
// space or fixes the error and starts the server again, which replays them.
func (l *Log) replay() ([]*Record, error) {
	jname := filepath.Base(l.j.path)
	b, err := readJournalFile(l.j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // a first start, or a log from before the journal
	}
	if errors.Is(err, errNotRegular) {
		// Not a file the writer made (it makes a regular file and never
		// follows a link): nothing of ours to replay; the first commit
		// makes a journal anew.
		return []*Record{{Operation: opOpen, Outcome: Error,
			Message: fmt.Sprintf("the journal %s was not read (%v): it is not one the server made", jname, err)}}, nil
	}
	if err != nil {
		// A journal the server made that cannot be read (EIO, its
		// permissions) may hold lines answered as durable, which the
		// first commit would overwrite: fail closed, as for a replay
		// that cannot be written.
		return nil, fmt.Errorf("the journal %s could not be read (%w): it may hold lines answered as durable that the log lacks; fix the error, then start again (or move it aside to start without it: lines only it held would then be missing from the log, and audit verify would not notice)", jname, err)
	}
	start, recs, refused := parseJournal(b)
	var notes []*Record
	if refused != "" {
		notes = append(notes, &Record{Operation: opOpen, Outcome: Error,
			Message: fmt.Sprintf("the journal %s was not replayed from %s: not a record the server wrote", jname, refused)})
	}
	if len(recs) == 0 {
		return notes, nil
	}
	first, last := recs[0].seq+1, lastSeq(recs)
	target, err := l.replayTarget(start)
	if err == nil && target != "" {
		var n int
		var from uint64
		n, from, err = l.apply(target, start, recs)
		if err == nil {
			if n > 0 {
				notes = append(notes, &Record{Operation: opOpen, Outcome: OK,
					Message: fmt.Sprintf("restored %d lines of %s (seq %d to %d) from the journal %s: they had been written, and the requests waiting on them answered, but they had not reached the disk when the server stopped", n, filepath.Base(target), from, last, jname)})
			}
			return notes, nil
		}
		if !errors.Is(err, errNotOurs) {
			return nil, fmt.Errorf("lines seq %d to %d, answered as durable, are only in the journal %s and could not be written back into %s (%w): the journal is kept as it is; free space or fix the error, then start again", first, last, jname, filepath.Base(target), err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("the journal %s could not be replayed (%w): it holds lines seq %d to %d, answered as durable, and is kept as it is; fix the error, then start again", jname, err, first, last)
	}
	return append(notes, &Record{Operation: opOpen, Outcome: Error,
		Message: fmt.Sprintf("the journal %s holds lines seq %d to %d, which follow byte %d of a file that is not here (the log was replaced, truncated or removed while the server was stopped): they were not put back, and the journal was started anew", jname, first, last, start.offset)}), nil
}

// errNotOurs: the file holds other bytes where the journal's lines go.
var errNotOurs = errors.New("the file is not the journal's")

// readJournalFile is readJournal; tests make it fail.
var readJournalFile = readJournal

// errNotRegular: the journal's path is not a regular file (a FIFO, a
// link, a directory): not a journal the server made.
var errNotRegular = errors.New("not a regular file")

// readJournal reads at most journalSize bytes of the journal: a regular
// file, not through a symbolic link (nor is a FIFO waited on: Open would
// hang).
func readJournal(name string) ([]byte, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|oNoFollow|oNonBlock, 0)
	if err != nil {
		if fi, lerr := os.Lstat(name); lerr == nil && !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%w (%v)", errNotRegular, fi.Mode().Type())
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w (%v)", errNotRegular, fi.Mode().Type())
	}
	b := make([]byte, journalSize)
	n, err := io.ReadFull(f, b)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return b[:n], err
}

// parseJournal reads the journal b: the epoch start on its first page, then
// the records of that epoch that follow it, each on the page after the one
// before, at the log offset where the one before ended, with the chain's
// end there, and a sum that holds — up to the first that is not (a write
// torn by a crash, a stale record of an older epoch, zeros). A record that
// is all of that but whose lines are not whole lines going on with the
// chain is not the writer's: refused names it, and the records after it are
// not read.
func parseJournal(b []byte) (start jrecord, recs []jrecord, refused string) {
	start, n, err := parseRecord(b)
	if err != nil {
		if len(b) > 0 && !allZero(b[:min(len(b), journalPage)]) {
			return jrecord{}, nil, "its first page (not an epoch start)"
		}
		return jrecord{}, nil, ""
	}
	if len(start.data) != 0 {
		return jrecord{}, nil, "its first page (not an epoch start)"
	}
	at := head{seq: start.seq, hash: start.prev, size: start.offset}
	for pos := pageEnd(n); pos < len(b); pos = pageEnd(pos + n) {
		var r jrecord
		r, n, err = parseRecord(b[pos:])
		if err != nil || r.epoch != start.epoch || r.offset != at.size || r.seq != at.seq || r.prev != at.hash || len(r.data) == 0 {
			break
		}
		next, ok := chainsOn(r.data, at)
		if !ok {
			return start, recs, fmt.Sprintf("its record at byte %d (seq %d on)", pos, at.seq+1)
		}
		recs, at = append(recs, r), next
	}
	return start, recs, ""
}

// chainsOn reports whether data is whole lines of the chain going on from
// at, and returns the chain's end after them.
func chainsOn(data []byte, at head) (head, bool) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 || i > maxLine {
			return at, false
		}
		line := data[:i]
		rec, ok := chained(line)
		if !ok || rec.Seq != at.seq+1 || rec.Prev != hexHash(at.hash) {
			return at, false
		}
		at = head{seq: rec.Seq, hash: sha256.Sum256(line), size: at.size + int64(i) + 1}
		data = data[i+1:]
	}
	return at, true
}

func lastSeq(recs []jrecord) uint64 {
	r := recs[len(recs)-1]
	return r.seq + uint64(bytes.Count(r.data, []byte{'\n'}))
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// replayTarget is the file the epoch start describes: Path, or a file
// beside it (a logrotate renamed Path and the server stopped before it
// reopened), whose first start.offset bytes end with the chain's end the
// epoch started at. "" if there is none: the records are not for any file
// here. An epoch that started at offset 0 (a new file) can only be Path's;
// apply then checks its bytes.
func (l *Log) replayTarget(start jrecord) (string, error) {
	path := l.opts.Path
	names := []string{path}
	if start.offset > 0 {
		sibs, err := siblings(path)
		if err != nil {
			return "", err
		}
		for _, s := range sibs {
			if !strings.HasSuffix(s, ".gz") {
				names = append(names, s)
			}
		}
	}
	for _, name := range names {
		ok, err := endsWith(name, start)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		if ok {
			return name, nil
		}
	}
	return "", nil
}

// endsWith reports whether the first start.offset bytes of name end with
// the chain's end start names: a line whose SHA-256 is start.prev; before
// the chain's first line (seq 0), lines whose SHA-256 it is.
func endsWith(name string, start jrecord) (bool, error) {
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return start.offset == 0, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < start.offset {
		return false, err
	}
	if start.offset == 0 {
		return true, nil
	}
	if start.seq == 0 {
		sum, err := hashPrefix(name, start.offset)
		return sum == start.prev, err
	}
	var nl [1]byte
	if _, err := f.ReadAt(nl[:], start.offset-1); err != nil || nl[0] != '\n' {
		return false, err
	}
	var sum [32]byte
	err = backLines(f, start.offset, func(line []byte) bool {
		sum = sha256.Sum256(line)
		return false
	})
	return err == nil && sum == start.prev, err
}

// apply writes each record's bytes at its offset in name, where the file
// does not hold them already (it is shorter: a lost tail; or holds other
// bytes there: zeros, a line cut), then cuts what follows them, and fsyncs
// it. It writes before it cuts: a write that fails (a full disk) leaves
// the file's bytes as they were, or partly the record's, never fewer. It
// returns how many lines it wrote, and the seq of the first. In a file the
// epoch started at offset 0, nothing before vouches that the file is the
// journal's: there it writes only over what a crash leaves (nothing,
// zeros, the same bytes), else errNotOurs.
func (l *Log) apply(name string, start jrecord, recs []jrecord) (lines int, from uint64, err error) {
	w, err := l.open(name, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return 0, 0, err
	}
	defer w.Close()
	seek, ok := w.(io.Seeker)
	if !ok {
		return 0, 0, fmt.Errorf("%s: cannot write at an offset", name)
	}
	r, err := os.Open(name)
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	fi, err := r.Stat()
	if err != nil {
		return 0, 0, err
	}
	size := fi.Size()
	for _, rec := range recs {
		if size < rec.offset {
			return lines, from, errNotOurs // a hole: never (endsWith), but never written either
		}
		cur := make([]byte, min(size-rec.offset, int64(len(rec.data))))
		if _, err := r.ReadAt(cur, rec.offset); err != nil {
			return lines, from, err
		}
		if bytes.Equal(cur, rec.data) {
			continue
		}
		if start.offset == 0 && !crashed(cur, rec.data) {
			return lines, from, errNotOurs
		}
		end := rec.offset + int64(len(rec.data))
		if _, err := seek.Seek(rec.offset, io.SeekStart); err != nil {
			return lines, from, err
		}
		if _, err := w.Write(rec.data); err != nil {
			return lines, from, err
		}
		if size > end {
			if err := w.Truncate(end); err != nil {
				return lines, from, err
			}
		}
		if lines == 0 {
			from = rec.seq + 1
		}
		size = end
		lines += bytes.Count(rec.data, []byte{'\n'})
	}
	if lines > 0 {
		err = w.Sync()
	}
	return lines, from, err
}

// crashed reports whether cur, what a file holds where want was written,
// differs from it only as a crash leaves a file: shorter, or zeros where
// the data did not reach the disk.
func crashed(cur, want []byte) bool {
	for i, c := range cur {
		if c != 0 && c != want[i] {
			return false
		}
	}
	return true
}
