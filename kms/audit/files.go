package audit

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// errLineTooLong: a line longer than maxLine is not one the Log wrote.
var errLineTooLong = fmt.Errorf("a line longer than %d bytes", maxLine)

// lineErr is err, met reading line n of name: a *Break if the line is too
// long (the Log never writes one, so the file was altered: the chain is
// broken there, not unreadable).
func lineErr(name string, n int, err error) error {
	if errors.Is(err, errLineTooLong) {
		return &Break{name, n, errLineTooLong.Error() + ": not a line the server wrote (inserted, or altered)"}
	}
	return err
}

// chained parses line as a chained Record: ok is false for a line that is
// not JSON or has no seq or prev.
func chained(line []byte) (rec Record, ok bool) {
	if json.Unmarshal(line, &rec) != nil || rec.Seq == 0 || rec.Prev == "" {
		return rec, false
	}
	return rec, true
}

// lineReader reads a file's lines forward, each without its newline, gzip
// files decompressed. Last reports whether the final line lacked one.
type lineReader struct {
	f    *os.File
	r    *bufio.Reader
	line []byte
	torn bool
}

func openLines(name string) (*lineReader, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	lr := &lineReader{f: f}
	var r io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return nil, err
		}
		r = gz
	}
	lr.r = bufio.NewReaderSize(r, 64<<10)
	return lr, nil
}

// next returns the next line (valid until the next call), or io.EOF.
func (lr *lineReader) next() ([]byte, error) {
	lr.line = lr.line[:0]
	for {
		frag, err := lr.r.ReadSlice('\n')
		lr.line = append(lr.line, frag...)
		if len(lr.line) > maxLine {
			return nil, errLineTooLong
		}
		switch {
		case err == nil:
			return lr.line[:len(lr.line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(lr.line) > 0:
			lr.torn = true
			return lr.line, nil
		}
		return nil, err
	}
}

func (lr *lineReader) close() error { return lr.f.Close() }

// backLines calls visit with the lines of f[0:end] (end just after a
// newline), last first, each without its newline and valid only during the
// call, until visit returns false.
func backLines(f *os.File, end int64, visit func(line []byte) bool) error {
	const chunk = 64 << 10
	if end == 0 {
		return nil
	}
	pos := end - 1 // the last newline
	var tail []byte
	buf := make([]byte, chunk)
	for {
		if pos == 0 {
			visit(tail)
			return nil
		}
		n := min(chunk, pos)
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return err
		}
		data := make([]byte, 0, int(n)+len(tail))
		data = append(append(data, buf[:n]...), tail...)
		for {
			j := bytes.LastIndexByte(data, '\n')
			if j < 0 {
				break
			}
			if !visit(data[j+1:]) {
				return nil
			}
			data = data[:j]
		}
		if tail = data; len(tail) > maxLine {
			return errLineTooLong
		}
	}
}

// tailInfo is what Open learns from the end of a file.
type tailInfo struct {
	name  string
	end   int64 // its size without an unfinished last line
	torn  int64 // the bytes of that line
	found bool  // it has a chained line
	seq   uint64
	hash  [32]byte // of its last line
	// The newest change record, and whether a later line voided it or
	// reinstated it; found only if it is newer than the store's change
	// seq, or is that seq (scanning stops below it).
	change             *Record
	voided, reinstated bool
}

// scanTail reads a plain file's chain end, and its newest change record
// down to the store's storeSeq, from the end.
func scanTail(name string, storeSeq uint64) (*tailInfo, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	t := &tailInfo{name: name, end: fi.Size()}
	if t.end > 0 {
		// Drop an unfinished last line: a write the server did not finish.
		var last [1]byte
		if _, err := f.ReadAt(last[:], t.end-1); err != nil {
			return nil, err
		}
		if last[0] != '\n' {
			nl := int64(-1)
			err := backLinesRaw(f, t.end, func(off int64) { nl = off })
			if err != nil {
				return nil, err
			}
			t.torn = t.end - (nl + 1)
			t.end = nl + 1
		}
	}
	first := true
	voids, reinstates := map[uint64]bool{}, map[uint64]bool{}
	err = backLines(f, t.end, func(line []byte) bool {
		if first {
			t.hash, first = sha256.Sum256(line), false
		}
		rec, ok := chained(line)
		if !ok {
			return true
		}
		if !t.found {
			t.found, t.seq = true, rec.Seq
		}
		switch {
		case rec.Voids != 0:
			voids[rec.Voids] = true
		case rec.Reinstates != 0:
			reinstates[rec.Reinstates] = true
		case rec.Change:
			t.change, t.voided, t.reinstated = &rec, voids[rec.Seq], reinstates[rec.Seq]
			return false
		}
		return rec.Seq >= storeSeq
	})
	return t, err
}

// backLinesRaw finds the last newline of f[0:end] (off -1 if none).
func backLinesRaw(f *os.File, end int64, found func(off int64)) error {
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	for pos := end; pos > 0; {
		n := min(chunk, pos)
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return err
		}
		if j := bytes.LastIndexByte(buf[:n], '\n'); j >= 0 {
			found(pos + int64(j))
			return nil
		}
		if end-pos > maxLine {
			return errLineTooLong
		}
	}
	found(-1)
	return nil
}

