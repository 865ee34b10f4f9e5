package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is the error of a write to a closed Log.
var ErrClosed = errors.New("audit log closed")

// Options configure a Log. Zero values are safe defaults.
type Options struct {
	// Path is the log's file. Required.
	Path string
	// MaxSize rotates the file once it holds that many bytes (package doc).
	// Zero: 100 MiB. Negative: never (an external logrotate renames it and
	// calls Reopen).
	MaxSize int64
	// Now stamps records written without a time and the log's own lines. If
	// nil, time.Now.
	Now func() time.Time
	// ChangeSeq is the seq of the last change record the store committed
	// (its audit_change_seq): Open voids a newer change record, whose
	// transaction never committed.
	ChangeSeq uint64
	// SummaryInterval is how often failed authentications are summarised,
	// one line per source. Zero: 10 s.
	SummaryInterval time.Duration
	// MaxSources bounds the sources an interval counts one by one; past it
	// they are counted together in one line. Zero: 1024.
	MaxSources int
	// MaxSourceLines bounds the failed authentications' lines an interval
	// writes, so that its bytes are bounded however many sources fail: of
	// the sources counted one by one, the MaxSourceLines that failed most
	// get a line each, the others are folded into the line that counts
	// those past MaxSources. Zero: 64.
	MaxSourceLines int
	// OpenFile opens the log's files for writing, its journal included. If
	// nil, os.OpenFile; tests give one whose writes fail.
	OpenFile func(name string, flag int, perm os.FileMode) (File, error)
	// CommitDelay is how long at most a batch that must be synced waits
	// for the durable lines Expect says are on their way, so that they
	// share its sync (Expect). Zero: DefaultCommitDelay. Negative: a batch
	// never waits.
	CommitDelay time.Duration
	// CommitSiblings is how many durable lines must be on their way for a
	// batch to wait for them. Zero: one.
	CommitSiblings int
	// Busy reports whether the process has goroutines ready to run that no
	// CPU runs yet: then a batch that must be synced waits, at most
	// CommitDelay, while it stays busy, since the work queued for the CPUs
	// is where the next lines come from. Nil: goroutinesQueued's probe,
	// from runtime/metrics. Tests set their own.
	Busy func() bool
}

// DefaultCommitDelay is Options.CommitDelay's zero value.
const DefaultCommitDelay = 4 * time.Millisecond

// DefaultMaxSize is Options.MaxSize's zero value: 100 MiB.
const DefaultMaxSize = 100 << 20

// File is what a Log needs of the file it appends to (*os.File is one).
type File interface {
	io.Writer
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
	Close() error
}

// Log is the audit log: one writer appends every line (the package doc).
// Its methods are safe for concurrent use.
type Log struct {
	opts Options
	open func(name string, flag int, perm os.FileMode) (File, error)

	mu       sync.Mutex
	queue    []*entry
	closed   bool
	inflight int           // change records not yet committed or voided
	reopen   []chan error  // Reopen requests waiting for the writer
	failure  *failureState // nil while the last batch succeeded
	wake     chan struct{}
	done     chan struct{}
	closeErr error

	auth      authTable // failed authentications by source, summarised
	throttled authTable // throttled requests by access key, summarised

	bytes atomic.Pointer[counterBox] // CountBytes's; nil: not counted

	coming atomic.Int64 // durable lines on their way (Expect)

	// The writer's own, touched by its goroutine only (and by Open before
	// it starts).
	f       File
	j       journal // beside f (journal.go)
	written head    // the chain as written to f
	synced  head    // the chain as known durable: in f, or in the journal
	broken  bool    // f may hold bytes past written.size: truncate first
	loose   int     // lines written since the last sync that no one waited for
	pending []*entry
	gap     *gapState
	buf     []byte
	last    time.Time   // when summaries were last written
	timer   *time.Timer // gather's, made at its first wait
}

// head is the end of the chain: the last line's seq and hash, and the size
// of the current file up to it.
type head struct {
	seq  uint64
	hash [32]byte
	size int64
}

// entry is one line handed to the writer.
type entry struct {
	body     []byte // the record's JSON without seq and prev; nil: a probe
	durable  bool   // its waiter waits for the fsync
	keep     bool   // the log's own: retried until written
	notice   bool   // the line counting lines not written: rebuilt each batch
	flush    bool   // a Flush: the summaries are written now
	resolves bool   // a void: the change it voids is resolved once written
	done     chan error
	seq      uint64
}

