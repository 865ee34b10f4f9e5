package kms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
)

// Following a shared store. Several nodes share one PostgreSQL store, and
// each caches what it reads — decoded keys with their state and policy,
// aliases, credentials — so that a warm key's use costs no round trip to
// the database. What another node changes, this one learns from the
// store's change notifications (store.Watcher): the follower drops what
// they name (keyCache.told, Credentials.told) and reads credentials again.
// A change of the meta (a service-key rotation, a region moved, a root-key
// rotation) drops the cached keys and has the meta read again while the
// node serves (readMeta): a service-key rotation made elsewhere is then
// published and signs here, and a store that is no longer the one the
// node opened stops it.
//
// A node serves only while it follows: from the moment its notifications
// are lost (the database went away, the connection broke or stopped
// answering: package store/postgres reports that within a second) until
// they resume and what may have changed meanwhile is read again, every
// operation fails with an internal error (the client may retry, on this
// node or another), Ready says why, and the log says so once. The other
// choice — keep serving warm keys from the cache during an outage — would
// let a key that another node disabled, scheduled for deletion or gave a
// narrower policy just before the outage go on being used here for as long
// as the outage lasts, and a deleted credential go on authenticating: the
// cache cannot tell a quiet store from one whose news it no longer hears.
// Requests that need the database fail during an outage anyway; those that
// would not (a warm key's use, GenerateRandom) are refused with them, for
// the seconds a database restart takes. When the notifications resume, the
// node follows again by itself.
//
// The bound: a change committed on another node is dropped here once its
// notification arrives (milliseconds), or, if it never does, once the
// watch reports itself lost (under a second), after which nothing is
// served until everything is read again. So a key disabled on one node is
// refused by every other within a second of the change's acknowledgement.
// A change of the meta (a service-key rotation, usually; a region moved, a
// root key changed) is read again in one read, and no request is served on
// the meta as it was meanwhile: a request that arrives while the read is
// pending waits for it (errWait, at most metaWaitMax), and is refused if it
// does not end by then; the read itself has metaReadTimeout, and a read
// that fails stops the node until everything is read again. So a rotation
// costs every node's requests of the moment one database round trip of
// waiting, not a refusal, and a region move is never served on the old
// region's ARNs (a policy's Deny naming the key's ARN would not match).
type follower struct {
	s      *Service
	cancel context.CancelFunc
	done   sync.WaitGroup
	wake   chan struct{}
	ready  chan struct{} // closed the first time the node follows

	mu       sync.Mutex
	live     bool // the watch listens
	needFull bool // what may have changed is not read again yet
	needMeta bool // the meta changed and is not read again yet
	// needDigest: a change committed (another node's, or this one's) and
	// the records digest it left is not compared yet (followDigest).
	needDigest bool
	metaEpoch  uint64 // counts ChangedMeta
	// metaWait is closed, and set to nil, when the meta read that needMeta
	// asks for ends (errWait's requests wait for it).
	metaWait  chan struct{}
	epoch     uint64 // counts ChangedAll and WatchLost
	pending   map[string]bool
	broken    error     // a refusal until restart: the store's meta moved
	lostSince time.Time // when the node stopped following
	readied   bool
	// rootCheck is the last root check that opened under rootSealer, the
	// node's root key then (rootOpens).
	rootCheck  []byte
	rootSealer *sealer.Sealer
}

// errNotFollowing is the cause of an operation refused because the node
// does not follow its shared store's changes.
var errNotFollowing = errors.New("this node does not follow the store's changes")

// startFollowing follows st's changes if it is a shared store (a
// store.Watcher), and returns once the node follows, or when ctx is done
// (an error: the database is not reachable).
func (s *Service) startFollowing(ctx context.Context, st store.Store) error {
	w, ok := st.(store.Watcher)
	if !ok {
		return nil
	}
	s.keys.cacheAliases()
	wctx, cancel := context.WithCancel(context.Background())
	f := &follower{s: s, cancel: cancel, wake: make(chan struct{}, 1), ready: make(chan struct{}),
		pending: map[string]bool{}, needFull: true, lostSince: time.Now()}
	s.follow = f
	f.done.Add(2)
	go func() {
		defer f.done.Done()
		w.Watch(wctx, f.told)
	}()
	go func() {
		defer f.done.Done()
		f.reload(wctx)
	}()
	select {
	case <-f.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w: the store's change notifications did not start (%v)", store.ErrUnavailable, errNotFollowing, ctx.Err())
	}
}

