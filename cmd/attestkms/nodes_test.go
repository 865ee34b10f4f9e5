package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/jackc/pgx/v5"

	"github.com/attestkms/attestkms/internal/pgtest"
)

// Three attestkms nodes, each a real "attestkms serve" process on its own
// port, over one PostgreSQL database in a cluster of the test's own
// (scripts/postgres.sh), which the test restarts: other tests share
// ATTESTKMS_TEST_POSTGRES's server, and must not see it go away.

// followBound is the nodes' promise: a change acknowledged by one node is
// followed by every other within it.
const followBound = time.Second

// pgCluster is a PostgreSQL server of the test's own.
type pgCluster struct {
	dir, url, pgdata string
}

// startCluster starts a PostgreSQL server for t with scripts/postgres.sh,
// stopped when t ends. It skips without ATTESTKMS_TEST_POSTGRES, as every
// test needing PostgreSQL does (that the variable is set says the
// machine has PostgreSQL's binaries).
func startCluster(t *testing.T) *pgCluster {
	t.Helper()
	if !pgtest.Available() {
		t.Skipf("%s is not set: this test needs PostgreSQL (eval \"$(scripts/postgres.sh start DIR)\" starts one and sets it; .ci/run does)", pgtest.Env)
	}
	// Not t.TempDir(): as root, the server runs as nobody, who must get
	// through the directory's parents (a mktemp -d under /tmp: the script
	// gives the directory itself to nobody).
	dir, err := os.MkdirTemp("", "attestkms-nodes-pg")
	if err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs("../../scripts/postgres.sh")
	out, err := exec.Command(script, "start", dir).Output()
	if err != nil {
		os.RemoveAll(dir)
		t.Fatalf("scripts/postgres.sh start: %v", err)
	}
	t.Cleanup(func() {
		exec.Command(script, "stop", dir).Run()
		os.RemoveAll(dir)
	})
	c := &pgCluster{dir: dir}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "export ATTESTKMS_TEST_POSTGRES="); ok {
			c.url = strings.Trim(v, "'")
		}
		if v, ok := strings.CutPrefix(line, "export PGDATA="); ok {
			c.pgdata = strings.Trim(v, "'")
		}
	}
	if c.url == "" || c.pgdata == "" {
		t.Fatalf("scripts/postgres.sh start printed %q", out)
	}
	return c
}

// restart restarts the server (pg_ctl restart -m fast), as its owner.
func (c *pgCluster) restart(t *testing.T) {
	t.Helper()
	pgctl, err := exec.LookPath("pg_ctl")
	if err != nil {
		m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
		if len(m) == 0 {
			t.Fatal("pg_ctl not found")
		}
		pgctl = m[len(m)-1]
	}
	args := []string{pgctl, "-D", c.pgdata, "-l", filepath.Join(c.dir, "server.log"), "-m", "fast", "-w", "-t", "60", "restart"}
	if os.Geteuid() == 0 {
		args = append([]string{"runuser", "-u", "nobody", "--"}, args...)
	}
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl restart: %v\n%s", err, out)
	}
}

// database makes a database in the cluster and returns its URL.
func (c *pgCluster) database(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	return strings.Replace(c.url, "/postgres?", "/"+name+"?", 1)
}

// node is one "attestkms serve" process of the three.
type node struct {
	name, dataDir, addr string
	cmd                 *exec.Cmd
	kms                 *awskms.Client
}

type threeNodes struct {
	t           *testing.T
	bin         string
	url, root   string
	cred        credentialJSON
	credFile    string
	nodes       []*node
	acctARNRoot string
}

func newThreeNodes(t *testing.T, c *pgCluster) *threeNodes {
	t.Helper()
	tn := &threeNodes{t: t, bin: buildBinary(t), url: c.database(t, "attestkms")}
	dir := t.TempDir()
	tn.root = filepath.Join(dir, "root.key")
	out, err := exec.Command(tn.bin, "init", "--store", tn.url, "--root-key-file", tn.root).Output()
	if err != nil {
		t.Fatalf("attestkms init --store: %v", err)
	}
	if err := json.Unmarshal(out, &tn.cred); err != nil || tn.cred.AccessKeyID == "" {
		t.Fatalf("init printed %q: %v", out, err)
	}
	tn.credFile = filepath.Join(dir, "admin.json")
	if err := os.WriteFile(tn.credFile, out, 0o600); err != nil {
		t.Fatal(err)
	}
	tn.acctARNRoot = "arn:aws:iam::" + tn.cred.AccountID + ":root"
	for _, name := range []string{"A", "B", "C"} {
		n := &node{name: name, dataDir: filepath.Join(dir, "node-"+name)}
		tn.start(n)
		tn.nodes = append(tn.nodes, n)
	}
	return tn
}