type failureState struct {
	err   error
	since time.Time
}

// gapState counts the lines that could not be written since the last
// success, for the line that says so once writes succeed again.
type gapState struct {
	count       int
	first, last time.Time
	reason      string
}

// Open opens (creating if needed, 0600) the audit log at opts.Path, finds
// the end of its chain (in its rotated files if it is empty), voids a change
// record above opts.ChangeSeq, writes what that calls for (an anchor, a
// void), and starts its writer. A full disk leaves those lines pending, the
// first of the next write, rather than failing Open.
func Open(opts Options) (*Log, error) {
	if opts.Path == "" {
		return nil, errors.New("audit log: no path given")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxSize == 0 {
		opts.MaxSize = DefaultMaxSize
	}
	if opts.SummaryInterval <= 0 {
		opts.SummaryInterval = defaultInterval
	}
	if opts.MaxSources <= 0 {
		opts.MaxSources = defaultSources
	}
	if opts.MaxSourceLines <= 0 {
		opts.MaxSourceLines = defaultSourceLines
	}
	if opts.CommitDelay == 0 {
		opts.CommitDelay = DefaultCommitDelay
	}
	if opts.CommitSiblings <= 0 {
		opts.CommitSiblings = 1
	}
	if opts.Busy == nil {
		opts.Busy = goroutinesQueued()
	}
	l := &Log{opts: opts, open: opts.OpenFile, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if l.open == nil {
		l.open = func(name string, flag int, perm os.FileMode) (File, error) { return os.OpenFile(name, flag, perm) }
	}
	l.auth.max, l.throttled.max = opts.MaxSources, opts.MaxSources
	// Throttled requests are authenticated: their lines are bounded by the
	// access keys the operator made, each within its budget.
	l.auth.lines, l.throttled.lines = min(opts.MaxSourceLines, opts.MaxSources), opts.MaxSources
	if err := l.recover(); err != nil {
		return nil, fmt.Errorf("audit log %s: %w", opts.Path, err)
	}
	l.last = time.Now()
	if len(l.pending) > 0 {
		l.writeBatch(nil, true) // a failure keeps them pending, and the log failing
	}
	go l.run()
	return l, nil
}

// Write appends rec and returns once it is durable: a request whose line
// cannot be written must not release its result, so callers turn an error
// here into a refusal. It stamps rec.Time (UTC) if unset.
func (l *Log) Write(rec *Record) error {
	_, err := l.submit(rec, &entry{durable: true})
	return err
}

// Append appends rec and returns once it is written, not synced: for lines
// whose request is answered whatever happens to the line (reads of public
// data). An error means the line was not written.
func (l *Log) Append(rec *Record) error {
	_, err := l.submit(rec, &entry{})
	return err
}

// submit marshals rec into e, hands it to the writer and waits for it.
func (l *Log) submit(rec *Record, e *entry) (uint64, error) {
	if rec.Time.IsZero() {
		rec.Time = l.opts.Now().UTC()
	}
	rec.Seq, rec.Prev = 0, ""
	body, err := marshalRecord(rec)
	if err != nil {
		return 0, err
	}
	if len(body) > maxRecord {
		body = clipped(rec)
	}
	e.body = body
	done := make(chan error, 1)
	e.done = done
	if err := l.enqueue(e); err != nil {
		return 0, err
	}
	if err := <-done; err != nil {
		return 0, err
	}
	return e.seq, nil
}

func (l *Log) enqueue(es ...*entry) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.queue = append(l.queue, es...)
	l.mu.Unlock()
	l.signal()
	return nil
}

func (l *Log) signal() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Err reports why the log cannot write, nil while its last write
// succeeded.
func (l *Log) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.failure == nil {
		return nil
	}
	return fmt.Errorf("writes failing since %s: %w", l.failure.since.UTC().Format(time.RFC3339), l.failure.err)
}

// Probe reports whether the log can write: nil at once while its last
// write succeeded; else it tries a write (the line that says how many lines
// could not be written) and reports how that went, so that a failing log
// recovers by being asked.
func (l *Log) Probe(ctx context.Context) error {
	if err := l.Err(); err == nil || errors.Is(err, ErrClosed) {
		return err
	}
	done := make(chan error, 1)
	if err := l.enqueue(&entry{durable: true, done: done}); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Flush writes the summaries of failed authentications counted so far,
// without waiting for their interval, and returns once every line written
// before it is durable.
func (l *Log) Flush() error {
	done := make(chan error, 1)
	if err := l.enqueue(&entry{durable: true, flush: true, done: done}); err != nil {
		return err
	}
	return <-done
}

// Reopen starts a new file at Path if the current one was renamed (by
// logrotate): the new file's first line says it continues the chain. It is a
// no-op while Path is still the file being written; it waits while a change
// record is unresolved.
func (l *Log) Reopen() error {
	ch := make(chan error, 1)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.reopen = append(l.reopen, ch)
	l.mu.Unlock()
	l.signal()
	return <-ch
}

// Close writes what is queued and the pending summaries, syncs and closes
// the file. Writes after it fail with ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.done
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	l.signal()
	<-l.done
	return l.closeErr
}

