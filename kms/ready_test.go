package kms

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// TestReady: an open service is ready; a canceled ctx is ErrCanceled; a
// closed one is not ready.
func TestReady(t *testing.T) {
	s, _ := newTestService(t)
	if err := s.Ready(bg); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	wantKind(t, s.Ready(canceledCtx()), ErrCanceled)
	s.Close()
	if err := s.Ready(bg); err == nil {
		t.Fatal("a closed service is ready")
	}
}

// countingStore counts View, the read Ready makes; while gate is not nil,
// each View waits for it to close, and fail, if set, is View's answer.
type countingStore struct {
	store.Store
	views atomic.Int64
	gate  chan struct{}
	fail  atomic.Pointer[error]
}

func (c *countingStore) View(ctx context.Context, fn func(store.Reader) error) error {
	c.views.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	if e := c.fail.Load(); e != nil {
		return *e
	}
	return c.Store.View(ctx, fn)
}

// TestReadyReadsStoreOncePerSecond: the unauthenticated probe cannot make
// the server read its store per request: concurrent and rapid calls share
// one read, whose answer (a failure as well as a success) stands for
// readyFor.
func TestReadyReadsStoreOncePerSecond(t *testing.T) {
	s, clk := newTestService(t)
	cs := &countingStore{Store: s.st, gate: make(chan struct{})}
	s.st = cs

	// Concurrent callers while the read is in flight share it.
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() { errs <- s.Ready(bg) })
	}
	for cs.views.Load() == 0 {
		time.Sleep(time.Millisecond) // the first read has begun
	}
	// A caller that gives up waiting is ErrCanceled, and the read goes on.
	ctx, cancel := context.WithCancel(bg)
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- s.Ready(ctx) }()
	cancel()
	wantKind(t, <-gaveUp, ErrCanceled)
	close(cs.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Ready: %v", err)
		}
	}
	// Rapid calls within the second: no more reads.
	for range 1000 {
		if err := s.Ready(bg); err != nil {
			t.Fatal(err)
		}
		clk.add(time.Millisecond / 2)
	}
	if n := cs.views.Load(); n != 1 {
		t.Fatalf("%d store reads within a second; want 1", n)
	}

	// A failure stands for the second too, and so does the success after.
	clk.add(time.Second)
	down := errors.New("the store is down")
	cs.fail.Store(&down)
	for range 100 {
		if err := s.Ready(bg); err == nil || !strings.Contains(err.Error(), "the store is down") {
			t.Fatalf("Ready with the store down: %v", err)
		}
	}
	cs.fail.Store(nil)
	if err := s.Ready(bg); err == nil {
		t.Fatal("a failure did not stand for its second")
	}
	if n := cs.views.Load(); n != 2 {
		t.Fatalf("%d store reads; want 2", n)
	}
	clk.add(time.Second)
	for range 100 {
		if err := s.Ready(bg); err != nil {
			t.Fatalf("Ready once the store is back: %v", err)
		}
	}
	if n := cs.views.Load(); n != 3 {
		t.Fatalf("%d store reads; want 3", n)
	}
}