// start starts (or starts again) node n's process.
func (tn *threeNodes) start(n *node) {
	tn.t.Helper()
	n.cmd, n.addr = startChild(tn.t, tn.bin, n.dataDir, "--store", tn.url, "--root-key-file", tn.root)
	n.kms = awskms.New(awskms.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(tn.cred.AccessKeyID, tn.cred.SecretAccessKey, ""),
		BaseEndpoint:     aws.String("http://" + n.addr),
		RetryMaxAttempts: 1,
	})
}

// within polls ok every 2 ms from since (a change's acknowledgement, unless
// what says otherwise) until it holds, failing the test past bound; it logs
// and returns how long it took.
func within(t *testing.T, since time.Time, bound time.Duration, what string, ok func() bool) time.Duration {
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

func gdk(c *awskms.Client, id string) (*awskms.GenerateDataKeyOutput, error) {
	return c.GenerateDataKey(context.Background(), &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: awstypes.DataKeySpecAes256})
}

// blobVersion is the key material version a ciphertext blob names
// (docs/ciphertext.md).
func blobVersion(b []byte) uint32 { return binary.BigEndian.Uint32(b[17:21]) }

func ready(addr string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// TestThreeNodes: the contract of several nodes, with real processes.
func TestThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds attestkms and runs three servers and a PostgreSQL")
	}
	cluster := startCluster(t)
	tn := newThreeNodes(t, cluster)
	a, b, c := tn.nodes[0], tn.nodes[1], tn.nodes[2]
	ctx := context.Background()

	// Create on A, use on B at once, disable on C: A and B refuse within
	// the bound.
	k, err := a.kms.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := *k.KeyMetadata.KeyId
	for _, n := range []*node{b, a} {
		if _, err := gdk(n.kms, id); err != nil {
			t.Fatalf("a key created on A, used on %s: %v", n.name, err)
		}
	}
	if _, err := c.kms.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: &id}); err != nil {
		t.Fatal(err)
	}
	acked := time.Now()
	var disabled *awstypes.DisabledException
	for _, n := range []*node{a, b} {
		within(t, acked, followBound, "DisableKey on C refused on "+n.name, func() bool {
			_, err := gdk(n.kms, id)
			return errors.As(err, &disabled)
		})
	}
	if _, err := c.kms.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: &id}); err != nil {
		t.Fatal(err)
	}
	within(t, time.Now(), followBound, "EnableKey on C usable on A", func() bool { _, err := gdk(a.kms, id); return err == nil })

	// Rotate on B: what A encrypts names the new version.
	before, err := gdk(a.kms, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.kms.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: &id}); err != nil {
		t.Fatal(err)
	}
	within(t, time.Now(), followBound, "RotateKeyOnDemand on B, A's ciphertexts under the new version", func() bool {
		out, err := gdk(a.kms, id)
		return err == nil && blobVersion(out.CiphertextBlob) == blobVersion(before.CiphertextBlob)+1
	})

	t.Run("Credentials", func(t *testing.T) { credentialsAcrossNodes(t, tn, id) })
	t.Run("NoLostUpdate", func(t *testing.T) { noLostUpdate(t, tn, id) })
	t.Run("KillNodeUnderLoad", func(t *testing.T) { killUnderLoad(t, tn) })
	t.Run("DatabaseRestartUnderLoad", func(t *testing.T) { restartUnderLoad(t, tn, cluster, id) })

	// Every node's audit chain holds, checked against the store while the
	// nodes run.
	for _, n := range tn.nodes {
		out, err := exec.Command(tn.bin, "audit", "verify", "--data-dir", n.dataDir, "--store", tn.url).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "audit log intact") || !strings.Contains(string(out), "node node-") {
			t.Fatalf("audit verify of node %s: %v\n%s", n.name, err, out)
		}
	}
}

