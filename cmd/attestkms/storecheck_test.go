package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// snapshot is every file under dir: path, size, mode and modification
// time, to tell that a refusal wrote nothing.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%s %d %v %d", p, fi.Size(), fi.Mode(), fi.ModTime().UnixNano()))
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// refused runs args and checks the refusal: exit 1, stderr saying each of
// want, no stack trace, dir unchanged.
func refused(t *testing.T, dir string, args []string, want ...string) {
	t.Helper()
	before := snapshot(t, dir)
	code, out, errs := runCmd(args...)
	if code != 1 {
		t.Errorf("%v: exit %d, want 1\nstdout %s\nstderr %s", args, code, out, errs)
	}
	for _, w := range want {
		if !strings.Contains(errs, w) {
			t.Errorf("%v: stderr does not say %q:\n%s", args, w, errs)
		}
	}
	if strings.Contains(errs, "goroutine") || strings.Contains(errs, "panic") {
		t.Errorf("%v: a stack trace:\n%s", args, errs)
	}
	if after := snapshot(t, dir); after != before {
		t.Errorf("%v wrote to %s:\nbefore\n%s\nafter\n%s", args, dir, before, after)
	}
}

// TestStoreRemnants: a data directory holding what a store keeps beside
// its kms.db, but not kms.db, is neither initialised afresh nor opened, by
// serve, init or the offline commands; each names what it found and
// suggests restore.
func TestStoreRemnants(t *testing.T) {
	for _, remnant := range []string{"root.key", "audit.log", "audit.log.1", "admin-credential.json"} {
		t.Run(remnant, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if code, _, errs := runCmd("init", "--data-dir", dir); code != 0 {
				t.Fatalf("init: %s", errs)
			}
			os.WriteFile(filepath.Join(dir, "admin-credential.json"), []byte("{}"), 0o600)
			os.WriteFile(filepath.Join(dir, "audit.log.1"), []byte(""), 0o600)
			os.WriteFile(filepath.Join(dir, "audit.log"), []byte(""), 0o600)
			// Keep remnant alone beside the lost database.
			for _, f := range []string{"kms.db", "root.key", "audit.log", "audit.log.1", "admin-credential.json"} {
				if f != remnant {
					os.Remove(filepath.Join(dir, f))
				}
			}
			want := []string{"database is missing", filepath.Join(dir, "kms.db"), filepath.Join(dir, remnant), "hint: restore the store from a backup", "remove it"}
			refused(t, dir, []string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"}, want...)
			refused(t, dir, []string{"init", "--data-dir", dir}, want...)
			refused(t, dir, []string{"credential", "list", "--data-dir", dir}, want...)
		})
	}
	t.Run("node.json", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		os.MkdirAll(dir, 0o700)
		os.WriteFile(filepath.Join(dir, "node.json"), []byte(`{"node_id":"node-0123456789abcdef","account_id":"123456789012"}`+"\n"), 0o600)
		refused(t, dir, []string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"}, "node-0123456789abcdef, a node of a shared store")
		refused(t, dir, []string{"init", "--data-dir", dir}, "node-0123456789abcdef, a node of a shared store")
		refused(t, dir, []string{"credential", "list", "--data-dir", dir}, "a node of a shared store")
	})
	t.Run("an explicit root key file", func(t *testing.T) {
		// An existing --root-key-file outside the directory is a key to
		// use, not a remnant.
		base := t.TempDir()
		rk := filepath.Join(base, "root.key")
		if code, _, errs := runCmd("init", "--data-dir", filepath.Join(base, "a"), "--root-key-file", rk); code != 0 {
			t.Fatalf("init: %s", errs)
		}
		if code, _, errs := runCmd("init", "--data-dir", filepath.Join(base, "b"), "--root-key-file", rk); code != 0 {
			t.Fatalf("init with an existing root key: %s", errs)
		}
	})
}
