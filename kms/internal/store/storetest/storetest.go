// Package storetest is the conformance suite of package store: every
// implementation runs it (Run) from its own tests, so that kms cannot tell
// them apart. It checks each method's contract as package store's doc
// states it: records round-trip field for field, listings are ordered and
// paged, errors are the store's sentinels, a failed Update changes nothing,
// concurrent Updates of one key lose nothing, versions grow with changes,
// locks exclude, and a closed store or a done context starts nothing.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
)

// Factory makes the stores the suite runs on.
type Factory struct {
	// New returns a new, empty store, as its implementation's Create leaves
	// it before its function writes anything: no meta, no records. The
	// suite closes it (the factory may close it again in t.Cleanup).
	New func(t *testing.T) store.Store
	// Reopen closes s, which New returned, and opens the same store again.
	// Nil skips what needs it (that what was committed survives reopening).
	Reopen func(t *testing.T, s store.Store) store.Store
}

// Run runs the suite, one subtest per contract.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, Factory)
	}{
		{"Meta", testMeta},
		{"AuditChangeSeq", testAuditChangeSeq},
		{"RecordsDigest", testRecordsDigest},
		{"DigestOverPages", testDigestOverPages},
		{"KeyRoundTrip", testKeyRoundTrip},
		{"PutKey", testPutKey},
		{"DeleteKey", testDeleteKey},
		{"Keys", testKeys},
		{"Aliases", testAliases},
		{"AliasMoves", testAliasMoves},
		{"Credentials", testCredentials},
		{"FailedUpdateChangesNothing", testFailedUpdate},
		{"ErrorsAsTheyAre", testErrorsAsTheyAre},
		{"OwnWritesAndIsolation", testIsolation},
		{"RecordsAreTheCallers", testRecordsAreTheCallers},
		{"Versions", testVersions},
		{"ConcurrentUpdatesLoseNothing", testConcurrentUpdates},
		{"ConcurrentCreateAlias", testConcurrentCreateAlias},
		{"TryLock", testTryLock},
		{"Canceled", testCanceled},
		{"Closed", testClosed},
		{"Reopen", testReopen},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, f) })
	}
}

var bg = context.Background()

// at is a time as stores keep them: UTC, to the millisecond.
func at(sec int) time.Time {
	return time.Date(2026, 11, 23, 12, 0, sec, 123_000_000, time.UTC)
}

func ptime(sec int) *time.Time { t := at(sec); return &t }

var testMeta0 = store.Meta{AccountID: "123456789012", ProjectID: "0123456789abcdef0123456789abcdef", Region: "eu-west-1", RootCheck: []byte("sealed root check"), ServiceKeys: []byte("sealed service keys"), MAC: []byte("meta mac")}

// newStore is f.New with its meta written.
func newStore(t *testing.T, f Factory) store.Store {
	t.Helper()
	s := f.New(t)
	t.Cleanup(func() { s.Close() })
	m := testMeta0
	mustUpdate(t, s, func(tx store.Txn) error { return tx.PutMeta(&m) })
	return s
}

func mustUpdate(t *testing.T, s store.Store, fn func(store.Txn) error) {
	t.Helper()
	if err := s.Update(bg, fn); err != nil {
		t.Fatal(err)
	}
}

func mustView(t *testing.T, s store.Store, fn func(store.Reader) error) {
	t.Helper()
	if err := s.View(bg, fn); err != nil {
		t.Fatal(err)
	}
}

// keyID is the n-th test key's id: UUID-shaped, in byte order of n.
func keyID(n int) string { return fmt.Sprintf("%08x-0000-4000-8000-000000000000", n) }

// sampleKey is a key with every field set (nonZero holds it to that).
func sampleKey(n int) *store.Key {
	return &store.Key{
		ID: keyID(n), CreatedAt: at(1), Description: "key " + fmt.Sprint(n),
		Spec: "SYMMETRIC_DEFAULT", Usage: "ENCRYPT_DECRYPT", State: "PendingDeletion",
		DeletionDate: ptime(2), PendingWindowDays: 7,
		Policy:          `{"Statement":[]}`,
		Tags:            []store.Tag{{TagKey: "a", TagValue: "1"}, {TagKey: "b", TagValue: ""}},
		RotationEnabled: true, RotationPeriodDays: 90, NextRotation: ptime(3),
		Materials: []store.Material{
			{Version: 1, ID: "01", CreatedAt: at(1), RotationType: "", Sealed: []byte{1, 2, 3}},
			{Version: 2, ID: "02", CreatedAt: at(4), RotationType: "ON_DEMAND", Sealed: []byte{4, 5, 6}},
		},
		PublicKey: []byte{0x30, 0x59},
		MAC:       []byte("key mac"),
	}
}

func sampleAlias(name string, keyID string) *store.Alias {
	return &store.Alias{Name: name, KeyID: keyID, CreatedAt: at(5), UpdatedAt: at(6), MAC: []byte("alias mac")}
}

func sampleCredential(id, name string) *store.Credential {
	return &store.Credential{
		AccessKeyID: id, Name: name, CreatedAt: at(7), Admin: true,
		IdentityPolicy: `{"Statement":[]}`, ExpiresAt: ptime(8), Sealed: []byte{9, 9, 9}, MAC: []byte("credential mac"),
	}
}

