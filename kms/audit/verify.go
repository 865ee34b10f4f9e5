package audit

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
)

// VerifyOptions configure Verify. Zero values check the whole chain.
type VerifyOptions struct {
	// Partial lets the first file begin inside the chain (attestkms audit
	// verify --from): the prev of its first chained line is not checked.
	// Zero: the chain must start at its anchor.
	Partial bool
	// ChangeSeq, if not zero, is the store's audit_change_seq: the log must
	// reach it, and that line must be a change record.
	ChangeSeq uint64
}

// Report is what Verify found of a chain that holds.
type Report struct {
	Files []FileReport
	Lines int // chained lines
	// First is the first chained line; Anchored whether it is the chain's
	// anchor (else the check started inside the chain: Partial).
	First    Position
	Anchored bool
	// Head is the last line, HeadHash its SHA-256: what a later check of
	// the same log must find again, at the same seq (keep it elsewhere to
	// detect the loss of newer lines).
	Head     Position
	HeadHash string
	Changes  int // change records
	Voided   int // of them, voided: changes that did not commit
	Notes    []string
}

// FileReport is one file of a Report.
type FileReport struct {
	Name              string
	Lines             int
	FirstSeq, LastSeq uint64
}

// Position is a line of the log: its file, its line number (from 1) and
// its seq.
type Position struct {
	File string
	Line int
	Seq  uint64
}

// A Break is the first line at which the chain does not hold, and what is
// wrong there: a line altered, removed, inserted or moved.
type Break struct {
	File    string
	Line    int
	Problem string
}

func (b *Break) Error() string { return fmt.Sprintf("%s:%d: %s", b.File, b.Line, b.Problem) }

// Verify checks the chain through files, in chain order (Files gives it):
// every line's seq follows the one before it and its prev is that line's
// SHA-256, the first line is the anchor (unless opts.Partial), and, with
// opts.ChangeSeq, the log reaches the store's last change record. It returns
// a *Break for the first line that breaks the chain, or another error for a
// file it cannot read.
func Verify(files []string, opts VerifyOptions) (*Report, error) {
	v := &verifier{opts: opts, rep: &Report{}}
	it := &lineIter{files: files}
	defer it.close()
	for {
		item, err := it.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := v.check(item, it); err != nil {
			return nil, err
		}
	}
	return v.finish()
}

type verifier struct {
	opts    VerifyOptions
	rep     *Report
	started bool
	prev    [32]byte
	prevPos Position
	// Lines before the chain in the current file (an older attestkms's),
	// which an anchor covers.
	prefix      hash.Hash
	prefixLines int
	// The store's change record.
	sawStore, storeIsChange, storeVoided bool
}

func (v *verifier) check(it *item, iter *lineIter) error {
	if it.lineNo == 1 {
		v.prefix, v.prefixLines = sha256.New(), 0
		v.rep.Files = append(v.rep.Files, FileReport{Name: it.file})
	}
	if it.torn {
		if more, err := iter.more(); err != nil || more {
			return firstErr(err, &Break{it.file, it.lineNo, "a line without its newline inside the log: altered, or cut"})
		}
		v.rep.Notes = append(v.rep.Notes, fmt.Sprintf("%s:%d: the last line is unfinished (a write in progress, or a crash: the server removes it when it next opens the log); not checked", it.file, it.lineNo))
		return nil
	}
	rec, ok := chained(it.raw)
	if !ok {
		if !v.started && v.rep.Files[len(v.rep.Files)-1].Lines == 0 {
			v.prefix.Write(it.raw)
			v.prefix.Write([]byte{'\n'})
			v.prefixLines++
			return nil
		}
		return &Break{it.file, it.lineNo, "not a line of the chain (no seq and prev): inserted, or altered"}
	}
	pos := Position{it.file, it.lineNo, rec.Seq}
	if !v.started {
		if err := v.start(rec, pos); err != nil {
			return err
		}
	} else if err := v.follows(rec, pos, iter); err != nil {
		return err
	}
	v.prev, v.prevPos = sha256.Sum256(it.raw), pos
	v.count(rec, pos)
	return nil
}

