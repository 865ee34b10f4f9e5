package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/attestkms/attestkms/api/internal/ratelimit"
	"github.com/attestkms/attestkms/api/internal/replay"
	"github.com/attestkms/attestkms/kms"
)

// withBodyBudget makes the process's budget for bodies being read n bytes
// for the test (tests that read bodies do not run in parallel).
// heldBytes is how many bytes bodies being read hold now.
func (b *bodyBudget) heldBytes() int64 { return b.held.Load() }

func withBodyBudget(t *testing.T, n int64) {
	t.Helper()
	old := bodies.size.Load()
	SetBodyBudget(n)
	t.Cleanup(func() { bodies.size.Store(old) })
	if h := bodies.heldBytes(); h != 0 {
		t.Fatalf("%d bytes held before the test", h)
	}
}

// stalled is a request read by readBody whose body declares MaxBody bytes,
// sends some and stalls: the review's attack, one connection of it.
type stalled struct {
	pw   *io.PipeWriter
	sent chan struct{} // its bytes were read, or the read stopped
	done chan error    // readBody's error, once it returns
}

func stall(chunk []byte) *stalled {
	pr, pw := io.Pipe()
	s := &stalled{pw: pw, sent: make(chan struct{}), done: make(chan error, 1)}
	r := httptest.NewRequest(http.MethodPost, "/", pr)
	r.ContentLength = MaxBody
	go func() {
		_, err := readBody(httptest.NewRecorder(), r)
		s.done <- err
		pr.CloseWithError(errors.New("not read")) // a writer stopped midway goes on
	}()
	go func() {
		pw.Write(chunk)
		close(s.sent)
	}()
	return s
}

