package audit

import (
	"errors"
	"os"
	"path/filepath"
)

// maybeRotate rotates the file once it has reached MaxSize, unless a change
// record is unresolved (Open must find it in the newest file) or the log is
// failing (its pending lines go first). A rotation that fails is tried again
// before the next batch; the lines go on to the current file meanwhile.
func (l *Log) maybeRotate() {
	if l.opts.MaxSize < 0 || l.written.size < l.opts.MaxSize || l.broken || l.gap != nil || len(l.pending) > 0 {
		return
	}
	l.mu.Lock()
	inflight := l.inflight
	l.mu.Unlock()
	if inflight > 0 {
		return
	}
	l.rotate() // a failure leaves everything as it was
}

// rotate renames the current file Path.N and starts a new one whose first
// line names it. In order, so that a crash at any step leaves a log Open
// can continue: the new file is made and synced under Path.new; the current
// one is renamed Path.N; Path.new becomes Path (Open finishes this step if it
// was not done).
func (l *Log) rotate() error {
	path := l.opts.Path
	// The file holds its lines by itself before it is renamed, and the
	// journal's records, which are its, are made obsolete.
	if err := l.checkpoint(); err != nil {
		return err
	}
	rotated, err := nextRotation(path)
	if err != nil {
		return err
	}
	tmp := path + rotatedSuffixNew
	nf, st, err := l.startFile(tmp, os.O_TRUNC, &Record{Operation: opRotate, Outcome: OK,
		Message: "continues " + filepath.Base(rotated)})
	if err != nil {
		return err
	}
	if err := os.Rename(path, rotated); err != nil {
		nf.Close()
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		nf.Close()
		if os.Rename(rotated, path) == nil {
			os.Remove(tmp)
		}
		return err
	}
	syncDir(path)
	l.f.Close()
	l.f, l.written, l.synced = nf, st, st
	l.checkpoint() // the journal's epoch for the new file; if it fails, the journal stays stale: the next commit is a checkpoint
	return nil
}

// startFile opens name (flag added to create and append), writes the line
// rec as the chain's next, and syncs it.
func (l *Log) startFile(name string, flag int, rec *Record) (File, head, error) {
	nf, err := l.open(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE|flag, 0o600)
	if err != nil {
		return nil, head{}, err
	}
	fi, err := nf.Stat()
	if err != nil {
		nf.Close()
		return nil, head{}, err
	}
	st := l.written
	st.size = fi.Size()
	line, st := appendLine(nil, l.own(rec).body, st)
	if _, err = nf.Write(line); err == nil {
		err = nf.Sync()
	}
	if err != nil {
		nf.Truncate(fi.Size())
		nf.Close()
		return nil, head{}, err
	}
	return nf, st, nil
}

// reopenFile starts a new file at Path if the current one was renamed
// (Reopen).
func (l *Log) reopenFile() error {
	path := l.opts.Path
	cur, err := l.f.Stat()
	if err != nil {
		return err
	}
	if fi, err := os.Stat(path); err == nil && os.SameFile(fi, cur) {
		return nil // not renamed: nothing to do
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if l.broken || l.gap != nil || len(l.pending) > 0 {
		// Failing: what is pending goes first, to the file it was meant for.
		l.writeBatch(nil, true)
		if l.gap != nil {
			return errors.New("the audit log cannot write: reopen it once it can")
		}
	}
	// The renamed file holds its lines by itself, and the journal's
	// records, which are its, are made obsolete.
	if err := l.checkpoint(); err != nil {
		return err
	}
	nf, st, err := l.startFile(path, 0, &Record{Operation: opReopen, Outcome: OK,
		Message: "continues the file that was " + filepath.Base(path) + " until it was renamed"})
	if err != nil {
		return err
	}
	syncDir(path)
	l.f.Close()
	l.f, l.written, l.synced = nf, st, st
	l.checkpoint() // as rotate's
	return nil
}

// syncDir makes a rename or a new file in path's directory durable.
func syncDir(path string) {
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
}
