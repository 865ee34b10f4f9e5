package store

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms/internal/sealer"
)

func testSealer(t testing.TB, b byte) *sealer.Sealer {
	t.Helper()
	sl, err := sealer.New(bytes.Repeat([]byte{b}, sealer.RootKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return sl
}

func tp(t time.Time) *time.Time { return &t }

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 123_456_789, time.UTC)

func macKey() *Key {
	return &Key{
		ID: "1234abcd-0000-4000-8000-000000000000", CreatedAt: t0, Description: "d", Spec: "SYMMETRIC_DEFAULT",
		Usage: "ENCRYPT_DECRYPT", State: "Enabled", DeletionDate: tp(t0), PendingWindowDays: 7, Policy: `{}`,
		Tags: []Tag{{TagKey: "a", TagValue: "1"}}, RotationEnabled: true, RotationPeriodDays: 90, NextRotation: tp(t0),
		Materials: []Material{{Version: 1, ID: "01", CreatedAt: t0, RotationType: "ON_DEMAND", Sealed: []byte{1}}},
		PublicKey: []byte{2},
	}
}

func macAlias() *Alias {
	return &Alias{Name: "alias/a", KeyID: "k", CreatedAt: t0, UpdatedAt: t0}
}

func macCredential() *Credential {
	return &Credential{AccessKeyID: "AKIA", Name: "ops", CreatedAt: t0, Admin: true, IdentityPolicy: "{}", ExpiresAt: tp(t0), Sealed: []byte{3}}
}

func macMeta() *Meta {
	return &Meta{AccountID: "1", ProjectID: "p", Region: "r", RootCheck: []byte{4}, ServiceKeys: []byte{5}}
}

// mutations calls fn once for every stored field of the struct v points
// to (recursing into lists of structs and their members), after changing
// that field, and restores it after. Version and MAC are not stored
// fields of the encoding.
func mutations(t *testing.T, v reflect.Value, path string, fn func(field string)) {
	for i := range v.NumField() {
		f, name := v.Field(i), path+v.Type().Field(i).Name
		if name == path+"Version" && f.Kind() == reflect.Uint64 || v.Type().Field(i).Name == "MAC" {
			continue
		}
		old := reflect.New(f.Type()).Elem()
		old.Set(f)
		switch {
		case f.Type() == reflect.TypeOf(time.Time{}):
			f.Set(reflect.ValueOf(f.Interface().(time.Time).Add(time.Nanosecond)))
		case f.Type() == reflect.TypeOf(&time.Time{}):
			if f.IsNil() {
				f.Set(reflect.ValueOf(tp(t0)))
			} else {
				f.Set(reflect.Zero(f.Type()))
			}
		case f.Kind() == reflect.String:
			f.SetString(f.String() + "x")
		case f.Kind() == reflect.Bool:
			f.SetBool(!f.Bool())
		case f.Kind() == reflect.Int32 || f.Kind() == reflect.Int64:
			f.SetInt(f.Int() + 1)
		case f.Kind() == reflect.Uint32 || f.Kind() == reflect.Uint64:
			f.SetUint(f.Uint() + 1)
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Uint8:
			f.SetBytes(append(bytes.Clone(f.Bytes()), 9))
		case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct:
			// One more member; then each member's every field.
			f.Set(reflect.Append(f, f.Index(0)))
			fn(name + " (a member more)")
			f.Set(old)
			for j := range f.Len() {
				mutations(t, f.Index(j), name+"[].", fn)
			}
			continue
		default:
			t.Fatalf("%s: a field of kind %s: teach this test (and mac.go) to change it", name, f.Type())
		}
		fn(name)
		f.Set(old)
	}
}

// TestMACCoversEveryField: changing any stored field of any record changes
// its MAC. A field added to a record fails this until mac.go encodes it.
func TestMACCoversEveryField(t *testing.T) {
	sl := testSealer(t, 1)
	for _, rec := range []authenticated{macKey(), macAlias(), macCredential(), macMeta()} {
		want := computeMAC(sl, rec)
		v := reflect.ValueOf(rec).Elem()
		n := 0
		mutations(t, v, v.Type().Name()+".", func(field string) {
			n++
			if bytes.Equal(computeMAC(sl, rec), want) {
				t.Errorf("changing %s leaves the MAC as it was: mac.go does not encode it", field)
			}
		})
		if !bytes.Equal(computeMAC(sl, rec), want) {
			t.Fatalf("%s: the test did not restore the record", v.Type().Name())
		}
		t.Logf("%s: %d changes, each changes the MAC", v.Type().Name(), n)
	}
}

// TestMACBinds: a MAC is the record's type's, under its root key; a time
// in another location MACs the same (stores give times back in any).
func TestMACBinds(t *testing.T) {
	a, b := testSealer(t, 1), testSealer(t, 2)
	k := macKey()
	SetMAC(a, k)
	if err := VerifyMAC(k, true, a); err != nil {
		t.Fatal(err)
	}
	if err := VerifyMAC(k, true, b); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("under another root key: %v", err)
	}
	if err := VerifyMAC(k, true, b, a); err != nil {
		t.Fatalf("under either of two: %v", err)
	}
	k.CreatedAt = k.CreatedAt.In(time.FixedZone("x", 3600))
	if err := VerifyMAC(k, true, a); err != nil {
		t.Fatalf("a time in another location: %v", err)
	}
	// An alias and a credential whose fields spell the same bytes differ
	// by their type's label.
	if bytes.Equal(macInput(&Alias{Name: "a"}), macInput(&Credential{AccessKeyID: "a"})) {
		t.Fatal("two record types encode alike")
	}
	k.MAC = nil
	if err := VerifyMAC(k, false, a); err != nil {
		t.Fatalf("a legacy record: %v", err)
	}
	var ie *IntegrityError
	if err := VerifyMAC(k, true, a); !errors.As(err, &ie) || ie.Record != `key "`+k.ID+`"` {
		t.Fatalf("a missing MAC where required: %v", err)
	}
}