// nonZero fails unless every field of the struct v points to but Version
// is set: a field added to a record must be added to its sample, and so to
// every implementation's round trip.
func nonZero(t *testing.T, v any) {
	t.Helper()
	rv := reflect.ValueOf(v).Elem()
	for i := range rv.NumField() {
		if name := rv.Type().Field(i).Name; name != "Version" && rv.Field(i).IsZero() {
			t.Fatalf("the sample %s has no %s: set it, so that the round trip covers it", rv.Type().Name(), name)
		}
	}
}

// same fails unless got is want, field for field (times as instants,
// Version aside).
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	g, w := canon(t, got), canon(t, want)
	if g != w {
		t.Fatalf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// canon is v's JSON (which leaves Version out) with every time in UTC.
func canon(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	var walk func(any) any
	walk = func(x any) any {
		switch x := x.(type) {
		case string:
			if tm, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return tm.UTC().Format(time.RFC3339Nano)
			}
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		case map[string]any:
			for k := range x {
				x[k] = walk(x[k])
			}
		}
		return x
	}
	b, _ = json.Marshal(walk(x))
	return string(b)
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v; want %v", what, err, want)
	}
}

func readKey(t *testing.T, s store.Store, id string) *store.Key {
	t.Helper()
	k, err := s.Key(bg, id)
	if err != nil {
		t.Fatalf("key %s: %v", id, err)
	}
	return k
}

func testMeta(t *testing.T, f Factory) {
	s := newStore(t, f)
	mustView(t, s, func(r store.Reader) error {
		m, err := r.Meta()
		if err != nil {
			return err
		}
		nonZero(t, &testMeta0)
		same(t, "meta", m, &testMeta0)
		return nil
	})
	// A region moves; no region is "".
	for _, region := range []string{"us-east-1", ""} {
		mustUpdate(t, s, func(tx store.Txn) error {
			m, err := tx.Meta()
			if err != nil {
				return err
			}
			m.Region = region
			return tx.PutMeta(m)
		})
		mustView(t, s, func(r store.Reader) error {
			m, err := r.Meta()
			if err == nil && (m.Region != region || m.AccountID != testMeta0.AccountID) {
				t.Fatalf("meta after setting region %q: %+v", region, m)
			}
			return err
		})
	}
	// No service keys (a store made before answers were signed) reads as
	// none, and a new set replaces it.
	for _, sk := range [][]byte{nil, []byte("another set")} {
		mustUpdate(t, s, func(tx store.Txn) error {
			m, err := tx.Meta()
			if err != nil {
				return err
			}
			m.ServiceKeys = sk
			return tx.PutMeta(m)
		})
		mustView(t, s, func(r store.Reader) error {
			m, err := r.Meta()
			if err == nil && (!bytes.Equal(m.ServiceKeys, sk) || m.AccountID != testMeta0.AccountID) {
				t.Fatalf("meta after setting service keys %q: %+v", sk, m)
			}
			return err
		})
	}
}

func testAuditChangeSeq(t *testing.T, f Factory) {
	s := newStore(t, f)
	seqs := func() (uint64, uint64) {
		var one, other uint64
		mustView(t, s, func(r store.Reader) error {
			var err error
			if one, err = r.AuditChangeSeq(""); err != nil {
				return err
			}
			other, err = r.AuditChangeSeq("node-b")
			return err
		})
		return one, other
	}
	if one, other := seqs(); one != 0 || other != 0 {
		t.Fatalf("a new store's seqs: %d, %d; want 0", one, other)
	}
	mustUpdate(t, s, func(tx store.Txn) error { return tx.SetAuditChangeSeq("", 41) })
	mustUpdate(t, s, func(tx store.Txn) error {
		if err := tx.SetAuditChangeSeq("", 42); err != nil {
			return err
		}
		if seq, err := tx.AuditChangeSeq(""); err != nil || seq != 42 {
			t.Fatalf("the Txn's own seq: %d, %v", seq, err)
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Txn) error { return tx.SetAuditChangeSeq("node-b", 7) })
	if one, other := seqs(); one != 42 || other != 7 {
		t.Fatalf("seqs %d, %d; want 42, 7: chains are independent", one, other)
	}
	// Stored with a change, in its transaction: a change that fails
	// stores neither.
	errFail := errors.New("fail")
	err := s.Update(bg, func(tx store.Txn) error {
		if err := tx.CreateKey(sampleKey(1)); err != nil {
			return err
		}
		if err := tx.SetAuditChangeSeq("", 43); err != nil {
			return err
		}
		return errFail
	})
	wantErr(t, "a failed change", err, errFail)
	if one, _ := seqs(); one != 42 {
		t.Fatalf("seq %d after a failed change; want 42", one)
	}
}

// testRecordsDigest: the records digest is a value the store keeps as it
// is given (it never computes it): none at first, then what was put, seen
// by the Txn that put it, and not kept by an Update that fails.
func testRecordsDigest(t *testing.T, f Factory) {
	s := newStore(t, f)
	mustView(t, s, func(r store.Reader) error {
		if _, err := r.RecordsDigest(); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a new store's digest: %v; want ErrNotFound", err)
		}
		return nil
	})
	d := &store.RecordsDigest{Sum: bytes.Repeat([]byte{7}, 32), Counts: store.Counts{Keys: 3}, Generation: 9, Recent: []store.DigestLink{{Generation: 8, MAC: []byte("prev")}}, MAC: []byte("mac")}
	mustUpdate(t, s, func(tx store.Txn) error {
		if err := tx.PutRecordsDigest(d); err != nil {
			return err
		}
		got, err := tx.RecordsDigest()
		if err != nil {
			return err
		}
		same(t, "the Txn's own digest", got, d)
		return nil
	})
	errFail := errors.New("fail")
	err := s.Update(bg, func(tx store.Txn) error {
		if _, err := tx.RecordsDigest(); err != nil {
			return err
		}
		if err := tx.PutRecordsDigest(&store.RecordsDigest{Sum: make([]byte, 32), Counts: store.Counts{Keys: 4}, Generation: 10, MAC: []byte("other")}); err != nil {
			return err
		}
		return errFail
	})
	wantErr(t, "a failed change", err, errFail)
	mustView(t, s, func(r store.Reader) error {
		got, err := r.RecordsDigest()
		if err != nil {
			return err
		}
		same(t, "the digest after a failed change", got, d)
		return nil
	})
}