// run is the writer.
func (l *Log) run() {
	defer close(l.done)
	every := min(syncEvery, l.opts.SummaryInterval)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		ticked := false
		select {
		case <-l.wake:
		case <-tick.C:
			ticked = true
		}
		l.mu.Lock()
		batch := l.queue
		l.queue = nil
		closing := l.closed
		var reopen []chan error
		if l.inflight == 0 {
			reopen, l.reopen = l.reopen, nil
		}
		l.mu.Unlock()
		if !closing && l.opts.CommitDelay > 0 {
			batch, closing = l.gather(batch)
		}
		if closing || time.Since(l.last) >= l.opts.SummaryInterval || slices.ContainsFunc(batch, func(e *entry) bool { return e.flush }) {
			batch = append(l.summaries(), batch...)
			l.last = time.Now()
		}
		l.writeBatch(batch, closing || ticked && l.written != l.synced)
		for _, ch := range reopen {
			ch <- l.reopenFile()
		}
		if closing {
			l.mu.Lock()
			for _, ch := range l.reopen {
				ch <- ErrClosed
			}
			l.reopen = nil
			l.mu.Unlock()
			err := l.closeJournal()
			if cerr := l.f.Close(); err == nil {
				err = cerr
			}
			l.closeErr = err
			return
		}
	}
}

// Expect tells the writer that n durable lines (Write) are on their way: an
// operation that will write one has started. Its caller says -n once they
// are handed over (just before the Write) or will not come, whatever
// happens (a deferred call): a count left behind makes every batch wait its
// CommitDelay.
//
// It is the group commit's other half. A batch that must be synced waits,
// at most Options.CommitDelay, while lines are expected (at least
// CommitSiblings, one), for as many as were expected when it formed or
// until none is, so that they share its sync: a sync costs the same for one
// line or a hundred (on the project's VM ≈60–75 µs of CPU and 150–300 µs of
// wall time), and when operations are slower than a sync (an attested
// request's signature check is ≈0.5 ms) each batch would otherwise hold one
// line. A batch waits only for lines expected when it formed — operations
// already under way, whose lines come within an operation's time — never
// for requests that arrive while it waits, and a lone client on an idle
// server is never delayed (its own line is not expected once handed over;
// Options.Busy holds batches too, while the CPUs have work queued). The CPU the
// saved syncs free goes to the operations, so a busy server answers more
// requests a second. PostgreSQL's commit_delay with commit_siblings,
// counted by the operations themselves. Changes are not counted: they run
// one at a time, and one waiting on the change whose record is in the
// batch would hold the batch for the whole delay. An authenticated client
// can make batches wait by keeping key uses under way: at most the delay a
// batch, within its access key's rate limit.
func (l *Log) Expect(n int) { l.coming.Add(int64(n)) }

// Expected is how many durable lines Expect says are on their way.
func (l *Log) Expected() int64 { return l.coming.Load() }

