package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/attestkms/attestkms/kms/internal/sealer"
)

// Authenticated is a Store whose every record is authenticated (mac.go):
// each write sets the record's MAC under the root key, each read verifies
// it, in this one place, so that no path of kms can forget. It is what kms
// reads and writes through; the store under it (Unwrap) is for what is
// not about records (Watcher, Compacter).
//
// A record whose MAC does not verify is an *IntegrityError (ErrIntegrity)
// for the read that met it: Get of that record, or a list that holds it.
// A record without a MAC is one too once the store is marked authenticated
// (the root check v2, seal.go: Authenticated learns it from the meta, which
// it reads before anything else, and it never forgets); before, in a store
// made by an older attestkms and not yet migrated, it is read as it is.
type Authenticated struct {
	st    Store
	keys  atomic.Pointer[macKeys]
	req   atomic.Bool
	known atomic.Bool // a meta was verified: req says what the store is
	// digested: the store keeps a records digest (its root check is v3,
	// digest.go): every Update locks it first and keeps it current. Like
	// req, never forgotten.
	digested atomic.Bool
	onBad    func(error)
	// use is held for reading while a record is MACed or verified with
	// keys, for writing by SetKey: once SetKey returns, no MAC is being
	// computed under the keys it replaced, which the caller may then zero
	// (a root-key rotation closes the old sealer).
	use sync.RWMutex

	mu    sync.Mutex
	check []byte // a root check known to be v2 or v3, so that it is opened once
}

// macKeys are the root keys records are MACed under (write) and verified
// under (accept: write, and during a root-key rotation the other one too).
type macKeys struct {
	write  *sealer.Sealer
	accept []*sealer.Sealer
}

// Authenticate is st with its records authenticated under sl's root key.
// onBad, if not nil, is called with every record refused (kms logs it).
func Authenticate(st Store, sl *sealer.Sealer, onBad func(error)) *Authenticated {
	a := &Authenticated{st: st, onBad: onBad}
	a.SetKey(sl)
	return a
}

// AuthenticatedCreate is fn as the first transaction of a new store
// (bolt.Create's and postgres.Create's fn: Init's, a restore's), with what
// it writes MACed under sl's root key and summed in the store's records
// digest, which is written once, after fn (a store's first digest is
// written even if fn writes no record). Its reads verify every record as a
// store marked authenticated does. A failed fn writes no digest, and the
// transaction is rolled back: no store is made (both Creates build the
// store in that one transaction), so no half-made store need carry a
// digest of what it holds.
func AuthenticatedCreate(sl *sealer.Sealer, fn func(Txn) error) func(Txn) error {
	return func(tx Txn) error {
		a := Authenticate(nil, sl, nil)
		a.req.Store(true)
		a.known.Store(true)
		a.digested.Store(true)
		t := authTxn{authReader{tx, a}, tx, &txnDigest{on: true, sl: sl, dirty: true}}
		if err := fn(t); err != nil {
			return err
		}
		return t.flush()
	}
}

// Unwrap is the store under a.
func (a *Authenticated) Unwrap() Store { return a.st }

// SetKey makes sl's root key the one records are MACed and verified under.
func (a *Authenticated) SetKey(sl *sealer.Sealer) {
	a.use.Lock()
	a.keys.Store(&macKeys{write: sl, accept: []*sealer.Sealer{sl}})
	a.use.Unlock()
}

// Rotating MACs what is written from now on under next, and accepts a
// record MACed under cur or next, until SetKey: while a root-key rotation
// moves the store from one to the other in one transaction, what a read
// running beside it sees is under either.
func (a *Authenticated) Rotating(cur, next *sealer.Sealer) {
	a.keys.Store(&macKeys{write: next, accept: []*sealer.Sealer{cur, next}})
}

// Require marks the store authenticated: from now on a record without a
// MAC is refused. kms calls it once it has MACed every record of a store
// made before (and Authenticated calls it on reading a v2 root check).
func (a *Authenticated) Require() { a.req.Store(true) }

// Required reports whether every record must carry a MAC.
func (a *Authenticated) Required() bool { return a.req.Load() }

// Digested reports whether the store keeps a records digest (its root
// check is v3): every Update keeps it current.
func (a *Authenticated) Digested() bool { return a.digested.Load() }

