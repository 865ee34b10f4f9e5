package audit

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// The journal: the package doc's "Durability: the journal" says what it is
// for. This file is its format and its writer; replay.go reads it at Open.
//
// Threat model. The journal holds copies of audit lines, nothing else (no
// secret: the lines hold none), so it is as confidential as the log: 0600.
// Whoever can write it can write the log too; the journal must not let them
// do more, nor let a crash, a torn write, a stale record or a journal that
// belongs to another file do anything: Open replays only whole records of
// the current epoch whose sum holds, whose lines go on with the chain where
// the file it finds them for ends, read from at most journalSize bytes.

const (
	// journalSize is the journal's fixed size: 1024 pages, one record of a
	// durable batch each (more pages for a batch of over 4 KB), so that a
	// checkpoint — an fsync of the appending log, the cost the journal
	// saves — comes at most once in ~1000 durable batches (≈0.2 µs a
	// batch); Open reads it whole in a few milliseconds. A batch larger
	// than it is fsynced in the log instead (a checkpoint).
	journalSize = 4 << 20
	// journalPage: every record starts on a page of its own, so that a write
	// torn by a crash never touches a record made durable before it.
	journalPage    = 4096
	journalHeader  = 104
	journalVersion = 1
	journalSuffix  = ".journal"
	maxJournalData = journalSize - journalPage - journalHeader
	maxLogOffset   = 1 << 62
)

var (
	journalMagic = [6]byte{'A', 'K', 'J', 'R', 'N', 'L'}
	zeroPage     [journalPage]byte
)

// JournalPath is the journal of the log at path: ".audit.log.journal" beside
// "audit.log". Its name does not start with the log's, so that it is never
// taken for a rotated file (Files, rotation, audit verify) nor read by a
// shipper told to follow "audit.log*"; a rotation or a logrotate never
// renames it. Whoever removes a log's files removes it too.
func JournalPath(path string) string {
	dir, base := filepath.Split(path)
	return filepath.Join(dir, "."+base+journalSuffix)
}

// A jrecord is one record of the journal, on disk (big-endian):
//
//	 0  magic    "AKJRNL"
//	 6  version  uint16, 1
//	 8  sum      SHA-256 of bytes 0–7, then of bytes 40 to the record's end
//	40  epoch    uint64, random: the same in every record since a checkpoint
//	48  offset   uint64: where data begins in the log file (an epoch's start:
//	             the file's size at the checkpoint)
//	56  length   uint32: of data (0: an epoch's start)
//	60  zero     uint32
//	64  seq      uint64: the chain's last seq before data
//	72  prev     the chain's hash before data: the SHA-256 of the line that
//	             ends at offset (before the chain's first line: its anchor,
//	             or the SHA-256 of the unchained lines it covers)
//	104 data     whole lines, as written to the log
type jrecord struct {
	epoch  uint64
	offset int64
	seq    uint64
	prev   [32]byte
	data   []byte
}

var errRecord = errors.New("not a journal record")

// appendRecord appends r, encoded, to buf.
func appendRecord(buf []byte, r *jrecord) []byte {
	start := len(buf)
	buf = append(buf, journalMagic[:]...)
	buf = binary.BigEndian.AppendUint16(buf, journalVersion)
	buf = append(buf, make([]byte, 32)...) // the sum, below
	buf = binary.BigEndian.AppendUint64(buf, r.epoch)
	buf = binary.BigEndian.AppendUint64(buf, uint64(r.offset))
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(r.data)))
	buf = binary.BigEndian.AppendUint32(buf, 0)
	buf = binary.BigEndian.AppendUint64(buf, r.seq)
	buf = append(buf, r.prev[:]...)
	buf = append(buf, r.data...)
	sum := recordSum(buf[start:])
	copy(buf[start+8:], sum[:])
	return buf
}

