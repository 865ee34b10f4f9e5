// Package bolt is the store (package store) in one bbolt file, kms.db in
// the data directory: attestkms's embedded default, one process at a time.
//
// The file's format is the one attestkms has always written, which an
// existing data directory keeps (compat_test.go opens a store the code
// before this package made, byte for byte): four buckets, "meta" (account_id,
// project_id, schema "1", region, root_check, service_keys, mac,
// audit_change_seq), "keys" (by key id), "aliases" (by alias/NAME) and
// "credentials" (by access key id), each record the JSON of its store type
// (with its "mac" member once records are authenticated, package store's
// mac.go: an older attestkms ignores it). Nothing else is added: a record's
// Version is bbolt's own transaction id (below), which bbolt keeps in its
// meta pages.
//
// Durability: bbolt commits each write transaction with an fsync before
// Update returns, so a change a client was told of survives kill -9 at any
// instant after. bbolt runs one write transaction at a time, so Updates
// serialise: a read in a Txn needs no lock to stay current.
//
// Versions: bbolt numbers its write transactions (Tx.ID), one more each
// commit, and keeps the number across reopening. A record read in a View
// has the Version of the last commit; in an Update, of the last commit
// before it, and a record it writes the Update's own. So a record's Version
// grows whenever it changes (and when any record does), and PutKey and
// PutAlias refuse (store.ErrConflict) a record whose Version is older than
// the last commit: one read before the store last changed, which may be
// stale. A store compacted with the bbolt tool restarts the count; nothing
// outside the process keeps a Version, so no cache is misled.
//
// Shredding: bbolt reuses freed pages but does not overwrite them, so the
// sealed material of a destroyed key (and every earlier copy of any record)
// stays in free pages of kms.db until Compact rewrites the file with the
// live records alone; kms compacts after it destroys keys
// (docs/shredding.md).
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/attestkms/attestkms/kms/internal/store"
)

var (
	bucketMeta        = []byte("meta")
	bucketKeys        = []byte("keys")
	bucketAliases     = []byte("aliases")
	bucketCredentials = []byte("credentials")

	metaAccountID      = []byte("account_id")
	metaProjectID      = []byte("project_id")
	metaRootCheck      = []byte("root_check")
	metaSchema         = []byte("schema")
	metaRegion         = []byte("region")           // absent in stores made before it
	metaServiceKeys    = []byte("service_keys")     // absent in stores made before it
	metaAuditChangeSeq = []byte("audit_change_seq") // absent until the first change
	metaMAC            = []byte("mac")              // the meta's MAC: absent in stores made before it
	metaRecordsDigest  = []byte("records_digest")   // JSON of store.RecordsDigest: absent before root check v3
)

// schemaVersion is the format's version, in meta "schema".
const schemaVersion = "1"

// Store is the bbolt store. Its methods are store.Store's.
type Store struct {
	// mu guards db, which Compact replaces: every transaction holds it
	// shared, Compact alone.
	mu     sync.RWMutex
	db     *bbolt.DB
	path   string // the file's (Compact's db is opened under a temporary name, then renamed)
	closed atomic.Bool
	// base is added to bbolt's transaction ids to make Versions: Compact
	// raises it, so that Versions keep growing across a compaction.
	base uint64

	lockMu sync.Mutex
	locks  map[string]bool // TryLock's held locks: one process holds the file
}

var _ store.Store = (*Store)(nil)

// Options configure Open. Zero values: read-write, a second's wait.
type Options struct {
	// ReadOnly opens the file shared, for reading only: alongside other
	// readers, never alongside a writer.
	ReadOnly bool
	// Timeout is how long Open waits for another process to release the
	// file (then store.ErrInUse). Zero: a second.
	Timeout time.Duration
}

