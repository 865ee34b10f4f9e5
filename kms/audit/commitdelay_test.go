package audit

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// syncCountFile counts the syncs of the log's files (the journal's
// included: a File that is not an *os.File is synced with Sync).
type syncCountFile struct {
	*os.File
	syncs *atomic.Int64
}

func (f *syncCountFile) Sync() error {
	f.syncs.Add(1)
	return f.File.Sync()
}

// openCounted opens a log whose syncs are counted, with commit delay d and
// siblings n, and writes one line first (the first commit after Open is a
// checkpoint: several syncs).
func openCounted(t *testing.T, d time.Duration, n int) (*Log, *atomic.Int64) {
	t.Helper()
	return openCountedBusy(t, d, n, func() bool { return false })
}

// openCountedBusy is openCounted with busy as Options.Busy (openCounted's
// CPUs never have work queued: the test's own goroutines would make a
// batch wait at random).
func openCountedBusy(t *testing.T, d time.Duration, n int, busy func() bool) (*Log, *atomic.Int64) {
	t.Helper()
	syncs := &atomic.Int64{}
	l := openLog(t, Options{Path: filepath.Join(t.TempDir(), "audit.log"), CommitDelay: d, CommitSiblings: n, Busy: busy,
		OpenFile: func(name string, flag int, perm os.FileMode) (File, error) {
			f, err := os.OpenFile(name, flag, perm)
			if err != nil {
				return nil, err
			}
			return &syncCountFile{File: f, syncs: syncs}, nil
		}})
	if err := l.Write(&Record{RequestID: "first"}); err != nil {
		t.Fatal(err)
	}
	return l, syncs
}

// writeAsync writes a durable line in a goroutine; its result arrives on
// the channel.
func writeAsync(l *Log, id string) <-chan error {
	done := make(chan error, 1)
	go func() { done <- l.Write(&Record{RequestID: id}) }()
	return done
}

func answered(t *testing.T, done <-chan error, within time.Duration) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(within):
		t.Fatalf("not answered within %v", within)
	}
}

// TestCommitDelaySharesASync: a durable line whose batch forms while
// another key use is under way (Expect) waits for that use's line, and the
// two are synced together, once; the wait ends when the line arrives, not
// at the delay.
func TestCommitDelaySharesASync(t *testing.T) {
	l, syncs := openCounted(t, time.Minute, 1)
	before := syncs.Load()
	l.Expect(1) // a key use under way
	a := writeAsync(l, "a")
	select {
	case <-a:
		t.Fatal("a line was synced alone while a key use was under way")
	case <-time.After(150 * time.Millisecond):
	}
	l.Expect(-1) // its line is handed over
	start := time.Now()
	if err := l.Write(&Record{RequestID: "b"}); err != nil {
		t.Fatal(err)
	}
	answered(t, a, 5*time.Second)
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("the batch waited %v, for its delay, not for the line", waited)
	}
	if n := syncs.Load() - before; n != 1 {
		t.Fatalf("%d syncs for two lines expected together, want 1", n)
	}
}

// TestCommitDelayBounded: a line expected that never comes (its operation
// failed before writing it, and its Expect(-1) is late) holds a batch for
// at most the delay.
func TestCommitDelayBounded(t *testing.T) {
	const delay = 100 * time.Millisecond
	l, _ := openCounted(t, delay, 1)
	l.Expect(1)
	defer l.Expect(-1)
	start := time.Now()
	if err := l.Write(&Record{RequestID: "a"}); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < delay || waited > 5*time.Second {
		t.Fatalf("waited %v, want the delay (%v)", waited, delay)
	}
}

// TestCommitDelayNeedsSiblings: fewer key uses under way than
// CommitSiblings (the CPUs) do not hold a batch: they have CPUs of their
// own, and waiting for them would only delay the answer.
func TestCommitDelayNeedsSiblings(t *testing.T) {
	l, _ := openCounted(t, time.Minute, 2)
	l.Expect(1)
	defer l.Expect(-1)
	answered(t, writeAsync(l, "a"), 10*time.Second)
}

