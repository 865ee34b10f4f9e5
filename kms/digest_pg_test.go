package kms

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// TestSharedDigest: over PostgreSQL, changes made at once on two nodes keep
// the records digest whole (each locks it first); a database writer who
// puts back a key's older row, or deletes a credential's, is found by the
// next maintenance pass of a running node, which then refuses everything,
// and by a node that opens the store, which refuses it.
func TestSharedDigest(t *testing.T) {
	cl := newCluster(t)
	a, b := cl.node("a"), cl.node("b")
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i, s := range []*Service{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				k, err := s.CreateKey(bg, s.testCall(), &CreateKeyRequest{})
				if err == nil {
					_, err = s.CreateAlias(bg, s.testCall(), &CreateAliasRequest{AliasName: fmt.Sprintf("alias/n%d-%d", i, j), TargetKeyID: k.KeyID})
				}
				if err == nil && j%2 == 0 {
					_, err = s.DisableKey(bg, s.testCall(), &DisableKeyRequest{KeyID: k.KeyID})
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a concurrent change: %v", err)
	}
	for _, s := range []*Service{a, b} {
		if _, err := s.verifyDigest(bg); err != nil {
			t.Fatalf("after concurrent changes on two nodes: %v", err)
		}
	}

	id, bare := mustKey(t, a, "", "").KeyID, mustKey(t, a, "", "").KeyID
	ctx := context.Background()
	db, err := pgx.Connect(ctx, cl.url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	var enabled []byte
	if err := db.QueryRow(ctx, `SELECT record FROM keys WHERE id = $1`, id).Scan(&enabled); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DisableKey(bg, a.testCall(), &DisableKeyRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	var disabled []byte
	if err := db.QueryRow(ctx, `SELECT record FROM keys WHERE id = $1`, id).Scan(&disabled); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admin().Maintain(bg); err != nil {
		t.Fatalf("Maintain of a whole store: %v", err)
	}
	// The writer: the key's enabled row, MAC and all, back.
	if _, err := db.Exec(ctx, `UPDATE keys SET state = 'Enabled', record = $2 WHERE id = $1`, id, enabled); err != nil {
		t.Fatal(err)
	}
	_, err = b.Admin().Maintain(bg)
	wantDamaged(t, "Maintain on node b", err)
	if err := encryptWith(b, id); Kind(err) != ErrInternal {
		t.Fatalf("node b, once it found the store damaged: %v", err)
	}
	if _, err := Open(cl.opts("c")); err == nil {
		t.Fatal("a node opened the store")
	} else {
		wantDamaged(t, "Open of node c", err)
	}
	_, err = CheckStore(bg, cl.opts("d"))
	wantDamaged(t, "CheckStore", err)

	// The row put right (restored): node b's next pass serves again.
	if _, err := db.Exec(ctx, `UPDATE keys SET state = 'Disabled', record = $2 WHERE id = $1`, id, disabled); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admin().Maintain(bg); err != nil {
		t.Fatalf("Maintain once the row is put right: %v", err)
	}
	if err := encryptWith(b, bare); err != nil {
		t.Fatalf("node b serves again: %v", err)
	}

	// A credential's row deleted: the same.
	cr := mustCredential(t, a, &CreateCredentialRequest{Name: "ops"})
	if _, err := db.Exec(ctx, `DELETE FROM credentials WHERE access_key_id = $1`, cr.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(cl.opts("e")); !errors.Is(err, ErrStoreDamaged) || !strings.Contains(err.Error(), "records digest") {
		t.Fatalf("Open after a credential's row was deleted: %v", err)
	}
}

// TestSharedKeyQuota: nodes creating keys at once never pass the quota
// together: each CreateKey counts from the digest it locked.
func TestSharedKeyQuota(t *testing.T) {
	cl := newCluster(t)
	var nodes []*Service
	for _, name := range []string{"a", "b"} {
		o := cl.opts(name)
		o.MaxKeys = 10
		s, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		nodes = append(nodes, s)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	made, refused := 0, 0
	for i := range 4 {
		s := nodes[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				_, err := s.CreateKey(bg, s.testCall(), &CreateKeyRequest{})
				mu.Lock()
				switch {
				case err == nil:
					made++
				case Kind(err) == ErrLimitExceeded:
					refused++
				default:
					t.Errorf("CreateKey: %v", err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if made != 10 || refused != 10 {
		t.Fatalf("%d keys made, %d refused; want 10 and 10", made, refused)
	}
}

// TestSharedFollowFindsRollback: a node following the store's changes
// compares the records digest each change leaves with the one it saw: the
// store put back whole by hand (the writer's own UPDATE is a change the
// nodes are told of) stops every node within the follow bound, without
// waiting for a maintenance pass; and a node that only followed another's
// change remembers its digest (its own next change would have carried the
// older store on).
func TestSharedFollowFindsRollback(t *testing.T) {
	cl := newCluster(t)
	a, b := cl.node("a"), cl.node("b")
	id, other := mustKey(t, a, "", "").KeyID, mustKey(t, a, "", "").KeyID
	w := newDBWriter(t, cl)
	enabled, digest := w.keepThenDisable(b, id)
	var gen uint64
	if err := b.view(bg, func(r store.Reader) (err error) { gen, err = store.DigestGeneration(r); return err }); err != nil {
		t.Fatal(err)
	}
	noted := time.Now()
	within(t, noted, 5*time.Second, "node a notes node b's change", func() bool {
		seen, err := a.seenDigest()
		return err == nil && seen.gen == gen
	})
	// In memory at once; in the data directory's file within
	// seenPersistDelay (a followed change is not a synced write on every
	// node).
	within(t, noted, seenPersistDelay+2*time.Second, "node a's file holds it", func() bool {
		seen, err := readSeen(filepath.Join(a.opts.DataDir, recordsGenMarker))
		return err == nil && seen.gen == gen && len(seen.mac) == 32
	})
	changed := time.Now()
	w.putBack(id, enabled, digest)
	for _, s := range []*Service{a, b} {
		within(t, changed, 5*time.Second, "the node refuses", func() bool {
			return Kind(encryptWith(s, other)) == ErrInternal
		})
	}
}

// dbWriter is a database writer's connection to a shared store: SQL, no
// root key.
type dbWriter struct {
	t  testing.TB
	db *pgx.Conn
}

// newDBWriter connects to cl's database, closed when the test ends.
func newDBWriter(t testing.TB, cl *cluster) *dbWriter {
	t.Helper()
	db, err := pgx.Connect(context.Background(), cl.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	return &dbWriter{t: t, db: db}
}

// bytes is the one bytea value query returns.
func (w *dbWriter) bytes(query string, args ...any) []byte {
	w.t.Helper()
	var b []byte
	if err := w.db.QueryRow(context.Background(), query, args...).Scan(&b); err != nil {
		w.t.Fatal(err)
	}
	return b
}

func (w *dbWriter) exec(query string, args ...any) {
	w.t.Helper()
	if _, err := w.db.Exec(context.Background(), query, args...); err != nil {
		w.t.Fatal(err)
	}
}

// keepThenDisable keeps key id's row and the records digest's, as the
// writer would, then disables the key on node s: what the writer puts back
// (putBack) is the store as it was before.
func (w *dbWriter) keepThenDisable(s *Service, id string) (enabled, digest []byte) {
	w.t.Helper()
	enabled = w.bytes(`SELECT record FROM keys WHERE id = $1`, id)
	digest = w.bytes(`SELECT record FROM records_digest`)
	if _, err := s.DisableKey(bg, s.testCall(), &DisableKeyRequest{KeyID: id}); err != nil {
		w.t.Fatal(err)
	}
	return enabled, digest
}

// putBack writes the kept digest and key row back: the digest first (it
// has no trigger), then the key, whose UPDATE the nodes are told of.
func (w *dbWriter) putBack(id string, enabled, digest []byte) {
	w.t.Helper()
	w.exec(`UPDATE records_digest SET record = $1`, digest)
	w.exec(`UPDATE keys SET state = 'Enabled', record = $2 WHERE id = $1`, id, enabled)
}
