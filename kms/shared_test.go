package kms

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/attestkms/attestkms/internal/pgtest"
	"github.com/attestkms/attestkms/kms/internal/store"
	"github.com/attestkms/attestkms/kms/internal/store/bolt"
	"github.com/attestkms/attestkms/kms/internal/store/postgres"
)

// Nodes of a shared store (PostgreSQL), in one process: each a Service
// with its own data directory over one database. These tests skip without
// ATTESTKMS_TEST_POSTGRES (internal/pgtest).

// followBound is what a node promises: a change committed on another node
// is followed within it.
const followBound = time.Second

type cluster struct {
	t       testing.TB
	url     string
	rootKey string
	dir     string
	clk     *clock
	cred    *Credential
}

// newCluster initialises a shared store in a new database.
func newCluster(t testing.TB) *cluster {
	t.Helper()
	u := pgtest.DB(t)
	dir := t.TempDir()
	cl := &cluster{t: t, url: u, rootKey: filepath.Join(dir, "root.key"), dir: dir,
		clk: &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}}
	_, cred, err := Init(Options{Store: u, RootKeyFile: cl.rootKey})
	if err != nil {
		t.Fatal(err)
	}
	cl.cred = cred
	return cl
}

func (cl *cluster) opts(name string) Options {
	return Options{Store: cl.url, RootKeyFile: cl.rootKey, DataDir: filepath.Join(cl.dir, name)}
}

// node opens the node name (its data directory under the cluster's).
func (cl *cluster) node(name string) *Service {
	cl.t.Helper()
	s, err := Open(cl.opts(name))
	if err != nil {
		cl.t.Fatal(err)
	}
	cl.t.Cleanup(func() { s.Close() })
	return s
}

