package kms

import (
	"errors"
	"testing"
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
	w := newDBWriter(t, cl)
	enabled, digest := w.keepThenDisable(b, id)
	if _, err := b.Admin().Maintain(bg); err != nil {
		t.Fatal(err)
	}
	w.putBack(id, enabled, digest)
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
