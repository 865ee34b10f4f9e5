package kms

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// readyFor is how long the answer of Ready's store read stands, a failure
// as well as a success: GET /readyz is unauthenticated, so a flood of
// probes costs at most one store read a second, not one each.
const readyFor = time.Second

// readyReadTimeout bounds the store read that callers of Ready share: it
// runs for all of them, so no caller's ctx ends it.
const readyReadTimeout = 5 * time.Second

// Ready reports whether the service can serve every operation: its store
// answers a read, and its audit log's last write succeeded (if not, Ready
// tries a write, so that the log recovers by being asked, as it does with
// the next request). While the log cannot be written, operations that
// change the store or use a key are refused (ErrInternal) and reads of
// public data are still answered: not ready, but not down. A node of a
// shared store is not ready while it does not follow the store's changes
// (follow.go), and then refuses every operation; nor while its last check
// of the records digest failed (digest.go). A done ctx is ErrCanceled.
//
// The store read's answer is at most readyFor old (by the service's clock):
// concurrent callers share one read, and the callers of the next readyFor
// get its answer. The other checks read memory (and the log's state) and
// are made at every call, so a closed service or a log that recovers is
// seen at once.
func (s *Service) Ready(ctx context.Context) error {
	if err := canceled(ctx); err != nil {
		return err
	}
	if err := s.damage(); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if s.follow != nil {
		if err := s.follow.err(); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	if err := s.readiness().storeReads(ctx, s); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.audit.Probe(pctx); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// readyCache is the answer of Ready's last store read, and the read in
// flight. It holds no reference to its Service, so that a Service no longer
// used is collected with its entry in readyCaches (readiness).
type readyCache struct {
	mu     sync.Mutex
	last   *readyRead // the last read that ended; nil if none
	flight *readyRead // the read running; nil if none
}

// readyRead is one store read of Ready's: err is its answer once done is
// closed, and at when it ended.
type readyRead struct {
	done chan struct{}
	err  error
	at   time.Time
}

// storeReads is the answer of a store read of s's at most readyFor old:
// the last one's, or the one in flight's, or a new one's. The read runs in
// a goroutine of its own, one at a time, detached from every caller's ctx
// (bounded by readyReadTimeout): a caller whose ctx is done stops waiting
// (ErrCanceled) and the others still get its answer.
func (rc *readyCache) storeReads(ctx context.Context, s *Service) error {
	rc.mu.Lock()
	if l := rc.last; l != nil {
		if age := s.now().Sub(l.at); age >= 0 && age < readyFor {
			rc.mu.Unlock()
			return l.err
		}
	}
	r := rc.flight
	if r == nil {
		r = &readyRead{done: make(chan struct{})}
		rc.flight = r
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readyReadTimeout)
		go func() {
			defer cancel()
			err := s.view(rctx, func(rd store.Reader) error {
				_, err := rd.Meta()
				return err
			})
			rc.mu.Lock()
			r.err, r.at = err, s.now()
			rc.last, rc.flight = r, nil
			rc.mu.Unlock()
			close(r.done)
		}()
	}
	rc.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return canceled(ctx)
	}
}

// readiness is s's readyCache.
func (s *Service) readiness() *readyCache { return &s.ready }
