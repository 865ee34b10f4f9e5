package kms

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
)

// TestSharedMetaChangeNotServedStale: while a node reads again a meta that
// another node changed (here a region move, whose read is made slow), it
// serves nothing on the meta as it was — a request waits for the read
// (at most metaWaitMax) and is refused when it does not end; once read,
// the moved region refuses every request until restart. Before, the node
// went on serving during the read, on the old region's ARNs, so a Deny
// naming the key's ARN no longer matched.
func TestSharedMetaChangeNotServedStale(t *testing.T) {
	cl := newCluster(t)
	a := cl.node("a")
	key := mustKey(t, a, "", "")
	if _, err := a.GenerateDataKey(bg, a.testCall(), &GenerateDataKeyRequest{KeyID: key.KeyID, KeySpec: "AES_256"}); err != nil {
		t.Fatal(err)
	}
	var reading atomic.Bool
	slow := func() { reading.Store(true); time.Sleep(2 * metaWaitMax) }
	readMetaHook.Store(&slow)
	t.Cleanup(func() { readMetaHook.Store(nil) })
	b, err := Open(Options{Store: cl.url, RootKeyFile: cl.rootKey, DataDir: filepath.Join(cl.dir, "b"), Region: "eu-west-1", RenameRegion: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	// Once a reads the changed meta again, nothing is served.
	within(t, time.Now(), followBound, "node a reads the changed meta", reading.Load)
	served, refused := 0, 0
	for end := time.Now().Add(metaWaitMax + 500*time.Millisecond); time.Now().Before(end); {
		if _, err := a.GenerateDataKey(bg, a.testCall(), &GenerateDataKeyRequest{KeyID: key.KeyID, KeySpec: "AES_256"}); err == nil {
			served++
		} else {
			refused++
		}
	}
	if served != 0 || refused == 0 {
		t.Fatalf("during the meta read: %d served, %d refused", served, refused)
	}
	within(t, time.Now(), 4*metaWaitMax, "node a refuses until restarted with the new region", func() bool {
		a.follow.mu.Lock()
		defer a.follow.mu.Unlock()
		return a.follow.broken != nil
	})
}

// TestFollowMetaOpensRootCheckOnce: a node following its shared store's
// meta opens the root check once, not at every change of the meta (with a
// PKCS#11 root key each opening is a round trip to the token while
// requests wait for the read).
func TestFollowMetaOpensRootCheckOnce(t *testing.T) {
	cl := newCluster(t)
	a, b := cl.clockNode("a"), cl.clockNode("b")
	before := rootOpenings.Load()
	for i := range 3 {
		resp, err := a.RotateServiceKey(bg, a.adminCall(t), &RotateServiceKeyRequest{GraceDays: 1})
		if err != nil {
			t.Fatal(err)
		}
		within(t, time.Now(), followBound, fmt.Sprintf("rotation %d followed on b", i), func() bool {
			return slices.Contains(pins(b), resp.New.ID)
		})
	}
	// a follows its own changes too: at most one opening a node.
	if n := rootOpenings.Load() - before; n > 2 {
		t.Fatalf("the root check was opened %d times for three meta changes on two nodes", n)
	}
}

// unavailableWrapper is a root key whose device does not answer.
type unavailableWrapper struct{}

func (unavailableWrapper) WrapKey(dek, aad []byte) ([]byte, error) {
	return nil, fmt.Errorf("%w: token removed", sealer.ErrUnavailable)
}
func (unavailableWrapper) UnwrapKey(wrapped, aad []byte) ([]byte, error) {
	return nil, fmt.Errorf("%w: token removed", sealer.ErrUnavailable)
}
func (unavailableWrapper) DeriveKey(label string) ([]byte, error) { return make([]byte, 32), nil }
func (unavailableWrapper) Describe() string                       { return "test token" }
func (unavailableWrapper) Close() error                           { return nil }

// TestFollowMetaTokenUnavailableIsNotMoved: a root key's device that does
// not answer while a node reads its store's changed meta again is a
// passing failure (the node reads everything again, refusing meanwhile),
// not a store that moved, which refused every request until a restart.
func TestFollowMetaTokenUnavailableIsNotMoved(t *testing.T) {
	cl := newCluster(t)
	a := cl.node("a")
	var m *store.Meta
	if err := a.st.View(bg, func(r store.Reader) (err error) { m, err = r.Meta(); return err }); err != nil {
		t.Fatal(err)
	}
	// A root check as a token's root key seals one: the device is asked
	// to unwrap it, and does not answer.
	wrapped := *m
	wrapped.RootCheck = append([]byte{0x01, 0x00, 0x04}, make([]byte, 64)...)
	tok, err := sealer.NewWrapped(unavailableWrapper{})
	if err != nil {
		t.Fatal(err)
	}
	real := a.sealer
	a.sealer = tok
	err = a.follow.followMeta(a.svcKeys.Load(), &wrapped)
	a.sealer = real
	if !errors.Is(err, sealer.ErrUnavailable) || errors.Is(err, errMoved) {
		t.Fatalf("followMeta with the token unavailable: %v; want its unavailability", err)
	}
	a.follow.mu.Lock()
	broken := a.follow.broken
	a.follow.mu.Unlock()
	if broken != nil {
		t.Fatalf("a token that did not answer made the node refuse everything until restart: %v", broken)
	}
	// A root check that does not open under the node's key is a move.
	wrong := *m
	wrong.RootCheck = bytes.Clone(m.RootCheck)
	wrong.RootCheck[len(wrong.RootCheck)-1] ^= 1
	if err := a.follow.followMeta(a.svcKeys.Load(), &wrong); !errors.Is(err, errMoved) {
		t.Fatalf("followMeta of a root check that does not open: %v; want errMoved", err)
	}
}
