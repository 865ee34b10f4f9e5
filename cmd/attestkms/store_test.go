package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/internal/pgtest"
)

// TestStoreFlags: --store and --store-password-file are checked before
// anything is opened, and a password never reaches an error.
func TestStoreFlags(t *testing.T) {
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose")
	os.WriteFile(loose, []byte("hunter2\n"), 0o644)
	tight := filepath.Join(dir, "tight")
	os.WriteFile(tight, []byte("hunter2\nmore\n"), 0o600)
	rk := filepath.Join(dir, "root.key")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"init", "--store", "postgres://attestkms:hunter2@127.0.0.1/db", "--root-key-file", rk}, 2, "hint: a command line is visible"},
		{[]string{"serve", "--store", "postgres://attestkms@127.0.0.1/db?password=hunter2", "--root-key-file", rk}, 2, "carries a password"},
		{[]string{"serve", "--store", "postgres://attestkms@127.0.0.1/db?sslpassword=hunter2", "--root-key-file", rk}, 2, "carries a password"},
		{[]string{"audit", "verify", "--data-dir", dir, "--store", "postgresql://a:hunter2@h/db"}, 2, "carries a password"},
		{[]string{"serve", "--store", "mysql://x"}, 2, "--store must be bolt:PATH or a postgres://"},
		{[]string{"serve", "--store", "bolt:"}, 2, "names no file"},
		{[]string{"serve", "--store", "postgres://attestkms@127.0.0.1/db"}, 2, "needs --root-key SPEC"},
		{[]string{"init", "--store", "postgres://attestkms@127.0.0.1/db"}, 2, "needs --root-key SPEC"},
		{[]string{"init", "--data-dir", dir, "--store-password-file", tight}, 2, "goes with --store postgres"},
		{[]string{"init", "--store", "postgres://attestkms@127.0.0.1:1/db", "--root-key-file", rk, "--store-password-file", loose}, 1, "readable by others"},
		{[]string{"init", "--store", "postgres://attestkms@127.0.0.1:1/db", "--root-key-file", rk, "--store-password-file", tight}, 1, "alone, on one line"},
		{[]string{"audit", "verify", "--store", "postgres://attestkms@127.0.0.1/db", "--audit-path", loose}, 2, "--store goes with --data-dir"},
	} {
		code, out, errs := runCmd(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d saying %q", tc.args, code, errs, tc.code, tc.want)
		}
		if strings.Contains(out+errs, "hunter2") {
			t.Errorf("%v: the password is in the output: %q %q", tc.args, out, errs)
		}
	}
	if _, err := os.Stat(rk); !os.IsNotExist(err) {
		t.Errorf("a refused init left a root key behind: %v", err)
	}
}

// TestNodeDirectoryWithoutStore: a node's data directory given without
// --store is neither served as nor made into an embedded store, and each
// command says what it is.
func TestNodeDirectoryWithoutStore(t *testing.T) {
	u := pgtest.DB(t)
	dir := t.TempDir()
	rk := filepath.Join(dir, "root.key")
	node := filepath.Join(dir, "node")
	if code, _, errs := runCmd("init", "--store", u, "--root-key-file", rk); code != 0 {
		t.Fatalf("init --store: exit %d: %s", code, errs)
	}
	os.MkdirAll(node, 0o700)
	if code, _, errs := runCmd("init", "--store", u, "--root-key-file", rk); code != 1 || !strings.Contains(errs, "already initialised") || !strings.Contains(errs, "second account") {
		t.Fatalf("a second init --store: exit %d: %s", code, errs)
	}
	os.WriteFile(filepath.Join(node, "node.json"), []byte(`{"node_id":"node-0123456789abcdef","account_id":"123456789012"}`+"\n"), 0o600)
	if code, _, errs := runCmd("credential", "list", "--data-dir", node); code != 1 || !strings.Contains(errs, "a node of a shared store") || !strings.Contains(errs, "--endpoint") {
		t.Errorf("credential --data-dir NODE: exit %d: %s", code, errs)
	}
	if code, _, errs := runCmd("init", "--data-dir", node); code != 1 || !strings.Contains(errs, "a node of a shared store") {
		t.Errorf("init --data-dir NODE: exit %d: %s", code, errs)
	}
	if code, _, errs := runCmd("serve", "--data-dir", node, "--listen", "127.0.0.1:0"); code != 1 || !strings.Contains(errs, "a node of a shared store") || !strings.Contains(errs, "--store postgres://") {
		t.Errorf("serve --data-dir NODE: exit %d: %s", code, errs)
	}
	// Exit 2, a usage error (46cbc35: a node's directory without --store).
	if code, _, errs := runCmd("audit", "verify", "--data-dir", node); code != 2 || !strings.Contains(errs, "give that store's --store") {
		t.Errorf("audit verify --data-dir NODE: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(node, "kms.db")); !os.IsNotExist(err) {
		t.Errorf("an embedded store was made in a node's directory: %v", err)
	}
}