// Open opens the store file at path, which Create made: store.ErrNotAStore
// if it is not one of this schema, store.ErrInUse if another process has it
// open.
//
// A damaged file is store.ErrDamaged, never a panic: an empty or truncated
// file, one that is not bbolt's, meta pages that fail their checksums, and
// whatever bbolt panics on while Open reads the meta bucket (recovered,
// memory faults on the mapped file included). Nothing is written to it.
func Open(path string, opts Options) (*Store, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err // bbolt would create it
	}
	if fi.Size() == 0 {
		return nil, damaged(path, errors.New("an empty file"))
	}
	if err := checkLength(path, fi.Size()); err != nil {
		return nil, err
	}
	var db *bbolt.DB
	err = guard(path, func() error {
		var err error
		db, err = openDB(path, opts)
		switch {
		case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrVersionMismatch):
			return damaged(path, err)
		case err != nil && fi.Size() < 2*int64(os.Getpagesize()):
			return damaged(path, fmt.Errorf("%d bytes, less than bbolt's two meta pages: %w", fi.Size(), err))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	st := &Store{db: db, path: path, locks: map[string]bool{}}
	err = st.guardedIf(func() error {
		return db.View(func(tx *bbolt.Tx) error {
			if need := tx.Size(); need > fi.Size() {
				return damaged(path, fmt.Errorf("truncated: %d bytes, but its pages reach %d", fi.Size(), need))
			}
			err := isStore(tx)
			if errors.Is(err, store.ErrNotAStore) {
				// Not a store, or a store whose pages are damaged?
				if cerr := checkPages(tx); cerr != nil {
					return damaged(path, cerr)
				}
			}
			return err
		})
	}, true)
	if err != nil {
		guard(path, db.Close)
		return nil, err
	}
	return st, nil
}

// checkLength refuses a file shorter than the pages its meta page says it
// has (a truncated copy), before bbolt maps it: its meta pages are read as
// bbolt reads them (the valid one of the higher transaction id). A file
// whose meta pages are both invalid is left to bbolt to report.
func checkLength(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	const hdr, metaLen = 16, 56 // page header; meta without its checksum
	meta := func(off int64) (pageSize uint32, pgid, txid uint64, ok bool) {
		b := make([]byte, hdr+metaLen+8)
		if _, err := f.ReadAt(b, off); err != nil {
			return 0, 0, 0, false
		}
		m := b[hdr:]
		h := fnv.New64a()
		h.Write(m[:metaLen])
		if binary.LittleEndian.Uint32(m[0:]) != 0xED0CDAED || h.Sum64() != binary.LittleEndian.Uint64(m[metaLen:]) {
			return 0, 0, 0, false
		}
		return binary.LittleEndian.Uint32(m[8:]), binary.LittleEndian.Uint64(m[40:]), binary.LittleEndian.Uint64(m[48:]), true
	}
	ps, pgid, txid, ok0 := meta(0)
	next := int64(ps)
	if !ok0 {
		next = int64(os.Getpagesize())
	}
	ps1, pgid1, txid1, ok1 := meta(next)
	if ok1 && (!ok0 || txid1 > txid) {
		ps, pgid = ps1, pgid1
	}
	if !ok0 && !ok1 {
		return nil
	}
	// pgid > size/ps is pgid*ps > size without the product, which a
	// crafted meta page could make overflow.
	if ps > 0 && pgid > uint64(size)/uint64(ps) {
		return damaged(path, fmt.Errorf("truncated: %d bytes, but its pages reach %d × %d bytes", size, pgid, ps))
	}
	return nil
}

// isStore checks that tx's file is a store of this schema.
func isStore(tx *bbolt.Tx) error {
	m := tx.Bucket(bucketMeta)
	if m == nil || string(m.Get(metaSchema)) != schemaVersion {
		return fmt.Errorf("%w (schema %s)", store.ErrNotAStore, schemaVersion)
	}
	for _, name := range [][]byte{bucketKeys, bucketAliases, bucketCredentials} {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("%w: no %s bucket", store.ErrNotAStore, name)
		}
	}
	return nil
}

// checkPages is bbolt's consistency check of every page tx reaches (and
// of the free list): its first finding, or nil. The file must not be
// shorter than its pages (Open checks): the check runs in a goroutine of
// bbolt's, where a memory fault could not be recovered.
func checkPages(tx *bbolt.Tx) error {
	var first error
	for err := range tx.Check() {
		if first == nil {
			first = fmt.Errorf("page check: %w", err)
		}
	}
	return first
}

// CheckPages runs bbolt's consistency check of every page (tx.Check) in a
// read transaction: nil, or store.ErrDamaged naming the file and the first
// finding. It reads every page of the file.
func (s *Store) CheckPages(ctx context.Context) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return err
	}
	return s.guardedIf(func() error {
		return s.db.View(func(tx *bbolt.Tx) error {
			if need := tx.Size(); need > fi.Size() {
				return damaged(s.path, fmt.Errorf("truncated: %d bytes, but its pages reach %d", fi.Size(), need))
			}
			if err := checkPages(tx); err != nil {
				return damaged(s.path, err)
			}
			return nil
		})
	}, true)
}

