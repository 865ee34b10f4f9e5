package kms

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/attestkms/attestkms/internal/pgtest"
)

// pgTool finds a PostgreSQL client program: on PATH, else in Debian's
// versioned directories.
func pgTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(m) == 0 {
		t.Skipf("%s not found", name)
	}
	return m[len(m)-1]
}

// TestPgDumpRestoresAWorkingStore: what docs/backup.md says of a shared
// store holds: pg_dump of its database, pg_restore into an empty one, and a
// node over the restored database decrypts what was encrypted before the
// dump. And the admin API's backup of a shared store restores into an
// embedded one that decrypts it too.
func TestPgDumpRestoresAWorkingStore(t *testing.T) {
	cl := newCluster(t)
	a := cl.node("a")
	md := mustKey(t, a, "", "")
	enc, err := a.Encrypt(bg, a.testCall(), &EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("before the dump")})
	if err != nil {
		t.Fatal(err)
	}
	online, err := a.Backup(bg, a.adminCall(t), &BackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(t.TempDir(), "kms.dump")
	if out, err := exec.Command(pgTool(t, "pg_dump"), "--format=custom", "--file", dump, cl.url).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	target := pgtest.DB(t)
	if out, err := exec.Command(pgTool(t, "pg_restore"), "--no-owner", "--dbname", target, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	r, err := Open(Options{Store: target, RootKeyFile: cl.rootKey, DataDir: filepath.Join(cl.dir, "restored-node"), Now: cl.clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dec, err := r.Decrypt(bg, r.testCall(), &DecryptRequest{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || !bytes.Equal(dec.Plaintext, []byte("before the dump")) {
		t.Fatalf("the restored database decrypts: %v", err)
	}
	if r.Account() != a.Account() {
		t.Fatalf("restored account %v, want %v", r.Account(), a.Account())
	}
	// And it serves changes: a new key works.
	mustKey(t, r, "", "")

	dir := filepath.Join(t.TempDir(), "embedded")
	if _, err := Restore(RestoreOptions{DataDir: dir, RootKeyFile: cl.rootKey}, online.Backup); err != nil {
		t.Fatal(err)
	}
	e, err := Open(Options{DataDir: dir, RootKeyFile: cl.rootKey})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if dec, err := e.Decrypt(bg, e.testCall(), &DecryptRequest{CiphertextBlob: enc.CiphertextBlob}); err != nil || !bytes.Equal(dec.Plaintext, []byte("before the dump")) {
		t.Fatalf("the embedded restore of a shared store's backup decrypts: %v", err)
	}
}