// within polls ok every 2 ms from since (a change's acknowledgement, unless
// what says otherwise) until it holds, failing the test if that takes
// longer than bound; it logs and returns how long it took.
func within(t testing.TB, since time.Time, bound time.Duration, what string, ok func() bool) time.Duration {
	t.Helper()
	for {
		if ok() {
			took := time.Since(since)
			t.Logf("%s: observed after %v", what, took.Round(100*time.Microsecond))
			return took
		}
		if time.Since(since) > bound {
			t.Fatalf("%s: not observed within %v", what, bound)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func roundTrips(s *Service) uint64 { return s.auth.Unwrap().(*postgres.Store).RoundTrips() }

// blobVersion is the key material version a ciphertext blob names.
func blobVersion(b []byte) uint32 { return binary.BigEndian.Uint32(b[17:21]) }

// TestSharedNodesFollowEachOther: a key created on A is usable on B at
// once; disabled on C, A and B refuse it within a second; enabled again,
// usable; rotated on B, A encrypts under the new version; a policy that
// denies, set on C, is applied on A within a second; an alias moved on A
// is followed by B; a credential deleted on A no longer authenticates on
// B, and one created on A authenticates on B, within a second.
func TestSharedNodesFollowEachOther(t *testing.T) {
	cl := newCluster(t)
	a, b, c := cl.node("a"), cl.node("b"), cl.node("c")
	if a.Node() == "" || a.Node() == b.Node() || b.Node() == c.Node() {
		t.Fatalf("node ids %q %q %q", a.Node(), b.Node(), c.Node())
	}
	md := mustKey(t, a, SymmetricDefault, EncryptDecrypt)
	id := md.KeyID
	gdk := func(s *Service) (*GenerateDataKeyResponse, error) {
		return s.GenerateDataKey(bg, s.testCall(), &GenerateDataKeyRequest{KeyID: id, KeySpec: "AES_256"})
	}
	// Created on A, usable on B at once (and now warm on A and B).
	for _, s := range []*Service{a, b} {
		if _, err := gdk(s); err != nil {
			t.Fatalf("node %s: %v", s.Node(), err)
		}
	}

	if _, err := c.DisableKey(bg, c.testCall(), &DisableKeyRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	acked := time.Now()
	for _, s := range []*Service{a, b} {
		within(t, acked, followBound, "DisableKey on C refused on "+s.Node(), func() bool {
			_, err := gdk(s)
			return errors.Is(err, ErrDisabled)
		})
	}
	if _, err := c.EnableKey(bg, c.testCall(), &EnableKeyRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	acked = time.Now()
	within(t, acked, followBound, "EnableKey on C usable on A", func() bool { _, err := gdk(a); return err == nil })

	// Rotated on B: A's ciphertexts name the new version.
	before, err := gdk(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.RotateKeyOnDemand(bg, b.testCall(), &RotateKeyOnDemandRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	acked = time.Now()
	within(t, acked, followBound, "RotateKeyOnDemand on B used by A", func() bool {
		r, err := gdk(a)
		return err == nil && blobVersion(r.CiphertextBlob) == blobVersion(before.CiphertextBlob)+1
	})
	// And the ciphertext made before the rotation still decrypts on C.
	if _, err := c.Decrypt(bg, c.testCall(), &DecryptRequest{CiphertextBlob: before.CiphertextBlob}); err != nil {
		t.Fatal(err)
	}

	// A policy that denies the use, set on C, applies on A.
	deny := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
		{"Sid":"admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"},
		{"Sid":"no-data-keys","Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:GenerateDataKey","Resource":"*"}]}`, a.Account().AccountID)
	if _, err := c.PutKeyPolicy(bg, c.testCall(), &PutKeyPolicyRequest{KeyID: id, PolicyName: "default", Policy: deny}); err != nil {
		t.Fatal(err)
	}
	acked = time.Now()
	within(t, acked, followBound, "PutKeyPolicy on C applied on A", func() bool {
		_, err := gdk(a)
		return errors.Is(err, ErrAccessDenied)
	})

	// An alias moved on A is followed by B.
	other := mustKey(t, a, SymmetricDefault, EncryptDecrypt).KeyID
	k3 := mustKey(t, a, SymmetricDefault, EncryptDecrypt).KeyID
	if _, err := a.CreateAlias(bg, a.testCall(), &CreateAliasRequest{AliasName: "alias/moving", TargetKeyID: other}); err != nil {
		t.Fatal(err)
	}
	viaAlias := func(s *Service) string {
		r, err := s.DescribeKey(bg, s.testCall(), &DescribeKeyRequest{KeyID: "alias/moving"})
		if err != nil {
			return err.Error()
		}
		return r.KeyID
	}
	if got := viaAlias(b); got != other {
		t.Fatalf("alias on B names %s, want %s", got, other)
	}
	if _, err := a.UpdateAlias(bg, a.testCall(), &UpdateAliasRequest{AliasName: "alias/moving", TargetKeyID: k3}); err != nil {
		t.Fatal(err)
	}
	acked = time.Now()
	within(t, acked, followBound, "UpdateAlias on A followed by B", func() bool { return viaAlias(b) == k3 })
	if _, err := a.DeleteAlias(bg, a.testCall(), &DeleteAliasRequest{AliasName: "alias/moving"}); err != nil {
		t.Fatal(err)
	}
	acked = time.Now()
	within(t, acked, followBound, "DeleteAlias on A followed by B", func() bool { return viaAlias(b) != k3 })

	// Credentials: created on A authenticates on B; deleted on A, refused
	// on B and C.
	cr, err := a.CreateCredential(bg, a.adminCall(t), &CreateCredentialRequest{Name: "worker"})
	if err != nil {
		t.Fatal(err)
	}
	acked = time.Now()
	within(t, acked, followBound, "CreateCredential on A known to B", func() bool {
		secret, _, ok := b.Credentials().Lookup(cr.AccessKeyID)
		return ok && string(secret) == string(cr.SecretAccessKey)
	})
	if _, err := a.DeleteCredential(bg, a.adminCall(t), &DeleteCredentialRequest{AccessKeyID: cr.AccessKeyID}); err != nil {
		t.Fatal(err)
	}
	acked = time.Now()
	for _, s := range []*Service{b, c} {
		within(t, acked, followBound, "DeleteCredential on A refused on "+s.Node(), func() bool {
			_, _, ok := s.Credentials().Lookup(cr.AccessKeyID)
			return !ok
		})
	}
}

// TestSharedScheduledDeletionFollowed: a key scheduled for deletion on one
// node is refused on another within a second, and cancelled there, usable.
func TestSharedScheduledDeletionFollowed(t *testing.T) {
	cl := newCluster(t)
	a, b := cl.node("a"), cl.node("b")
	id := mustKey(t, a, SymmetricDefault, EncryptDecrypt).KeyID
	enc := func(s *Service) error {
		_, err := s.Encrypt(bg, s.testCall(), &EncryptRequest{KeyID: id, Plaintext: []byte("x")})
		return err
	}
	if err := enc(b); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ScheduleKeyDeletion(bg, a.testCall(), &ScheduleKeyDeletionRequest{KeyID: id, PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}
	acked := time.Now()
	within(t, acked, followBound, "ScheduleKeyDeletion on A refused on B", func() bool { return errors.Is(enc(b), ErrInvalidState) })
	if _, err := b.CancelKeyDeletion(bg, b.testCall(), &CancelKeyDeletionRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	// Cancelled keys are disabled (AWS): enable, then usable on A.
	if _, err := b.EnableKey(bg, b.testCall(), &EnableKeyRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	acked = time.Now()
	within(t, acked, followBound, "CancelKeyDeletion and EnableKey on B usable on A", func() bool { return enc(a) == nil })
}

// TestSharedWarmUseCostsNoRoundTrip: once a key is warm, GenerateDataKey
// and Decrypt, by key id or by alias, send nothing to the database.
func TestSharedWarmUseCostsNoRoundTrip(t *testing.T) {
	cl := newCluster(t)
	a := cl.node("a")
	id := mustKey(t, a, SymmetricDefault, EncryptDecrypt).KeyID
	if _, err := a.CreateAlias(bg, a.testCall(), &CreateAliasRequest{AliasName: "alias/warm", TargetKeyID: id}); err != nil {
		t.Fatal(err)
	}
	blob := func(ref string) []byte {
		r, err := a.GenerateDataKey(bg, a.testCall(), &GenerateDataKeyRequest{KeyID: ref, KeySpec: "AES_256"})
		if err != nil {
			t.Fatal(err)
		}
		return r.CiphertextBlob
	}
	for _, ref := range []string{id, "alias/warm"} {
		ct := blob(ref) // warms the key (and the alias)
		// The follower reads the records digest each change leaves
		// (followDigest), the test's own CreateAlias's too: let it.
		for settle := time.Now(); time.Since(settle) < time.Second; {
			n := roundTrips(a)
			time.Sleep(50 * time.Millisecond)
			if roundTrips(a) == n {
				break
			}
		}
		before, began := roundTrips(a), time.Now()
		for range 20 {
			blob(ref)
			if _, err := a.Decrypt(bg, a.testCall(), &DecryptRequest{CiphertextBlob: ct}); err != nil {
				t.Fatal(err)
			}
		}
		// The counter counts every connection's, the follower's too: its
		// revision read every 200 ms (package store/postgres) is allowed.
		pings := uint64(time.Since(began)/(150*time.Millisecond)) + 1
		if n := roundTrips(a) - before; n > pings || pings >= 40 {
			t.Errorf("20 GenerateDataKey and 20 Decrypt on a warm key named %s: %d round trips to the database, want none but the follower's %d", ref, n, pings)
		}
	}
}

// TestSharedMaintainOnceAcrossNodes: three nodes maintaining at once
// destroy a key past its deletion date once, and exactly one of their
// audit logs records it.
func TestSharedMaintainOnceAcrossNodes(t *testing.T) {
	cl := newCluster(t)
	var nodes []*Service
	for _, n := range []string{"a", "b", "c"} {
		o := cl.opts(n)
		o.Now = cl.clk.now
		s, err := Open(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		nodes = append(nodes, s)
	}
	var ids []string
	for range 5 {
		id := mustKey(t, nodes[0], SymmetricDefault, EncryptDecrypt).KeyID
		if _, err := nodes[1].ScheduleKeyDeletion(bg, nodes[1].testCall(), &ScheduleKeyDeletionRequest{KeyID: id, PendingWindowInDays: 7}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	cl.clk.add(8 * 24 * time.Hour)
	for round := range 3 {
		var wg sync.WaitGroup
		results := make([]MaintenanceResult, len(nodes))
		errs := make([]error, len(nodes))
		for i, s := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = s.Admin().Maintain(bg)
			}()
		}
		wg.Wait()
		total := 0
		for i := range nodes {
			if errs[i] != nil {
				t.Fatalf("round %d: node %d: %v", round, i, errs[i])
			}
			total += results[i].Destroyed
		}
		if round == 0 && total != len(ids) || round > 0 && total != 0 {
			t.Fatalf("round %d: %d keys destroyed across the nodes (%+v), want %d in all", round, total, results, len(ids))
		}
	}
	destroyed := 0
	for _, s := range nodes {
		for _, r := range auditRecords(t, s) {
			if r.Operation == "DestroyKey" && r.Outcome == "ok" {
				destroyed++
			}
		}
	}
	if destroyed != len(ids) {
		t.Fatalf("%d DestroyKey records across the nodes' logs, want %d (one per key)", destroyed, len(ids))
	}
	for _, id := range ids {
		if _, err := nodes[2].st.Key(bg, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("key %s: %v, want destroyed", id, err)
		}
	}
}

// TestSharedMaintainLock: while one node holds the maintenance lock,
// another's Maintain does nothing; released, it runs.
func TestSharedMaintainLock(t *testing.T) {
	cl := newCluster(t)
	o := cl.opts("a")
	o.Now = cl.clk.now
	a, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := cl.node("b")
	id := mustKey(t, a, SymmetricDefault, EncryptDecrypt).KeyID
	if _, err := a.ScheduleKeyDeletion(bg, a.testCall(), &ScheduleKeyDeletionRequest{KeyID: id, PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}
	cl.clk.add(8 * 24 * time.Hour)
	release, err := b.st.TryLock(bg, maintenanceLock)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := a.Admin().Maintain(bg); err != nil || r.Destroyed != 0 {
		t.Fatalf("Maintain while another node holds the lock: %+v, %v; want nothing done", r, err)
	}
	release()
	if r, err := a.Admin().Maintain(bg); err != nil || r.Destroyed != 1 {
		t.Fatalf("Maintain once the lock is free: %+v, %v; want one key destroyed", r, err)
	}
}

// TestSharedNoLostUpdate: ten goroutines over three nodes each add a tag
// and set a policy on one key: every tag is there, and the policy is one
// of those set.
func TestSharedNoLostUpdate(t *testing.T) {
	cl := newCluster(t)
	nodes := []*Service{cl.node("a"), cl.node("b"), cl.node("c")}
	id := mustKey(t, nodes[0], SymmetricDefault, EncryptDecrypt).KeyID
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for g := range 10 {
		s := nodes[g%3]
		wg.Add(1)
		go func() {
			defer wg.Done()
			tag := Tag{TagKey: fmt.Sprintf("k%d", g), TagValue: "v"}
			if _, err := s.TagResource(bg, s.testCall(), &TagResourceRequest{KeyID: id, Tags: []Tag{tag}}); err != nil {
				errs <- fmt.Errorf("goroutine %d TagResource: %w", g, err)
			}
			p := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"g%d","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"}]}`, g, s.Account().AccountID)
			if _, err := s.PutKeyPolicy(bg, s.testCall(), &PutKeyPolicyRequest{KeyID: id, PolicyName: "default", Policy: p}); err != nil {
				errs <- fmt.Errorf("goroutine %d PutKeyPolicy: %w", g, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, s := range nodes {
		var tags *ListResourceTagsResponse
		within(t, time.Now(), followBound, "every tag seen on "+s.Node(), func() bool {
			var err error
			tags, err = s.ListResourceTags(bg, s.testCall(), &ListResourceTagsRequest{KeyID: id})
			return err == nil && len(tags.Tags) == 10
		})
	}
	p, err := nodes[1].GetKeyPolicy(bg, nodes[1].testCall(), &GetKeyPolicyRequest{KeyID: id, PolicyName: "default"})
	if err != nil || !strings.Contains(p.Policy, `"Sid":"g`) {
		t.Fatalf("policy %v %v", p, err)
	}
}

// TestSharedAuditChainPerNode: each node records its own changes in its
// own log, and the store keeps each node's last change seq under its id:
// reopened, no node voids a committed change.
func TestSharedAuditChainPerNode(t *testing.T) {
	cl := newCluster(t)
	a, b := cl.node("a"), cl.node("b")
	mustKey(t, a, SymmetricDefault, EncryptDecrypt)
	mustKey(t, b, SymmetricDefault, EncryptDecrypt)
	mustKey(t, b, SymmetricDefault, EncryptDecrypt)
	for _, tc := range []struct {
		s     *Service
		name  string
		wants int
	}{{a, "a", 1}, {b, "b", 2}} {
		seq, chain, err := StoredAuditChangeSeq(Options{Store: cl.url, DataDir: cl.opts(tc.name).DataDir})
		if err != nil || chain != tc.s.Node() {
			t.Fatalf("StoredAuditChangeSeq(%s): chain %q, %v; want %q", tc.name, chain, err, tc.s.Node())
		}
		var last uint64
		n := 0
		for _, r := range auditRecords(t, tc.s) {
			if r.Change && r.Operation == "CreateKey" {
				n++
				last = r.Seq
			}
		}
		if n != tc.wants || seq != last {
			t.Fatalf("node %s: %d CreateKey change records, last seq %d; store's seq %d; want %d records, the store at the last", tc.name, n, last, seq, tc.wants)
		}
	}
	a.Close()
	a2 := cl.node("a")
	for _, r := range auditRecords(t, a2) {
		if r.Voids != 0 {
			t.Fatalf("node a reopened voided a committed change: %+v", r)
		}
	}
}

// TestSharedNodeDirectory: a node's data directory is locked while it
// runs, bound to its store's account, and never an embedded store's.
func TestSharedNodeDirectory(t *testing.T) {
	cl := newCluster(t)
	cl.node("a")
	if _, err := Open(cl.opts("a")); !errors.Is(err, ErrStoreInUse) {
		t.Fatalf("a second process on a node's directory: %v, want ErrStoreInUse", err)
	}
	other := newCluster(t)
	o := other.opts("x")
	o.DataDir = cl.opts("a").DataDir
	o.RootKeyFile = other.rootKey
	if _, err := Open(o); err == nil {
		t.Fatal("another store's node opened in a locked directory")
	}
	// Another store's node directory, unlocked.
	cl.node("b").Close()
	o.DataDir = cl.opts("b").DataDir
	if _, err := Open(o); !errors.Is(err, ErrStoreMismatch) {
		t.Fatalf("a node directory of another store: %v, want ErrStoreMismatch", err)
	}
	// An embedded store's data directory.
	bolt := t.TempDir()
	if _, _, err := Init(Options{DataDir: bolt}); err != nil {
		t.Fatal(err)
	}
	o = cl.opts("x")
	o.DataDir = bolt
	if _, err := Open(o); !errors.Is(err, ErrStoreMismatch) {
		t.Fatalf("an embedded store's data directory: %v, want ErrStoreMismatch", err)
	}
	// And a node's directory opened as an embedded store says what it is.
	if _, err := Open(Options{DataDir: cl.opts("b").DataDir}); !errors.Is(err, ErrNotInitialised) || !strings.Contains(err.Error(), "shared store") {
		t.Fatalf("a node's directory without --store: %v", err)
	}
}

// TestSharedInit: Init refuses a database that holds a store (one account
// ever), and then leaves no root key file it made behind; a URL with a
// password is refused.
func TestSharedInit(t *testing.T) {
	cl := newCluster(t)
	rk := filepath.Join(t.TempDir(), "new.key")
	if _, _, err := Init(Options{Store: cl.url, RootKeyFile: rk}); !errors.Is(err, ErrAlreadyInitialised) {
		t.Fatalf("Init of an initialised database: %v, want ErrAlreadyInitialised", err)
	}
	if _, err := os.Stat(rk); !os.IsNotExist(err) {
		t.Fatalf("the refused Init left its root key behind: %v", err)
	}
	u, _ := url.Parse(cl.url)
	u.User = url.UserPassword(u.User.Username(), "hunter2")
	for _, bad := range []string{u.String(), cl.url + "&password=hunter2", cl.url + "&sslpassword=hunter2"} {
		_, _, err := Init(Options{Store: bad, RootKeyFile: rk})
		if !errors.Is(err, ErrStorePassword) || strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("Init with a password in the URL: %v; want ErrStorePassword, without the password", err)
		}
	}
	// A database holding no store: Open says to init it.
	_, err := Open(Options{Store: pgtest.DB(t), RootKeyFile: cl.rootKey, DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "attestkms init") {
		t.Fatalf("Open of an empty database: %v", err)
	}
}

// outage makes u's database refuse connections and ends its sessions;
// the function returned ends the outage.
func outage(t *testing.T, u string) (end func()) {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(pu.Path, "/")
	db := pgx.Identifier{name}.Sanitize()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, os.Getenv(pgtest.Env))
	if err != nil {
		t.Fatal(err)
	}
	exec := func(sql string, args ...any) {
		if _, err := admin.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec("ALTER DATABASE " + db + " ALLOW_CONNECTIONS false")
	exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
	ended := false
	end = func() {
		if !ended {
			ended = true
			exec("ALTER DATABASE " + db + " ALLOW_CONNECTIONS true")
			admin.Close(ctx)
		}
	}
	t.Cleanup(end)
	return end
}

// TestSharedOutage: while the database is away, a node refuses every
// request (even a warm key's use: a change made elsewhere just before
// might not have reached it) with an internal error, and is not ready;
// when it returns, the node serves again by itself.
func TestSharedOutage(t *testing.T) {
	cl := newCluster(t)
	a := cl.node("a")
	id := mustKey(t, a, SymmetricDefault, EncryptDecrypt).KeyID
	gdk := func() error {
		_, err := a.GenerateDataKey(bg, a.testCall(), &GenerateDataKeyRequest{KeyID: id, KeySpec: "AES_256"})
		return err
	}
	if err := gdk(); err != nil {
		t.Fatal(err)
	}
	end := outage(t, cl.url)
	began := time.Now()
	within(t, began, followBound, "a warm key's use refused during the outage", func() bool { return errors.Is(gdk(), ErrInternal) })
	if err := a.Ready(bg); err == nil || !strings.Contains(err.Error(), "does not follow") {
		t.Fatalf("Ready during the outage: %v", err)
	}
	if _, err := a.GenerateRandom(bg, a.testCall(), &GenerateRandomRequest{NumberOfBytes: 8}); !errors.Is(err, ErrInternal) {
		t.Fatalf("GenerateRandom during the outage: %v", err)
	}
	end()
	within(t, time.Now(), 15*time.Second, "served again once the database is back", func() bool { return gdk() == nil && a.Ready(bg) == nil })
}

// TestSharedOpensSchemaVersion1: a database that the first schema version
// made (0001_store.sql alone), holding a real store's records (the fixture
// of a data directory made before the store layer, copied in as version 1
// wrote records), is migrated by Open — what serve calls — and served:
// every credential authenticates with its secret, every ciphertext
// decrypts, the key agreement key derives the same secret, and a change
// made on one node is followed by another.
func TestSharedOpensSchemaVersion1(t *testing.T) {
	dir, f := copyFixture(t)
	u := pgtest.DB(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := c.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%.60s: %v", sql, err)
		}
	}
	v1, err := os.ReadFile("internal/store/postgres/migrations/0001_store.sql")
	if err != nil {
		t.Fatal(err)
	}
	exec("BEGIN")
	exec(`CREATE TABLE attestkms_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
	exec(string(v1))
	exec(`INSERT INTO attestkms_migrations (version, name) VALUES (1, 'store')`)
	bs, err := bolt.Open(filepath.Join(dir, dbFile), bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	err = bs.View(bg, func(r store.Reader) error {
		m, err := r.Meta()
		if err != nil {
			return err
		}
		exec("INSERT INTO meta (account_id, project_id, region, root_check) VALUES ($1, $2, $3, $4)", m.AccountID, m.ProjectID, m.Region, m.RootCheck)
		keys, err := r.Keys("", 1000)
		if err != nil {
			return err
		}
		for _, k := range keys {
			exec("INSERT INTO keys (id, state, record) VALUES ($1, $2, $3)", k.ID, k.State, []byte(mustJSON(t, k)))
		}
		aliases, err := r.Aliases("", 1000)
		if err != nil {
			return err
		}
		for _, a := range aliases {
			exec("INSERT INTO aliases (name, key_id, record) VALUES ($1, $2, $3)", a.Name, a.KeyID, []byte(mustJSON(t, a)))
		}
		creds, err := r.Credentials()
		for _, cr := range creds {
			exec("INSERT INTO credentials (access_key_id, name, record) VALUES ($1, $2, $3)", cr.AccessKeyID, cr.Name, []byte(mustJSON(t, cr)))
		}
		return err
	})
	bs.Close()
	if err != nil {
		t.Fatal(err)
	}
	exec("COMMIT")

	clk := &clock{t: f.Now}
	open := func(name string) *Service {
		s, err := Open(Options{Store: u, RootKeyFile: filepath.Join(dir, rootKeyFile), DataDir: filepath.Join(dir, name), Region: f.Region, Now: clk.now, ProtectRecords: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a := open("node-a")
	var version int
	if err := c.QueryRow(ctx, "SELECT max(version) FROM attestkms_migrations").Scan(&version); err != nil || version < 2 {
		t.Fatalf("schema version %d, %v after Open: not migrated", version, err)
	}
	if sec, _, ok := a.Credentials().Lookup(f.Admin.AccessKeyID); !ok || string(sec) != f.Admin.Secret {
		t.Fatal("the admin credential does not authenticate")
	}
	for _, cr := range f.Credentials {
		if sec, _, ok := a.Credentials().Lookup(cr.Info.AccessKeyID); !ok || string(sec) != cr.Secret {
			t.Fatalf("credential %s does not authenticate", cr.Info.Name)
		}
	}
	call := a.adminCall(t)
	for i, b := range f.Blobs {
		pt, err := a.Decrypt(bg, call, &DecryptRequest{CiphertextBlob: b.Blob, EncryptionContext: b.Context})
		if err != nil || string(pt.Plaintext) != b.Plaintext {
			t.Fatalf("blob %d: %v", i, err)
		}
	}
	ss, err := a.DeriveSharedSecret(bg, call, &DeriveSharedSecretRequest{KeyID: f.Keys.EC, KeyAgreementAlgorithm: AlgECDH, PublicKey: f.ECDH.PeerPublicKey})
	if err != nil || string(ss.SharedSecret) != string(f.ECDH.SharedSecret) {
		t.Fatalf("DeriveSharedSecret: %v", err)
	}
	b := open("node-b")
	encB := func() error {
		_, err := b.Encrypt(bg, b.adminCall(t), &EncryptRequest{KeyID: "alias/app", Plaintext: []byte("x")})
		return err
	}
	if err := encB(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DisableKey(bg, call, &DisableKeyRequest{KeyID: "alias/app"}); err != nil {
		t.Fatal(err)
	}
	within(t, time.Now(), followBound, "a key of the migrated store disabled on A, refused on B", func() bool { return errors.Is(encB(), ErrDisabled) })
}

// TestSharedLastAdminAcrossNodes: two nodes deleting the last two admin
// credentials at once leave one: the check runs in the transaction.
func TestSharedLastAdminAcrossNodes(t *testing.T) {
	cl := newCluster(t)
	a, b := cl.node("a"), cl.node("b")
	second, err := a.CreateCredential(bg, a.adminCall(t), &CreateCredentialRequest{Name: "second-admin", Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	within(t, time.Now(), followBound, "the second admin known to B", func() bool {
		_, _, ok := b.Credentials().Lookup(second.AccessKeyID)
		return ok
	})
	for round := range 5 {
		// Each node deletes the admin the other would keep.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, del := range []struct {
			s  *Service
			id string
		}{{a, cl.cred.AccessKeyID}, {b, second.AccessKeyID}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = del.s.Admin().DeleteCredential(bg, del.id)
			}()
		}
		wg.Wait()
		if errs[0] == nil && errs[1] == nil {
			t.Fatalf("round %d: both admins deleted: none is left", round)
		}
		if errs[0] != nil && errs[1] != nil {
			continue // both refused (a conflict): try again
		}
		within(t, time.Now(), followBound, "one admin left, on A", func() bool {
			n := 0
			for _, ci := range a.Admin().ListCredentials() {
				if ci.Admin {
					n++
				}
			}
			return n == 1
		})
		return
	}
	t.Fatal("every round refused both deletions")
}

// BenchmarkShared reports, over a PostgreSQL store, the time and the round
// trips to the database of a warm GenerateDataKey, a warm Decrypt, and a
// change (TagResource: a read-modify-write of the key, its audit record
// and seq), per operation.
func BenchmarkShared(b *testing.B) {
	cl := newCluster(b)
	s := cl.node("a")
	id := mustKey(b, s, SymmetricDefault, EncryptDecrypt).KeyID
	c := s.testCall()
	gdk, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: id, KeySpec: "AES_256"})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		op   func(i int) error
	}{
		{"GenerateDataKey", func(int) error {
			_, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: id, KeySpec: "AES_256"})
			return err
		}},
		{"Decrypt", func(int) error {
			_, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: gdk.CiphertextBlob})
			return err
		}},
		{"TagResource", func(i int) error {
			_, err := s.TagResource(bg, c, &TagResourceRequest{KeyID: id, Tags: []Tag{{TagKey: "n", TagValue: fmt.Sprint(i)}}})
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			before := roundTrips(s)
			b.ResetTimer()
			for i := range b.N {
				if err := bc.op(i); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(roundTrips(s)-before)/float64(b.N), "roundtrips/op")
		})
	}
}