// memStore is a Store of one in-memory state, enough for Authenticated.
type memStore struct {
	Store // nil: what the tests do not call
	meta  *Meta
	keys  map[string]*Key
}

func (m *memStore) View(_ context.Context, fn func(Reader) error) error { return fn(memTxn{m}) }
func (m *memStore) Update(_ context.Context, fn func(Txn) error) error  { return fn(memTxn{m}) }
func (m *memStore) Key(_ context.Context, id string) (*Key, error)      { return memTxn{m}.Key(id) }

type memTxn struct{ m *memStore }

func (t memTxn) Meta() (*Meta, error) { c := *t.m.meta; return &c, nil }
func (t memTxn) Key(id string) (*Key, error) {
	k, ok := t.m.keys[id]
	if !ok {
		return nil, ErrNotFound
	}
	c := *k
	return &c, nil
}
func (t memTxn) PutMeta(m *Meta) error { c := *m; t.m.meta = &c; return nil }
func (t memTxn) CreateKey(k *Key) error {
	c := *k
	t.m.keys[k.ID] = &c
	return nil
}

// The rest of Txn: not called.
func (memTxn) AuditChangeSeq(string) (uint64, error)  { return 0, nil }
func (memTxn) Keys(string, int) ([]*Key, error)       { return nil, nil }
func (memTxn) Alias(string) (*Alias, error)           { return nil, ErrNotFound }
func (memTxn) Aliases(string, int) ([]*Alias, error)  { return nil, nil }
func (memTxn) AliasesOf(string) ([]*Alias, error)     { return nil, nil }
func (memTxn) Credential(string) (*Credential, error) { return nil, ErrNotFound }
func (memTxn) Credentials() ([]*Credential, error)    { return nil, nil }
func (memTxn) SetAuditChangeSeq(string, uint64) error { return nil }
func (memTxn) PutKey(*Key) error                      { return nil }
func (memTxn) DeleteKey(string) error                 { return nil }
func (memTxn) CreateAlias(*Alias) error               { return nil }
func (memTxn) PutAlias(*Alias) error                  { return nil }
func (memTxn) DeleteAlias(string) error               { return nil }
func (memTxn) CreateCredential(*Credential) error     { return nil }
func (memTxn) DeleteCredential(string) error          { return nil }
func (memTxn) RecordsDigest() (*RecordsDigest, error) { return nil, ErrNotFound }
func (memTxn) PutRecordsDigest(*RecordsDigest) error  { return nil }

