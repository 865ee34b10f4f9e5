package kms

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/answer"
	"github.com/attestkms/attestkms/kms/internal/store"
	"github.com/attestkms/attestkms/kms/internal/store/postgres"
)

// clockNode opens the node name of cl on the cluster's clock.
func (cl *cluster) clockNode(name string) *Service {
	cl.t.Helper()
	o := cl.opts(name)
	o.Now = cl.clk.now
	s, err := Open(o)
	if err != nil {
		cl.t.Fatal(err)
	}
	cl.t.Cleanup(func() { s.Close() })
	return s
}

// signerOf is the fingerprint of the key s signs answers with now.
func signerOf(s *Service) string {
	return answer.Fingerprint(s.svcKeys.Load().signer(s.now()).Public().(ed25519.PublicKey))
}

// storedServiceKeys is every key of the stored set (retired ones too).
func storedServiceKeys(t testing.TB, cl *cluster) []string {
	t.Helper()
	st, err := postgres.Open(context.Background(), cl.url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sl, err := openRoot(Options{RootKeyFile: cl.rootKey})
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	var ids []string
	err = st.View(bg, func(r store.Reader) error {
		m, err := r.Meta()
		if err != nil {
			return err
		}
		recs, err := openServiceKeyRecords(sl, m.ServiceKeys)
		for _, rec := range recs {
			ids = append(ids, rec.ID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestServiceKeyPostgres: the nodes of a shared store sign with the one key
// Init made (PostgreSQL's meta.service_keys). A rotation on one node is
// followed by the others within followBound, without a restart: the new
// key published beside the old one, which keeps signing until its grace
// ends, then the new one alone. A rotation made by another process
// (attestkms service-key rotate: Admin) is followed the same way, and two
// rotations on two nodes at once both land in the set.
func TestServiceKeyPostgres(t *testing.T) {
	cl := newCluster(t)
	a, b := cl.clockNode("a"), cl.clockNode("b")
	if pa, pb := pins(a), pins(b); len(pa) != 1 || len(pb) != 1 || pa[0] != pb[0] {
		t.Fatalf("nodes' keys: %v, %v", pa, pb)
	}
	old := pins(a)[0]
	if keys, err := StoredServiceKeys(bg, Options{Store: cl.url, RootKeyFile: cl.rootKey}); err != nil || len(keys) != 1 || keys[0].ID != old {
		t.Fatalf("StoredServiceKeys: %v, %v", keys, err)
	}

	resp, err := a.RotateServiceKey(bg, a.adminCall(t), &RotateServiceKeyRequest{GraceDays: 7})
	if err != nil {
		t.Fatal(err)
	}
	acked := time.Now()
	if got := pins(a); !slices.Equal(got, []string{old, resp.New.ID}) {
		t.Fatalf("published on the rotating node: %v", got)
	}
	within(t, acked, followBound, "the rotation on A published on B", func() bool {
		return slices.Equal(pins(b), []string{old, resp.New.ID})
	})
	if sa, sb := signerOf(a), signerOf(b); sa != old || sb != old {
		t.Fatalf("during the grace the signers are %s, %s; want the old key %s", sa, sb, old)
	}
	cl.clk.add(7*24*time.Hour + time.Second)
	for _, s := range []*Service{a, b} {
		if got, by := pins(s), signerOf(s); !slices.Equal(got, []string{resp.New.ID}) || by != resp.New.ID {
			t.Fatalf("node %s after the grace: publishes %v, signs with %s; want %s", s.Node(), got, by, resp.New.ID)
		}
	}

	// Rotated by another process, a and b running and serving
	// throughout: following a rotation refuses no request.
	stop := make(chan struct{})
	served := make(chan error, 1)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				if n == 0 {
					served <- errors.New("no request was served")
				}
				close(served)
				return
			default:
			}
			if _, err := b.GenerateRandom(bg, b.testCall(), &GenerateRandomRequest{NumberOfBytes: 8}); err != nil {
				served <- err
				close(served)
				return
			}
			n++
		}
	}()
	tool := cl.clockNode("tool")
	offline, err := tool.Admin().RotateServiceKey(bg, &RotateServiceKeyRequest{GraceDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	acked = time.Now()
	if rec := lastRecord(t, tool, "RotateServiceKey"); rec.Outcome != "ok" || rec.RequestID != "offline" || !strings.Contains(rec.Message, offline.New.ID) {
		t.Fatalf("audit record %+v", rec)
	}
	tool.Close()
	for _, s := range []*Service{a, b} {
		within(t, acked, followBound, "the offline rotation published on "+s.Node(), func() bool {
			return slices.Equal(pins(s), []string{resp.New.ID, offline.New.ID})
		})
	}
	close(stop)
	if err := <-served; err != nil {
		t.Fatalf("B while it followed the rotation: %v", err)
	}

	// Two rotations at once, on two nodes: each keeps the other's key.
	var wg sync.WaitGroup
	news := make([]string, 2)
	for i, s := range []*Service{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.RotateServiceKey(bg, s.adminCall(t), &RotateServiceKeyRequest{GraceDays: 2})
			if err != nil {
				t.Error(err)
				return
			}
			news[i] = r.New.ID
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	acked = time.Now()
	stored := storedServiceKeys(t, cl)
	if len(stored) != 4 || !slices.Contains(stored, news[0]) || !slices.Contains(stored, news[1]) {
		t.Fatalf("after two rotations at once the store holds %v; want both new keys %v", stored, news)
	}
	for _, s := range []*Service{a, b} {
		within(t, acked, followBound, "both rotations followed on "+s.Node(), func() bool {
			return slices.Equal(pins(s), stored)
		})
	}
	// A revocation on A: B drops the revoked keys and signs with the new
	// one as soon as it follows (the revoked set keeps none of B's keys:
	// only its generation says it is newer).
	rv, err := a.RotateServiceKey(bg, a.adminCall(t), &RotateServiceKeyRequest{Revoke: true})
	if err != nil {
		t.Fatal(err)
	}
	acked = time.Now()
	if len(rv.Revoked) != 4 {
		t.Fatalf("revoked %d keys, want the 4 in their grace", len(rv.Revoked))
	}
	within(t, acked, followBound, "the revocation on A followed on B", func() bool {
		return slices.Equal(pins(b), []string{rv.New.ID}) && signerOf(b) == rv.New.ID
	})
}

// TestServiceKeyFirstOpenRace: nodes that first-open together a shared
// store made before answers were signed make exactly one key between
// them, and every one of them publishes it and signs with it (the meta row
// is locked by the read that finds it empty).
func TestServiceKeyFirstOpenRace(t *testing.T) {
	cl := newCluster(t)
	const rounds, nodes = 3, 6
	for round := range rounds {
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
			asLegacy(t, cl.opts("legacy"), tx, m) // and before records were authenticated: the nodes race to MAC them too
			return tx.PutMeta(m)
		})
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		svcs := make([]*Service, nodes)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range svcs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				opts := cl.opts(filepath.Join("race", string(rune('a'+round)), string(rune('a'+i))))
				opts.ProtectRecords = true // every node told to: one migrates
				s, err := Open(opts)
				if err != nil {
					t.Error(err)
					return
				}
				svcs[i] = s
			}()
		}
		close(start)
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		stored := storedServiceKeys(t, cl)
		made := 0
		for _, s := range svcs {
			if len(stored) != 1 || !slices.Equal(pins(s), stored) || signerOf(s) != stored[0] {
				t.Errorf("round %d: node %s publishes %v, signs with %s; the store holds %v", round, s.Node(), pins(s), signerOf(s), stored)
			}
			for _, rec := range auditRecords(t, s) {
				if rec.Operation == "CreateServiceKey" && strings.Contains(rec.Message, "made the service's answer-signing key") {
					made++
				}
			}
			s.Close()
		}
		if made != 1 {
			t.Errorf("round %d: %d nodes made a service key; want 1", round, made)
		}
	}
}