// gather holds batch while durable lines are expected (Expect), for at most
// CommitDelay, adding each line handed over meanwhile. It reports whether
// the log was closed meanwhile. A batch holding no line that must be
// synced, or a Flush or a Probe, does not wait.
func (l *Log) gather(batch []*entry) ([]*entry, bool) {
	want := l.coming.Load()
	expected, busy := l.worthWaiting(want)
	if !waits(batch) || !expected && !busy {
		return batch, false
	}
	deadline := time.Now().Add(l.opts.CommitDelay)
	if l.timer == nil {
		l.timer = time.NewTimer(l.opts.CommitDelay)
	}
	defer l.timer.Stop()
	for {
		// Lines expected wake the writer as they come; the CPUs' queue
		// does not, so a batch held for it alone looks again soon.
		wait := time.Until(deadline)
		if !expected {
			wait = min(wait, busyPoll)
		}
		l.timer.Reset(wait)
		expired := false
		if expected {
			select {
			case <-l.wake:
			case <-l.timer.C:
				expired = !time.Now().Before(deadline)
			}
		} else {
			// Held for the queue alone: each line handed over meanwhile
			// need not wake the writer (a wake, and a look at the queue,
			// per line), the next look takes them all.
			<-l.timer.C
			expired = !time.Now().Before(deadline)
		}
		l.mu.Lock()
		more := l.queue
		l.queue = nil
		closing := l.closed
		reopen := len(l.reopen) > 0 // a SIGHUP does not wait out the delay
		l.mu.Unlock()
		for _, e := range more {
			if e.durable && e.body != nil {
				want--
			}
		}
		batch = append(batch, more...)
		expected, busy = l.worthWaiting(want)
		if expired || closing || reopen || hasControl(more) || !expected && !busy {
			if reopen {
				l.signal() // a Reopen's wake was taken here: the writer looks again
			}
			return batch, closing
		}
	}
}

// busyPoll is how often a batch held while the CPUs are busy, and no line
// is expected, looks whether they still are.
const busyPoll = 100 * time.Microsecond

// worthWaiting says whether a batch to be synced, still waiting for want of
// the lines expected when it formed, should wait on: while lines are
// expected (at least CommitSiblings), or else while the CPUs have work
// queued (Options.Busy; asked only then): a sync then costs the CPU that
// queued work is waiting for, and that work is where the next lines come
// from. When neither holds, the batch goes: waiting would only leave a CPU
// idle.
func (l *Log) worthWaiting(want int64) (expected, busy bool) {
	expected = want > 0 && l.coming.Load() >= int64(l.opts.CommitSiblings)
	return expected, !expected && l.opts.Busy()
}

// goroutinesQueued reports whether at least as many goroutines are ready to
// run, waiting for a CPU, as there are CPUs (runtime/metrics; ≈60 ns): work
// enough to keep every CPU busy while a batch is synced. With fewer queued,
// a batch that waited for all of them would leave the CPUs idle during its
// sync, and a few clients each waiting for its answer would get half the
// answers a second (a closed loop of 8 clients measured so).
//
// It returns the probe, which owns its sample: one goroutine's (the
// writer's) at a time.
func goroutinesQueued() func() bool {
	s := []metrics.Sample{{Name: "/sched/goroutines/runnable:goroutines"}, {Name: "/sched/gomaxprocs:threads"}}
	return func() bool {
		metrics.Read(s)
		return s[0].Value.Kind() == metrics.KindUint64 && s[1].Value.Kind() == metrics.KindUint64 &&
			s[0].Value.Uint64() >= s[1].Value.Uint64()
	}
}

// waits reports whether a batch may wait for expected lines: it holds a
// line that must be synced, and no Flush or Probe (whose callers want the
// answer now).
func waits(batch []*entry) bool {
	durable := false
	for _, e := range batch {
		if e.flush || e.body == nil {
			return false
		}
		if e.durable || e.keep {
			durable = true
		}
	}
	return durable
}

// hasControl reports whether lines holds a Flush or a Probe.
func hasControl(lines []*entry) bool {
	return slices.ContainsFunc(lines, func(e *entry) bool { return e.flush || e.body == nil })
}