// testDigestOverPages: the records digest of a store holding more keys
// and aliases than a page of the pass that sums them (1000) verifies, and
// maintenance's pass over every key (AuthenticKeys, a page at a time)
// lists each key once: each page's start is a key id the implementation
// takes (PostgreSQL's text holds no NUL).
func testDigestOverPages(t *testing.T, f Factory) {
	s := f.New(t)
	t.Cleanup(func() { s.Close() })
	sl, err := sealer.New(bytes.Repeat([]byte{1}, sealer.RootKeySize))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sl.Close() })
	const n = 1001
	var ids []string
	mustUpdate(t, s, store.AuthenticatedCreate(sl, func(tx store.Txn) error {
		check, err := store.SealRootCheck(sl)
		if err != nil {
			return err
		}
		m := testMeta0
		m.RootCheck = check
		if err := tx.PutMeta(&m); err != nil {
			return err
		}
		for i := range n {
			if err := tx.CreateKey(sampleKey(i)); err != nil {
				return err
			}
			if err := tx.CreateAlias(sampleAlias(fmt.Sprintf("alias/%05d", i), keyID(i))); err != nil {
				return err
			}
			ids = append(ids, keyID(i))
		}
		return tx.CreateCredential(sampleCredential("AKIDPAGES", "pages"))
	}))
	mustView(t, s, func(r store.Reader) error {
		d, err := store.VerifyDigest(r, sl)
		if err != nil {
			t.Fatalf("the records digest of a store of %d keys and aliases: %v", n, err)
		}
		if d.Counts != (store.Counts{Keys: n, Aliases: n, Credentials: 1}) {
			t.Fatalf("the records digest counts %+v", d.Counts)
		}
		var listed []string
		for start := ""; ; {
			good, bad, next, err := store.AuthenticKeys(r, start, 100)
			if err != nil {
				t.Fatalf("AuthenticKeys from %q: %v", start, err)
			}
			if len(bad) > 0 {
				t.Fatalf("AuthenticKeys refused %v", bad)
			}
			for _, k := range good {
				listed = append(listed, k.ID)
			}
			if next == "" {
				break
			}
			start = next
		}
		if !slices.Equal(listed, ids) {
			t.Fatalf("AuthenticKeys listed %d keys; want each of the %d once, in order", len(listed), n)
		}
		return nil
	})
}

func testKeyRoundTrip(t *testing.T, f Factory) {
	s := newStore(t, f)
	k := sampleKey(1)
	nonZero(t, k)
	mustUpdate(t, s, func(tx store.Txn) error { return tx.CreateKey(k) })
	if k.Version == 0 {
		t.Fatal("CreateKey set no Version")
	}
	got := readKey(t, s, k.ID)
	same(t, "key read back", got, k)
	if got.Version != k.Version {
		t.Fatalf("read back at version %d; CreateKey said %d", got.Version, k.Version)
	}
	if cur := got.Current(); cur.Version != 2 {
		t.Fatalf("Current is version %d", cur.Version)
	}
	// Optional fields absent stay absent.
	bare := &store.Key{ID: keyID(2), CreatedAt: at(1), Spec: "ECC_NIST_P256", Usage: "KEY_AGREEMENT", State: "Enabled", Policy: "{}",
		Materials: []store.Material{{Version: 1, ID: "03", CreatedAt: at(1), Sealed: []byte{7}}}}
	mustUpdate(t, s, func(tx store.Txn) error { return tx.CreateKey(bare) })
	got = readKey(t, s, bare.ID)
	same(t, "a key without optional fields", got, bare)
	if got.DeletionDate != nil || got.NextRotation != nil || len(got.Tags) != 0 {
		t.Fatalf("absent fields read back: %+v", got)
	}
	wantErr(t, "CreateKey of a taken id", s.Update(bg, func(tx store.Txn) error { return tx.CreateKey(sampleKey(1)) }), store.ErrExists)
	_, err := s.Key(bg, keyID(3))
	wantErr(t, "Key of no key", err, store.ErrNotFound)
	mustView(t, s, func(r store.Reader) error {
		_, err := r.Key(keyID(3))
		wantErr(t, "Reader.Key of no key", err, store.ErrNotFound)
		return nil
	})
}

