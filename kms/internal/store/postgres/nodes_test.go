package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// The tests here run two Stores on one database: two nodes.

func testKey(n int) *store.Key {
	return &store.Key{
		ID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", n), CreatedAt: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
		Spec: "SYMMETRIC_DEFAULT", Usage: "ENCRYPT_DECRYPT", State: "Enabled", Policy: "[]",
		Materials: []store.Material{{Version: 1, ID: "01", CreatedAt: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), Sealed: []byte{1}}},
	}
}

func createKey(t testing.TB, s store.Store, k *store.Key) {
	t.Helper()
	if err := s.Update(bg, func(tx store.Txn) error { return tx.CreateKey(k) }); err != nil {
		t.Fatal(err)
	}
}

// TestTwoNodesLoseNoUpdate: 10 goroutines, half on each node, each change
// one key's tags and policy three times, each change a read and a write
// in one Update: every change is there, none refused.
func TestTwoNodesLoseNoUpdate(t *testing.T) {
	u := newDB(t)
	nodes := []*Store{open(t, u), open(t, u)}
	k := testKey(1)
	createKey(t, nodes[0], k)
	const goroutines, rounds = 10, 3
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*rounds)
	for i := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := nodes[i%2]
			for r := range rounds {
				errs <- s.Update(bg, func(tx store.Txn) error {
					k, err := tx.Key(k.ID)
					if err != nil {
						return err
					}
					var policy []int
					if err := json.Unmarshal([]byte(k.Policy), &policy); err != nil {
						return err
					}
					time.Sleep(time.Millisecond) // widen the window a lost update needs
					k.Policy = string(mustJSON(t, append(policy, 10*i+r)))
					k.Tags = append(k.Tags, store.Tag{TagKey: fmt.Sprint(10*i + r), TagValue: "x"})
					return tx.PutKey(k)
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a change: %v", err)
		}
	}
	for _, s := range nodes {
		got, err := s.Key(bg, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		var policy []int
		if err := json.Unmarshal([]byte(got.Policy), &policy); err != nil {
			t.Fatal(err)
		}
		slices.Sort(policy)
		var want []int
		for i := range goroutines {
			for r := range rounds {
				want = append(want, 10*i+r)
			}
		}
		slices.Sort(want)
		if !slices.Equal(policy, want) || len(got.Tags) != goroutines*rounds {
			t.Fatalf("after %d changes: policy %v, %d tags", goroutines*rounds, policy, len(got.Tags))
		}
	}
}

// TestTwoNodesLoseNoMetaUpdate: the meta is read-modify-written as a key
// is (a service key made at first open, a rotation): 10 goroutines, half
// on each node, each append to the meta's ServiceKeys in one Update, the
// read locking the row: every append is there.
func TestTwoNodesLoseNoMetaUpdate(t *testing.T) {
	u := newDB(t)
	nodes := []*Store{open(t, u), open(t, u)}
	if err := nodes[0].Update(bg, func(tx store.Txn) error {
		return tx.PutMeta(&store.Meta{AccountID: "111122223333", RootCheck: []byte{1}})
	}); err != nil {
		t.Fatal(err)
	}
	const goroutines = 10
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for i := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- nodes[i%2].Update(bg, func(tx store.Txn) error {
				m, err := tx.Meta()
				if err != nil {
					return err
				}
				time.Sleep(time.Millisecond) // widen the window a lost update needs
				m.ServiceKeys = append(m.ServiceKeys, byte(i))
				return tx.PutMeta(m)
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a change: %v", err)
		}
	}
	for _, s := range nodes {
		var got []byte
		if err := s.View(bg, func(r store.Reader) error {
			m, err := r.Meta()
			if m != nil {
				got = m.ServiceKeys
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if len(got) != goroutines {
			t.Fatalf("after %d appends the meta holds %v", goroutines, got)
		}
		for i, b := range got {
			if int(b) != i {
				t.Fatalf("after %d appends the meta holds %v", goroutines, got)
			}
		}
	}
}

// TestNodesShareOneStore: what one node commits, the other reads at once;
// a record one node read and the other changed since is refused
// (ErrConflict); a lock one holds, the other cannot take until it is
// released or its holder's connection dies.
func TestNodesShareOneStore(t *testing.T) {
	u := newDB(t)
	a, b := open(t, u), open(t, u)
	k := testKey(1)
	createKey(t, a, k)
	got, err := b.Key(bg, k.ID)
	if err != nil || got.Version != k.Version {
		t.Fatalf("the other node reads %+v, %v", got, err)
	}
	if err := b.Update(bg, func(tx store.Txn) error { return tx.CreateAlias(&store.Alias{Name: "alias/x", KeyID: k.ID}) }); err != nil {
		t.Fatal(err)
	}
	if al, err := a.Alias(bg, "alias/x"); err != nil || al.KeyID != k.ID {
		t.Fatalf("alias made on b, read on a: %+v, %v", al, err)
	}
	stale := got
	if err := a.Update(bg, func(tx store.Txn) error {
		k, err := tx.Key(k.ID)
		if err != nil {
			return err
		}
		k.State = "Disabled"
		return tx.PutKey(k)
	}); err != nil {
		t.Fatal(err)
	}
	var state string
	if err := connect(t, u).QueryRow(bg, "SELECT state FROM keys WHERE id = $1", k.ID).Scan(&state); err != nil || state != "Disabled" {
		t.Fatalf("the state column says %q (%v); the record Disabled", state, err)
	}
	stale.Description = "lost"
	if err := b.Update(bg, func(tx store.Txn) error { return tx.PutKey(stale) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a write of a record changed by the other node: %v", err)
	}
	if err := b.Update(bg, func(tx store.Txn) error { return tx.DeleteKey(k.ID) }); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Key(bg, k.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a key deleted on b, read on a: %v", err)
	}
	if _, err := a.Alias(bg, "alias/x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the alias of a key deleted on b, read on a: %v", err)
	}

	release, err := a.TryLock(bg, "maintain")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.TryLock(bg, "maintain"); !errors.Is(err, store.ErrHeld) {
		t.Fatalf("a lock the other node holds: %v", err)
	}
	release()
	releaseB, err := b.TryLock(bg, "maintain")
	if err != nil {
		t.Fatalf("a lock the other node released: %v", err)
	}
	// b's holder dies: its connection goes, and the lock with it.
	terminate(t, u, "attestkms lock")
	deadline := time.Now().Add(10 * time.Second)
	for {
		release, err := a.TryLock(bg, "maintain")
		if err == nil {
			release()
			break
		}
		if !errors.Is(err, store.ErrHeld) || time.Now().After(deadline) {
			t.Fatalf("a lock whose holder's connection died: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	releaseB() // its connection is gone: harmless
}

// terminate ends the database u's sessions named app (pg_terminate_backend),
// as a network failure or an administrator would: how many it ended.
func terminate(t testing.TB, u, app string) int {
	t.Helper()
	var n int
	err := connect(t, u).QueryRow(bg, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, app).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// recorder records what a Watch tells.
type recorder struct {
	ch chan store.Change
}

// watchOf runs s.Watch until t ends.
func watchOf(t testing.TB, s *Store) *recorder {
	t.Helper()
	r := &recorder{ch: make(chan store.Change, 1000)}
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx, func(c store.Change) { r.ch <- c }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) && !errors.Is(err, store.ErrClosed) {
			t.Errorf("Watch returned %v", err)
		}
	})
	return r
}

// next is the next thing told, which must be of kind (the deadline is
// generous: what must come within a second is timed by the caller).
func (r *recorder) next(t testing.TB, kind store.ChangeKind) store.Change {
	t.Helper()
	select {
	case c := <-r.ch:
		if c.Kind != kind {
			t.Fatalf("told %+v; want a %s", c, kind)
		}
		return c
	case <-time.After(10 * time.Second):
		t.Fatalf("nothing told in 10 s; want a %s", kind)
	}
	panic("unreached")
}

// none checks that nothing more is told for a while.
func (r *recorder) none(t testing.TB) {
	t.Helper()
	select {
	case c := <-r.ch:
		t.Fatalf("told %+v; want nothing", c)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestWatchAcrossNodes: every change committed on node a — to a key, an
// alias, a credential, the meta; made, changed, deleted, by cascade too —
// is told to node b's Watch within a second, with its id and version;
// a failed Update tells nothing, and neither does a change to the audit
// change seq (which no cache holds).
func TestWatchAcrossNodes(t *testing.T) {
	u := newDB(t)
	a, b := open(t, u), open(t, u)
	changes := watchOf(t, b)
	changes.next(t, store.ChangedAll) // listening

	// timed is the change update makes, told within a second.
	timed := func(what string, kind store.ChangeKind, update func(tx store.Txn) error) store.Change {
		t.Helper()
		if err := a.Update(bg, update); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		c := changes.next(t, kind)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("%s told after %v; want within 1 s", what, d)
		}
		t.Logf("%s told after %v", what, time.Since(start))
		return c
	}
	k := testKey(1)
	if c := timed("a key made", store.ChangedKey, func(tx store.Txn) error { return tx.CreateKey(k) }); c.ID != k.ID || c.Version != k.Version {
		t.Fatalf("told %+v; want key %s at %d", c, k.ID, k.Version)
	}
	var disabled uint64
	c := timed("a key disabled", store.ChangedKey, func(tx store.Txn) error {
		k, err := tx.Key(k.ID)
		if err != nil {
			return err
		}
		k.State = "Disabled"
		err = tx.PutKey(k)
		disabled = k.Version
		return err
	})
	if c.ID != k.ID || c.Version != disabled || disabled <= k.Version {
		t.Fatalf("told %+v; want key %s at %d (> %d)", c, k.ID, disabled, k.Version)
	}
	al := &store.Alias{Name: "alias/x", KeyID: k.ID}
	if c := timed("an alias made", store.ChangedAlias, func(tx store.Txn) error { return tx.CreateAlias(al) }); c.ID != al.Name || c.Version != al.Version {
		t.Fatalf("told %+v; want alias %s at %d", c, al.Name, al.Version)
	}
	cr := &store.Credential{AccessKeyID: "AKIAX", Name: "x", Sealed: []byte{1}}
	if c := timed("a credential made", store.ChangedCredential, func(tx store.Txn) error { return tx.CreateCredential(cr) }); c.ID != cr.AccessKeyID || c.Version != cr.Version {
		t.Fatalf("told %+v; want credential %s at %d", c, cr.AccessKeyID, cr.Version)
	}
	if c := timed("a credential deleted", store.ChangedCredential, func(tx store.Txn) error { return tx.DeleteCredential(cr.AccessKeyID) }); c.ID != cr.AccessKeyID || c.Version != 0 {
		t.Fatalf("told %+v; want credential %s deleted", c, cr.AccessKeyID)
	}
	if c := timed("the meta written", store.ChangedMeta, func(tx store.Txn) error { return tx.PutMeta(&store.Meta{AccountID: "1"}) }); c.ID != "" || c.Version == 0 {
		t.Fatalf("told %+v; want the meta", c)
	}
	a.Update(bg, func(tx store.Txn) error {
		tx.CreateKey(testKey(2))
		return errors.New("fails")
	})
	if err := a.Update(bg, func(tx store.Txn) error { return tx.SetAuditChangeSeq("", 7) }); err != nil {
		t.Fatal(err)
	}
	changes.none(t)
	// A key deleted, and its alias with it, in one transaction.
	if err := a.Update(bg, func(tx store.Txn) error { return tx.DeleteKey(k.ID) }); err != nil {
		t.Fatal(err)
	}
	got := []store.Change{<-changes.ch, <-changes.ch}
	slices.SortFunc(got, func(x, y store.Change) int { return len(x.Kind) - len(y.Kind) })
	if want := []store.Change{{Kind: store.ChangedKey, ID: k.ID}, {Kind: store.ChangedAlias, ID: al.Name}}; !slices.Equal(got, want) {
		t.Fatalf("a key deleted with its alias: told %+v; want %+v", got, want)
	}
	changes.none(t)
}

// TestWatchChangeByHand: a row changed in the database by hand, not by
// attestkms, gets a new version and is told.
func TestWatchChangeByHand(t *testing.T) {
	u := newDB(t)
	s := open(t, u)
	k := testKey(1)
	createKey(t, s, k)
	changes := watchOf(t, s)
	changes.next(t, store.ChangedAll)
	exec(t, connect(t, u), "UPDATE keys SET state = 'Disabled' WHERE id = $1", k.ID)
	if c := changes.next(t, store.ChangedKey); c.ID != k.ID || c.Version <= k.Version {
		t.Fatalf("told %+v; want key %s above version %d", c, k.ID, k.Version)
	}
	if got, err := s.Key(bg, k.ID); err != nil || got.Version <= k.Version {
		t.Fatalf("read back %+v, %v; want a version above %d", got, err, k.Version)
	}
}

// TestWatchReconnects: a Watch whose connection is killed
// (pg_terminate_backend) says so, reconnects by itself and says whether
// anything was committed meanwhile (ChangedAll) or not (WatchResumed); the
// changes after are told again.
func TestWatchReconnects(t *testing.T) {
	u := newDB(t)
	a, b := open(t, u), open(t, u)
	k := testKey(1)
	createKey(t, a, k)
	// Armed, b's next reconnection commits a change on a before it
	// listens: a change it cannot be told of.
	var armed atomic.Bool
	b.hooks.listen = func() {
		if armed.CompareAndSwap(true, false) {
			if err := a.Update(bg, func(tx store.Txn) error { return tx.CreateKey(testKey(2)) }); err != nil {
				t.Error(err)
			}
		}
	}
	changes := watchOf(t, b)
	changes.next(t, store.ChangedAll)

	if n := terminate(t, u, "attestkms watch"); n != 1 {
		t.Fatalf("%d watch sessions ended", n)
	}
	changes.next(t, store.WatchLost)
	changes.next(t, store.WatchResumed)

	armed.Store(true)
	terminate(t, u, "attestkms watch")
	changes.next(t, store.WatchLost)
	changes.next(t, store.ChangedAll)
	if armed.Load() {
		t.Fatal("the reconnection did not run the hook")
	}

	createKey(t, a, testKey(3))
	if c := changes.next(t, store.ChangedKey); c.ID != testKey(3).ID {
		t.Fatalf("after reconnecting, told %+v", c)
	}
}

// TestWatchUnansweredPing: a connection that stops answering without
// closing is reported lost, and Watch listens again once it can: here the
// revision's row is locked by another session, so the ping's read of it
// waits past its timeout, as over a dead network path.
func TestWatchUnansweredPing(t *testing.T) {
	u := newDB(t)
	s := open(t, u)
	s.hooks.pingTimeout = 0 // the real one
	changes := watchOf(t, s)
	changes.next(t, store.ChangedAll)
	c := connect(t, u)
	exec(t, c, "BEGIN")
	exec(t, c, "LOCK TABLE changes IN ACCESS EXCLUSIVE MODE")
	start := time.Now()
	changes.next(t, store.WatchLost)
	t.Logf("an unanswered ping told lost after %v", time.Since(start))
	exec(t, c, "ROLLBACK")
	changes.next(t, store.WatchResumed)
}

// TestWatchForgedNotifications: a notification that is not a change, or
// whose revision skips ahead (whoever may connect may NOTIFY), is
// ChangedAll; one that repeats a revision is told (a cache drops an entry
// it did not have to) and does not hide the real change at that revision.
func TestWatchForgedNotifications(t *testing.T) {
	u := newDB(t)
	s := open(t, u)
	changes := watchOf(t, s)
	changes.next(t, store.ChangedAll)
	c := connect(t, u)
	notify := func(payload string) { exec(t, c, "SELECT pg_notify('attestkms_changes', $1)", payload) }
	notify("garbage")
	changes.next(t, store.ChangedAll)
	notify(`[1000000, "key", "x", 1]`)
	changes.next(t, store.ChangedAll)
	notify(`[1, "key", "forged", 1]`) // the next revision, forged
	if got := changes.next(t, store.ChangedKey); got.ID != "forged" {
		t.Fatalf("told %+v", got)
	}
	k := testKey(1)
	createKey(t, s, k) // revision 1, for real
	if got := changes.next(t, store.ChangedKey); got.ID != k.ID || got.Version != k.Version {
		t.Fatalf("the real change at a forged revision: told %+v", got)
	}
	changes.none(t)
}

// TestWatchStops: Watch returns ctx's error when ctx is done, and
// store.ErrClosed when the store closes; on a closed store it starts
// nothing.
func TestWatchStops(t *testing.T) {
	s := open(t, newDB(t))
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	told := make(chan store.Change, 10)
	go func() { done <- s.Watch(ctx, func(c store.Change) { told <- c }) }()
	<-told
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch after its ctx is done: %v", err)
	}
	go func() { done <- s.Watch(bg, func(c store.Change) { told <- c }) }()
	<-told
	s.Close()
	if err := <-done; !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Watch after Close: %v", err)
	}
	if err := s.Watch(bg, func(store.Change) { t.Error("told on a closed store") }); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Watch on a closed store: %v", err)
	}
}

// TestRecordUnderAnotherID: a record copied in the database under another
// row's id (a key's onto another key, a credential's onto another) is
// refused as damaged, by Key, by a transaction's Key and by the listings,
// not served as that row's.
func TestRecordUnderAnotherID(t *testing.T) {
	u := newDB(t)
	s := open(t, u)
	a, b := testKey(1), testKey(2)
	createKey(t, s, a)
	createKey(t, s, b)
	exec(t, connect(t, u), "UPDATE keys SET record = (SELECT record FROM keys WHERE id = $1) WHERE id = $2", b.ID, a.ID)
	if k, err := s.Key(bg, a.ID); !errors.Is(err, store.ErrDamaged) {
		t.Fatalf("Key(%s) = %+v, %v; want ErrDamaged", a.ID, k, err)
	}
	err := s.View(bg, func(r store.Reader) error {
		if k, err := r.Key(a.ID); !errors.Is(err, store.ErrDamaged) {
			t.Errorf("a transaction's Key(%s) = %+v, %v; want ErrDamaged", a.ID, k, err)
		}
		if ks, err := r.Keys("", 10); !errors.Is(err, store.ErrDamaged) {
			t.Errorf("Keys = %d keys, %v; want ErrDamaged", len(ks), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