// damaged is store.ErrDamaged naming the file and what is wrong.
func damaged(path string, err error) error {
	return fmt.Errorf("%w: %s: %v", store.ErrDamaged, path, err)
}

// guard runs fn, turning a panic in it (bbolt's on a damaged page, or a
// memory fault reading the mapped file) into store.ErrDamaged: any panic
// (Open, the page check: nothing but bbolt runs there).
func guard(path string, fn func() error) error { return guardIf(path, fn, true) }

// guardIf is guard; unless all, only a panic raised in bbolt's own code
// is recovered, and any other (a bug in a transaction's function) goes
// on as it is, not mistaken for damage.
func guardIf(path string, fn func() error, all bool) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if !all && !raisedInBbolt() {
				panic(r)
			}
			err = damaged(path, fmt.Errorf("the storage library failed reading it (%v)", r))
		}
	}()
	return fn()
}

// raisedInBbolt reports whether the panic being recovered (called from the
// deferred function that recovers it) was raised in bbolt's code: the
// first frame below the runtime's panic frames is bbolt's.
func raisedInBbolt() bool {
	pc := make([]uintptr, 64)
	n := runtime.Callers(3, pc) // runtime.Callers, this, the deferred function
	frames := runtime.CallersFrames(pc[:n])
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "runtime.") {
			return strings.HasPrefix(f.Function, "go.etcd.io/bbolt")
		}
		if !more {
			return false
		}
	}
}

// guarded is guardIf for this store's transactions (bbolt's panics only),
// and names its file in what a record that does not decode reports
// (store.ErrDamaged).
func (s *Store) guarded(fn func() error) error {
	return s.guardedIf(fn, false)
}

func (s *Store) guardedIf(fn func() error, all bool) error {
	err := guardIf(s.path, fn, all)
	var rd recordDamaged
	if errors.As(err, &rd) {
		return damaged(s.path, rd.err)
	}
	return err
}

// recordDamaged is a record that does not decode, before guarded names the
// file.
type recordDamaged struct{ err error }

func (e recordDamaged) Error() string   { return "store damaged: " + e.err.Error() }
func (e recordDamaged) Unwrap() []error { return []error{store.ErrDamaged, e.err} }

func badRecord(bucket []byte, k []byte, err error) error {
	return recordDamaged{fmt.Errorf("stored %s %q: %w", bucket, k, err)}
}

func openDB(path string, opts Options) (*bbolt.DB, error) {
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = time.Second
	}
	db, err := openUnreplaced(path, &bbolt.Options{Timeout: timeout, ReadOnly: opts.ReadOnly})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", store.ErrInUse, path)
	}
	return db, err
}

// Create makes a new store file at path and runs fn in its first
// transaction, which writes the store's meta (PutMeta) and whatever else a
// new store holds. The file is built under a temporary name and renamed
// into place once committed and synced, with its directory, so that a crash
// leaves no half-made store behind. An existing path is store.ErrExists.
func Create(path string, fn func(store.Txn) error) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%w: %s", store.ErrExists, path)
	}
	tmp := path + ".init"
	os.Remove(tmp)
	db, err := openDB(tmp, Options{})
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketKeys, bucketAliases, bucketCredentials} {
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketMeta).Put(metaSchema, []byte(schemaVersion)); err != nil {
			return err
		}
		return fn(newTxn(tx))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// begin checks what every method checks first: ctx and the store.
func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

// run runs fn in a bbolt transaction: fn's error as it is, bbolt's
// "database not open" as store.ErrClosed.
func (s *Store) run(ctx context.Context, writable bool, fn func(*txn) error) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ran := false
	f := func(tx *bbolt.Tx) error {
		ran = true
		t := newTxn(tx)
		t.rev, t.wrote = t.rev+s.base, t.wrote+s.base
		return fn(t)
	}
	err := s.guarded(func() error {
		if writable {
			return s.db.Update(f)
		}
		return s.db.View(f)
	})
	if !ran && errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return err
}

// View is store.Store's View.
func (s *Store) View(ctx context.Context, fn func(store.Reader) error) error {
	return s.run(ctx, false, func(t *txn) error { return fn(t) })
}

// Update is store.Store's Update.
func (s *Store) Update(ctx context.Context, fn func(store.Txn) error) error {
	return s.run(ctx, true, func(t *txn) error { return fn(t) })
}