// stop stops following (Close).
func (f *follower) stop() {
	f.cancel()
	f.done.Wait()
}

// How long a request waits for a pending meta read (errWait), and how long
// that read may take before the node reads everything again.
const (
	metaWaitMax     = time.Second
	metaReadTimeout = time.Second
)

// err is nil while the node follows the store, else why it does not.
func (f *follower) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.errLocked()
}

// errWait is err, once a meta read in progress has ended (at most
// metaWaitMax, or ctx): what a request checks before it is served.
func (f *follower) errWait(ctx context.Context) error {
	f.mu.Lock()
	ch := f.metaWait
	if ch == nil {
		defer f.mu.Unlock()
		return f.errLocked()
	}
	f.mu.Unlock()
	t := time.NewTimer(metaWaitMax)
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()
	return f.err()
}

// errLocked is err; the caller holds mu.
func (f *follower) errLocked() error {
	switch {
	case f.broken != nil:
		return f.broken
	case !f.live:
		return fmt.Errorf("%w: its change notifications are lost (the database may be unreachable) since %s", errNotFollowing, f.lostSince.UTC().Format(time.RFC3339))
	case f.needFull:
		return fmt.Errorf("%w: reading again what may have changed since %s", errNotFollowing, f.lostSince.UTC().Format(time.RFC3339))
	case f.needMeta:
		return fmt.Errorf("%w: reading again the store's meta, which another node changed", errNotFollowing)
	}
	return nil
}

// metaRead notes that a read of the meta begun at metaEpoch ended (ok, or
// covered by a full read to come): the requests waiting for it go on,
// unless the meta changed again since it began. The caller holds mu.
func (f *follower) metaRead(metaEpoch uint64) {
	if f.metaEpoch != metaEpoch {
		return // changed again: another read is pending (poked)
	}
	f.needMeta = false
	if f.metaWait != nil {
		close(f.metaWait)
		f.metaWait = nil
	}
}

// following is err() == nil; the caller holds mu.
func (f *follower) following() bool { return f.broken == nil && f.live && !f.needFull }

func (f *follower) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// told is the watch's function: what a change makes stale goes at once;
// what must be read again, the reloader reads.
func (f *follower) told(ch store.Change) {
	s := f.s
	switch ch.Kind {
	case store.ChangedKey, store.ChangedAlias, store.ChangedCredential, store.ChangedMeta, store.ChangedAll:
		// Every change writes the records digest: the reloader reads it
		// (one row) and compares it with what the node saw.
		f.mu.Lock()
		f.needDigest = true
		f.mu.Unlock()
		f.poke()
	}
	switch ch.Kind {
	case store.ChangedKey, store.ChangedAlias:
		s.keys.told(ch)
	case store.ChangedCredential:
		if s.creds.told(ch) {
			f.mu.Lock()
			f.pending[ch.ID] = true
			f.mu.Unlock()
			f.poke()
		}
	case store.ChangedMeta:
		// What a key's record means may depend on the meta (the region,
		// the root key): drop them, and read the meta again (readMeta);
		// requests wait for that read (errWait).
		s.keys.dropAll()
		f.mu.Lock()
		f.needMeta = true
		f.metaEpoch++
		if f.metaWait == nil {
			f.metaWait = make(chan struct{})
		}
		f.mu.Unlock()
		f.poke()
	case store.ChangedAll:
		s.keys.dropAll()
		f.mu.Lock()
		f.stopped()
		f.live, f.needFull = true, true
		f.epoch++
		f.mu.Unlock()
		f.poke()
	case store.WatchLost:
		s.keys.dropAll()
		f.mu.Lock()
		if f.following() {
			s.log.Error("the database is unreachable: this node lost the store's change notifications, and refuses every request until they resume")
		}
		f.stopped()
		f.live = false
		f.epoch++
		f.mu.Unlock()
	case store.WatchResumed:
		f.mu.Lock()
		f.live = true
		f.resumed()
		f.mu.Unlock()
		f.poke() // a full read may be pending
	}
}

