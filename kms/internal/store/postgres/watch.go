package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// channel is the NOTIFY channel of migration 0002's triggers.
const channel = "attestkms_changes"

// How Watch keeps its connection honest: after watchQuiet without a
// notification it reads the revision, which must answer within
// watchPingTimeout, so that a connection that stopped answering without
// closing (a network partition) is reported lost within 0.8 s.
const (
	watchQuiet       = 200 * time.Millisecond
	watchPingTimeout = 600 * time.Millisecond
	// A reconnection waits watchBackoffMin after its first failure,
	// doubling up to watchBackoffMax: the first attempt is at once.
	watchBackoffMin = 50 * time.Millisecond
	watchBackoffMax = 5 * time.Second
)

// Watch is store.Watcher's Watch (package doc, "Notifications"): LISTEN on
// a connection of its own, named "attestkms watch" in pg_stat_activity.
func (s *Store) Watch(ctx context.Context, fn func(store.Change)) error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return store.ErrClosed
	}
	s.watchers.Add(1)
	s.mu.Unlock()
	defer s.watchers.Done()
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.done, cancel) // Close stops it
	defer stop()

	w := &watch{s: s, fn: fn, last: -1}
	backoff := time.Duration(0)
	for {
		live := w.listen(ctx)
		if s.closed.Load() {
			return store.ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if live {
			fn(store.Change{Kind: store.WatchLost})
			backoff = 0
		} else {
			backoff = min(max(2*backoff, watchBackoffMin), watchBackoffMax)
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
	}
}

// watch is one Watch's state across its connections.
type watch struct {
	s  *Store
	fn func(store.Change)
	// last is the revision of the last change told (or covered by a
	// ChangedAll); -1 before the first listen.
	last int64
	// suspect is a revision a ping read above last: if no notification
	// has brought last to it by the next ping, some were lost.
	suspect int64
}

// listen connects, listens and tells changes until the connection fails
// or ctx is done: whether it listened.
func (w *watch) listen(ctx context.Context) (live bool) {
	c, err := w.s.dial(ctx, "attestkms watch")
	if err != nil {
		return false
	}
	defer closeConn(c)
	if h := w.s.hooks.listen; h != nil {
		h()
	}
	if _, err := c.Exec(ctx, "LISTEN "+channel); err != nil {
		return false
	}
	// What commits from here on is notified; compare what committed
	// before with what was told.
	rev, err := w.revision(ctx, c)
	if err != nil {
		return false
	}
	if w.last < 0 || rev != w.last {
		w.fn(store.Change{Kind: store.ChangedAll})
	} else {
		w.fn(store.Change{Kind: store.WatchResumed})
	}
	w.last, w.suspect = rev, 0
	for {
		wctx, cancel := context.WithTimeout(ctx, watchQuiet)
		n, err := c.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if !w.notified(ctx, c, n) {
				return true
			}
			continue
		case ctx.Err() != nil || !isTimeout(err):
			return true
		}
		if !w.ping(ctx, c) {
			return true
		}
	}
}

// revision reads the count of changes committed, within watchPingTimeout.
func (w *watch) revision(ctx context.Context, c *pgx.Conn) (int64, error) {
	timeout := watchPingTimeout
	if w.s.hooks.pingTimeout != 0 {
		timeout = w.s.hooks.pingTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rev int64
	err := c.QueryRow(ctx, "SELECT revision FROM changes").Scan(&rev)
	return rev, err
}

// ping reads the revision: false if the connection does not answer in
// time. A revision above the last told, still unreached by the next ping,
// means notifications were lost: ChangedAll.
func (w *watch) ping(ctx context.Context, c *pgx.Conn) bool {
	rev, err := w.revision(ctx, c)
	if err != nil {
		return false
	}
	switch {
	case w.suspect > 0 && w.last < w.suspect:
		w.fn(store.Change{Kind: store.ChangedAll})
		w.last, w.suspect = rev, 0
	case rev > w.last:
		w.suspect = rev
	default:
		w.suspect = 0
	}
	return true
}

// notified tells the change n carries, [revision, kind, id, version]:
// false if the connection failed. Notifications come in commit order, one
// revision after another; one further on means some were missed, and one
// that is not a change may be a format this package does not know: both
// are ChangedAll. Whoever may connect to the database may NOTIFY too, so a
// notification's revision is believed only when it is the next one, and
// every change is told, even one at a revision already seen (at worst a
// cache drops what it did not have to): a forged notification can make
// caches drop entries, never keep one.
func (w *watch) notified(ctx context.Context, c *pgx.Conn, n *pgconn.Notification) bool {
	var p []json.RawMessage
	var rev, version int64
	var kind store.ChangeKind
	var id string
	ok := json.Unmarshal([]byte(n.Payload), &p) == nil && len(p) == 4 &&
		json.Unmarshal(p[0], &rev) == nil && json.Unmarshal(p[1], &kind) == nil &&
		json.Unmarshal(p[2], &id) == nil && json.Unmarshal(p[3], &version) == nil && version >= 0
	switch kind {
	case store.ChangedKey, store.ChangedAlias, store.ChangedCredential, store.ChangedMeta:
	default:
		ok = false
	}
	switch {
	case !ok:
		w.fn(store.Change{Kind: store.ChangedAll})
	case rev > w.last+1:
		// Read the revision, then tell ChangedAll: whatever committed up
		// to it is covered.
		cur, err := w.revision(ctx, c)
		if err != nil {
			return false
		}
		w.fn(store.Change{Kind: store.ChangedAll})
		w.last, w.suspect = cur, 0
	default:
		w.fn(store.Change{Kind: kind, ID: id, Version: uint64(version)})
		if rev == w.last+1 {
			w.last = rev
		}
	}
	return true
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}