// Key is store.Store's Key.
func (s *Store) Key(ctx context.Context, id string) (*store.Key, error) {
	var k *store.Key
	err := s.run(ctx, false, func(t *txn) error {
		var err error
		k, err = t.Key(id)
		return err
	})
	return k, err
}

// Alias is store.Store's Alias.
func (s *Store) Alias(ctx context.Context, name string) (*store.Alias, error) {
	var a *store.Alias
	err := s.run(ctx, false, func(t *txn) error {
		var err error
		a, err = t.Alias(name)
		return err
	})
	return a, err
}

// TryLock is store.Store's TryLock: one process holds the file, so the
// lock is this process's.
func (s *Store) TryLock(ctx context.Context, name string) (func(), error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	s.lockMu.Lock()
	defer s.lockMu.Unlock()
	if s.locks[name] {
		return nil, store.ErrHeld
	}
	s.locks[name] = true
	return sync.OnceFunc(func() {
		s.lockMu.Lock()
		delete(s.locks, name)
		s.lockMu.Unlock()
	}), nil
}

// Close is store.Store's Close.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.Close()
}

// txn is a bbolt transaction as a store.Txn.
type txn struct {
	tx *bbolt.Tx
	// rev is the Version of what the transaction reads: the last commit
	// before it; wrote, of what it writes (rev, read-only).
	rev, wrote uint64
}

func newTxn(tx *bbolt.Tx) *txn {
	id := uint64(tx.ID())
	if tx.Writable() {
		return &txn{tx: tx, rev: id - 1, wrote: id}
	}
	return &txn{tx: tx, rev: id, wrote: id}
}

func (t *txn) put(bucket []byte, k string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return t.tx.Bucket(bucket).Put([]byte(k), raw)
}

func (t *txn) exists(bucket []byte, k string) bool {
	return t.tx.Bucket(bucket).Get([]byte(k)) != nil
}

// page decodes up to limit records of bucket from start on.
func page[T any](t *txn, bucket []byte, start string, limit int, own func(*T) string, version func(*T)) ([]*T, error) {
	var out []*T
	c := t.tx.Bucket(bucket).Cursor()
	k, v := c.Seek([]byte(start))
	for ; k != nil && len(out) < limit; k, v = c.Next() {
		r, err := decode(bucket, k, v, own)
		if err != nil {
			return nil, err
		}
		version(r)
		out = append(out, r)
	}
	return out, nil
}

// decode is the record v of bucket key k: damaged if it does not parse, or
// if it is another key's record (its own id, own(r), is not k), as the
// PostgreSQL store refuses a row holding another's: a record copied in the
// file under another key is refused, not served as that key's — its MAC
// covers its fields, not where it is kept.
func decode[T any](bucket, k, v []byte, own func(*T) string) (*T, error) {
	r := new(T)
	if err := json.Unmarshal(v, r); err != nil {
		return nil, badRecord(bucket, k, err)
	}
	if id := own(r); id != string(k) {
		return nil, badRecord(bucket, k, fmt.Errorf("it holds the record of %q", id))
	}
	return r, nil
}

func keyID(k *store.Key) string              { return k.ID }
func aliasName(a *store.Alias) string        { return a.Name }
func accessKeyID(c *store.Credential) string { return c.AccessKeyID }

// Meta is store.Reader's Meta.
func (t *txn) Meta() (*store.Meta, error) {
	m := t.tx.Bucket(bucketMeta)
	return &store.Meta{
		AccountID: string(m.Get(metaAccountID)),
		ProjectID: string(m.Get(metaProjectID)),
		Region:    string(m.Get(metaRegion)),
		RootCheck: append([]byte(nil), m.Get(metaRootCheck)...),
		// nil when absent: a store made before answers were signed.
		ServiceKeys: bytes.Clone(m.Get(metaServiceKeys)),
		MAC:         bytes.Clone(m.Get(metaMAC)),
	}, nil
}

// auditChangeSeqKey is chain's key in meta: audit_change_seq for the
// store's one chain, audit_change_seq/CHAIN for another (none yet).
func auditChangeSeqKey(chain string) []byte {
	if chain == "" {
		return metaAuditChangeSeq
	}
	return []byte(string(metaAuditChangeSeq) + "/" + chain)
}

// AuditChangeSeq is store.Reader's AuditChangeSeq.
func (t *txn) AuditChangeSeq(chain string) (uint64, error) {
	raw := t.tx.Bucket(bucketMeta).Get(auditChangeSeqKey(chain))
	if raw == nil {
		return 0, nil // a store from before the audit chain, or without changes yet
	}
	seq, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		return 0, recordDamaged{fmt.Errorf("stored %s: %w", auditChangeSeqKey(chain), err)}
	}
	return seq, nil
}

