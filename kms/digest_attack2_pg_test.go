package kms

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// TestDigestAttack2StoreCheckBesideChanges: store check of a shared store
// with a running node's data directory (its records-generation) read the
// file after its read of the store began: a change the node committed
// meanwhile noted a newer digest than the check's snapshot holds, and the
// check reported the store put back whole (a false alarm). The file is
// read before the read begins, as Maintain and Backup read it.
func TestDigestAttack2StoreCheckBesideChanges(t *testing.T) {
	cl := newCluster(t)
	a := cl.node("a")
	for range 150 {
		mustKey(t, a, "", "")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := a.CreateKey(bg, a.testCall(), &CreateKeyRequest{}); err != nil {
				t.Errorf("a change beside store check: %v", err)
				return
			}
		}
	}()
	var err error
	for i := 0; i < 8 && err == nil; i++ {
		_, err = CheckStore(bg, cl.opts("a"))
	}
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("store check beside a node's changes: %v", err)
	}
}

// TestDigestAttack2SharedRollbackPastRecent: as
// TestDigestAttackSharedRollbackLaunderedByAnotherNode, but node a (whose
// data directory saw nothing newer than the copy put back) makes
// RecentLinks+2 changes before node b checks again: b's digest has left
// the Recent of the store's, b cannot tell, and b serves the key put back
// enabled. A low-privileged credential makes 66 changes in well under a
// maintenance interval. Every node now compares the digest of every change
// it is told of (followDigest): node a noted b's change, so its own
// changes on the store put back are refused, and both nodes stop.
func TestDigestAttack2SharedRollbackPastRecent(t *testing.T) {
	cl := newCluster(t)
	a, b := cl.node("a"), cl.node("b")
	id := mustKey(t, a, "", "").KeyID
	w := newDBWriter(t, cl)
	enabled, digest := w.keepThenDisable(b, id)
	if _, err := b.Admin().Maintain(bg); err != nil {
		t.Fatal(err)
	}
	w.putBack(id, enabled, digest)
	made := 0
	for i := range store.RecentLinks + 2 {
		if _, err := a.CreateKey(bg, a.testCall(), &CreateKeyRequest{Description: fmt.Sprintf("flood %d", i)}); err != nil {
			break
		}
		made++
	}
	if made > 0 {
		t.Logf("node a made %d changes on the store put back before it stopped", made)
	}
	_, errB := b.Admin().Maintain(bg)
	if !errors.Is(errB, ErrStoreDamaged) {
		t.Fatalf("node b's pass after the store was put back and node a's changes: %v; want it refused", errB)
	}
	for name, s := range map[string]*Service{"a": a, "b": b} {
		if err := encryptWith(s, id); Kind(err) != ErrInternal {
			t.Fatalf("node %s serves the key put back enabled: %v", name, err)
		}
	}
}