func testPutKey(t *testing.T, f Factory) {
	s := newStore(t, f)
	mustUpdate(t, s, func(tx store.Txn) error { return tx.CreateKey(sampleKey(1)) })
	var want *store.Key
	mustUpdate(t, s, func(tx store.Txn) error {
		k, err := tx.Key(keyID(1))
		if err != nil {
			return err
		}
		k.State, k.DeletionDate, k.PendingWindowDays = "Enabled", nil, 0
		k.Description = ""
		k.Tags = append(k.Tags, store.Tag{TagKey: "c", TagValue: "3"})
		k.Materials = append(k.Materials, store.Material{Version: 3, ID: "04", CreatedAt: at(9), RotationType: "AUTOMATIC", Sealed: []byte{8}})
		if err := tx.PutKey(k); err != nil {
			return err
		}
		want = k
		got, err := tx.Key(keyID(1))
		if err != nil {
			return err
		}
		same(t, "the Txn's own write", got, k)
		return nil
	})
	same(t, "key after PutKey", readKey(t, s, keyID(1)), want)
	wantErr(t, "PutKey of no key", s.Update(bg, func(tx store.Txn) error {
		k := sampleKey(9)
		return tx.PutKey(k)
	}), store.ErrNotFound)
}

func testDeleteKey(t *testing.T, f Factory) {
	s := newStore(t, f)
	mustUpdate(t, s, func(tx store.Txn) error {
		for _, n := range []int{1, 2} {
			if err := tx.CreateKey(sampleKey(n)); err != nil {
				return err
			}
		}
		for _, a := range []*store.Alias{sampleAlias("alias/a", keyID(1)), sampleAlias("alias/b", keyID(2)), sampleAlias("alias/c", keyID(1))} {
			if err := tx.CreateAlias(a); err != nil {
				return err
			}
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Txn) error { return tx.DeleteKey(keyID(1)) })
	_, err := s.Key(bg, keyID(1))
	wantErr(t, "a deleted key", err, store.ErrNotFound)
	for _, name := range []string{"alias/a", "alias/c"} {
		_, err := s.Alias(bg, name)
		wantErr(t, "an alias of a deleted key", err, store.ErrNotFound)
	}
	if a, err := s.Alias(bg, "alias/b"); err != nil || a.KeyID != keyID(2) {
		t.Fatalf("another key's alias: %+v, %v", a, err)
	}
	readKey(t, s, keyID(2))
	wantErr(t, "DeleteKey of no key", s.Update(bg, func(tx store.Txn) error { return tx.DeleteKey(keyID(1)) }), store.ErrNotFound)
}

func testKeys(t *testing.T, f Factory) {
	s := newStore(t, f)
	var ids []string
	mustUpdate(t, s, func(tx store.Txn) error {
		for _, n := range []int{7, 3, 0xa0, 1, 0x1f, 5, 0xff, 2} { // not in order
			if err := tx.CreateKey(sampleKey(n)); err != nil {
				return err
			}
			ids = append(ids, keyID(n))
		}
		return nil
	})
	slices.Sort(ids)
	list := func(start string, limit int) []string {
		var out []string
		mustView(t, s, func(r store.Reader) error {
			ks, err := r.Keys(start, limit)
			for _, k := range ks {
				out = append(out, k.ID)
				if k.Version == 0 {
					t.Fatalf("listed key %s has no Version", k.ID)
				}
			}
			return err
		})
		return out
	}
	if got := list("", 100); !slices.Equal(got, ids) {
		t.Fatalf("all keys: %v; want %v", got, ids)
	}
	// Paged as kms pages: ask for one more than the page, start the next
	// page at it.
	var paged []string
	start := ""
	for {
		page := list(start, 4)
		if len(page) < 4 {
			paged = append(paged, page...)
			break
		}
		paged = append(paged, page[:3]...)
		start = page[3]
	}
	if !slices.Equal(paged, ids) {
		t.Fatalf("paged: %v; want %v", paged, ids)
	}
	if got := list(ids[2], 2); !slices.Equal(got, ids[2:4]) {
		t.Fatalf("from %s: %v", ids[2], got)
	}
	if got := list(ids[2]+"0", 100); !slices.Equal(got, ids[3:]) {
		t.Fatalf("from between two ids: %v", got)
	}
	if got := list("g", 10); len(got) != 0 {
		t.Fatalf("past the last: %v", got)
	}
	full := []*store.Key{}
	mustView(t, s, func(r store.Reader) error {
		var err error
		full, err = r.Keys("", 1)
		return err
	})
	if len(full) != 1 {
		t.Fatalf("limit 1: %d keys", len(full))
	}
	same(t, "a listed key", full[0], sampleKey(1))
}

func testAliases(t *testing.T, f Factory) {
	s := newStore(t, f)
	names := []string{"alias/b", "alias/a/x", "alias/a", "alias/C", "alias/z_9", "alias/a-"}
	mustUpdate(t, s, func(tx store.Txn) error {
		for _, n := range []int{1, 2} {
			if err := tx.CreateKey(sampleKey(n)); err != nil {
				return err
			}
		}
		for i, name := range names {
			a := sampleAlias(name, keyID(1+i%2))
			if err := tx.CreateAlias(a); err != nil {
				return err
			}
			if a.Version == 0 {
				t.Fatal("CreateAlias set no Version")
			}
		}
		return nil
	})
	want := sampleAlias("alias/a/x", keyID(2))
	nonZero(t, want)
	got, err := s.Alias(bg, "alias/a/x")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "alias read back", got, want)
	_, err = s.Alias(bg, "alias/none")
	wantErr(t, "Alias of none", err, store.ErrNotFound)
	wantErr(t, "CreateAlias of a taken name", s.Update(bg, func(tx store.Txn) error { return tx.CreateAlias(sampleAlias("alias/a", keyID(2))) }), store.ErrExists)
	wantErr(t, "CreateAlias of no key", s.Update(bg, func(tx store.Txn) error { return tx.CreateAlias(sampleAlias("alias/new", keyID(9))) }), store.ErrNotFound)

	sorted := slices.Clone(names)
	slices.Sort(sorted)
	mustView(t, s, func(r store.Reader) error {
		all, err := r.Aliases("", 100)
		if err != nil {
			return err
		}
		var got []string
		for _, a := range all {
			got = append(got, a.Name)
		}
		if !slices.Equal(got, sorted) {
			t.Fatalf("aliases %v; want %v", got, sorted)
		}
		page, err := r.Aliases(sorted[2], 2)
		if err != nil {
			return err
		}
		if len(page) != 2 || page[0].Name != sorted[2] || page[1].Name != sorted[3] {
			t.Fatalf("a page from %s: %+v", sorted[2], page)
		}
		for n := 1; n <= 3; n++ {
			of, err := r.AliasesOf(keyID(n))
			if err != nil {
				return err
			}
			var got, want []string
			for _, a := range of {
				got = append(got, a.Name)
			}
			for i, name := range names {
				if 1+i%2 == n {
					want = append(want, name)
				}
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("aliases of key %d: %v; want %v", n, got, want)
			}
		}
		return nil
	})
	mustUpdate(t, s, func(tx store.Txn) error { return tx.DeleteAlias("alias/a") })
	_, err = s.Alias(bg, "alias/a")
	wantErr(t, "a deleted alias", err, store.ErrNotFound)
	readKey(t, s, keyID(1)) // the key stays
	wantErr(t, "DeleteAlias of none", s.Update(bg, func(tx store.Txn) error { return tx.DeleteAlias("alias/a") }), store.ErrNotFound)
}