// TestCommitDelayNotForFlushOrProbe: a Flush, a Probe and Close are
// answered without waiting for expected lines; a line already waiting is
// released by them.
func TestCommitDelayNotForFlushOrProbe(t *testing.T) {
	l, _ := openCounted(t, time.Minute, 1)
	l.Expect(1)
	defer l.Expect(-1)
	flushed := make(chan error, 1)
	go func() { flushed <- l.Flush() }()
	answered(t, flushed, 10*time.Second)
	if err := l.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := writeAsync(l, "a")
	time.Sleep(50 * time.Millisecond)
	flushed = make(chan error, 1)
	go func() { flushed <- l.Flush() }()
	answered(t, flushed, 10*time.Second)
	answered(t, a, 10*time.Second)
	b := writeAsync(l, "b")
	time.Sleep(50 * time.Millisecond)
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	answered(t, b, 10*time.Second)
	answered(t, closed, 10*time.Second)
}

// TestCommitDelayOff: a negative delay never holds a batch.
func TestCommitDelayOff(t *testing.T) {
	l, _ := openCounted(t, -1, 1)
	l.Expect(5)
	defer l.Expect(-5)
	answered(t, writeAsync(l, "a"), 10*time.Second)
}

// TestCommitDelayWhileBusy: with no key use under way, a batch to be synced
// waits while the CPUs have work queued (Options.Busy) — lines arriving
// meanwhile share its sync — and goes soon after they have none, long
// before its delay.
func TestCommitDelayWhileBusy(t *testing.T) {
	var busy atomic.Bool
	l, syncs := openCountedBusy(t, time.Minute, 1, busy.Load)
	busy.Store(true)
	before := syncs.Load()
	a := writeAsync(l, "a")
	select {
	case <-a:
		t.Fatal("a line was synced alone while the CPUs had work queued")
	case <-time.After(150 * time.Millisecond):
	}
	b := writeAsync(l, "b")
	time.Sleep(50 * time.Millisecond)
	busy.Store(false)
	start := time.Now()
	answered(t, a, 10*time.Second)
	answered(t, b, 10*time.Second)
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("the batch went %v after the CPUs were idle, not at its next look", waited)
	}
	if n := syncs.Load() - before; n != 1 {
		t.Fatalf("%d syncs for two lines gathered while busy, want 1", n)
	}
}

// TestCommitDelayBusyBounded: CPUs busy for good hold a batch for at most
// the delay.
func TestCommitDelayBusyBounded(t *testing.T) {
	const delay = 100 * time.Millisecond
	l, _ := openCountedBusy(t, delay, 1, func() bool { return true })
	start := time.Now()
	if err := l.Write(&Record{RequestID: "a"}); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < delay || waited > 5*time.Second {
		t.Fatalf("waited %v, want the delay (%v)", waited, delay)
	}
}

// TestGoroutinesQueued: the default Busy reads the runtime's count of
// goroutines ready to run: a CPU-bound goroutine per CPU and more queued
// behind them are seen; an idle process is not busy.
func TestGoroutinesQueued(t *testing.T) {
	queued := goroutinesQueued()
	idle := false // another test's goroutines may still be finishing
	for deadline := time.Now().Add(5 * time.Second); !idle && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		idle = !queued()
	}
	if !idle {
		t.Fatal("goroutinesQueued says an idle process has work queued")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
			}
		})
	}
	seen := false
	for deadline := time.Now().Add(5 * time.Second); !seen && time.Now().Before(deadline); {
		seen = queued()
	}
	close(stop)
	wg.Wait()
	if !seen {
		t.Fatal("goroutinesQueued never saw the spinning goroutines queued")
	}
}

// TestCommitDelayNotForReopen: a Reopen (SIGHUP) while a batch is held for
// busy CPUs is served at the writer's next look, not after the delay.
func TestCommitDelayNotForReopen(t *testing.T) {
	var busy atomic.Bool
	l, _ := openCountedBusy(t, time.Minute, 1, busy.Load)
	busy.Store(true)
	a := writeAsync(l, "a")
	time.Sleep(50 * time.Millisecond)
	reopened := make(chan error, 1)
	go func() { reopened <- l.Reopen() }()
	answered(t, reopened, 10*time.Second)
	answered(t, a, 10*time.Second)
}
