package kms

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestDigestAttackSharedRollbackLaunderedByAnotherNode: over PostgreSQL,
// each node's data directory knows only the generations it saw. A writer
// puts the store back whole (a key's enabled row and the digest that sums
// it) to the generation just before node b disabled the key; node a, which
// never saw b's change, makes one change of its own, which carries the
// older digest to the generation b had seen: b's next pass finds nothing,
// and, had each node remembered only a generation, both would have served
// the key enabled again for good (a counter orders copies, it does not
// tell two copies of one generation apart). Each node remembers the
// digest's MAC too, and a digest names the last RecentLinks before it:
// b's next pass finds that the store's digest does not descend from the
// one it saw, and b stops.
func TestDigestAttackSharedRollbackLaunderedByAnotherNode(t *testing.T) {
	cl := newCluster(t)
	a, b := cl.node("a"), cl.node("b")
	id := mustKey(t, a, "", "").KeyID
	ctx := context.Background()
	db, err := pgx.Connect(ctx, cl.url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	var enabled, digest []byte
	if err := db.QueryRow(ctx, `SELECT record FROM keys WHERE id = $1`, id).Scan(&enabled); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT record FROM records_digest`).Scan(&digest); err != nil {
		t.Fatal(err)
	}
	if _, err := b.DisableKey(bg, b.testCall(), &DisableKeyRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admin().Maintain(bg); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `UPDATE keys SET state = 'Enabled', record = $2 WHERE id = $1`, id, enabled); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `UPDATE records_digest SET record = $1`, digest); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateKey(bg, a.testCall(), &CreateKeyRequest{}); err != nil {
		t.Logf("node a's change refused: %v", err)
	}
	// Two changes on a: past b's generation, not only up to it.
	if _, err := a.CreateKey(bg, a.testCall(), &CreateKeyRequest{}); err != nil {
		t.Logf("node a's second change refused: %v", err)
	}
	// Node b refuses it: at once, following the writer's own UPDATE (its
	// digest older than b's), or at its next pass (a digest that does not
	// descend from b's).
	_, errB := b.Admin().Maintain(bg)
	if !errors.Is(errB, ErrStoreDamaged) {
		t.Fatalf("node b's pass after the store was put back and changed by node a: %v; want it refused", errB)
	}
	if err := encryptWith(b, id); Kind(err) != ErrInternal {
		t.Fatalf("node b serves the key put back enabled: %v", err)
	}
}