// MarkDigested marks the store digested (kms calls it once a change that
// wrote the digest and the v3 root check has committed; Authenticated
// learns it from the root check too).
func (a *Authenticated) MarkDigested() {
	a.req.Store(true)
	a.digested.Store(true)
}

func (a *Authenticated) bad(err error) error {
	var ie *IntegrityError
	if a.onBad != nil && errors.As(err, &ie) {
		a.onBad(err)
	}
	return err
}

// verify checks rec's MAC.
func (a *Authenticated) verify(rec authenticated) error {
	a.use.RLock()
	k := a.keys.Load()
	err := VerifyMAC(rec, a.req.Load(), k.accept...)
	a.use.RUnlock()
	return a.bad(err)
}

// verifyMeta checks the meta's root check (ErrRootKey if none of the
// accepted root keys opens it) and its MAC: a meta whose root check is v2
// marks the store authenticated, and must have a valid MAC itself.
func (a *Authenticated) verifyMeta(m *Meta) error {
	a.mu.Lock()
	known := a.check != nil && bytes.Equal(a.check, m.RootCheck)
	a.mu.Unlock()
	if !known {
		var err error
		v := 0
		a.use.RLock() // the sealers are not closed meanwhile (SetKey)
		for _, sl := range a.keys.Load().accept {
			if v, err = RootCheckVersion(sl, m); err == nil {
				break
			}
		}
		a.use.RUnlock()
		if err != nil {
			return err
		}
		if v >= 2 {
			a.mu.Lock()
			a.check = bytes.Clone(m.RootCheck)
			a.mu.Unlock()
			a.req.Store(true)
		}
		if v >= 3 {
			a.digested.Store(true)
		}
	}
	if err := a.verify(m); err != nil {
		return err
	}
	a.known.Store(true)
	return nil
}

// learn reads and verifies the meta through r if no meta was yet, so that
// no record is read before a knows whether the store requires MACs.
func (a *Authenticated) learn(r Reader) error {
	if a.known.Load() {
		return nil
	}
	_, err := authReader{r, a}.Meta()
	return err
}

func (a *Authenticated) set(rec authenticated) {
	a.use.RLock()
	SetMAC(a.keys.Load().write, rec)
	a.use.RUnlock()
}

// View is Store's View, its reads verified.
func (a *Authenticated) View(ctx context.Context, fn func(Reader) error) error {
	return a.st.View(ctx, func(r Reader) error {
		if err := a.learn(r); err != nil {
			return err
		}
		return fn(authReader{r, a})
	})
}

// Update is Store's Update, its writes MACed and its reads verified. In a
// digested store it reads the records digest first, locked, and verifies
// it (a digest missing or forged fails the Update: nothing is written),
// and writes it back after fn if fn wrote a record.
func (a *Authenticated) Update(ctx context.Context, fn func(Txn) error) error {
	return a.st.Update(ctx, func(tx Txn) error {
		if err := a.learn(tx); err != nil {
			return err
		}
		t := authTxn{authReader{tx, a}, tx, &txnDigest{}}
		if a.digested.Load() {
			if err := t.lockDigest(); err != nil {
				return err
			}
		}
		if err := fn(t); err != nil {
			return err
		}
		return t.flush()
	})
}

// learnOutside is learn in a View of its own, for the reads outside one.
func (a *Authenticated) learnOutside(ctx context.Context) error {
	if a.known.Load() {
		return nil
	}
	return a.View(ctx, func(Reader) error { return nil })
}

