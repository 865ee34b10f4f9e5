package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/attestkms/attestkms/kms/internal/sealer"
)

// The records digest: what a record's MAC does not stop (mac.go), a record
// put back to an older version of itself, or deleted, or one added from an
// older copy, is found by comparing the store's records with a digest of
// them that every change updates in its own transaction.
//
// Threat: as mac.go's, a writer of the database without the root key, who
// kept older records (a dump, a snapshot, the rows as they were before a
// key was disabled, a credential before it was deleted) and puts them back,
// or deletes records. Each record is an element: HMAC-SHA-256 under the
// record MAC key (the digest's own key: the one its MAC verifies under)
// over a domain label, the record's type, its id or name and its MAC — so
// an element changes whenever its record does, and the writer, who cannot
// compute an element, cannot make two sets of records that sum alike. The
// digest is the sum of every element modulo 2^256 (a multiset hash: an
// update is one subtraction and one addition, not a pass over the store),
// the count of records, and a generation that every change increments,
// MACed under the root key like a record. A store whose root check is v3
// (seal.go) has one, and every Update of an Authenticated store reads it
// first, locked (PostgreSQL: SELECT … FOR UPDATE: changes that write
// records take turns store-wide, in one order, so none deadlocks on it),
// and writes it back if it wrote a record.
//
// It is checked by a pass over every record (VerifyDigest): when a server
// opens the store, at each maintenance pass, and by attestkms store check.
// Between two passes a record put back is served as it is, as before: the
// digest finds it, it does not prevent it. What it does not find: the
// whole store, digest and meta included, put back to an older copy
// (kms keeps the highest generation it has seen in its data directory for
// that), and the records of another store under the same root key.
const (
	digestElementLabel = "attestkms records digest element v1"
	digestLabel        = "attestkms records digest v1"
)

// RecordsDigest is the store's digest of its keys, aliases and credentials
// (above). The JSON names are its encoding in bbolt and PostgreSQL.
type RecordsDigest struct {
	Sum        []byte `json:"sum"` // 32 bytes, big-endian: Σ elements mod 2^256
	Counts            // how many of each kind it sums
	Generation uint64 `json:"generation"` // changes that wrote records, since the digest was made
	// Recent are the generations and MACs of the digests before this one,
	// oldest first, at most RecentLinks: the history a node that saw one
	// of them checks this one descends from (Descends).
	Recent []DigestLink `json:"recent,omitempty"`
	MAC    []byte       `json:"mac"`
}

// DigestLink names a digest: its generation and its MAC.
type DigestLink struct {
	Generation uint64 `json:"generation"`
	MAC        []byte `json:"mac"`
}

// RecentLinks bounds RecordsDigest.Recent: a node that saw a digest more
// changes ago than this can tell only that the store's is not older.
const RecentLinks = 64

// MaxDigestRecord bounds a stored records digest's encoding, which a
// backend reads before any MAC is checked (on every change and every
// followed one): RecentLinks links of ≈100 bytes of JSON each and the rest
// fit well within it.
const MaxDigestRecord = 16 << 10

// Descends reports whether d is the digest of generation gen and MAC mac,
// or one made after it by changes (its Recent names it): false if d names
// another digest of that generation — two histories, one of them the
// store put back to an older copy and changed since. known is false when
// d cannot tell: gen is older than its Recent, or newer than d.
func (d *RecordsDigest) Descends(gen uint64, mac []byte) (descends, known bool) {
	switch {
	case gen > d.Generation:
		return false, false
	case gen == d.Generation:
		return hmac.Equal(mac, d.MAC), true
	}
	for _, l := range d.Recent {
		if l.Generation == gen {
			return hmac.Equal(mac, l.MAC), true
		}
	}
	return false, false
}

// Counts are the records of each kind a digest sums: what kms's quotas
// read (the number of keys, in every change, without a pass).
type Counts struct {
	Keys        uint64 `json:"keys"`
	Aliases     uint64 `json:"aliases"`
	Credentials uint64 `json:"credentials"`
}

func (d *RecordsDigest) appendMAC(e *macEncoder) {
	e.str(digestLabel)
	e.bytes(d.Sum)
	e.count(int(d.Keys))
	e.count(int(d.Aliases))
	e.count(int(d.Credentials))
	e.count(int(d.Generation))
	e.count(len(d.Recent))
	for _, l := range d.Recent {
		e.count(int(l.Generation))
		e.bytes(l.MAC)
	}
}

func (d *RecordsDigest) mac() *[]byte     { return &d.MAC }
func (d *RecordsDigest) describe() string { return "the records digest" }