// stopped notes when the node stopped following; the caller holds mu.
func (f *follower) stopped() {
	if f.following() {
		f.lostSince = time.Now()
	}
}

// resumed logs that the node follows again, and tells Open the first time;
// the caller holds mu.
func (f *follower) resumed() {
	if !f.following() {
		return
	}
	if !f.readied {
		f.readied = true
		close(f.ready)
		return
	}
	f.s.log.Info("following the store's changes again: serving", "after", time.Since(f.lostSince).Round(time.Millisecond).String())
}

// Retries of a read that failed (the database is away): from
// reloadRetryMin, doubling up to reloadRetryMax.
const (
	reloadRetryMin = 50 * time.Millisecond
	reloadRetryMax = 2 * time.Second
)

// reload reads again what the watch says may have changed: everything
// (the credentials and the meta) after ChangedAll, single credentials
// after their changes. It runs until ctx is done.
func (f *follower) reload(ctx context.Context) {
	retry := time.Duration(0)
	for {
		var timer <-chan time.Time
		if retry > 0 {
			timer = time.After(retry)
		}
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-timer:
		}
		if f.reloadOnce(ctx) {
			retry = 0
		} else {
			retry = min(max(2*retry, reloadRetryMin), reloadRetryMax)
		}
	}
}

// reloadOnce does what is pending; false if some of it failed and is to
// be tried again.
func (f *follower) reloadOnce(ctx context.Context) bool {
	s := f.s
	f.mu.Lock()
	full, epoch, live, meta, metaEpoch := f.needFull, f.epoch, f.live, f.needMeta, f.metaEpoch
	var ids []string
	for id := range f.pending {
		ids = append(ids, id)
	}
	if full {
		clear(f.pending) // the full read covers them, and the meta
	}
	f.mu.Unlock()
	if full {
		if !live {
			return true // the watch's resumption wakes us again
		}
		if err := f.readAll(ctx); err != nil {
			if errors.Is(err, errMoved) {
				return true
			}
			f.mu.Lock()
			for _, id := range ids {
				f.pending[id] = true
			}
			f.mu.Unlock()
			return false
		}
		f.mu.Lock()
		if f.epoch == epoch {
			f.needFull = false
			f.resumed()
		}
		f.metaRead(metaEpoch) // the full read read the meta
		f.mu.Unlock()
		return true
	}
	if meta {
		rctx, cancel := context.WithTimeout(ctx, metaReadTimeout)
		err := f.readMeta(rctx)
		cancel()
		if err != nil {
			f.mu.Lock()
			if !errors.Is(err, errMoved) {
				// Refused until everything is read again (the
				// waiting requests see needFull).
				if !errors.Is(err, context.Canceled) {
					s.log.Warn("reading the changed meta again failed: reading everything again", "err", err)
				}
				f.stopped()
				f.needFull = true
			}
			f.metaEpoch++ // whatever came meanwhile, the full read covers it
			f.metaRead(f.metaEpoch)
			f.mu.Unlock()
			return errors.Is(err, errMoved)
		}
		f.mu.Lock()
		f.metaRead(metaEpoch)
		f.mu.Unlock()
	}
	f.mu.Lock()
	digest := f.needDigest && f.live
	f.needDigest = false
	f.mu.Unlock()
	if digest {
		s.followDigest(ctx)
	}
	ok := true
	for _, id := range ids {
		f.mu.Lock()
		delete(f.pending, id)
		f.mu.Unlock()
		if err := s.creds.reloadOne(ctx, s.st, s.sealer, s.account, id); err != nil {
			if !errors.Is(err, context.Canceled) {
				s.log.Warn("reading a changed credential again failed", "access_key_id", id, "err", err)
			}
			f.mu.Lock()
			f.pending[id] = true
			f.mu.Unlock()
			ok = false
		}
	}
	return ok
}

// readMetaHook, if set, runs before each meta read (tests: a slow read).
var readMetaHook atomic.Pointer[func()]

// errMoved: the store's meta is no longer what this node opened.
var errMoved = errors.New("the store's meta changed")