// Key is Store's Key, verified.
func (a *Authenticated) Key(ctx context.Context, id string) (*Key, error) {
	if err := a.learnOutside(ctx); err != nil {
		return nil, err
	}
	k, err := a.st.Key(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := a.verify(k); err != nil {
		return nil, err
	}
	if k.ID != id {
		return nil, authReader{a: a}.misplaced(k, fmt.Sprintf("as key %q", id))
	}
	return k, nil
}

// Alias is Store's Alias, verified.
func (a *Authenticated) Alias(ctx context.Context, name string) (*Alias, error) {
	if err := a.learnOutside(ctx); err != nil {
		return nil, err
	}
	al, err := a.st.Alias(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := a.verify(al); err != nil {
		return nil, err
	}
	if al.Name != name {
		return nil, authReader{a: a}.misplaced(al, fmt.Sprintf("as alias %q", name))
	}
	return al, nil
}

// TryLock is Store's.
func (a *Authenticated) TryLock(ctx context.Context, name string) (func(), error) {
	return a.st.TryLock(ctx, name)
}

// Close closes the store under a.
func (a *Authenticated) Close() error { return a.st.Close() }

type authReader struct {
	r Reader
	a *Authenticated
}

func verifyAll[T authenticated](a *Authenticated, recs []T, err error) ([]T, error) {
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if err := a.verify(r); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

func verifyOne[T authenticated](a *Authenticated, rec T, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	if err := a.verify(rec); err != nil {
		return zero, err
	}
	return rec, nil
}

func (r authReader) Meta() (*Meta, error) {
	m, err := r.r.Meta()
	if err != nil {
		return nil, err
	}
	if err := r.a.verifyMeta(m); err != nil {
		return nil, err
	}
	return m, nil
}

func (r authReader) AuditChangeSeq(chain string) (uint64, error) { return r.r.AuditChangeSeq(chain) }

// RecordsDigest is the store's records digest, its MAC verified.
func (r authReader) RecordsDigest() (*RecordsDigest, error) {
	d, err := ReadDigest(r)
	if err != nil {
		return nil, r.a.bad(err)
	}
	return d, nil
}

// A record's MAC covers its own fields, not where the store keeps it: a
// writer could copy a genuine record, MAC and all, under another key id,
// alias name or access key id (bbolt keeps each record under a bucket key
// of its own; PostgreSQL's aliases carry the key they name in a column of
// their own), so that a request for one is answered with another's record
// and policy. So every read also checks that each record is where it was
// asked for: a Get's record is the one asked for, a list's records come in
// strictly increasing order from start (a copy under another name shows as
// a repeat or a record out of place), AliasesOf's name that key.

// misplaced is the IntegrityError of rec found where it does not belong.
func (r authReader) misplaced(rec authenticated, where string) error {
	return r.a.bad(&IntegrityError{Record: rec.describe(), Reason: "it is stored " + where})
}

func (r authReader) Key(id string) (*Key, error) {
	k, err := r.r.Key(id)
	k, err = verifyOne(r.a, k, err)
	if err == nil && k.ID != id {
		return nil, r.misplaced(k, fmt.Sprintf("as key %q", id))
	}
	return k, err
}

func (r authReader) Keys(start string, limit int) ([]*Key, error) {
	ks, err := r.r.Keys(start, limit)
	ks, err = verifyAll(r.a, ks, err)
	if err == nil {
		err = r.inOrder(len(ks), start, func(i int) (string, authenticated) { return ks[i].ID, ks[i] })
	}
	if err != nil {
		return nil, err
	}
	return ks, nil
}

func (r authReader) Alias(name string) (*Alias, error) {
	al, err := r.r.Alias(name)
	al, err = verifyOne(r.a, al, err)
	if err == nil && al.Name != name {
		return nil, r.misplaced(al, fmt.Sprintf("as alias %q", name))
	}
	return al, err
}

func (r authReader) Aliases(start string, limit int) ([]*Alias, error) {
	as, err := r.r.Aliases(start, limit)
	as, err = verifyAll(r.a, as, err)
	if err == nil {
		err = r.inOrder(len(as), start, func(i int) (string, authenticated) { return as[i].Name, as[i] })
	}
	if err != nil {
		return nil, err
	}
	return as, nil
}

func (r authReader) AliasesOf(keyID string) ([]*Alias, error) {
	as, err := r.r.AliasesOf(keyID)
	as, err = verifyAll(r.a, as, err)
	if err == nil {
		err = r.inOrder(len(as), "", func(i int) (string, authenticated) { return as[i].Name, as[i] })
	}
	for _, a := range as {
		if err == nil && a.KeyID != keyID {
			err = r.misplaced(a, fmt.Sprintf("among the aliases of key %q", keyID))
		}
	}
	if err != nil {
		return nil, err
	}
	return as, nil
}

func (r authReader) Credential(accessKeyID string) (*Credential, error) {
	c, err := r.r.Credential(accessKeyID)
	c, err = verifyOne(r.a, c, err)
	if err == nil && c.AccessKeyID != accessKeyID {
		return nil, r.misplaced(c, fmt.Sprintf("as access key %q", accessKeyID))
	}
	return c, err
}

func (r authReader) Credentials() ([]*Credential, error) {
	cs, err := r.r.Credentials()
	cs, err = verifyAll(r.a, cs, err)
	if err == nil {
		err = r.inOrder(len(cs), "", func(i int) (string, authenticated) { return cs[i].AccessKeyID, cs[i] })
	}
	if err != nil {
		return nil, err
	}
	return cs, nil
}

// inOrder refuses a list whose records' names (name(i)) are not strictly
// increasing from start.
func (r authReader) inOrder(n int, start string, name func(int) (string, authenticated)) error {
	prev, first := start, true
	for i := range n {
		id, rec := name(i)
		if id < prev || !first && id == prev {
			return r.misplaced(rec, fmt.Sprintf("out of place (after %q)", prev))
		}
		prev, first = id, false
	}
	return nil
}

// credentialsSkipping is every credential whose MAC verifies, and an
// error for each that does not.
func (r authReader) credentialsSkipping() ([]*Credential, []error, error) {
	cs, err := r.r.Credentials()
	if err != nil {
		return nil, nil, err
	}
	var good []*Credential
	var bad []error
	seen := map[string]int{}
	for _, c := range cs {
		seen[c.AccessKeyID]++
	}
	for _, c := range cs {
		if seen[c.AccessKeyID] > 1 {
			// A copy under another access key: which is the
			// credential's own cannot be told; neither is trusted.
			bad = append(bad, r.misplaced(c, "more than once"))
			continue
		}
		if err := r.a.verify(c); err != nil {
			bad = append(bad, err)
			continue
		}
		good = append(good, c)
	}
	return good, bad, nil
}

// AuthenticKeys is up to limit keys of r from start on (as Keys), those
// whose MAC verifies in good and an *IntegrityError for each that does not
// in bad, and next, the id to start the following page at ("" after the
// last; the id of the key after the page, read with it, as Page does: a
// start made up past the page's last id, id + "\x00", is not text
// PostgreSQL holds, and maintenance failed on a store of more keys than
// its page): a pass over every key (maintenance) goes on past a key a
// database writer changed, refusing only that one. A page with a record
// out of place is an error, as Keys (r an Authenticated store's reader;
// any other's keys are all good). limit is at least 1.
func AuthenticKeys(r Reader, start string, limit int) (good []*Key, bad []error, next string, err error) {
	ar, ok := asAuthReader(r)
	if !ok {
		ar = authReader{r: r}
	}
	ks, err := ar.r.Keys(start, limit+1)
	if err == nil && ar.a != nil {
		err = ar.inOrder(len(ks), start, func(i int) (string, authenticated) { return ks[i].ID, ks[i] })
	}
	if err != nil {
		return nil, nil, "", err
	}
	if len(ks) > limit {
		next, ks = ks[limit].ID, ks[:limit]
		if next <= start {
			// Not in order (a reader that does not check it): the
			// same page would come back for ever.
			return nil, nil, "", fmt.Errorf("store: a listing of keys from %q gave %q after its page", start, next)
		}
	}
	for _, k := range ks {
		if ar.a != nil {
			if err := ar.a.verify(k); err != nil {
				bad = append(bad, err)
				continue
			}
		}
		good = append(good, k)
	}
	return good, bad, next, nil
}

// AuthenticCredentials is every credential of r whose MAC verifies, and
// an *IntegrityError for each that does not (r an Authenticated store's
// reader; any other's credentials are all returned): a node loads the
// credentials it can trust and refuses the others, rather than none.
func AuthenticCredentials(r Reader) (good []*Credential, bad []error, err error) {
	if ar, ok := asAuthReader(r); ok {
		return ar.credentialsSkipping()
	}
	good, err = r.Credentials()
	return good, nil, err
}

type authTxn struct {
	authReader
	tx Txn
	d  *txnDigest
}

// txnDigest is the records digest as a transaction keeps it current.
type txnDigest struct {
	on    bool           // the store keeps a digest: writes are summed
	sl    *sealer.Sealer // the root key its elements and MAC are under
	sum   digestSum
	count Counts
	gen   uint64
	// prev and recent are the last digest written (or read, locked) and
	// its Recent: the next one's Recent links them.
	prev   *RecordsDigest
	locked *RecordsDigest // the digest lockDigest read
	dirty  bool           // to be written (flush, at the end of the transaction)
}

// lockDigest reads the store's digest, locked until the transaction ends,
// and verifies it. The read (PostgreSQL's SELECT … FOR UPDATE, which waits
// for another node's change) comes before the sealers are held for reading:
// a SetKey waiting on them would otherwise stall every MAC check of the
// process for as long.
func (t authTxn) lockDigest() error {
	d, err := storedDigest(t.tx)
	if err != nil {
		return t.a.bad(err)
	}
	t.a.use.RLock()
	defer t.a.use.RUnlock()
	d, sl, err := judgeDigest(d, t.a.keys.Load().accept...)
	if err != nil {
		return t.a.bad(err)
	}
	*t.d = txnDigest{on: true, sl: sl, count: d.Counts, gen: d.Generation, prev: d, locked: d}
	copy(t.d.sum[:], d.Sum)
	return nil
}

// link is the Recent of a digest made after prev: prev's, and prev itself,
// the last RecentLinks of them.
func link(prev *RecordsDigest) []DigestLink {
	if prev == nil || len(prev.MAC) == 0 {
		return nil
	}
	recent := append(slices.Clone(prev.Recent), DigestLink{Generation: prev.Generation, MAC: bytes.Clone(prev.MAC)})
	if len(recent) > RecentLinks {
		recent = recent[len(recent)-RecentLinks:]
	}
	return recent
}

// digestible is a record that is an element of the digest.
type digestible interface {
	element(sl *sealer.Sealer) *[32]byte
	kind() int
}

func (k *Key) element(sl *sealer.Sealer) *[32]byte        { return keyElement(sl, k) }
func (a *Alias) element(sl *sealer.Sealer) *[32]byte      { return aliasElement(sl, a) }
func (c *Credential) element(sl *sealer.Sealer) *[32]byte { return credentialElement(sl, c) }
func (*Key) kind() int                                    { return kindKey }
func (*Alias) kind() int                                  { return kindAlias }
func (*Credential) kind() int                             { return kindCredential }
func (m *Meta) element(sl *sealer.Sealer) *[32]byte       { return metaElement(sl, m) }
func (*Meta) kind() int                                   { return kindMeta }

// account takes the records a write removed out of the digest and puts
// those it added in.
func (t authTxn) account(removed []digestible, added ...digestible) error {
	if !t.d.on {
		return nil
	}
	t.a.use.RLock()
	defer t.a.use.RUnlock()
	if !t.a.accepts(t.d.sl) {
		// The root key changed under the transaction (a rotation
		// ended): its elements cannot be summed under a closed key.
		return ErrConflict
	}
	for _, r := range removed {
		t.d.sum.sub(r.element(t.d.sl))
		t.d.count.add(r.kind(), ^uint64(0)) // -1
	}
	for _, r := range added {
		t.d.sum.add(r.element(t.d.sl))
		t.d.count.add(r.kind(), 1)
	}
	t.d.dirty = true
	return nil
}

// accepts reports whether sl is one of the root keys a accepts (a.use held).
func (a *Authenticated) accepts(sl *sealer.Sealer) bool {
	for _, k := range a.keys.Load().accept {
		if k == sl {
			return true
		}
	}
	return false
}

// flush writes the digest if the transaction changed it.
func (t authTxn) flush() error {
	if !t.d.on || !t.d.dirty {
		return nil
	}
	t.a.use.RLock()
	defer t.a.use.RUnlock()
	if !t.a.accepts(t.d.sl) {
		return ErrConflict
	}
	return t.flushLocked()
}

func (t authTxn) flushLocked() error {
	d := &RecordsDigest{Sum: bytes.Clone(t.d.sum[:]), Counts: t.d.count, Generation: t.d.gen + 1, Recent: link(t.d.prev)}
	SetMAC(t.d.sl, d)
	if err := t.tx.PutRecordsDigest(d); err != nil {
		return err
	}
	t.d.gen++
	t.d.prev = d
	t.d.dirty = false
	return nil
}

// RebuildDigest sums every record tx holds, as stored, into a new records
// digest under the root key tx's store writes with, written when tx ends
// (its generation continues the one stored, if any), and keeps it current
// for the rest of tx: how a store becomes digested (kms's store protect),
// and how a root-key rotation moves the digest to its new key after it has
// MACed every record anew. tx is an Authenticated store's Update's
// transaction (or wraps one: TxnWrapper).
func RebuildDigest(tx Txn) error {
	t, ok := asAuthTxn(tx)
	if !ok || t.d == nil {
		return errors.New("store: RebuildDigest needs an Authenticated store's transaction")
	}
	t.a.use.RLock()
	defer t.a.use.RUnlock()
	if t.d.on {
		// A digested store: the records must be those the digest it
		// locked sums (with tx's own writes) before they are summed
		// anew, or a record put back or deleted since the last pass
		// would be made genuine (a root-key rotation's rebuild).
		if !t.a.accepts(t.d.sl) {
			return ErrConflict
		}
		sum, count, err := digestOf(t.tx, t.d.sl)
		if err != nil {
			return err
		}
		if count != t.d.count || sum != t.d.sum {
			return t.a.bad(&IntegrityError{Record: "the store's records", Reason: "they are not those its records digest sums (one was deleted, put back to an older version of itself, or added, outside attestkms): not digested anew"})
		}
	}
	sl := t.a.keys.Load().write
	sum, count, err := digestOf(t.tx, sl)
	if err != nil {
		return err
	}
	// The generation goes on from the digest stored, if it verifies: a
	// row a database writer made (store protect of a store whose root
	// check is older than v3 has none of its own) carries nothing on.
	// Its history too (Recent): the new digest descends from it.
	var gen uint64
	var prev *RecordsDigest
	var ie *IntegrityError
	switch old, _, err := readDigest(t.tx, t.a.keys.Load().accept...); {
	case err == nil && !t.d.on:
		// A store not digested whose digest verifies was digested
		// before: its meta (root check v2) was put back. Digested anew,
		// the records as they stand — any put back with it — would make
		// a digest descending from the one every node saw.
		return t.a.bad(&IntegrityError{Record: "the records digest", Reason: "it verifies under the root key, and the store's root check says the store has none: the store was digested, and its meta put back to an older one outside attestkms: not digested anew"})
	case err == nil:
		gen, prev = old.Generation, old
	case errors.Is(err, ErrDamaged) || errors.As(err, &ie):
		// forged, or not a digest: generation 0, no history
	default:
		return err
	}
	if t.d.on && t.d.gen > gen {
		gen, prev = t.d.gen, t.d.prev
	}
	*t.d = txnDigest{on: true, sl: sl, sum: sum, count: count, gen: gen, prev: prev, locked: t.d.locked, dirty: true}
	return nil
}

// TxnCounts are the records of each kind the store holds as tx sees it
// (with tx's own writes), from the records digest tx locked: false if the
// store keeps none (not yet protected). Counted without a pass, and, the
// digest being locked until tx ends, no concurrent change counts the same
// room twice: what a quota reads.
func TxnCounts(tx Txn) (Counts, bool) {
	t, ok := asAuthTxn(tx)
	if !ok || t.d == nil || !t.d.on {
		return Counts{}, false
	}
	return t.d.count, true
}

// TxnWritten is the records digest the store holds as tx left it (the one
// it wrote, once the Update that ran tx has committed, or the one it
// locked), and whether there is one.
func TxnWritten(tx Txn) (*RecordsDigest, bool) {
	t, ok := asAuthTxn(tx)
	if !ok || t.d == nil || !t.d.on || t.d.dirty || t.d.prev == nil {
		return nil, false
	}
	return t.d.prev, true
}

// TxnLocked is the records digest tx locked as it began, before any write
// of its own, and whether it locked one (a digested store's Update): a
// change compares it with the newest its data directory has seen, so that
// changes made on a store put back whole do not carry its older digest
// past that generation unseen.
func TxnLocked(tx Txn) (*RecordsDigest, bool) {
	t, ok := asAuthTxn(tx)
	if !ok || t.d == nil || !t.d.on || t.d.locked == nil {
		return nil, false
	}
	return t.d.locked, true
}

// asAuthTxn is tx's authTxn, looking through TxnWrappers.
func asAuthTxn(tx Txn) (authTxn, bool) {
	for {
		switch t := tx.(type) {
		case authTxn:
			return t, true
		case TxnWrapper:
			tx = t.UnwrapTxn()
			continue
		}
		return authTxn{}, false
	}
}

// PutMeta writes the meta: in a digested store, the meta as stored leaves
// the digest and m enters it (the meta is summed, metaElement).
func (t authTxn) PutMeta(m *Meta) error {
	t.a.set(m)
	var old *Meta
	if t.d.on {
		var err error
		if old, err = t.tx.Meta(); err != nil {
			return err
		}
	}
	if err := t.tx.PutMeta(m); err != nil {
		return err
	}
	if !t.d.on {
		return nil
	}
	var removed []digestible
	if len(old.MAC) > 0 { // a store's first meta replaces none
		removed = append(removed, old)
	}
	return t.account(removed, m)
}

func (t authTxn) SetAuditChangeSeq(chain string, seq uint64) error {
	return t.tx.SetAuditChangeSeq(chain, seq)
}

// errDigestWrite: the records digest is written by the Authenticated store
// only, from the records it wrote.
var errDigestWrite = errors.New("store: the records digest is written by the Authenticated store only")

func (t authTxn) PutRecordsDigest(*RecordsDigest) error { return errDigestWrite }

func (t authTxn) CreateKey(k *Key) error {
	t.a.set(k)
	if err := t.tx.CreateKey(k); err != nil {
		return err
	}
	return t.account(nil, k)
}

func (t authTxn) PutKey(k *Key) error {
	t.a.set(k)
	var old *Key
	if t.d.on {
		var err error
		if old, err = t.tx.Key(k.ID); err != nil {
			return err
		}
	}
	if err := t.tx.PutKey(k); err != nil {
		return err
	}
	return t.account([]digestible{old}, k)
}

// DeleteKey deletes the key and the aliases naming it (Txn's DeleteKey):
// all of them leave the digest.
func (t authTxn) DeleteKey(id string) error {
	var gone []digestible
	if t.d.on {
		k, err := t.tx.Key(id)
		if err != nil {
			return err
		}
		as, err := t.tx.AliasesOf(id)
		if err != nil {
			return err
		}
		gone = append(gone, k)
		for _, a := range as {
			gone = append(gone, a)
		}
	}
	if err := t.tx.DeleteKey(id); err != nil {
		return err
	}
	return t.account(gone)
}

func (t authTxn) CreateAlias(al *Alias) error {
	t.a.set(al)
	if err := t.tx.CreateAlias(al); err != nil {
		return err
	}
	return t.account(nil, al)
}

func (t authTxn) PutAlias(al *Alias) error {
	t.a.set(al)
	var old *Alias
	if t.d.on {
		var err error
		if old, err = t.tx.Alias(al.Name); err != nil {
			return err
		}
	}
	if err := t.tx.PutAlias(al); err != nil {
		return err
	}
	return t.account([]digestible{old}, al)
}

func (t authTxn) DeleteAlias(name string) error {
	var old *Alias
	if t.d.on {
		var err error
		if old, err = t.tx.Alias(name); err != nil {
			return err
		}
	}
	if err := t.tx.DeleteAlias(name); err != nil {
		return err
	}
	return t.account([]digestible{old})
}

func (t authTxn) CreateCredential(c *Credential) error {
	t.a.set(c)
	if err := t.tx.CreateCredential(c); err != nil {
		return err
	}
	return t.account(nil, c)
}

func (t authTxn) DeleteCredential(accessKeyID string) error {
	var old *Credential
	if t.d.on {
		var err error
		if old, err = t.tx.Credential(accessKeyID); err != nil {
			return err
		}
	}
	if err := t.tx.DeleteCredential(accessKeyID); err != nil {
		return err
	}
	return t.account([]digestible{old})
}

var (
	_ Store = (*Authenticated)(nil)
	_ Txn   = authTxn{}
)

// asAuthReader is r's authReader if r is an Authenticated store's reader
// or transaction (a View's or an Update's), possibly wrapped by a Txn that
// says what it wraps (TxnWrapper).
func asAuthReader(r Reader) (authReader, bool) {
	for {
		switch t := r.(type) {
		case authReader:
			return t, true
		case authTxn:
			return t.authReader, true
		case TxnWrapper:
			r = t.UnwrapTxn()
			continue
		}
		return authReader{}, false
	}
}

// TxnWrapper is a Txn around another (kms tracks what a change writes):
// AuthenticKeys and AuthenticCredentials look through it.
type TxnWrapper interface {
	Txn
	UnwrapTxn() Txn
}
