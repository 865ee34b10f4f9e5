package store

import (
	"bytes"
	"crypto/rand"
	"errors"
	"math/big"
	"slices"
	"testing"
)

// TestDigestSum: add and sub are addition and subtraction modulo 2^256
// (math/big as the reference), and each undoes the other.
func TestDigestSum(t *testing.T) {
	mod := new(big.Int).Lsh(big.NewInt(1), 256)
	for i := 0; i < 1000; i++ {
		var s digestSum
		var x [32]byte
		rand.Read(s[:])
		rand.Read(x[:])
		if i%3 == 0 {
			for j := range s {
				s[j], x[j] = 0xff, 0xff // every carry
			}
			x[31] = byte(i)
		}
		a, b := new(big.Int).SetBytes(s[:]), new(big.Int).SetBytes(x[:])
		orig := s
		s.add(&x)
		if want := new(big.Int).Mod(new(big.Int).Add(a, b), mod); new(big.Int).SetBytes(s[:]).Cmp(want) != 0 {
			t.Fatalf("add: %x + %x = %x, want %x", orig, x, s, want)
		}
		s.sub(&x)
		if s != orig {
			t.Fatalf("sub does not undo add: %x, want %x", s, orig)
		}
		s.sub(&x)
		if want := new(big.Int).Mod(new(big.Int).Sub(a, b), mod); new(big.Int).SetBytes(s[:]).Cmp(want) != 0 {
			t.Fatalf("sub: %x - %x = %x, want %x", orig, x, s, want)
		}
	}
}

// TestDigestElement: an element binds its record's type, id and MAC, and
// the root key; the digest's own MAC binds its sum, count and generation.
func TestDigestElement(t *testing.T) {
	a, b := testSealer(t, 1), testSealer(t, 2)
	mac := []byte("0123456789abcdef0123456789abcdef")
	base := element(a, "key", "k1", mac)
	for what, e := range map[string]*[32]byte{
		"type":     element(a, "alias", "k1", mac),
		"id":       element(a, "key", "k2", mac),
		"MAC":      element(a, "key", "k1", append([]byte{1}, mac[1:]...)),
		"root key": element(b, "key", "k1", mac),
		"boundary": element(a, "key", "k", append([]byte("1"), mac...)),
	} {
		if *e == *base {
			t.Errorf("an element does not change with its %s", what)
		}
	}
	d := &RecordsDigest{Sum: make([]byte, 32), Counts: Counts{Keys: 3, Aliases: 2, Credentials: 1}, Generation: 7}
	SetMAC(a, d)
	for what, change := range map[string]func(*RecordsDigest){
		"sum":         func(d *RecordsDigest) { d.Sum[0] ^= 1 },
		"keys":        func(d *RecordsDigest) { d.Keys++ },
		"aliases":     func(d *RecordsDigest) { d.Aliases++ },
		"credentials": func(d *RecordsDigest) { d.Credentials-- },
		"generation":  func(d *RecordsDigest) { d.Generation-- },
	} {
		c := *d
		c.Sum = append([]byte(nil), d.Sum...)
		change(&c)
		if err := VerifyMAC(&c, true, a); err == nil {
			t.Errorf("the digest's MAC does not cover its %s", what)
		}
	}
	if err := VerifyMAC(d, true, a); err != nil {
		t.Fatal(err)
	}
}

// TestDigestDescends: a digest descends from itself and from each digest
// its Recent names; another digest of one of those generations is another
// history; a generation older than its Recent, or newer than it, it
// cannot tell. Recent keeps the last RecentLinks, and the MAC covers it.
func TestDigestDescends(t *testing.T) {
	sl := testSealer(t, 1)
	var prev *RecordsDigest
	var all []*RecordsDigest
	for g := uint64(1); g <= RecentLinks+10; g++ {
		d := &RecordsDigest{Sum: make([]byte, 32), Generation: g, Recent: link(prev)}
		SetMAC(sl, d)
		all, prev = append(all, d), d
	}
	last := all[len(all)-1]
	if len(last.Recent) != RecentLinks || last.Recent[0].Generation != last.Generation-RecentLinks {
		t.Fatalf("Recent holds %d links from generation %d", len(last.Recent), last.Recent[0].Generation)
	}
	for _, d := range all {
		descends, known := last.Descends(d.Generation, d.MAC)
		inRange := last.Generation-d.Generation <= RecentLinks
		if known != inRange || known && !descends {
			t.Fatalf("generation %d: descends %v, known %v", d.Generation, descends, known)
		}
	}
	other := &RecordsDigest{Sum: bytes.Repeat([]byte{1}, 32), Generation: last.Generation - 3}
	SetMAC(sl, other)
	if descends, known := last.Descends(other.Generation, other.MAC); descends || !known {
		t.Fatalf("another digest of generation %d: descends %v, known %v", other.Generation, descends, known)
	}
	if descends, known := last.Descends(last.Generation, other.MAC); descends || !known {
		t.Fatalf("another digest of the same generation: descends %v, known %v", descends, known)
	}
	if _, known := last.Descends(last.Generation+1, last.MAC); known {
		t.Fatal("a newer generation is known")
	}
	changed := *last
	changed.Recent = slices.Clone(last.Recent)
	changed.Recent[5].MAC = other.MAC
	if err := VerifyMAC(&changed, true, sl); err == nil {
		t.Fatal("the digest's MAC does not cover its Recent")
	}
}