// credentialsAcrossNodes: a credential created through A's admin API
// (attestkms credential create --endpoint) signs requests to B, and once
// deleted through C's, B refuses it within the bound, as an unknown key.
func credentialsAcrossNodes(t *testing.T, tn *threeNodes, id string) {
	a, b, c := tn.nodes[0], tn.nodes[1], tn.nodes[2]
	out, err := exec.Command(tn.bin, "credential", "create", "--endpoint", "http://"+a.addr, "--credential", tn.credFile, "--name", "worker").Output()
	if err != nil {
		t.Fatalf("credential create on A: %v", err)
	}
	acked := time.Now()
	var worker credentialJSON
	if err := json.Unmarshal(out, &worker); err != nil || worker.AccessKeyID == "" {
		t.Fatalf("credential create printed %q: %v", out, err)
	}
	onB := awskms.New(awskms.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(worker.AccessKeyID, worker.SecretAccessKey, ""),
		BaseEndpoint:     aws.String("http://" + b.addr),
		RetryMaxAttempts: 1,
	})
	within(t, acked, followBound, "a credential created on A signs requests to B", func() bool { _, err := gdk(onB, id); return err == nil })
	if out, err := exec.Command(tn.bin, "credential", "delete", "--endpoint", "http://"+c.addr, "--credential", tn.credFile, worker.AccessKeyID).CombinedOutput(); err != nil {
		t.Fatalf("credential delete on C: %v\n%s", err, out)
	}
	acked = time.Now()
	var refused smithy.APIError
	within(t, acked, followBound, "a credential deleted on C refused on B", func() bool {
		_, err := gdk(onB, id)
		return errors.As(err, &refused) && refused.ErrorCode() == "InvalidSignatureException"
	})
}

// noLostUpdate: ten goroutines over the three nodes each add a tag to one
// key and set its policy; every tag is there on every node, and every node
// has the same policy, one of those set.
func noLostUpdate(t *testing.T, tn *threeNodes, id string) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for g := range 10 {
		n := tn.nodes[g%3]
		wg.Add(1)
		go func() {
			defer wg.Done()
			tag := awstypes.Tag{TagKey: aws.String(fmt.Sprintf("writer-%d", g)), TagValue: aws.String(n.name)}
			if _, err := n.kms.TagResource(ctx, &awskms.TagResourceInput{KeyId: &id, Tags: []awstypes.Tag{tag}}); err != nil {
				errs <- fmt.Errorf("writer %d on %s: TagResource: %w", g, n.name, err)
			}
			p := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"writer-%d","Effect":"Allow","Principal":{"AWS":%q},"Action":"kms:*","Resource":"*"}]}`, g, tn.acctARNRoot)
			if _, err := n.kms.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: &id, PolicyName: aws.String("default"), Policy: &p}); err != nil {
				errs <- fmt.Errorf("writer %d on %s: PutKeyPolicy: %w", g, n.name, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	acked := time.Now()
	var policies []string
	for _, n := range tn.nodes {
		within(t, acked, followBound, "ten writers' tags on "+n.name, func() bool {
			out, err := n.kms.ListResourceTags(ctx, &awskms.ListResourceTagsInput{KeyId: &id})
			return err == nil && len(out.Tags) == 10
		})
		p, err := n.kms.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: &id, PolicyName: aws.String("default")})
		if err != nil {
			t.Fatal(err)
		}
		policies = append(policies, *p.Policy)
	}
	if policies[0] != policies[1] || policies[1] != policies[2] || !strings.Contains(policies[0], `"Sid":"writer-`) {
		t.Fatalf("the nodes disagree on the policy, or it is none of those set: %q", policies)
	}
}