// digestSum is a sum modulo 2^256, big-endian.
type digestSum [32]byte

func (s *digestSum) add(x *[32]byte) {
	var carry uint64
	for i := 24; i >= 0; i -= 8 {
		var v uint64
		v, carry = bits.Add64(binary.BigEndian.Uint64(s[i:]), binary.BigEndian.Uint64(x[i:]), carry)
		binary.BigEndian.PutUint64(s[i:], v)
	}
}

func (s *digestSum) sub(x *[32]byte) {
	var borrow uint64
	for i := 24; i >= 0; i -= 8 {
		var v uint64
		v, borrow = bits.Sub64(binary.BigEndian.Uint64(s[i:]), binary.BigEndian.Uint64(x[i:]), borrow)
		binary.BigEndian.PutUint64(s[i:], v)
	}
}

// element is a record's element under sl's record MAC key: its type, its id
// or name and its MAC (a record without a MAC is not in a digested store).
func element(sl *sealer.Sealer, kind, id string, mac []byte) *[32]byte {
	e := &macEncoder{b: make([]byte, 0, 128)}
	e.str(digestElementLabel)
	e.str(kind)
	e.str(id)
	e.bytes(mac)
	h := sl.RecordMAC()
	h.Write(e.b)
	var out [32]byte
	h.Sum(out[:0])
	return &out
}

// Record kinds, as Counts counts them.
const (
	kindKey = iota
	kindAlias
	kindCredential
	kindMeta // summed, not counted
)

// add counts n (1 or -1, as uint64) records of kind.
func (c *Counts) add(kind int, n uint64) {
	switch kind {
	case kindKey:
		c.Keys += n
	case kindAlias:
		c.Aliases += n
	case kindCredential:
		c.Credentials += n
	}
}

func keyElement(sl *sealer.Sealer, k *Key) *[32]byte {
	return element(sl, "key", k.ID, k.MAC)
}

func aliasElement(sl *sealer.Sealer, a *Alias) *[32]byte {
	return element(sl, "alias", a.Name, a.MAC)
}

// metaElement is the meta's element: the meta is summed too (no count), so
// that an older meta, its MAC valid then (an earlier region, an earlier
// service key set), put back is found as a record is.
func metaElement(sl *sealer.Sealer, m *Meta) *[32]byte {
	return element(sl, "meta", "", m.MAC)
}

func credentialElement(sl *sealer.Sealer, c *Credential) *[32]byte {
	return element(sl, "credential", c.AccessKeyID, c.MAC)
}

// digestOf sums the elements of every record r holds, read as stored (no
// MAC verified: a record changed outside attestkms changes its element, or
// carries its old MAC and is refused when read).
func digestOf(r Reader, sl *sealer.Sealer) (sum digestSum, count Counts, err error) {
	m, err := r.Meta()
	if err != nil {
		return sum, count, err
	}
	if len(m.MAC) > 0 {
		sum.add(metaElement(sl, m))
	}
	_, err = Page("", -1, r.Keys, func(k *Key) string { return k.ID }, func(k *Key) (bool, error) {
		sum.add(keyElement(sl, k))
		count.Keys++
		return true, nil
	})
	if err != nil {
		return sum, count, err
	}
	_, err = Page("", -1, r.Aliases, func(a *Alias) string { return a.Name }, func(a *Alias) (bool, error) {
		sum.add(aliasElement(sl, a))
		count.Aliases++
		return true, nil
	})
	if err != nil {
		return sum, count, err
	}
	cs, err := r.Credentials()
	if err != nil {
		return sum, count, err
	}
	for _, c := range cs {
		sum.add(credentialElement(sl, c))
	}
	count.Credentials += uint64(len(cs))
	return sum, count, nil
}

// errNoDigest: a store that must have a records digest (its root check is
// v3) has none: the database was changed outside attestkms.
var errNoDigest = &IntegrityError{Record: "the records digest", Reason: "it is missing, and this store's root check says it has one"}

// readDigest reads r's digest as stored and verifies its MAC under one of
// sls: the digest and the sealer it verifies under.
func readDigest(r Reader, sls ...*sealer.Sealer) (*RecordsDigest, *sealer.Sealer, error) {
	d, err := storedDigest(r)
	if err != nil {
		return nil, nil, err
	}
	return judgeDigest(d, sls...)
}

// storedDigest is r's records digest as stored, unverified (errNoDigest if
// there is none).
func storedDigest(r Reader) (*RecordsDigest, error) {
	d, err := r.RecordsDigest()
	if errors.Is(err, ErrNotFound) {
		return nil, errNoDigest
	}
	return d, err
}

