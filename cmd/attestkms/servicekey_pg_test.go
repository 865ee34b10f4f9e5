package main

import (
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/answer"
	"github.com/attestkms/attestkms/internal/pgtest"
)

// TestServiceKeyRotateSharedStore: service-key rotate --store postgres://…
// rotates a shared store while its node serves, and the node publishes the
// new key at GET /service-key within followBound, without a restart. A
// running node's directory is refused (in use); the rotation's audit
// record is in the log of the directory it was given.
func TestServiceKeyRotateSharedStore(t *testing.T) {
	u := pgtest.DB(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "root.key")
	if code, _, errs := runCmd("init", "--store", u, "--root-key-file", root); code != 0 {
		t.Fatalf("init --store: %d %s", code, errs)
	}
	nodeDir := filepath.Join(dir, "node-a")
	addr, _, _ := startServe(t, serveConfig{dataDir: nodeDir, root: rootKeyFlags{file: root}, store: storeFlags{store: u}})
	published := func() []string {
		resp, err := http.Get("http://" + addr + "/service-key")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		keys, err := answer.ParsePEM(b)
		if err != nil {
			t.Fatalf("GET /service-key: %v %q", err, b)
		}
		var ids []string
		for _, k := range keys {
			ids = append(ids, answer.Fingerprint(k))
		}
		return ids
	}
	old := published()
	if len(old) != 1 {
		t.Fatalf("published before: %v", old)
	}

	if code, _, errs := runCmd("service-key", "rotate", "--store", u, "--root-key-file", root, "--data-dir", nodeDir); code != 1 || !strings.Contains(errs, "another attestkms node uses this data directory") || !strings.Contains(errs, "hint: a running node uses that directory") {
		t.Fatalf("rotate in a running node's directory: exit %d, %q", code, errs)
	}
	adminDir := filepath.Join(dir, "admin")
	code, out, errs := runCmd("service-key", "rotate", "--store", u, "--root-key-file", root, "--data-dir", adminDir, "--grace-days", "2")
	if code != 0 {
		t.Fatalf("rotate --store: exit %d, %s", code, errs)
	}
	acked := time.Now()
	keys, err := answer.ParsePEM([]byte(out))
	if err != nil || len(keys) != 1 {
		t.Fatalf("rotate printed %q: %v", out, err)
	}
	fresh := answer.Fingerprint(keys[0])
	within(t, acked, followBound, "the rotation published by the running node", func() bool {
		return slices.Equal(published(), []string{old[0], fresh})
	})
	if line := auditLineWith(t, adminDir, `"operation":"RotateServiceKey"`, `"request_id":"offline"`, `"outcome":"ok"`, fresh); line == "" {
		t.Fatal("no audit record of the rotation in the directory it was given")
	}
	if code, got, errs := runCmd("service-key", "--store", u, "--root-key-file", root); code != 0 || !strings.Contains(got, fresh) || !strings.Contains(got, old[0]) {
		t.Fatalf("service-key --store after the rotation: exit %d %q %s", code, got, errs)
	}
}