func recordSum(rec []byte) [32]byte {
	h := sha256.New()
	h.Write(rec[:8])
	h.Write(rec[40:])
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// parseRecord reads the record at the start of b (bytes of a journal the
// writer may have torn, or anyone altered): its length is bounded by b, and
// it is returned only if its sum holds. n is the record's length; data is
// a slice of b.
func parseRecord(b []byte) (r jrecord, n int, err error) {
	if len(b) < journalHeader || !bytes.Equal(b[:6], journalMagic[:]) || binary.BigEndian.Uint16(b[6:]) != journalVersion {
		return jrecord{}, 0, errRecord
	}
	off, length := binary.BigEndian.Uint64(b[48:]), binary.BigEndian.Uint32(b[56:])
	if off > maxLogOffset || binary.BigEndian.Uint32(b[60:]) != 0 || uint64(length) > uint64(len(b)-journalHeader) {
		return jrecord{}, 0, errRecord
	}
	n = journalHeader + int(length)
	if sum := recordSum(b[:n]); !bytes.Equal(sum[:], b[8:40]) {
		return jrecord{}, 0, errRecord
	}
	r = jrecord{epoch: binary.BigEndian.Uint64(b[40:]), offset: int64(off), seq: binary.BigEndian.Uint64(b[64:]), data: b[journalHeader:n]}
	copy(r.prev[:], b[72:104])
	return r, n, nil
}

// pageEnd is n rounded up to a page.
func pageEnd(n int) int { return (n + journalPage - 1) / journalPage * journalPage }

// journal is the writer's side of the journal, touched by the writer only.
type journal struct {
	path  string
	f     File // nil: there is none; the log is fsynced instead
	epoch uint64
	pos   int64 // where the next record goes: a page
	// stale: the journal may hold records that must never be replayed (one
	// that failed, of bytes later cut off the log; of another file): a
	// checkpoint must come before the next record.
	stale bool
	// poisoned: the journal may hold a record, of the current epoch, of
	// bytes that were cut off the log (its sync failed, then the log's):
	// replayed, it would put back lines whose waiters were told they failed,
	// or write them over newer lines at the same offsets. Nothing is written
	// to the log until a checkpoint has rewritten or removed the journal
	// (writeBatch), so a journal that can be neither fails every batch
	// before its write.
	poisoned bool
	tried    bool   // a checkpoint ran since Open
	failAt   int64  // where the last record whose write or sync failed starts
	failLen  int    // its length in bytes, page-rounded; 0: none since
	pend     []byte // the bytes written to the log since the last commit
	over     bool   // pend outgrew a record: the next commit is a checkpoint
	buf      []byte
}

// wrote notes b, just written to the log, for the next record.
func (j *journal) wrote(b []byte) {
	switch {
	case j.f == nil || j.over:
	case len(j.pend)+len(b) > maxJournalData:
		j.over, j.pend = true, nil
	default:
		j.pend = append(j.pend, b...)
	}
}

var errJournalFull = errors.New("the journal is full")

// commit makes every line written since the last commit durable: one
// journal record of their bytes, fdatasynced; or, when there is no room for
// it, or it failed, a checkpoint (a record that failed may be torn, or
// durable: the checkpoint's new epoch makes it obsolete either way); or,
// without a journal, the log's own fsync.
func (l *Log) commit() error {
	j := &l.j
	switch {
	case j.f != nil && !j.stale && !j.over:
		if l.record() == nil {
			return nil
		}
	case j.f == nil && !j.stale:
		return l.f.Sync()
	}
	return l.checkpoint()
}

// record writes the bytes written since the last commit as the journal's
// next record and fdatasyncs it: the blocks are the journal's already, so
// the file's size and allocation do not change and the sync is a write of
// its pages, not a commit of the filesystem's journal.
func (l *Log) record() error {
	j := &l.j
	j.buf = appendRecord(j.buf[:0], &jrecord{epoch: j.epoch, offset: l.synced.size, seq: l.synced.seq, prev: l.synced.hash, data: j.pend})
	j.buf = append(j.buf, zeroPage[:pageEnd(len(j.buf))-len(j.buf)]...)
	if j.pos+int64(len(j.buf)) > journalSize {
		return errJournalFull
	}
	j.failAt, j.failLen = j.pos, len(j.buf) // until its sync succeeds
	if _, err := j.f.Write(j.buf); err != nil {
		j.stale = true
		return err
	}
	j.pos += int64(len(j.buf))
	if err := datasync(j.f); err != nil {
		j.stale = true
		return err
	}
	j.pend, j.failLen = j.pend[:0], 0
	return nil
}

// wipe neutralises a record whose write or sync failed and whose bytes
// were then cut off the log, without the log's fsync (which may be what
// fails): it writes zeros over the record's pages and fdatasyncs the
// journal, so that no replay finds it (a replay stops at the first page
// that is not a record). The journal stays stale: records after the zeros
// would never be read. It reports whether the journal is no longer
// poisoned; if it fails, the record stays until a checkpoint succeeds.
func (j *journal) wipe() bool {
	if j.failLen == 0 {
		j.poisoned = false
		return true
	}
	w, ok := j.f.(io.WriterAt)
	if j.f == nil || !ok {
		return false
	}
	if _, err := w.WriteAt(make([]byte, j.failLen), j.failAt); err != nil {
		return false
	}
	if datasync(j.f) != nil {
		return false
	}
	j.failLen, j.poisoned = 0, false
	return true
}

// checkpoint fsyncs the log, so that it holds its lines by itself, then
// starts a new epoch at its end: an epoch start at the journal's first page,
// fdatasynced, after which every older record is obsolete. If the journal
// cannot be written, it is removed (the log is then fsynced at each commit,
// until the next checkpoint makes a journal again).
//
// It fails only if the log's fsync fails, or if the journal is poisoned and
// can be neither rewritten nor removed. Once the log's fsync has succeeded,
// every line written is durable, whatever happens to the journal: a
// journal that is not poisoned but cannot be rewritten nor removed holds
// records of durable bytes only, which replay leaves as they are; it stays
// stale (each commit is a checkpoint: the log's fsync, and another try at
// the journal). A poisoned one stays poisoned, and the error says so: no
// line may be written while a record in it could put back bytes cut off
// the log.
func (l *Log) checkpoint() error {
	j := &l.j
	j.tried = true
	if err := l.f.Sync(); err != nil {
		if j.f != nil {
			j.stale = true
		}
		return err
	}
	l.synced, l.loose = l.written, 0
	j.pend, j.over = j.pend[:0], false
	if !j.poisoned {
		j.failLen = 0 // a failed record holds bytes now durable in the log
	}
	if j.f != nil {
		j.f.Close() // opened again: written from its start
		j.f = nil
	}
	f, err := l.openJournal()
	if err == nil {
		var e [8]byte
		rand.Read(e[:])
		epoch := binary.BigEndian.Uint64(e[:])
		j.buf = appendRecord(j.buf[:0], &jrecord{epoch: epoch, offset: l.written.size, seq: l.written.seq, prev: l.written.hash})
		j.buf = append(j.buf, zeroPage[len(j.buf):]...)
		if _, err = f.Write(j.buf); err == nil {
			err = datasync(f)
		}
		if err == nil {
			j.f, j.epoch, j.pos, j.stale, j.poisoned, j.failLen = f, epoch, journalPage, false, false, 0
			return nil
		}
		f.Close()
	}
	if rerr := os.Remove(j.path); rerr == nil || errors.Is(rerr, fs.ErrNotExist) {
		syncDir(j.path)
		j.stale, j.poisoned, j.failLen = false, false, 0
		return nil
	}
	j.stale = true
	if j.poisoned {
		return fmt.Errorf("the journal %s may hold lines cut off the log, and can be neither rewritten nor removed: %w", filepath.Base(j.path), err)
	}
	return nil
}

// openJournal opens the journal for writing from its start, making it if it
// is missing or not journalSize bytes: written with zeros and fsynced, so
// that its blocks are allocated and written (fallocate's unwritten extents
// would cost a metadata commit at each first write to one).
//
// A file already there is reused only if the descriptor opened on it (not
// through a link: O_NOFOLLOW, so that a link swapped in after the Lstat
// is not written through; nor waiting on a FIFO) is a regular file of
// journalSize bytes, the server's own and readable by it alone (private):
// else it is removed and made anew, 0600, so that the lines never go to a
// file others can read, nor over another file.
func (l *Log) openJournal() (File, error) {
	path := l.j.path
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() && fi.Size() == journalSize {
		if f, err := l.openOwnJournal(path); err == nil {
			return f, nil
		}
	}
	// Removed first, and made anew: whatever was there (a short file, a
	// link, a file others can read) is not written through.
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	f, err := l.open(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	zeros := make([]byte, 64<<10)
	for n := 0; n < journalSize && err == nil; n += len(zeros) {
		_, err = f.Write(zeros)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	syncDir(path)
	return l.openOwnJournal(path)
}

var errNotJournal = errors.New("not a journal the server made")

// openOwnJournal opens the journal at path for writing, if it is one the
// server made (openJournal).
func (l *Log) openOwnJournal(path string) (File, error) {
	f, err := l.open(path, os.O_WRONLY|oNoFollow|oNonBlock, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && (!fi.Mode().IsRegular() || fi.Size() != journalSize || !private(fi)) {
		err = errNotJournal
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// closeJournal makes the log durable by itself and closes the journal: a
// checkpoint, unless no journal was started since Open (there is none, or
// nothing was committed: the records Open found are harmless, above).
func (l *Log) closeJournal() error {
	j := &l.j
	if j.f == nil && (!j.stale || !j.tried) {
		return l.f.Sync()
	}
	err := l.checkpoint()
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
	return err
}