func testAliasMoves(t *testing.T, f Factory) {
	s := newStore(t, f)
	mustUpdate(t, s, func(tx store.Txn) error {
		for _, n := range []int{1, 2} {
			if err := tx.CreateKey(sampleKey(n)); err != nil {
				return err
			}
		}
		return tx.CreateAlias(sampleAlias("alias/m", keyID(1)))
	})
	mustUpdate(t, s, func(tx store.Txn) error {
		a, err := tx.Alias("alias/m")
		if err != nil {
			return err
		}
		a.KeyID, a.UpdatedAt = keyID(2), at(30)
		return tx.PutAlias(a)
	})
	a, err := s.Alias(bg, "alias/m")
	if err != nil || a.KeyID != keyID(2) || !a.UpdatedAt.Equal(at(30)) || !a.CreatedAt.Equal(at(5)) {
		t.Fatalf("moved alias: %+v, %v", a, err)
	}
	mustView(t, s, func(r store.Reader) error {
		if of, err := r.AliasesOf(keyID(1)); err != nil || len(of) != 0 {
			t.Fatalf("the old key's aliases: %+v, %v", of, err)
		}
		if of, err := r.AliasesOf(keyID(2)); err != nil || len(of) != 1 {
			t.Fatalf("the new key's aliases: %+v, %v", of, err)
		}
		return nil
	})
	wantErr(t, "PutAlias to no key", s.Update(bg, func(tx store.Txn) error {
		a, err := tx.Alias("alias/m")
		if err != nil {
			return err
		}
		a.KeyID = keyID(9)
		return tx.PutAlias(a)
	}), store.ErrNotFound)
	wantErr(t, "PutAlias of no alias", s.Update(bg, func(tx store.Txn) error {
		return tx.PutAlias(sampleAlias("alias/none", keyID(1)))
	}), store.ErrNotFound)
}

