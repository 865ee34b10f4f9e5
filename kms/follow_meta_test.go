package kms

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
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
