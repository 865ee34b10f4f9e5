package store

import "context"

// Watcher is implemented by a store that several processes share (the
// PostgreSQL one): it tells each of them what the others changed, so that
// what a process caches (decoded keys, aliases, credentials, meta) follows
// the store. A store that one process holds (bbolt) has no Watcher: that
// process makes every change itself. kms type-asserts it.
type Watcher interface {
	// Watch calls fn with the changes committed to the store, by any
	// process (this one too), in commit order, until ctx is done or the
	// store is closed; it returns ctx.Err() or ErrClosed. fn runs on Watch's
	// goroutine, one call at a time; a slow fn delays what follows, never
	// loses it. While Watch listens, no change goes untold; one may be told
	// twice, or told that was not made (whoever can connect to the database
	// can send a notification): at worst a cache drops what it need not.
	//
	// Watch listens on a connection of its own. It calls fn(Change{Kind:
	// ChangedAll}) first, once it listens (whatever was cached before may
	// be stale). When the connection is lost, or stops answering, it calls
	// fn(Change{Kind: WatchLost}): until the next ChangedAll or WatchResumed,
	// changes made elsewhere are not seen, and a cache that must follow
	// them within a bound must stop trusting what it holds. Watch then
	// reconnects by itself, with backoff, and calls fn(Change{Kind:
	// ChangedAll}) if anything was committed meanwhile, or fn(Change{Kind:
	// WatchResumed}) if nothing was.
	//
	// A cache filled by reads that race with changes must not keep a record
	// older than a change it was told of: a record read at Version v, then
	// a change to it at Version w > v told before the read returns, leaves
	// the cache with v unless it compares (keep, per id, the greatest
	// Version told, and refuse to cache below it; or count changes and
	// refuse to cache a read that began before the latest).
	Watch(ctx context.Context, fn func(Change)) error
}

// ChangeKind is what a Change is about.
type ChangeKind string

// The kinds of Change.
const (
	ChangedKey        ChangeKind = "key"        // Change.ID is the key id
	ChangedAlias      ChangeKind = "alias"      // Change.ID is the alias name
	ChangedCredential ChangeKind = "credential" // Change.ID is the access key id
	ChangedMeta       ChangeKind = "meta"       // Change.ID is ""
	// ChangedAll: anything may have changed; drop everything cached.
	ChangedAll ChangeKind = "all"
	// WatchLost: Watch lost its connection and does not see changes until
	// the next ChangedAll or WatchResumed.
	WatchLost ChangeKind = "lost"
	// WatchResumed: Watch listens again and nothing was committed while it
	// did not: what was cached is current.
	WatchResumed ChangeKind = "resumed"
)

// Change is one record changed by a committed transaction (or one of the
// Watch events above, whose ID and Version are empty).
type Change struct {
	Kind ChangeKind
	ID   string
	// Version is the record's Version after the change: 0 if it was
	// deleted.
	Version uint64
}