func testCredentials(t *testing.T, f Factory) {
	s := newStore(t, f)
	want := sampleCredential("AKIAB", "ci")
	nonZero(t, want)
	mustUpdate(t, s, func(tx store.Txn) error {
		for _, c := range []*store.Credential{
			{AccessKeyID: "AKIAC", Name: "admin", CreatedAt: at(1), Sealed: []byte{1}},
			want,
			{AccessKeyID: "AKIAA", Name: "ops", CreatedAt: at(2), Admin: true, Sealed: []byte{2}},
		} {
			if err := tx.CreateCredential(c); err != nil {
				return err
			}
			if c.Version == 0 {
				t.Fatal("CreateCredential set no Version")
			}
		}
		return nil
	})
	mustView(t, s, func(r store.Reader) error {
		c, err := r.Credential("AKIAB")
		if err != nil {
			return err
		}
		same(t, "credential read back", c, want)
		_, err = r.Credential("AKIANONE")
		wantErr(t, "Credential of none", err, store.ErrNotFound)
		all, err := r.Credentials()
		if err != nil {
			return err
		}
		var ids []string
		for _, c := range all {
			ids = append(ids, c.AccessKeyID)
		}
		if !slices.Equal(ids, []string{"AKIAA", "AKIAB", "AKIAC"}) {
			t.Fatalf("credentials %v", ids)
		}
		return nil
	})
	wantErr(t, "CreateCredential of a taken access key id", s.Update(bg, func(tx store.Txn) error {
		return tx.CreateCredential(sampleCredential("AKIAB", "other"))
	}), store.ErrExists)
	wantErr(t, "CreateCredential of a taken name", s.Update(bg, func(tx store.Txn) error {
		return tx.CreateCredential(sampleCredential("AKIAD", "ci"))
	}), store.ErrExists)
	// A rotation: the name moves to a new access key id in one transaction.
	mustUpdate(t, s, func(tx store.Txn) error {
		if err := tx.DeleteCredential("AKIAB"); err != nil {
			return err
		}
		return tx.CreateCredential(sampleCredential("AKIAE", "ci"))
	})
	mustView(t, s, func(r store.Reader) error {
		_, err := r.Credential("AKIAB")
		wantErr(t, "a rotated credential's old id", err, store.ErrNotFound)
		c, err := r.Credential("AKIAE")
		if err != nil || c.Name != "ci" {
			t.Fatalf("the rotated credential: %+v, %v", c, err)
		}
		return nil
	})
	wantErr(t, "DeleteCredential of none", s.Update(bg, func(tx store.Txn) error { return tx.DeleteCredential("AKIAB") }), store.ErrNotFound)
}

// state is everything s holds, for comparing.
func state(t *testing.T, s store.Store) string {
	t.Helper()
	var out string
	mustView(t, s, func(r store.Reader) error {
		m, err := r.Meta()
		if err != nil {
			return err
		}
		seq, err := r.AuditChangeSeq("")
		if err != nil {
			return err
		}
		ks, err := r.Keys("", 1000)
		if err != nil {
			return err
		}
		as, err := r.Aliases("", 1000)
		if err != nil {
			return err
		}
		cs, err := r.Credentials()
		if err != nil {
			return err
		}
		out = canon(t, []any{m, seq, ks, as, cs})
		return nil
	})
	return out
}

// populate writes a key, an alias and a credential.
func populate(t *testing.T, s store.Store) {
	t.Helper()
	mustUpdate(t, s, func(tx store.Txn) error {
		if err := tx.CreateKey(sampleKey(1)); err != nil {
			return err
		}
		if err := tx.CreateKey(sampleKey(2)); err != nil {
			return err
		}
		if err := tx.CreateAlias(sampleAlias("alias/a", keyID(1))); err != nil {
			return err
		}
		if err := tx.CreateCredential(sampleCredential("AKIAA", "a")); err != nil {
			return err
		}
		return tx.SetAuditChangeSeq("", 5)
	})
}

func testFailedUpdate(t *testing.T, f Factory) {
	s := newStore(t, f)
	populate(t, s)
	before := state(t, s)
	errFail := errors.New("fn failed")
	err := s.Update(bg, func(tx store.Txn) error {
		k, err := tx.Key(keyID(1))
		if err != nil {
			return err
		}
		k.State = "Disabled"
		m, err := tx.Meta()
		if err != nil {
			return err
		}
		m.Region = "ap-south-1"
		a, err := tx.Alias("alias/a")
		if err != nil {
			return err
		}
		a.KeyID = keyID(2)
		for _, write := range []func() error{
			func() error { return tx.PutKey(k) },
			func() error { return tx.CreateKey(sampleKey(3)) },
			func() error { return tx.PutAlias(a) },
			func() error { return tx.CreateAlias(sampleAlias("alias/b", keyID(1))) },
			func() error { return tx.DeleteKey(keyID(2)) },
			func() error { return tx.CreateCredential(sampleCredential("AKIAB", "b")) },
			func() error { return tx.DeleteCredential("AKIAA") },
			func() error { return tx.PutMeta(m) },
			func() error { return tx.SetAuditChangeSeq("", 6) },
		} {
			if err := write(); err != nil {
				return err
			}
		}
		return errFail
	})
	wantErr(t, "a failed Update", err, errFail)
	if after := state(t, s); after != before {
		t.Fatalf("a failed Update changed the store:\nbefore %s\nafter  %s", before, after)
	}
	// A panic in fn is a failure too.
	func() {
		defer func() { recover() }()
		s.Update(bg, func(tx store.Txn) error {
			tx.DeleteKey(keyID(1))
			panic("in fn")
		})
	}()
	if after := state(t, s); after != before {
		t.Fatal("an Update whose fn panicked changed the store")
	}
}

type testError struct{ msg string }