// digestReader is a Reader whose records digest is d.
type digestReader struct {
	memTxn
	d *RecordsDigest
}

func (r digestReader) RecordsDigest() (*RecordsDigest, error) { return r.d, nil }

// TestReadDigestBounded: a digest naming more than RecentLinks digests
// before it is refused, MAC and all (attestkms never writes one; Descends
// would search it on every check), as are one without a MAC, one of
// another root key and one whose sum is not 32 bytes.
func TestReadDigestBounded(t *testing.T) {
	sl := testSealer(t, 1)
	mk := func(links int, sum int) *RecordsDigest {
		d := &RecordsDigest{Sum: make([]byte, sum), Generation: uint64(links + 1)}
		for i := range links {
			d.Recent = append(d.Recent, DigestLink{Generation: uint64(i + 1), MAC: make([]byte, 32)})
		}
		SetMAC(sl, d)
		return d
	}
	if _, _, err := readDigest(digestReader{d: mk(RecentLinks, 32)}, sl); err != nil {
		t.Fatalf("a digest naming %d before it: %v", RecentLinks, err)
	}
	noMAC := mk(0, 32)
	noMAC.MAC = nil
	longLink := mk(2, 32)
	longLink.Recent[1].MAC = make([]byte, 1<<20)
	SetMAC(sl, longLink)
	for name, d := range map[string]*RecordsDigest{"too long a history": mk(RecentLinks+1, 32), "a short sum": mk(0, 31), "no MAC": noMAC, "a link's MAC of 1 MiB": longLink} {
		if _, _, err := readDigest(digestReader{d: d}, sl); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: %v; want ErrIntegrity", name, err)
		}
	}
	if _, _, err := readDigest(digestReader{d: mk(0, 32)}, testSealer(t, 2)); !errors.Is(err, ErrIntegrity) {
		t.Errorf("another root key's digest: %v", err)
	}
}

// digestTxn is memTxn counting the records digests written, and failing
// the creation of key failKey.
type digestTxn struct {
	memTxn
	written []*RecordsDigest
	failKey string
}

func (t *digestTxn) PutRecordsDigest(d *RecordsDigest) error {
	t.written = append(t.written, d)
	return nil
}

func (t *digestTxn) CreateKey(k *Key) error {
	if k.ID == t.failKey {
		return errors.New("the disk is full")
	}
	return t.memTxn.CreateKey(k)
}

// TestAuthenticatedCreateDigest: a new store's first transaction (Init's,
// a restore's) writes its records digest once, at its end, summing every
// record it wrote (generation 1, no history); one that fails midway
// writes none (and is rolled back: no store is made).
func TestAuthenticatedCreateDigest(t *testing.T) {
	sl := testSealer(t, 1)
	check, err := SealRootCheck(sl)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"1234abcd-0000-4000-8000-000000000001", "1234abcd-0000-4000-8000-000000000002", "1234abcd-0000-4000-8000-000000000003"}
	create := func(tx Txn) error {
		if err := tx.PutMeta(&Meta{AccountID: "1", RootCheck: check}); err != nil {
			return err
		}
		for _, id := range ids {
			k := macKey()
			k.ID = id
			if err := tx.CreateKey(k); err != nil {
				return err
			}
		}
		return nil
	}

	mem := &memStore{meta: &Meta{}, keys: map[string]*Key{}}
	tx := &digestTxn{memTxn: memTxn{mem}}
	if err := AuthenticatedCreate(sl, create)(tx); err != nil {
		t.Fatal(err)
	}
	if len(tx.written) != 1 {
		t.Fatalf("%d records digests written; want one, at the end", len(tx.written))
	}
	d := tx.written[0]
	if _, _, err := judgeDigest(d, sl); err != nil {
		t.Fatalf("the digest written: %v", err)
	}
	var want digestSum
	want.add(metaElement(sl, mem.meta))
	for _, id := range ids {
		want.add(keyElement(sl, mem.keys[id]))
	}
	if !bytes.Equal(d.Sum, want[:]) || d.Counts != (Counts{Keys: 3}) || d.Generation != 1 || len(d.Recent) != 0 {
		t.Fatalf("the digest written: %+v; want the meta's and the 3 keys' sum, generation 1, no history", d)
	}

	mem = &memStore{meta: &Meta{}, keys: map[string]*Key{}}
	tx = &digestTxn{memTxn: memTxn{mem}, failKey: ids[1]}
	if err := AuthenticatedCreate(sl, create)(tx); err == nil {
		t.Fatal("a create whose second key fails: no error")
	}
	if len(tx.written) != 0 {
		t.Fatalf("a create that failed midway wrote %d records digests; want none", len(tx.written))
	}
}