// RecordsDigest is store.Reader's RecordsDigest (bbolt has one writer at
// a time: nothing to lock).
func (t *txn) RecordsDigest() (*store.RecordsDigest, error) {
	raw := t.tx.Bucket(bucketMeta).Get(metaRecordsDigest)
	if raw == nil {
		return nil, store.ErrNotFound
	}
	if len(raw) > store.MaxDigestRecord {
		return nil, recordDamaged{fmt.Errorf("stored %s is %d bytes, more than %d", metaRecordsDigest, len(raw), store.MaxDigestRecord)}
	}
	var d store.RecordsDigest
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, recordDamaged{fmt.Errorf("stored %s: %w", metaRecordsDigest, err)}
	}
	return &d, nil
}

// Key is store.Reader's Key.
func (t *txn) Key(id string) (*store.Key, error) {
	raw := t.tx.Bucket(bucketKeys).Get([]byte(id))
	if raw == nil {
		return nil, store.ErrNotFound
	}
	k, err := decode(bucketKeys, []byte(id), raw, keyID)
	if err != nil {
		return nil, err
	}
	k.Version = t.rev
	return k, nil
}

// Keys is store.Reader's Keys.
func (t *txn) Keys(start string, limit int) ([]*store.Key, error) {
	return page(t, bucketKeys, start, limit, keyID, func(k *store.Key) { k.Version = t.rev })
}

// Alias is store.Reader's Alias.
func (t *txn) Alias(name string) (*store.Alias, error) {
	raw := t.tx.Bucket(bucketAliases).Get([]byte(name))
	if raw == nil {
		return nil, store.ErrNotFound
	}
	a, err := decode(bucketAliases, []byte(name), raw, aliasName)
	if err != nil {
		return nil, err
	}
	a.Version = t.rev
	return a, nil
}

// Aliases is store.Reader's Aliases.
func (t *txn) Aliases(start string, limit int) ([]*store.Alias, error) {
	return page(t, bucketAliases, start, limit, aliasName, func(a *store.Alias) { a.Version = t.rev })
}

