package postgres

import (
	"testing"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// The operations whose round trips are counted: what kms's hot and change
// paths do.
var counted = []struct {
	name string
	want uint64 // round trips, once the connection has its statements prepared
	op   func(s *Store, k *store.Key) error
}{
	// A key's cold read, alias resolution: one statement.
	{"Key", 1, func(s *Store, k *store.Key) error { _, err := s.Key(bg, k.ID); return err }},
	{"Alias", 1, func(s *Store, k *store.Key) error { _, err := s.Alias(bg, "alias/bench"); return err }},
	// BEGIN with the read, COMMIT.
	{"ViewKey", 2, func(s *Store, k *store.Key) error {
		return s.View(bg, func(r store.Reader) error { _, err := r.Key(k.ID); return err })
	}},
	// A change as kms makes it (Service.change): BEGIN with the locking
	// read, the write, the audit change seq, COMMIT (which runs the
	// notification trigger).
	{"UpdateKey", 4, func(s *Store, k *store.Key) error {
		return s.Update(bg, func(tx store.Txn) error {
			k, err := tx.Key(k.ID)
			if err != nil {
				return err
			}
			k.Description = "changed"
			if err := tx.PutKey(k); err != nil {
				return err
			}
			return tx.SetAuditChangeSeq("", k.Version)
		})
	}},
	// An Update that fails before any statement costs none.
	{"UpdateNothing", 0, func(s *Store, k *store.Key) error {
		return s.Update(bg, func(tx store.Txn) error { return nil })
	}},
}

// storeWithKey is a store on a new database, with one connection, holding
// a key and an alias of it.
func storeWithKey(t testing.TB) (*Store, *store.Key) {
	t.Helper()
	u := newDB(t)
	s, err := Open(bg, u, Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	k := testKey(1)
	createKey(t, s, k)
	if err := s.Update(bg, func(tx store.Txn) error { return tx.CreateAlias(&store.Alias{Name: "alias/bench", KeyID: k.ID}) }); err != nil {
		t.Fatal(err)
	}
	return s, k
}

// TestRoundTrips holds each counted operation to its round trips
// (package doc, "Transactions and locking").
func TestRoundTrips(t *testing.T) {
	s, k := storeWithKey(t)
	for _, c := range counted {
		if err := c.op(s, k); err != nil { // prepares its statements
			t.Fatal(err)
		}
		before := s.RoundTrips()
		if err := c.op(s, k); err != nil {
			t.Fatal(err)
		}
		if got := s.RoundTrips() - before; got != c.want {
			t.Errorf("%s: %d round trips; want %d", c.name, got, c.want)
		}
	}
}

// BenchmarkOps reports each counted operation's time and round trips, on
// one connection to the server ATTESTKMS_TEST_POSTGRES names.
func BenchmarkOps(b *testing.B) {
	s, k := storeWithKey(b)
	for _, c := range counted {
		b.Run(c.name, func(b *testing.B) {
			if err := c.op(s, k); err != nil {
				b.Fatal(err)
			}
			before := s.RoundTrips()
			for b.Loop() {
				if err := c.op(s, k); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.RoundTrips()-before)/float64(b.N), "roundtrips/op")
		})
	}
}