func (e *testError) Error() string { return e.msg }

func testErrorsAsTheyAre(t *testing.T, f Factory) {
	s := newStore(t, f)
	e := &testError{"mine"}
	if err := s.Update(bg, func(store.Txn) error { return e }); err != e {
		t.Fatalf("Update returned %#v; want fn's error as it is", err)
	}
	if err := s.View(bg, func(store.Reader) error { return e }); err != e {
		t.Fatalf("View returned %#v; want fn's error as it is", err)
	}
}

func testIsolation(t *testing.T, f Factory) {
	s := newStore(t, f)
	populate(t, s)
	mustUpdate(t, s, func(tx store.Txn) error {
		if err := tx.CreateKey(sampleKey(3)); err != nil {
			return err
		}
		if _, err := tx.Key(keyID(3)); err != nil {
			t.Fatalf("a Txn does not read its own write: %v", err)
		}
		if err := tx.DeleteAlias("alias/a"); err != nil {
			return err
		}
		if _, err := tx.Alias("alias/a"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a Txn reads what it deleted: %v", err)
		}
		// Another transaction does not see them before the commit.
		done := make(chan error)
		go func() {
			done <- s.View(bg, func(r store.Reader) error {
				if _, err := r.Key(keyID(3)); !errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("a View reads an uncommitted key: %v", err)
				}
				if _, err := r.Alias("alias/a"); err != nil {
					return fmt.Errorf("a View misses an alias deleted uncommitted: %v", err)
				}
				return nil
			})
		}()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return nil
	})
	readKey(t, s, keyID(3))
}

func testRecordsAreTheCallers(t *testing.T, f Factory) {
	s := newStore(t, f)
	populate(t, s)
	k := readKey(t, s, keyID(1))
	k.Tags[0].TagValue = "changed"
	k.Materials[0].Sealed[0] ^= 0xff
	k.State = "Disabled"
	same(t, "a key after changing a copy read", readKey(t, s, keyID(1)), sampleKey(1))
	mustView(t, s, func(r store.Reader) error {
		m, err := r.Meta()
		if err != nil {
			return err
		}
		m.RootCheck[0] ^= 0xff
		m2, err := r.Meta()
		if err != nil {
			return err
		}
		same(t, "meta after changing a copy read", m2, &testMeta0)
		return nil
	})
}

func testVersions(t *testing.T, f Factory) {
	s := newStore(t, f)
	populate(t, s)
	v1 := readKey(t, s, keyID(1)).Version
	a1, err := s.Alias(bg, "alias/a")
	if err != nil {
		t.Fatal(err)
	}
	if v := readKey(t, s, keyID(1)).Version; v != v1 {
		t.Fatalf("an unchanged key read again: version %d, then %d", v1, v)
	}
	// A failed Update changes no version.
	s.Update(bg, func(tx store.Txn) error {
		k, _ := tx.Key(keyID(1))
		k.State = "Disabled"
		tx.PutKey(k)
		return errors.New("no")
	})
	if v := readKey(t, s, keyID(1)).Version; v != v1 {
		t.Fatalf("version %d after a failed Update; want %d", v, v1)
	}
	// A change makes a greater one, the one PutKey set.
	var stale *store.Key
	var put uint64
	mustUpdate(t, s, func(tx store.Txn) error {
		k, err := tx.Key(keyID(1))
		if err != nil {
			return err
		}
		stale = k
		c := *k
		c.State = "Disabled"
		if err := tx.PutKey(&c); err != nil {
			return err
		}
		put = c.Version
		return nil
	})
	v2 := readKey(t, s, keyID(1)).Version
	if v2 <= v1 || v2 != put {
		t.Fatalf("versions %d, then %d after a change (PutKey said %d)", v1, v2, put)
	}
	mustUpdate(t, s, func(tx store.Txn) error {
		a, err := tx.Alias("alias/a")
		if err != nil {
			return err
		}
		a.KeyID = keyID(2)
		return tx.PutAlias(a)
	})
	if a2, err := s.Alias(bg, "alias/a"); err != nil || a2.Version <= a1.Version {
		t.Fatalf("alias versions %d, then %+v, %v", a1.Version, a2, err)
	}
	// A record read before a change is stale: PutKey refuses it.
	stale.Description = "lost update"
	wantErr(t, "PutKey of a stale record", s.Update(bg, func(tx store.Txn) error { return tx.PutKey(stale) }), store.ErrConflict)
	wantErr(t, "PutAlias of a stale record", s.Update(bg, func(tx store.Txn) error { return tx.PutAlias(a1) }), store.ErrConflict)
	if k := readKey(t, s, keyID(1)); k.State != "Disabled" || k.Description == "lost update" {
		t.Fatalf("after a refused stale write: %+v", k)
	}
}