// AliasesOf is store.Reader's AliasesOf. The bucket is keyed by name, so it
// reads all of it.
func (t *txn) AliasesOf(keyID string) ([]*store.Alias, error) {
	var out []*store.Alias
	err := t.tx.Bucket(bucketAliases).ForEach(func(k, v []byte) error {
		a, err := decode(bucketAliases, k, v, aliasName)
		if err != nil {
			return err
		}
		if a.KeyID == keyID {
			a.Version = t.rev
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

// Credential is store.Reader's Credential.
func (t *txn) Credential(id string) (*store.Credential, error) {
	raw := t.tx.Bucket(bucketCredentials).Get([]byte(id))
	if raw == nil {
		return nil, store.ErrNotFound
	}
	c, err := decode(bucketCredentials, []byte(id), raw, accessKeyID)
	if err != nil {
		return nil, err
	}
	c.Version = t.rev
	return c, nil
}

// Credentials is store.Reader's Credentials.
func (t *txn) Credentials() ([]*store.Credential, error) {
	var out []*store.Credential
	err := t.tx.Bucket(bucketCredentials).ForEach(func(k, v []byte) error {
		c, err := decode(bucketCredentials, k, v, accessKeyID)
		if err != nil {
			return err
		}
		c.Version = t.rev
		out = append(out, c)
		return nil
	})
	return out, err
}

// PutMeta is store.Txn's PutMeta. An empty Region is no region recorded.
func (t *txn) PutMeta(m *store.Meta) error {
	b := t.tx.Bucket(bucketMeta)
	for k, v := range map[string]string{
		string(metaAccountID): m.AccountID,
		string(metaProjectID): m.ProjectID,
		string(metaRootCheck): string(m.RootCheck),
	} {
		if err := b.Put([]byte(k), []byte(v)); err != nil {
			return err
		}
	}
	if len(m.ServiceKeys) == 0 {
		if err := b.Delete(metaServiceKeys); err != nil {
			return err
		}
	} else if err := b.Put(metaServiceKeys, m.ServiceKeys); err != nil {
		return err
	}
	if len(m.MAC) == 0 {
		if err := b.Delete(metaMAC); err != nil {
			return err
		}
	} else if err := b.Put(metaMAC, m.MAC); err != nil {
		return err
	}
	if m.Region == "" {
		return b.Delete(metaRegion)
	}
	return b.Put(metaRegion, []byte(m.Region))
}

// SetAuditChangeSeq is store.Txn's SetAuditChangeSeq.
func (t *txn) SetAuditChangeSeq(chain string, seq uint64) error {
	return t.tx.Bucket(bucketMeta).Put(auditChangeSeqKey(chain), strconv.AppendUint(nil, seq, 10))
}

// PutRecordsDigest is store.Txn's PutRecordsDigest.
func (t *txn) PutRecordsDigest(d *store.RecordsDigest) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return t.tx.Bucket(bucketMeta).Put(metaRecordsDigest, raw)
}

// current checks that a record of version v is current in t: read in it,
// or written by it (package doc, "Versions").
func (t *txn) current(v uint64) error {
	if v < t.rev {
		return store.ErrConflict
	}
	return nil
}

// CreateKey is store.Txn's CreateKey.
func (t *txn) CreateKey(k *store.Key) error {
	if t.exists(bucketKeys, k.ID) {
		return store.ErrExists
	}
	if err := t.put(bucketKeys, k.ID, k); err != nil {
		return err
	}
	k.Version = t.wrote
	return nil
}

// PutKey is store.Txn's PutKey.
func (t *txn) PutKey(k *store.Key) error {
	if !t.exists(bucketKeys, k.ID) {
		return store.ErrNotFound
	}
	if err := t.current(k.Version); err != nil {
		return err
	}
	if err := t.put(bucketKeys, k.ID, k); err != nil {
		return err
	}
	k.Version = t.wrote
	return nil
}

// DeleteKey is store.Txn's DeleteKey.
func (t *txn) DeleteKey(id string) error {
	if !t.exists(bucketKeys, id) {
		return store.ErrNotFound
	}
	aliases, err := t.AliasesOf(id)
	if err != nil {
		return err
	}
	ab := t.tx.Bucket(bucketAliases)
	for _, a := range aliases {
		if err := ab.Delete([]byte(a.Name)); err != nil {
			return err
		}
	}
	return t.tx.Bucket(bucketKeys).Delete([]byte(id))
}

// CreateAlias is store.Txn's CreateAlias.
func (t *txn) CreateAlias(a *store.Alias) error {
	if t.exists(bucketAliases, a.Name) {
		return store.ErrExists
	}
	if !t.exists(bucketKeys, a.KeyID) {
		return fmt.Errorf("%w: key %s", store.ErrNotFound, a.KeyID)
	}
	if err := t.put(bucketAliases, a.Name, a); err != nil {
		return err
	}
	a.Version = t.wrote
	return nil
}

// PutAlias is store.Txn's PutAlias.
func (t *txn) PutAlias(a *store.Alias) error {
	if !t.exists(bucketAliases, a.Name) {
		return store.ErrNotFound
	}
	if err := t.current(a.Version); err != nil {
		return err
	}
	if !t.exists(bucketKeys, a.KeyID) {
		return fmt.Errorf("%w: key %s", store.ErrNotFound, a.KeyID)
	}
	if err := t.put(bucketAliases, a.Name, a); err != nil {
		return err
	}
	a.Version = t.wrote
	return nil
}

// DeleteAlias is store.Txn's DeleteAlias.
func (t *txn) DeleteAlias(name string) error {
	if !t.exists(bucketAliases, name) {
		return store.ErrNotFound
	}
	return t.tx.Bucket(bucketAliases).Delete([]byte(name))
}

// CreateCredential is store.Txn's CreateCredential.
func (t *txn) CreateCredential(c *store.Credential) error {
	if t.exists(bucketCredentials, c.AccessKeyID) {
		return store.ErrExists
	}
	all, err := t.Credentials()
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.Name == c.Name {
			return fmt.Errorf("%w: a credential named %q", store.ErrExists, c.Name)
		}
	}
	if err := t.put(bucketCredentials, c.AccessKeyID, c); err != nil {
		return err
	}
	c.Version = t.wrote
	return nil
}

// DeleteCredential is store.Txn's DeleteCredential.
func (t *txn) DeleteCredential(accessKeyID string) error {
	if !t.exists(bucketCredentials, accessKeyID) {
		return store.ErrNotFound
	}
	return t.tx.Bucket(bucketCredentials).Delete([]byte(accessKeyID))
}