// killUnderLoad: while six clients create and tag keys, node A is killed
// (SIGKILL); each client retries what failed on the next node. Every
// acknowledged write is then present on every node, and A, started again,
// serves them too.
func killUnderLoad(t *testing.T, tn *threeNodes) {
	ctx := context.Background()
	a := tn.nodes[0]
	type write struct{ key, tag string }
	var mu sync.Mutex
	var acked []write
	var total atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := w % 3
			// do runs op on the client's node, moving on to the next node
			// when it fails (as a client behind a load balancer would),
			// until it succeeds.
			do := func(op func(c *awskms.Client) error) bool {
				for tries := 0; ; tries++ {
					select {
					case <-stop:
						return false
					default:
					}
					if err := op(tn.nodes[next].kms); err == nil {
						return true
					}
					next = (next + 1) % 3
					if tries > 50 {
						t.Errorf("client %d: nothing succeeded on any node", w)
						return false
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			for i := 0; ; i++ {
				var id string
				if !do(func(c *awskms.Client) error {
					out, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
					if err == nil {
						id = *out.KeyMetadata.KeyId
					}
					return err
				}) {
					return
				}
				tag := fmt.Sprintf("client-%d-%d", w, i)
				if !do(func(c *awskms.Client) error {
					_, err := c.TagResource(ctx, &awskms.TagResourceInput{KeyId: &id, Tags: []awstypes.Tag{{TagKey: aws.String("writer"), TagValue: aws.String(tag)}}})
					return err
				}) {
					return
				}
				mu.Lock()
				acked = append(acked, write{id, tag})
				mu.Unlock()
				total.Add(1)
			}
		}()
	}
	// Kill A once writes flow, then let the clients go on without it.
	for total.Load() < 20 {
		time.Sleep(5 * time.Millisecond)
	}
	a.cmd.Process.Signal(syscall.SIGKILL)
	a.cmd.Wait()
	killedAt := total.Load()
	for total.Load() < killedAt+20 {
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d writes acknowledged, %d of them after node A was killed", len(acked), int64(len(acked))-killedAt)

	tn.start(a) // its audit log resolves what the kill left unresolved
	for _, n := range tn.nodes {
		for _, w := range acked {
			out, err := n.kms.ListResourceTags(ctx, &awskms.ListResourceTagsInput{KeyId: &w.key})
			if err != nil {
				t.Fatalf("node %s: acknowledged key %s: %v", n.name, w.key, err)
			}
			if !slices.ContainsFunc(out.Tags, func(tg awstypes.Tag) bool { return *tg.TagKey == "writer" && *tg.TagValue == w.tag }) {
				t.Fatalf("node %s: key %s lost its acknowledged tag %s", n.name, w.key, w.tag)
			}
		}
	}
}

// restartUnderLoad: the database restarts while clients use a key on
// every node. Each node reports not ready (/readyz) during the outage, and
// serves again by itself after it, following changes again.
func restartUnderLoad(t *testing.T, tn *threeNodes, cluster *pgCluster, id string) {
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failed, served atomic.Int64
	notReady := make([]atomic.Bool, len(tn.nodes))
	for i, n := range tn.nodes {
		wg.Add(2)
		go func() { // load
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := gdk(n.kms, id); err != nil {
					failed.Add(1)
					time.Sleep(5 * time.Millisecond)
				} else {
					served.Add(1)
				}
			}
		}()
		go func() { // readiness
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				if !ready(n.addr) {
					notReady[i].Store(true)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	began := time.Now()
	cluster.restart(t)
	restarted := time.Now()
	t.Logf("pg_ctl restart took %v", restarted.Sub(began).Round(time.Millisecond))
	for _, n := range tn.nodes {
		within(t, restarted, 15*time.Second, "node "+n.name+" ready and serving after the restart", func() bool {
			_, err := gdk(n.kms, id)
			return err == nil && ready(n.addr)
		})
	}
	close(stop)
	wg.Wait()
	t.Logf("during the run: %d requests served, %d failed (the outage)", served.Load(), failed.Load())
	for i, n := range tn.nodes {
		if !notReady[i].Load() {
			t.Errorf("node %s never reported not ready (/readyz) while the database restarted", n.name)
		}
	}
	// The nodes follow changes again: disabled on A, refused on B and C.
	if _, err := tn.nodes[0].kms.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: &id}); err != nil {
		t.Fatal(err)
	}
	acked := time.Now()
	var disabled *awstypes.DisabledException
	for _, n := range tn.nodes[1:] {
		within(t, acked, followBound, "after the restart, DisableKey on A refused on "+n.name, func() bool {
			_, err := gdk(n.kms, id)
			return errors.As(err, &disabled)
		})
	}
}