// TestBodyBudgetBoundsStalledBodies (review, MEDIUM): clients that declare
// a large body, send part of it and stall, before any authentication, hold
// no more of the server's memory than the budget, whatever their number;
// the ones past it are refused at once (ErrThrottled, the body budget), not
// left to hold their bytes until ReadTimeout; and every byte held comes
// back when the stalled bodies fail.
func TestBodyBudgetBoundsStalledBodies(t *testing.T) {
	const budget, conns, sent = 8 << 20, 48, 512 << 10 // 24 MiB sent, all of it held before
	withBodyBudget(t, budget)
	chunk := make([]byte, sent)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var all []*stalled
	for range conns {
		all = append(all, stall(chunk))
	}
	timeout := time.After(20 * time.Second)
	for _, s := range all {
		select {
		case <-s.sent:
		case <-timeout:
			t.Fatal("the bodies were not read")
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	refused := 0
	for _, s := range all {
		select {
		case err := <-s.done:
			if !errors.Is(err, ErrThrottled) || throttledBy(err) != LimitBody {
				t.Fatalf("a stalled body's read ended with %v, not the body budget's refusal", err)
			}
			refused++
			s.done <- err
		default: // still stalled, holding what it read
		}
	}
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d stalled bodies of %d bytes: heap grew %d bytes, %d held by the budget, %d refused", conns, sent, grew, bodies.heldBytes(), refused)
	if grew > budget+4<<20 {
		t.Errorf("%d clients stalling after %d bytes each hold %d bytes of the heap: more than the budget, %d", conns, sent, grew, budget)
	}
	if h := bodies.heldBytes(); h > budget {
		t.Errorf("%d bytes held, over the budget, %d", h, budget)
	}
	if refused == 0 {
		t.Errorf("no request refused while %d bytes were wanted of a budget of %d", conns*sent, budget)
	}
	for _, s := range all {
		s.pw.CloseWithError(io.ErrUnexpectedEOF) // the client goes away (or ReadTimeout)
	}
	for _, s := range all {
		if err := <-s.done; !errors.Is(err, ErrUnreadable) && throttledBy(err) != LimitBody {
			t.Fatalf("a stalled body failed with %v", err)
		}
	}
	if h := bodies.heldBytes(); h != 0 {
		t.Fatalf("%d bytes still held once every body failed", h)
	}
}

// panicking is a body whose Read panics after n bytes.
type panicking struct{ n int }

func (p *panicking) Read(b []byte) (int, error) {
	if p.n == 0 {
		panic("read")
	}
	k := min(len(b), p.n)
	p.n -= k
	return k, nil
}

// TestBodyBudgetReturned: whatever becomes of a body (read whole, known
// length or not; too large by its header or by its bytes; failed midway;
// timed out; a panic while reading; refused by the budget), all it held is
// returned, once: after 1,000 of them, many at a time, none is held.
func TestBodyBudgetReturned(t *testing.T) {
	withBodyBudget(t, 2<<20) // a few of the large bodies at once: some are refused
	small := []byte(`{"KeyId":"alias/a","Plaintext":"AAAA"}`)
	large := bytes.Repeat([]byte("a"), 600<<10)
	huge := bytes.Repeat([]byte("a"), MaxBody+1)
	kinds := []struct {
		name string
		req  func() *http.Request
		ok   func(b []byte, err error) bool
	}{
		{"small", func() *http.Request { return httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(small)) },
			func(b []byte, err error) bool { return err == nil && bytes.Equal(b, small) }},
		{"large", func() *http.Request { return httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(large)) },
			func(b []byte, err error) bool {
				return err == nil && len(b) == len(large) || throttledBy(err) == LimitBody
			}},
		{"unknown length", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(bytes.NewReader(large)))
			r.ContentLength = -1
			return r
		}, func(b []byte, err error) bool {
			return err == nil && len(b) == len(large) || throttledBy(err) == LimitBody
		}},
		{"declared too large", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(small))
			r.ContentLength = MaxBody + 1
			return r
		}, func(b []byte, err error) bool { return errors.Is(err, ErrTooLarge) }},
		{"too large", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(bytes.NewReader(huge)))
			r.ContentLength = -1
			return r
		}, func(b []byte, err error) bool { return errors.Is(err, ErrTooLarge) || throttledBy(err) == LimitBody }},
		{"failed midway", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", &stalling{n: 100 << 10})
			r.ContentLength = MaxBody
			return r
		}, func(b []byte, err error) bool { return errors.Is(err, ErrUnreadable) || throttledBy(err) == LimitBody }},
		{"timed out", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", io.MultiReader(bytes.NewReader(large), iotest.ErrReader(os.ErrDeadlineExceeded)))
			r.ContentLength = MaxBody
			return r
		}, func(b []byte, err error) bool {
			return errors.Is(err, os.ErrDeadlineExceeded) && errors.Is(err, ErrUnreadable) || throttledBy(err) == LimitBody
		}},
		{"panic", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", &panicking{n: 50 << 10})
			r.ContentLength = 200 << 10
			return r
		}, func(b []byte, err error) bool { return throttledBy(err) == LimitBody }}, // else it panics
	}
	var wg sync.WaitGroup
	var panics atomic.Int32
	errs := make(chan error, 1000)
	sem := make(chan struct{}, 32)
	for i := range 1000 {
		k := kinds[i%len(kinds)]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer func() {
				if p := recover(); p != nil {
					panics.Add(1)
					if k.name != "panic" {
						errs <- fmt.Errorf("%s: panic %v", k.name, p)
					}
				}
			}()
			b, err := readBody(httptest.NewRecorder(), k.req())
			if !k.ok(b, err) {
				errs <- fmt.Errorf("%s: %d bytes, %v", k.name, len(b), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if panics.Load() == 0 {
		t.Error("no read panicked")
	}
	if h := bodies.heldBytes(); h != 0 {
		t.Fatalf("%d bytes held after 1,000 bodies were done with", h)
	}
}

// TestBodyBudgetAnswered: a request the budget refuses is answered with
// the dialect's throttling error at once, counted as the body budget's
// (the metrics' limit), and not charged to its source as an authentication
// failure; once the budget has room, the same request is served, and
// requests served hold nothing after.
func TestBodyBudgetAnswered(t *testing.T) {
	withBodyBudget(t, 0)
	svc, cred, _ := newService(t)
	obs := &recorder{}
	failures := ratelimit.New(0.0001, 1, 0)
	h := New(Options{Service: svc, Logger: quiet, Replay: replay.New(time.Minute, 0), Observer: obs, Limits: Limits{FailuresPerSource: failures}},
		servingDialect(&testAuth{}, Table{kms.ErrInternal: {Code: "Internal", Status: 500}, ErrThrottled: {Code: "Throttled", Status: 400},
			ErrSignature: {Code: "Signature", Status: 403}, ErrMissing: {Code: "Missing", Status: 403}}))
	e := echo.New()
	nonce := 0
	send := func() (int, string) {
		t.Helper()
		nonce++
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"Plaintext":"AAAA"}`))
		r.RemoteAddr = "192.0.2.9:4242"
		r.Header.Set("Authorization", "Test "+cred.AccessKeyID)
		r.Header.Set("X-Secret", cred.SecretAccessKey)
		r.Header.Set("X-Nonce", fmt.Sprint(nonce))
		w := httptest.NewRecorder()
		if err := h.Handle(e.NewContext(r, w)); err != nil {
			t.Fatal(err)
		}
		return w.Code, w.Body.String()
	}
	if status, body := send(); status != 200 || !strings.Contains(body, "served") {
		t.Fatalf("with the budget free: %d %s", status, body)
	}
	// Other bodies hold the whole budget.
	if !bodies.reserve(DefaultBodyBudget) {
		t.Fatal("the budget is not free")
	}
	start := time.Now()
	status, body := send()
	bodies.release(DefaultBodyBudget)
	if status != 400 || body != "Throttled" || time.Since(start) > time.Second {
		t.Fatalf("with the budget spent: %d %s after %v", status, body, time.Since(start))
	}
	if len(obs.limits) != 1 || obs.limits[0] != LimitBody || len(obs.reasons) != 0 {
		t.Fatalf("counted as %v, %v", obs.limits, obs.reasons)
	}
	if failures.Spent(sourceKey("192.0.2.9"), time.Now()) {
		t.Fatal("the refusal was charged to its source as an authentication failure")
	}
	for range 10 {
		if status, body := send(); status != 200 || !strings.Contains(body, "served") {
			t.Fatalf("with the budget free again: %d %s", status, body)
		}
	}
	if h := bodies.heldBytes(); h != 0 {
		t.Fatalf("%d bytes held after the requests were answered", h)
	}
}