// judgeDigest is readDigest's verdict on d, as stored: its bounds, and the
// sealer of sls it verifies under.
func judgeDigest(d *RecordsDigest, sls ...*sealer.Sealer) (*RecordsDigest, *sealer.Sealer, error) {
	if len(d.Sum) != len(digestSum{}) {
		return nil, nil, &IntegrityError{Record: d.describe(), Reason: fmt.Sprintf("its sum is %d bytes, not 32", len(d.Sum))}
	}
	if len(d.Recent) > RecentLinks {
		// A digest names at most RecentLinks: more is not attestkms's,
		// and Descends would search it on every check.
		return nil, nil, &IntegrityError{Record: d.describe(), Reason: fmt.Sprintf("it names %d digests before it, more than %d", len(d.Recent), RecentLinks)}
	}
	for _, l := range d.Recent {
		if len(l.MAC) != sha256.Size {
			return nil, nil, &IntegrityError{Record: d.describe(), Reason: fmt.Sprintf("a digest before it has a %d-byte MAC, not %d", len(l.MAC), sha256.Size)}
		}
	}
	for _, sl := range sls { // the sealer it verifies under, as VerifyMAC judges
		if err := VerifyMAC(d, true, sl); err == nil {
			return d, sl, nil
		}
	}
	return nil, nil, VerifyMAC(d, true) // missing, or not verifying under any
}

// storedReader is r as stored, with the root keys to verify its digest
// under: an Authenticated store's reader's own (sls ignored), held for
// reading until release is called (SetKey does not close them meanwhile),
// or sls.
func storedReader(r Reader, sls []*sealer.Sealer) (stored Reader, keys []*sealer.Sealer, release func()) {
	if ar, ok := asAuthReader(r); ok {
		r = ar.r // as stored: the elements are of the MACs as they are
		if ar.a != nil {
			ar.a.use.RLock()
			return r, ar.a.keys.Load().accept, ar.a.use.RUnlock
		}
	}
	return r, sls, func() {}
}

// VerifyDigest compares the records r holds with its records digest,
// verified under one of sls (an Authenticated store's reader: its root
// keys, sls ignored), and returns that digest (what ReadDigest would: its
// callers check its generation and history next, and need not read the
// row again): an *IntegrityError (ErrIntegrity) if the digest is missing
// or forged, or if the records are not those it sums — one was deleted,
// put back to an older version of itself, or added outside attestkms. r
// must see one state of the store (a View). Nothing is written. The pass
// reads every record once; its cost is one HMAC a record. The digest is
// nil whenever err is not.
func VerifyDigest(r Reader, sls ...*sealer.Sealer) (*RecordsDigest, error) {
	r, sls, release := storedReader(r, sls)
	defer release()
	d, sl, err := readDigest(r, sls...)
	if err != nil {
		return nil, err
	}
	sum, count, err := digestOf(r, sl)
	if err != nil {
		return nil, err
	}
	if count != d.Counts || !hmac.Equal(sum[:], d.Sum) {
		why := "the records it holds are not those its records digest sums: one was deleted, put back to an older version of itself, or added, or the meta put back, outside attestkms"
		if count != d.Counts {
			why = fmt.Sprintf("it holds %d keys, %d aliases and %d credentials, and its records digest counts %d, %d and %d: records were deleted or added outside attestkms",
				count.Keys, count.Aliases, count.Credentials, d.Keys, d.Aliases, d.Credentials)
		}
		return nil, &IntegrityError{Record: "the store's records", Reason: why}
	}
	return d, nil
}

// Digested reports whether r is an Authenticated store's reader (or
// transaction) over a store that keeps a records digest (its meta read:
// root check v3).
func Digested(r Reader) bool {
	ar, ok := asAuthReader(r)
	return ok && ar.a != nil && ar.a.Digested()
}

// DigestGeneration is the generation of r's records digest, verified under
// one of sls (as VerifyDigest): how many changes have written records
// since it was made.
func DigestGeneration(r Reader, sls ...*sealer.Sealer) (uint64, error) {
	d, err := ReadDigest(r, sls...)
	if err != nil {
		return 0, err
	}
	return d.Generation, nil
}

// ReadDigest is r's records digest, its MAC verified under one of sls (an
// Authenticated store's reader: its root keys, sls ignored). kms keeps the
// newest generation and MAC it has seen in its data directory, against the
// whole store put back to an older copy.
func ReadDigest(r Reader, sls ...*sealer.Sealer) (*RecordsDigest, error) {
	r, sls, release := storedReader(r, sls)
	defer release()
	d, _, err := readDigest(r, sls...)
	return d, err
}