// writeBatch writes the log's pending lines, then batch, with one write,
// and syncs if any line needs it (or sync): the package doc's group commit.
func (l *Log) writeBatch(batch []*entry, sync bool) {
	l.maybeRotate()
	// The log's own pending lines first (an anchor must be the chain's
	// first, a void must precede any later change), then the count of the
	// lines that could not be written, then the batch.
	lines := make([]*entry, 0, len(l.pending)+len(batch)+1)
	lines = append(lines, l.pending...)
	if l.gap != nil {
		lines = append(lines, l.gapEntry())
		sync = true
	}
	lines = append(lines, batch...)
	if len(lines) == 0 && !sync {
		return
	}
	if l.broken {
		if err := l.f.Truncate(l.written.size); err != nil {
			l.fail(lines, err)
			return
		}
		l.broken = false
	}
	if l.j.poisoned {
		// A record of lines cut off the log may be in the journal: it must
		// be made obsolete before anything is written where they were, or
		// a replay would write them over the new lines (and their waiters
		// were told they failed). If it cannot be, nothing is written.
		if err := l.checkpoint(); err != nil {
			l.fail(lines, err)
			return
		}
	}
	st := l.written
	buf := l.buf[:0]
	looseBytes := 0 // of the lines answered once written, before any sync
	for _, e := range lines {
		if e.durable || e.keep {
			sync = true
		}
		if e.body == nil {
			continue
		}
		n := len(buf)
		buf, st = appendLine(buf, e.body, st)
		e.seq = st.seq
		if !e.durable && !e.keep && !e.notice {
			looseBytes += len(buf) - n
		}
	}
	l.buf = buf
	if len(buf) > 0 {
		if _, err := l.f.Write(buf); err != nil {
			// No journal record holds what was cut off: records hold
			// bytes up to l.synced only.
			l.undo(l.written)
			l.fail(lines, err)
			return
		}
	}
	l.written = st
	l.j.wrote(buf)
	// A line's bytes are counted before its waiter is answered: the
	// loose lines' now, the others' once synced (a scrape right after an
	// answer saw the log grown by a line the counter had not yet counted:
	// TestMetricsAfterAMixedWorkload failed once in CI).
	if cb := l.bytes.Load(); cb != nil && looseBytes > 0 {
		cb.c.Add(float64(looseBytes))
	}
	loose := l.loose
	for _, e := range lines {
		if !e.durable && !e.keep && !e.notice {
			e.reply(nil)
			if e.body != nil {
				l.loose++
			}
		}
	}
	if sync && l.written != l.synced {
		if err := l.commit(); err != nil {
			// What was written since the last sync may be lost: cut it off
			// and count it, the lines already answered included (this
			// batch's are counted by fail).
			// commit fails only while the log's fsync fails: nothing
			// since l.synced is known durable.
			l.undo(l.synced)
			l.j.pend = l.j.pend[:0]
			// The journal may hold a record of what was just cut off (its
			// sync failed, not necessarily its write): it is poisoned
			// until its pages are zeroed (which needs only the journal's
			// datasync, not the log's fsync that may be what failed) or a
			// new epoch makes it obsolete; both are tried before any
			// waiter learns its line was refused, so that Open never puts
			// those lines back, whether the cut succeeded or not (broken).
			// Until a checkpoint succeeds, every commit is one, and while
			// the journal is poisoned every batch starts with one.
			if l.j.failLen > 0 {
				l.j.poisoned = true
				l.j.wipe()
			}
			if l.j.f != nil || l.j.stale {
				l.j.stale = true
				if !l.broken { // else the next batch truncates first
					l.checkpoint()
				}
			}
			l.fail(lines, err)
			l.gap.count += loose
			l.loose = 0
			return
		}
		l.synced = l.written
		l.loose = 0
	}
	if cb := l.bytes.Load(); cb != nil && len(buf) > looseBytes {
		cb.c.Add(float64(len(buf) - looseBytes))
	}
	resolved := 0
	for _, e := range lines {
		if e.resolves {
			resolved++
		}
	}
	l.pending, l.gap = nil, nil
	// The log's state first, then its waiters: one told its line is
	// written (Probe) must find Err nil.
	l.mu.Lock()
	l.failure = nil
	l.inflight -= resolved
	wake := resolved > 0 && len(l.reopen) > 0
	l.mu.Unlock()
	for _, e := range lines {
		e.reply(nil)
	}
	if wake {
		l.signal() // a Reopen waited for the change to resolve
	}
}

// undo truncates the file back to h, the chain's end before the failed
// batch; if that fails too, the next batch tries first.
func (l *Log) undo(h head) {
	l.written = h
	if err := l.f.Truncate(h.size); err != nil {
		l.broken = true
	}
}

// fail answers the waiters of a batch, lines, that could not be written
// or synced with err, keeps the log's own lines for the next batch, and
// counts the others as lost (those already answered as written too: a
// failed sync cut them off).
func (l *Log) fail(lines []*entry, err error) {
	now := l.opts.Now()
	if l.gap == nil {
		l.gap = &gapState{first: now}
	}
	l.gap.last, l.gap.reason = now, err.Error()
	l.pending = l.pending[:0]
	for _, e := range lines {
		switch {
		case e.notice:
		case e.keep:
			l.pending = append(l.pending, e)
		case e.body != nil:
			l.gap.count++
		}
		e.reply(err) // a waiter of the log's own line learns; the line stays pending
	}
	l.mu.Lock()
	if l.failure == nil {
		l.failure = &failureState{since: now}
	}
	l.failure.err = err
	l.mu.Unlock()
}

// reply answers e's waiter, once.
func (e *entry) reply(err error) {
	if e.done != nil {
		e.done <- err
		e.done = nil
	}
}

