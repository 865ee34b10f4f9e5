package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms/internal/store"
)

func newStore(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kms.db")
	if err := Create(path, func(tx store.Txn) error {
		return tx.PutMeta(&store.Meta{AccountID: "111122223333", ProjectID: "p", RootCheck: []byte("check")})
	}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func sampleKey(id string, secret []byte) *store.Key {
	return &store.Key{ID: id, CreatedAt: time.Unix(1, 0).UTC(), Spec: "SYMMETRIC_DEFAULT", Usage: "ENCRYPT_DECRYPT", State: "Enabled", Policy: "{}",
		Materials: []store.Material{{Version: 1, ID: "m", CreatedAt: time.Unix(1, 0).UTC(), Sealed: secret}}}
}

// TestCompactDropsDeletedRecords: a deleted record's bytes are in kms.db
// after the delete (bbolt's freed page) and gone after Compact; the live
// records, the meta and the bucket layout stay; a leftover kms.db.compact
// is replaced; Versions keep growing across the compaction.
func TestCompactDropsDeletedRecords(t *testing.T) {
	s, path := newStore(t)
	ctx := context.Background()
	gone := []byte("THE-DESTROYED-KEY-SEALED-MATERIAL")
	err := s.Update(ctx, func(tx store.Txn) error {
		if err := tx.CreateKey(sampleKey("gone", gone)); err != nil {
			return err
		}
		return tx.CreateKey(sampleKey("live", []byte("live material")))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx store.Txn) error { return tx.DeleteKey("gone") }); err != nil {
		t.Fatal(err)
	}
	encoded := []byte("VEhFLURFU1RST1lFRC1LRVktU0VBTEVELU1BVEVSSUFM") // base64 of gone, as the JSON holds it
	if b, _ := os.ReadFile(path); !bytes.Contains(b, encoded) {
		t.Fatal("the deleted record is not in the file before compacting: the test proves nothing")
	}
	before, err := s.Key(ctx, "live")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+compactSuffix, encoded, 0o600); err != nil { // an interrupted compaction's
		t.Fatal(err)
	}
	st, err := s.Compact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", st)
	if b, _ := os.ReadFile(path); bytes.Contains(b, encoded) {
		t.Fatal("the deleted record is in the file after compacting")
	}
	if _, err := os.Stat(path + compactSuffix); !os.IsNotExist(err) {
		t.Fatalf("%s%s is left: %v", path, compactSuffix, err)
	}
	after, err := s.Key(ctx, "live")
	if err != nil || string(after.Current().Sealed) != "live material" {
		t.Fatalf("the live key after compacting: %+v, %v", after, err)
	}
	if after.Version <= before.Version {
		t.Fatalf("Version went from %d to %d across the compaction", before.Version, after.Version)
	}
	// A record read before the compaction is stale for PutKey after a write.
	if err := s.Update(ctx, func(tx store.Txn) error {
		k, err := tx.Key("live")
		if err != nil {
			return err
		}
		k.Description = "after"
		return tx.PutKey(k)
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx store.Txn) error { return tx.PutKey(after) }); err == nil {
		t.Fatal("PutKey of a record read before the last commit succeeded")
	}
	var m *store.Meta
	if err := s.View(ctx, func(r store.Reader) (err error) { m, err = r.Meta(); return err }); err != nil || m.AccountID != "111122223333" {
		t.Fatalf("meta after compacting: %+v, %v", m, err)
	}
	// And the file reopens as a store.
	s.Close()
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
}

// TestCompactWhileServing: Updates and Views running while Compact runs
// wait for it and lose nothing.
func TestCompactWhileServing(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				id := fmt.Sprintf("k-%d-%d", g, i)
				if err := s.Update(ctx, func(tx store.Txn) error { return tx.CreateKey(sampleKey(id, []byte(id))) }); err != nil {
					errs <- err
					return
				}
				if _, err := s.Key(ctx, id); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range 5 {
		if _, err := s.Compact(ctx); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var n int
	s.View(ctx, func(r store.Reader) error {
		ks, err := r.Keys("", 1000)
		n = len(ks)
		return err
	})
	if n != 100 {
		t.Fatalf("%d keys, want 100", n)
	}
}

// BenchmarkCompact is how long requests wait for a compaction of a store of
// 10000 keys (docs/shredding.md).
func BenchmarkCompact(b *testing.B) {
	s, _ := newStore(b)
	ctx := context.Background()
	secret := bytes.Repeat([]byte{7}, 60)
	err := s.Update(ctx, func(tx store.Txn) error {
		for i := range 10000 {
			if err := tx.CreateKey(sampleKey(fmt.Sprintf("%08d-0000-0000-0000-000000000000", i), secret)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Compact(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOpenWhileCompacting: another Open of the file while the store holds
// it is store.ErrInUse, whenever it happens against compactions (the file
// is replaced by each: an open that found the old one retries).
func TestOpenWhileCompacting(t *testing.T) {
	s, path := newStore(t)
	ctx := context.Background()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Compact(ctx); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { close(stop); <-done }()
	for range 5 {
		o, err := Open(path, Options{Timeout: 20 * time.Millisecond})
		if err == nil {
			o.Close()
			t.Fatal("a second Open succeeded while the store holds the file")
		}
		if !errors.Is(err, store.ErrInUse) {
			t.Fatalf("a second Open: %v", err)
		}
	}
}

// compactForeverEnv makes the test binary a child that compacts the store
// at the path it names until killed (TestCompactKilled).
const compactForeverEnv = "ATTESTKMS_TEST_COMPACT_FOREVER"

func TestCompactForever(t *testing.T) {
	path := os.Getenv(compactForeverEnv)
	if path == "" {
		t.Skip("the child of TestCompactKilled")
	}
	s, err := Open(path, Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path+".ready", nil, 0o600)
	for {
		if _, err := s.Compact(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCompactKilled: a process compacting the store in a loop is killed
// with SIGKILL at 30 instants; after each, the store opens, complete (every
// key, the meta), and a compaction runs, replacing any leftover
// kms.db.compact.
func TestCompactKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	s, path := newStore(t)
	ctx := context.Background()
	err := s.Update(ctx, func(tx store.Txn) error {
		for i := range 500 {
			if err := tx.CreateKey(sampleKey(fmt.Sprintf("key-%04d", i), bytes.Repeat([]byte{byte(i)}, 60))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for i := range 30 {
		os.Remove(path + ".ready")
		cmd := exec.Command(os.Args[0], "-test.run=^TestCompactForever$")
		cmd.Env = append(os.Environ(), compactForeverEnv+"="+path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 500; j++ {
			if _, err := os.Stat(path + ".ready"); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Duration(i%10) * 3 * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		o, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("kill %d: the store does not open: %v", i, err)
		}
		var n int
		var m *store.Meta
		err = o.View(ctx, func(r store.Reader) error {
			ks, err := r.Keys("", 1000)
			n = len(ks)
			if err != nil {
				return err
			}
			m, err = r.Meta()
			return err
		})
		if err != nil || n != 500 || m.AccountID != "111122223333" {
			t.Fatalf("kill %d: %d keys, meta %+v, %v", i, n, m, err)
		}
		if _, err := o.Compact(ctx); err != nil {
			t.Fatalf("kill %d: compacting after: %v", i, err)
		}
		if _, err := os.Stat(path + compactSuffix); !os.IsNotExist(err) {
			t.Fatalf("kill %d: a leftover %s after a compaction", i, compactSuffix)
		}
		o.Close()
	}
}