// readAll reads every credential again, and checks that the store is still
// the one the node opened (account, region, root key): a region moved by
// another node (serve --rename-region) leaves this node's ARNs wrong, and
// it refuses every request until restarted with the new region. It reads
// the service keys again too (followMeta), as readMeta does.
func (f *follower) readAll(ctx context.Context) error {
	s := f.s
	var meta *store.Meta
	svcBefore := s.svcKeys.Load()
	err := s.creds.reloadAll(ctx, s.st, s.sealer, s.account, func(r store.Reader) error {
		var err error
		meta, err = r.Meta()
		return err
	})
	if err != nil {
		return f.rootKeyMoved(err)
	}
	return f.followMeta(svcBefore, meta)
}

// readMeta reads the store's meta again after its change notification,
// while requests wait for it (errWait): one read, no credential's.
func (f *follower) readMeta(ctx context.Context) error {
	if h := readMetaHook.Load(); h != nil {
		(*h)()
	}
	s := f.s
	svcBefore := s.svcKeys.Load()
	var meta *store.Meta
	err := s.st.View(ctx, func(r store.Reader) error {
		var err error
		meta, err = r.Meta()
		return err
	})
	if err != nil {
		return f.rootKeyMoved(err)
	}
	return f.followMeta(svcBefore, meta)
}

// rootKeyMoved is err, a read of the meta's, or errMoved (and a refusal
// of every request until restart) if it says the store's root check no
// longer opens under the node's root key (the Authenticated store checks
// it before the meta's MAC): rotated elsewhere, or another store.
func (f *follower) rootKeyMoved(err error) error {
	if !errors.Is(err, store.ErrRootKey) {
		return err
	}
	moved := fmt.Errorf("%w: the database now holds another store than the one this node opened, or one under another root key: restart the node", errNotFollowing)
	f.mu.Lock()
	if f.broken == nil {
		f.s.log.Error("refusing every request until restarted", "err", moved)
	}
	f.broken = moved
	f.mu.Unlock()
	return errMoved
}

// rootOpens checks that m's root check opens under the node's root key: nil,
// ErrRootKey, or an error wrapping sealer.ErrUnavailable when the root key's
// device does not answer (which says nothing of the store). A check that
// already opened under the same root key is not opened again: with a
// PKCS#11 root key each opening is a round trip to the token, and the meta
// is read again at every change of it while requests wait (errWait).
func (f *follower) rootOpens(m *store.Meta) error {
	sl := f.s.sealer
	f.mu.Lock()
	same := f.rootSealer == sl && f.rootCheck != nil && bytes.Equal(f.rootCheck, m.RootCheck)
	f.mu.Unlock()
	if same {
		return nil
	}
	rootOpenings.Add(1)
	if err := store.CheckRoot(sl, m); err != nil {
		return err
	}
	f.mu.Lock()
	f.rootSealer, f.rootCheck = sl, bytes.Clone(m.RootCheck)
	f.mu.Unlock()
	return nil
}

// rootOpenings counts rootOpens's openings of a root check (tests).
var rootOpenings atomic.Int64

// followMeta acts on the meta m read again: errMoved (and a refusal of
// every request until restart) if the store is no longer the one the node
// opened, else the service keys it holds installed (followServiceKeys;
// svcBefore is the set loaded when the read began).
func (f *follower) followMeta(svcBefore *serviceKeys, m *store.Meta) error {
	s := f.s
	region := m.Region
	if region == "" {
		region = defaultRegion
	}
	var moved error
	rootErr := f.rootOpens(m)
	if errors.Is(rootErr, sealer.ErrUnavailable) {
		// The root key's device did not answer: nothing is known of the
		// meta, and the node reads everything again (refusing meanwhile).
		return rootErr
	}
	switch {
	case m.AccountID != s.account.AccountID || m.ProjectID != s.account.ProjectID || rootErr != nil:
		moved = fmt.Errorf("%w: the database now holds another store than the one this node opened: restart the node", errNotFollowing)
	case region != s.region:
		moved = fmt.Errorf("%w: the store's region is now %s, not %s: restart the node with --region %s", errNotFollowing, region, s.region, region)
	}
	if moved != nil {
		f.mu.Lock()
		if f.broken == nil {
			s.log.Error("refusing every request until restarted", "err", moved)
		}
		f.broken = moved
		f.mu.Unlock()
		return errMoved
	}
	if err := s.followServiceKeys(svcBefore, m.ServiceKeys); err != nil {
		return fmt.Errorf("the store's service keys: %w", err)
	}
	return nil
}
