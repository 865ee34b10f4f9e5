package kms

import (
	"context"
	"errors"
	"testing"

	"github.com/attestkms/attestkms/kms/internal/store"
	"github.com/attestkms/attestkms/kms/internal/store/postgres"
)

// TestServiceKeyPostgres: the nodes of a shared store sign with the one key
// Init made (PostgreSQL's meta.service_keys); a store migrated without one
// gets one at its first node's Open, which the next node keeps; and its
// rotation is refused (nodes load the set at open).
func TestServiceKeyPostgres(t *testing.T) {
	cl := newCluster(t)
	a, b := cl.node("a"), cl.node("b")
	if pa, pb := pins(a), pins(b); len(pa) != 1 || len(pb) != 1 || pa[0] != pb[0] {
		t.Fatalf("nodes' keys: %v, %v", pa, pb)
	}
	if keys, err := StoredServiceKeys(bg, Options{Store: cl.url, RootKeyFile: cl.rootKey}); err != nil || len(keys) != 1 || keys[0].ID != pins(a)[0] {
		t.Fatalf("StoredServiceKeys: %v, %v", keys, err)
	}
	if _, err := a.RotateServiceKey(bg, a.adminCall(t), &RotateServiceKeyRequest{}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("rotation on a shared store: %v", err)
	}
	a.Close()
	b.Close()
	// As a store migrated from schema version 2: no service keys.
	st, err := postgres.Open(context.Background(), cl.url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(bg, func(tx store.Txn) error {
		m, err := tx.Meta()
		if err != nil {
			return err
		}
		m.ServiceKeys = nil
		return tx.PutMeta(m)
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	c := cl.node("c")
	d := cl.node("d")
	if pc, pd := pins(c), pins(d); len(pc) != 1 || len(pd) != 1 || pc[0] != pd[0] {
		t.Fatalf("after the first open of a store without keys: %v, %v", pc, pd)
	}
}