// start checks the first chained line.
func (v *verifier) start(rec Record, pos Position) error {
	v.started = true
	v.rep.First = pos
	switch {
	case rec.Anchor != "":
		want := rec.Anchor
		if v.prefixLines > 0 {
			want = fmt.Sprintf("%x", v.prefix.Sum(nil))
			v.rep.Notes = append(v.rep.Notes, fmt.Sprintf("%s: %d lines before the chain (written before it) are covered by its anchor", pos.File, v.prefixLines))
		}
		if rec.Prev != want {
			return &Break{pos.File, pos.Line, "the anchor line's prev is neither its anchor nor the hash of the lines before it: they, or it, were altered"}
		}
		if rec.Seq != 1 {
			return &Break{pos.File, pos.Line, fmt.Sprintf("the chain starts again at seq %d: the log before it is missing (%s)", rec.Seq, rec.Message)}
		}
		v.rep.Anchored = true
	case v.opts.Partial:
		v.rep.Notes = append(v.rep.Notes, fmt.Sprintf("%s:%d: the check starts at seq %d; the lines before it are not checked", pos.File, pos.Line, rec.Seq))
	default:
		return &Break{pos.File, pos.Line, fmt.Sprintf("the chain starts at seq %d, not at its anchor: the files or lines before it were removed (to check from here, start the check at %s)", rec.Seq, pos.File)}
	}
	return nil
}

// follows checks a line against the one before it.
func (v *verifier) follows(rec Record, pos Position, iter *lineIter) error {
	want := v.prevPos.Seq + 1
	prev := fmt.Sprintf("%x", v.prev)
	switch {
	case rec.Anchor != "":
		return &Break{pos.File, pos.Line, fmt.Sprintf("the chain starts again here, at seq %d after seq %d: the lines before it are not linked to it (%s)", rec.Seq, v.prevPos.Seq, rec.Message)}
	case rec.Seq == want && rec.Prev == prev:
		return nil
	case rec.Seq == want:
		p := v.prevPos
		return &Break{p.File, p.Line, fmt.Sprintf("seq %d was altered: its SHA-256 is not the prev of seq %d (%s:%d), or that prev was", p.Seq, rec.Seq, pos.File, pos.Line)}
	case rec.Seq > want:
		if next, err := iter.peek(); err == nil && next != nil && !next.torn {
			if n, ok := chained(next.raw); ok && n.Seq == want {
				return &Break{pos.File, pos.Line, fmt.Sprintf("seq %d comes before seq %d: lines were reordered", rec.Seq, want)}
			}
		}
		where := ""
		if pos.Line == 1 {
			where = " (a file?)"
		}
		if rec.Seq == want+1 {
			return &Break{pos.File, pos.Line, fmt.Sprintf("seq %d is missing: the line after seq %d (%s:%d) was removed%s, or this one altered", want, v.prevPos.Seq, v.prevPos.File, v.prevPos.Line, where)}
		}
		return &Break{pos.File, pos.Line, fmt.Sprintf("seq %d to %d are missing: the lines after seq %d (%s:%d) were removed%s, or this one altered", want, rec.Seq-1, v.prevPos.Seq, v.prevPos.File, v.prevPos.Line, where)}
	}
	return &Break{pos.File, pos.Line, fmt.Sprintf("seq %d after seq %d: lines were reordered or repeated, or this one altered", rec.Seq, v.prevPos.Seq)}
}

func (v *verifier) count(rec Record, pos Position) {
	v.rep.Lines++
	f := &v.rep.Files[len(v.rep.Files)-1]
	if f.Lines == 0 {
		f.FirstSeq = rec.Seq
	}
	f.Lines++
	f.LastSeq = rec.Seq
	v.rep.Head = pos
	if rec.Change {
		v.rep.Changes++
	}
	if rec.Voids != 0 {
		v.rep.Voided++
	}
	if rec.Reinstates != 0 {
		v.rep.Voided--
	}
	if s := v.opts.ChangeSeq; s != 0 {
		switch s {
		case rec.Seq:
			v.sawStore, v.storeIsChange = true, rec.Change
		case rec.Voids:
			v.storeVoided = true
		case rec.Reinstates:
			v.storeVoided = false
		}
	}
}

