package kms

import (
	"errors"
	"fmt"
	"strings"
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

// TestDigestHistoryRefusalStays (review): node b finds the shared store put
// back whole and refuses it; a node with a new data directory then carries
// the store put back on for more than store.RecentLinks changes, so that
// its digest no longer names the one b saw and checkSeen alone would take
// it. b's refusal must stay — its next pass, and a restart of b on its
// data directory — or b serves the key put back enabled again.
func TestDigestHistoryRefusalStays(t *testing.T) {
	cl := newCluster(t)
	a, b := cl.node("a"), cl.node("b")
	id := mustKey(t, a, "", "").KeyID
	w := newDBWriter(t, cl)
	enabled, digest := w.keepThenDisable(b, id)
	if _, err := b.Admin().Maintain(bg); err != nil {
		t.Fatal(err)
	}
	a.Close() // a, which saw the disable too, would stop c's changes
	w.putBack(id, enabled, digest)
	if _, err := b.Admin().Maintain(bg); !errors.Is(err, ErrStoreDamaged) {
		t.Fatalf("b's pass after the store was put back: %v; want it refused", err)
	}
	c := cl.node("c")
	for i := range store.RecentLinks + 3 {
		if _, err := c.CreateKey(bg, c.testCall(), &CreateKeyRequest{Description: fmt.Sprintf("c %d", i)}); err != nil {
			t.Fatalf("c's change %d: %v", i, err)
		}
	}
	if _, err := b.Admin().Maintain(bg); !errors.Is(err, ErrStoreDamaged) {
		t.Errorf("b's pass after c carried the store put back past its Recent: %v; want it still refused", err)
	}
	if err := encryptWith(b, id); Kind(err) != ErrInternal {
		t.Fatalf("node b, which had refused the store put back, serves the key put back enabled: %v", err)
	}
	b.Close()
	if s, err := Open(cl.opts("b")); !errors.Is(err, ErrStoreDamaged) || !strings.Contains(fmt.Sprint(err), "records-history-refused") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("b reopened on its data directory: %v; want the store refused, naming records-history-refused", err)
	}
}