// scanForward is scanTail for a compressed file, read from its start.
func scanForward(name string, storeSeq uint64) (*tailInfo, error) {
	lr, err := openLines(name)
	if err != nil {
		return nil, err
	}
	defer lr.close()
	t := &tailInfo{name: name}
	for {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return nil, err
		}
		if lr.torn {
			return t, nil
		}
		t.hash = sha256.Sum256(line)
		rec, ok := chained(line)
		if !ok {
			continue
		}
		t.found, t.seq = true, rec.Seq
		switch {
		case rec.Voids != 0 && t.change != nil && rec.Voids == t.change.Seq:
			t.voided = true
		case rec.Reinstates != 0 && t.change != nil && rec.Reinstates == t.change.Seq:
			t.reinstated = true
		case rec.Change && rec.Seq >= storeSeq:
			t.change, t.voided, t.reinstated = &rec, false, false
		}
	}
}

// Files returns the audit log at path and its rotated files beside it —
// path.N (attestkms's rotation), and the names logrotate gives
// (path.N.gz, path-DATE, …) — in chain order: by the seq of each file's
// first chained line. A file with none (empty, or older than the chain) is
// left out; so is path when it does not exist.
func Files(path string) ([]string, error) {
	names, err := siblings(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err == nil {
		names = append(names, path)
	}
	return Order(names)
}

// Order sorts the log files names in chain order, by the seq of their first
// chained line, leaving out files without one: to add a rotated file kept
// elsewhere to Files' list.
func Order(names []string) ([]string, error) {
	type file struct {
		name string
		seq  uint64
	}
	var files []file
	for _, name := range names {
		seq, err := firstSeq(name)
		var b *Break
		if errors.As(err, &b) {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if seq != 0 {
			files = append(files, file{name, seq})
		}
	}
	sort.SliceStable(files, func(i, j int) bool { return files[i].seq < files[j].seq })
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.name
	}
	return out, nil
}

// firstSeq is the seq of name's first chained line, 0 if it has none.
func firstSeq(name string) (uint64, error) {
	lr, err := openLines(name)
	if err != nil {
		return 0, err
	}
	defer lr.close()
	for n := 1; ; n++ {
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			return 0, nil
		}
		if err != nil {
			return 0, lineErr(name, n, err)
		}
		if rec, ok := chained(line); ok {
			return rec.Seq, nil
		}
	}
}

// siblings are the rotated files of the log at path: the files beside it
// whose names are path's followed by "." or "-", but for the one a rotation
// is being made in.
func siblings(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || len(name) <= len(base) || !strings.HasPrefix(name, base) ||
			name == base+rotatedSuffixNew || !strings.ContainsRune(".-", rune(name[len(base)])) {
			continue
		}
		out = append(out, filepath.Join(dir, name))
	}
	return out, nil
}

// nextRotation is the name the current file is rotated to: path.N, N one
// more than the highest such number beside it (path.N.gz counted).
func nextRotation(path string) (string, error) {
	names, err := siblings(path)
	if err != nil {
		return "", err
	}
	n := uint64(0)
	for _, name := range names {
		suffix := strings.TrimSuffix(strings.TrimPrefix(name, path+"."), ".gz") // logrotate may compress them
		if i, err := strconv.ParseUint(suffix, 10, 64); err == nil && suffix != name {
			n = max(n, i)
		}
	}
	return path + "." + strconv.FormatUint(n+1, 10), nil
}

// newestSibling is the tail of the rotated file whose chain goes furthest;
// nil when there is none.
func newestSibling(path string, storeSeq uint64) (*tailInfo, error) {
	names, err := siblings(path)
	if err != nil {
		return nil, err
	}
	var best *tailInfo
	for _, name := range names {
		scan := scanTail
		if strings.HasSuffix(name, ".gz") {
			scan = scanForward
		}
		t, err := scan(name, storeSeq)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if t.found && (best == nil || t.seq > best.seq) {
			best = t
		}
	}
	return best, nil
}

// hashPrefix is the SHA-256 of name's first n bytes: the lines an older
// attestkms wrote before the chain, which its anchor covers.
func hashPrefix(name string, n int64) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(name)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(h, f, n); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, nil
}

func hexHash(h [32]byte) string { return hex.EncodeToString(h[:]) }