// testConcurrentUpdates: 10 goroutines each add a tag to one key, read and
// written in one Update each. Reads in a Txn lock, so none is refused and
// none is lost.
func testConcurrentUpdates(t *testing.T, f Factory) {
	s := newStore(t, f)
	mustUpdate(t, s, func(tx store.Txn) error {
		k := sampleKey(1)
		k.Tags = nil
		return tx.CreateKey(k)
	})
	const n = 10
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Update(bg, func(tx store.Txn) error {
				k, err := tx.Key(keyID(1))
				if err != nil {
					return err
				}
				time.Sleep(time.Millisecond) // widen the window a lost update needs
				k.Tags = append(k.Tags, store.Tag{TagKey: fmt.Sprint(i), TagValue: "x"})
				return tx.PutKey(k)
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a concurrent Update: %v", err)
		}
	}
	if k := readKey(t, s, keyID(1)); len(k.Tags) != n {
		t.Fatalf("%d tags after %d concurrent Updates: %+v", len(k.Tags), n, k.Tags)
	}
}

func testConcurrentCreateAlias(t *testing.T, f Factory) {
	s := newStore(t, f)
	mustUpdate(t, s, func(tx store.Txn) error {
		for n := range 10 {
			if err := tx.CreateKey(sampleKey(n)); err != nil {
				return err
			}
		}
		return nil
	})
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for n := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Update(bg, func(tx store.Txn) error { return tx.CreateAlias(sampleAlias("alias/race", keyID(n))) })
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrExists):
			t.Fatalf("a concurrent CreateAlias: %v; want nil or ErrExists", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent CreateAlias of one name succeeded; want 1", ok)
	}
}

func testTryLock(t *testing.T, f Factory) {
	s := newStore(t, f)
	release, err := s.TryLock(bg, "maintain")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.TryLock(bg, "maintain")
	wantErr(t, "a held lock", err, store.ErrHeld)
	other, err := s.TryLock(bg, "other")
	if err != nil {
		t.Fatalf("another lock: %v", err)
	}
	other()
	release()
	release() // twice is harmless
	again, err := s.TryLock(bg, "maintain")
	if err != nil {
		t.Fatalf("a released lock: %v", err)
	}
	again()
}

func testCanceled(t *testing.T, f Factory) {
	s := newStore(t, f)
	populate(t, s)
	ctx, cancel := context.WithCancel(bg)
	cancel()
	ran := false
	wantErr(t, "View", s.View(ctx, func(store.Reader) error { ran = true; return nil }), context.Canceled)
	wantErr(t, "Update", s.Update(ctx, func(store.Txn) error { ran = true; return nil }), context.Canceled)
	if ran {
		t.Fatal("a done context started a transaction")
	}
	_, err := s.Key(ctx, keyID(1))
	wantErr(t, "Key", err, context.Canceled)
	_, err = s.Alias(ctx, "alias/a")
	wantErr(t, "Alias", err, context.Canceled)
	_, err = s.TryLock(ctx, "maintain")
	wantErr(t, "TryLock", err, context.Canceled)
	dctx, dcancel := context.WithDeadline(bg, time.Now().Add(-time.Second))
	defer dcancel()
	wantErr(t, "Update past its deadline", s.Update(dctx, func(store.Txn) error { ran = true; return nil }), context.DeadlineExceeded)
	if ran {
		t.Fatal("a context past its deadline started a transaction")
	}
}

func testClosed(t *testing.T, f Factory) {
	s := newStore(t, f)
	populate(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ran := false
	wantErr(t, "View", s.View(bg, func(store.Reader) error { ran = true; return nil }), store.ErrClosed)
	wantErr(t, "Update", s.Update(bg, func(store.Txn) error { ran = true; return nil }), store.ErrClosed)
	if ran {
		t.Fatal("a closed store ran a transaction")
	}
	_, err := s.Key(bg, keyID(1))
	wantErr(t, "Key", err, store.ErrClosed)
	_, err = s.Alias(bg, "alias/a")
	wantErr(t, "Alias", err, store.ErrClosed)
	_, err = s.TryLock(bg, "maintain")
	wantErr(t, "TryLock", err, store.ErrClosed)
}

func testReopen(t *testing.T, f Factory) {
	if f.Reopen == nil {
		t.Skip("no Reopen")
	}
	s := newStore(t, f)
	populate(t, s)
	mustUpdate(t, s, func(tx store.Txn) error { return tx.SetAuditChangeSeq("node-b", 3) })
	before := state(t, s)
	v := readKey(t, s, keyID(1)).Version
	s = f.Reopen(t, s)
	t.Cleanup(func() { s.Close() })
	if after := state(t, s); after != before {
		t.Fatalf("reopened:\nbefore %s\nafter  %s", before, after)
	}
	var seq uint64
	mustView(t, s, func(r store.Reader) error {
		var err error
		seq, err = r.AuditChangeSeq("node-b")
		return err
	})
	if seq != 3 {
		t.Fatalf("chain node-b's seq %d after reopening", seq)
	}
	// Versions never go back: a record read before reopening is no newer
	// than one read after, and a change after reopening is newer still.
	if v2 := readKey(t, s, keyID(1)).Version; v2 < v {
		t.Fatalf("version %d after reopening; %d before", v2, v)
	}
	mustUpdate(t, s, func(tx store.Txn) error {
		k, err := tx.Key(keyID(1))
		if err != nil {
			return err
		}
		k.Description = "after reopening"
		return tx.PutKey(k)
	})
	if v3 := readKey(t, s, keyID(1)).Version; v3 <= v {
		t.Fatalf("version %d after a change after reopening; %d before", v3, v)
	}
}
