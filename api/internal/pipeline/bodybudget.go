package pipeline

import (
	"errors"
	"sync/atomic"
)

// DefaultBodyBudget is how many bytes of request bodies the process holds,
// at most, while it reads them: 64 MiB. A body is read before its request is
// authenticated (the signature covers it), so until then its buffer is
// memory any client can make the server hold, for as long as it takes to
// send the body (net/http's ReadTimeout: 30 s in serve). Bounded only by the
// connections (serve's 10,000) and MaxBody, that was 10 GiB (review finding:
// 300 stalled bodies of 1 MiB raised RSS by 300 MB). 64 MiB is 64 bodies of
// MaxBody, or ≈2,000 attested requests (≈32 KiB each) arriving at once.
const DefaultBodyBudget = 64 << 20

// LimitBody: the process's budget for bodies being read (SetBodyBudget)
// refused a request, the metrics' limit label.
const LimitBody = "body"

// errBodyBudget is readAll's refusal when the budget cannot cover a larger
// buffer; readBody answers it as a throttled request (ErrThrottled).
var errBodyBudget = errors.New("request body budget spent")

// bodies is the process's budget: one for every dialect and Handler, as a
// process has one memory. It is a package variable because readBody is
// reached from Handle with the request alone; api.New sets its size
// (SetBodyBudget).
var bodies bodyBudget

// SetBodyBudget sets how many bytes of request bodies the process holds at
// most while it reads them (before authentication): 0 or less is
// DefaultBodyBudget, and less than one body of MaxBody is that much, so that
// every body the dialects accept can be read when the server is idle.
// Bodies being read keep what they hold; the new size refuses or admits the
// next growth.
func SetBodyBudget(n int64) {
	if n <= 0 {
		n = DefaultBodyBudget
	}
	bodies.size.Store(max(n, MaxBody+1))
}

// A bodyBudget counts the bytes held by the buffers of bodies being read.
// A body's reservation grows before its buffer does (readAll), so held
// never exceeds size (the memory does, briefly, by the buffer being copied
// out of as one grows: at most 1.5 times size in all): a client that sends a body slowly or stalls holds at
// most what it sent (twice, as the buffer doubles), and only while the
// budget lasts; past it, requests are refused at once, with the dialect's
// throttling error (which its SDKs retry), instead of the server growing
// until the kernel kills it. The refusal is the price: a client that spends
// the budget (by sending ≈32 MiB and stalling) delays others' requests
// with a body, for up to ReadTimeout, as a flood of connections would.
type bodyBudget struct {
	size atomic.Int64 // 0 is DefaultBodyBudget (SetBodyBudget never stored)
	held atomic.Int64
}

// reserve takes n bytes from the budget, or reports that it cannot.
func (b *bodyBudget) reserve(n int64) bool {
	size := b.size.Load()
	if size == 0 {
		size = DefaultBodyBudget
	}
	for {
		h := b.held.Load()
		if h+n > size {
			return false
		}
		if b.held.CompareAndSwap(h, h+n) {
			return true
		}
	}
}

// release returns n bytes reserve took.
func (b *bodyBudget) release(n int64) { b.held.Add(-n) }

// A bodyHold is what one body being read holds of the budget.
type bodyHold struct {
	b *bodyBudget
	n int64
}

// grow makes the hold capacity bytes (it never shrinks), before a buffer of
// that capacity is allocated: errBodyBudget if the budget cannot cover it.
func (h *bodyHold) grow(capacity int) error {
	more := int64(capacity) - h.n
	if more <= 0 {
		return nil
	}
	if !h.b.reserve(more) {
		return errBodyBudget
	}
	h.n += more
	return nil
}

// release returns the whole hold to the budget; a second call returns
// nothing.
func (h *bodyHold) release() {
	h.b.release(h.n)
	h.n = 0
}