// gapEntry is the line that says how many lines could not be written.
func (l *Log) gapEntry() *entry {
	g := l.gap
	first, last := g.first.UTC(), g.last.UTC()
	rec := &Record{Time: l.opts.Now().UTC(), Dialect: dialectLog, Operation: opRecovered, Outcome: OK,
		Message: fmt.Sprintf("%d lines could not be written (%s): their requests were refused, but reads of public data, which were answered", g.count, g.reason),
		Count:   g.count, First: &first, Last: &last}
	e := l.own(rec)
	e.keep, e.notice = false, true
	return e
}

// own is an entry of the log's own line rec, kept until written.
func (l *Log) own(rec *Record) *entry {
	if rec.Dialect == "" {
		rec.Dialect = dialectLog
	}
	e := l.line(rec)
	e.keep = true
	return e
}

// line is an entry of rec that no one waits for.
func (l *Log) line(rec *Record) *entry {
	if rec.Time.IsZero() {
		rec.Time = l.opts.Now().UTC()
	}
	body, err := json.Marshal(rec)
	if err != nil {
		panic(err) // a Record always marshals
	}
	if len(body) > maxRecord {
		body = clipped(rec)
	}
	return &entry{body: body}
}

// maxRecord bounds a record's line, far below what Verify and Open accept
// (maxLine): its text fields carry what a client sent (an operation's name,
// a key id, an error message that names a field), and one request must not
// write a line that breaks the chain's reading, or the next Open.
const (
	maxRecord = 32 << 10
	maxField  = 512 // bytes of a text field kept when a record is clipped
)

// clipped is rec's line with its text fields cut to maxField bytes each
// (their JSON escapes make at most 6 bytes of each), marked as clipped.
func clipped(rec *Record) []byte {
	r := *rec
	clip := func(s *string) {
		if len(*s) > maxField {
			*s = strings.ToValidUTF8((*s)[:maxField], "") + "…"
		}
	}
	for _, f := range []*string{&r.RequestID, &r.AccessKeyID, &r.Principal, &r.SourceIP, &r.Dialect, &r.Operation,
		&r.KeyARN, &r.SourceKeyARN, &r.ErrorCode, &r.Message, &r.Credential} {
		clip(f)
	}
	r.Message += " [record clipped]"
	if len(r.BypassedChecks) > 8 {
		r.BypassedChecks = r.BypassedChecks[:8]
	}
	body, err := json.Marshal(&r)
	if err != nil || len(body) > maxRecord {
		// Not a record kms writes (an attestation summary or reasons
		// beyond their bounds): keep who and what only.
		body, _ = json.Marshal(&Record{Time: r.Time, RequestID: r.RequestID, AccessKeyID: r.AccessKeyID, Principal: r.Principal,
			SourceIP: r.SourceIP, Dialect: r.Dialect, Operation: r.Operation, KeyARN: r.KeyARN, Credential: r.Credential, Outcome: r.Outcome,
			ErrorCode: r.ErrorCode, Message: "[record too large: its details were dropped]", Change: r.Change,
			Voids: r.Voids, Reinstates: r.Reinstates, Anchor: r.Anchor})
	}
	return body
}

// appendLine appends body as the line after st — its seq and prev added —
// and returns the chain's new end.
func appendLine(buf, body []byte, st head) ([]byte, head) {
	start := len(buf)
	buf = append(buf, body[:len(body)-1]...) // body is a JSON object: drop its '}'
	if len(body) > 2 {
		buf = append(buf, ',')
	}
	buf = append(buf, `"seq":`...)
	buf = strconv.AppendUint(buf, st.seq+1, 10)
	buf = append(buf, `,"prev":"`...)
	buf = hex.AppendEncode(buf, st.hash[:])
	buf = append(buf, `"}`...)
	st.hash = sha256.Sum256(buf[start:])
	buf = append(buf, '\n')
	st.seq++
	st.size += int64(len(buf) - start)
	return buf, st
}

// A Counter counts what the log writes: the server's
// attestkms_audit_bytes_total (a prometheus.Counter is one).
type Counter interface{ Add(float64) }

type counterBox struct{ c Counter }

// CountBytes makes c count the bytes of every batch of lines written from
// now on (once it is written, and synced if it had to be); nil stops
// counting.
func (l *Log) CountBytes(c Counter) {
	if c == nil {
		l.bytes.Store(nil)
		return
	}
	l.bytes.Store(&counterBox{c})
}