// TestAuthenticatedStore: writes are MACed, reads verified; a v1 store
// reads a record without MAC, a v2 one (learnt from its meta) refuses it
// and remembers; a root check that is not the root key's is ErrRootKey.
func TestAuthenticatedStore(t *testing.T) {
	sl := testSealer(t, 1)
	v1, _ := SealRootCheckV1(sl)
	mem := &memStore{meta: &Meta{AccountID: "1", RootCheck: v1}, keys: map[string]*Key{}}
	mem.keys["legacy"] = &Key{ID: "legacy"}
	var refused []error
	a := Authenticate(mem, sl, func(err error) { refused = append(refused, err) })
	bg := context.Background()
	if _, err := a.Key(bg, "legacy"); err != nil {
		t.Fatalf("a legacy record of a v1 store: %v", err)
	}
	if err := a.Update(bg, func(tx Txn) error { return tx.CreateKey(macKey()) }); err != nil {
		t.Fatal(err)
	}
	if len(mem.keys[macKey().ID].MAC) == 0 {
		t.Fatal("a write without MAC")
	}
	if _, err := a.Key(bg, macKey().ID); err != nil {
		t.Fatal(err)
	}
	mem.keys[macKey().ID].State = "Disabled"
	if _, err := a.Key(bg, macKey().ID); !errors.Is(err, ErrIntegrity) || len(refused) != 1 {
		t.Fatalf("a changed record: %v, %d refused", err, len(refused))
	}
	// The store is marked: a meta with the v2 check, MACed.
	v2, _ := SealRootCheck(sl)
	if err := a.Update(bg, func(tx Txn) error { return tx.PutMeta(&Meta{AccountID: "1", RootCheck: v2}) }); err != nil {
		t.Fatal(err)
	}
	// A new Authenticated reads the meta before the first record.
	b := Authenticate(mem, sl, nil)
	if _, err := b.Key(bg, "legacy"); !errors.Is(err, ErrIntegrity) || !b.Required() {
		t.Fatalf("a record without MAC in a v2 store: %v, required %v", err, b.Required())
	}
	// A v2 meta without its MAC, read afresh.
	mem.meta.MAC = nil
	c := Authenticate(mem, sl, nil)
	if err := c.View(bg, func(r Reader) error { _, err := r.Meta(); return err }); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("a v2 meta without its MAC: %v", err)
	}
	d := Authenticate(mem, testSealer(t, 2), nil)
	if err := d.View(bg, func(r Reader) error { _, err := r.Meta(); return err }); !errors.Is(err, ErrRootKey) {
		t.Fatalf("under another root key: %v", err)
	}
}

// BenchmarkRecordMAC is the cost of one record's MAC (a key with two
// material versions, a policy of 1 KiB and three tags): what a write adds
// and what a read from the store (never a warm key's use) adds.
func BenchmarkRecordMAC(b *testing.B) {
	sl := testSealer(b, 1)
	k := macKey()
	k.Policy = string(bytes.Repeat([]byte("p"), 1024))
	k.Tags = append(k.Tags, Tag{TagKey: "b", TagValue: "2"}, Tag{TagKey: "c", TagValue: "3"})
	k.Materials = append(k.Materials, Material{Version: 2, ID: "02", CreatedAt: t0, Sealed: make([]byte, 60)})
	SetMAC(sl, k)
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyMAC(k, true, sl); err != nil {
			b.Fatal(err)
		}
	}
}