func (v *verifier) finish() (*Report, error) {
	rep := v.rep
	if !v.started {
		if s := v.opts.ChangeSeq; s != 0 {
			return nil, NoChain(s)
		}
		return rep, nil
	}
	rep.HeadHash = fmt.Sprintf("%x", v.prev)
	if s := v.opts.ChangeSeq; s != 0 {
		h := rep.Head
		switch {
		case h.Seq < s:
			return nil, &Break{h.File, h.Line, fmt.Sprintf("the log ends at seq %d, but the store has committed the change recorded at seq %d: the newest lines were removed", h.Seq, s)}
		case rep.First.Seq > s:
			// Before the check's start: not checked.
		case !v.sawStore || !v.storeIsChange:
			return nil, &Break{h.File, h.Line, fmt.Sprintf("seq %d, the store's last change, is not a change record in the log", s)}
		case v.storeVoided:
			rep.Notes = append(rep.Notes, fmt.Sprintf("the store holds the change recorded at seq %d, which a later line voids: its commit failed after reaching the disk (the server reinstates it when it next opens the log)", s))
		}
	}
	return rep, nil
}

// NoChain is the Break of a log in which no line of the chain is left
// while the store has committed the change recorded at seq changeSeq: its
// lines were removed (File and Line are empty: there is no line to name).
func NoChain(changeSeq uint64) *Break {
	return &Break{Problem: fmt.Sprintf("no line of the chain is left, but the store has committed the change recorded at seq %d: the log's lines were removed", changeSeq)}
}

func firstErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// lineIter reads the lines of files in order, with one line of lookahead.
type lineIter struct {
	files  []string
	i      int
	lr     *lineReader
	lineNo int
	ahead  *item
	err    error
}

type item struct {
	file   string
	lineNo int
	raw    []byte
	torn   bool
}

func (it *lineIter) next() (*item, error) {
	if it.ahead != nil || it.err != nil {
		x, err := it.ahead, it.err
		it.ahead, it.err = nil, nil
		if x == nil && err == nil {
			return nil, io.EOF
		}
		return x, err
	}
	return it.read()
}

// peek returns the next line without consuming it; nil at the end.
func (it *lineIter) peek() (*item, error) {
	if it.ahead == nil && it.err == nil {
		it.ahead, it.err = it.read()
		if errors.Is(it.err, io.EOF) {
			it.ahead, it.err = nil, nil
			return nil, nil
		}
	}
	return it.ahead, it.err
}

// more reports whether a line follows.
func (it *lineIter) more() (bool, error) {
	x, err := it.peek()
	return x != nil, err
}

func (it *lineIter) read() (*item, error) {
	for {
		if it.lr == nil {
			if it.i == len(it.files) {
				return nil, io.EOF
			}
			lr, err := openLines(it.files[it.i])
			if err != nil {
				return nil, err
			}
			it.lr, it.lineNo = lr, 0
		}
		line, err := it.lr.next()
		if errors.Is(err, io.EOF) {
			it.lr.close()
			it.lr = nil
			it.i++
			continue
		}
		if err != nil {
			if b := lineErr(it.files[it.i], it.lineNo+1, err); b != err {
				return nil, b
			}
			return nil, fmt.Errorf("%s:%d: %w", it.files[it.i], it.lineNo+1, err)
		}
		it.lineNo++
		return &item{file: it.files[it.i], lineNo: it.lineNo, raw: bytes.Clone(line), torn: it.lr.torn}, nil
	}
}

func (it *lineIter) close() {
	if it.lr != nil {
		it.lr.close()
	}
}
