package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/internal/pgtest"
	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
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

// damage is a way to damage kms.db's bytes.
type damage struct {
	name string
	fn   func(b []byte) []byte
	want string
}

// flipAll changes the byte at off from the start of every occurrence of pat
// in b (each page that holds the record: bbolt keeps freed copies).
func flipAll(t *testing.T, pat string, off int) func([]byte) []byte {
	return func(b []byte) []byte {
		n := 0
		for i := 0; ; {
			j := bytes.Index(b[i:], []byte(pat))
			if j < 0 {
				break
			}
			// Another character of base64, or JSON that does not decode.
			if off == 0 {
				b[i+j] = '['
			} else if b[i+j+off] != 'A' {
				b[i+j+off] = 'A'
			} else {
				b[i+j+off] = 'B'
			}
			i += j + 1
			n++
		}
		if n == 0 {
			t.Fatalf("no %q in kms.db", pat)
		}
		return b
	}
}

// pageOf applies fn to the page header of every page holding pat.
func pageOf(t *testing.T, pat string, fn func(hdr []byte)) func([]byte) []byte {
	return func(b []byte) []byte {
		n := 0
		for i := 0; ; {
			j := bytes.Index(b[i:], []byte(pat))
			if j < 0 {
				break
			}
			p := (i + j) / 4096 * 4096
			fn(b[p : p+16])
			i += j + 1
			n++
		}
		if n == 0 {
			t.Fatalf("no %q in kms.db", pat)
		}
		return b
	}
}

// TestDamagedStore: a kms.db damaged in any of several ways is "store
// damaged", naming the file, with a hint to restore: exit 1, no stack
// trace, nothing written, from serve and the offline commands; a wrong
// root key stays its own clear error.
func TestDamagedStore(t *testing.T) {
	base := t.TempDir()
	good := filepath.Join(base, "good")
	if code, _, errs := runCmd("init", "--data-dir", good); code != 0 {
		t.Fatalf("init: %s", errs)
	}
	if code, _, errs := runCmd("credential", "create", "--data-dir", good, "--name", "ops"); code != 0 {
		t.Fatalf("credential create: %s", errs)
	}
	orig, err := os.ReadFile(filepath.Join(good, "kms.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []damage{
		{"truncated", func(b []byte) []byte { return b[:len(b)/2+100] }, "store damaged"},
		{"truncated to one page", func(b []byte) []byte { return b[:4096] }, "truncated: 4096 bytes, but its pages reach"},
		{"zero-length", func([]byte) []byte { return nil }, "an empty file"},
		{"not bbolt", func(b []byte) []byte { return bytes.Repeat([]byte("not a database "), 3000) }, "invalid database"},
		{"a record's JSON", flipAll(t, `{"access_key_id"`, 0), `stored credentials`},
		// A changed sealed secret fails the record's MAC, which is checked
		// first (kms/protect.go).
		{"a sealed secret", flipAll(t, `","sealed_secret":"`, 25), `fails its integrity check`},
		{"a page's type", pageOf(t, `"sealed_secret"`, func(h []byte) { h[8], h[9] = 0x77, 0x77 }), "store damaged"},
		{"a page's count", pageOf(t, `"sealed_secret"`, func(h []byte) { h[10], h[11] = 0xff, 0x7f }), "store damaged"},
		{"a meta page", func(b []byte) []byte { b[4096+40] ^= 0xff; b[40] ^= 0xff; return b }, "store damaged"},
	} {
		t.Run(d.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			os.MkdirAll(dir, 0o700)
			for _, f := range []string{"root.key", "audit.log"} {
				b, _ := os.ReadFile(filepath.Join(good, f))
				os.WriteFile(filepath.Join(dir, f), b, 0o600)
			}
			db := filepath.Join(dir, "kms.db")
			os.WriteFile(db, d.fn(bytes.Clone(orig)), 0o600)
			want := []string{d.want, db, "hint: restore the store from a backup"}
			refused(t, dir, []string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"}, want...)
			refused(t, dir, []string{"credential", "list", "--data-dir", dir}, want...)
			refused(t, dir, []string{"init", "--data-dir", dir}, "already initialised")
		})
	}
	t.Run("wrong root key", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		os.MkdirAll(dir, 0o700)
		os.WriteFile(filepath.Join(dir, "kms.db"), orig, 0o600)
		os.WriteFile(filepath.Join(dir, "root.key"), []byte(base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n"), 0o600)
		refused(t, dir, []string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0"}, "root key does not open this store")
		refused(t, dir, []string{"credential", "list", "--data-dir", dir}, "root key does not open this store")
	})
}

// storeWithKeys is a stopped server's data directory holding two keys (one
// rotated), an alias and two credentials.
func storeWithKeys(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	addr, _, stop := startServe(t, serveConfig{dataDir: dir})
	var cred credentialJSON
	b, _ := os.ReadFile(filepath.Join(dir, "admin-credential.json"))
	json.Unmarshal(b, &cred)
	c := awsClient(t, addr, "us-east-1", cred)
	ctx := context.Background()
	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RotateKeyOnDemand(ctx, &awskms.RotateKeyOnDemandInput{KeyId: k.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: k.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: "ECC_NIST_P256", KeyUsage: "KEY_AGREEMENT"}); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCmd("credential", "create", "--data-dir", dir, "--name", "ops"); code != 0 {
		t.Fatalf("credential create: %s", errs)
	}
	return dir
}

// TestStoreCheck: attestkms store check and serve --check-store pass a
// sound store with a summary, and name what is wrong in a damaged one:
// a page (bbolt's check), a key's material that does not open.
func TestStoreCheck(t *testing.T) {
	dir := storeWithKeys(t)
	code, out, errs := runCmd("store", "check", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "sound: every page consistent") || !strings.Contains(out, "2 keys (3 materials), 1 aliases, 2 credentials") {
		t.Fatalf("store check of a sound store: exit %d\n%s%s", code, out, errs)
	}
	_, stderr, stop := startServe(t, serveConfig{dataDir: dir, checkStore: true})
	if !strings.Contains(stderr.String(), "2 keys (3 materials)") {
		t.Errorf("serve --check-store said no summary: %s", stderr)
	}
	if code, _, errs := runCmd("store", "check", "--data-dir", dir); code != 1 || !strings.Contains(errs, "in use") {
		t.Errorf("store check while serving: exit %d: %s", code, errs)
	}
	stop()

	for _, tc := range []struct {
		name string
		fn   func([]byte) []byte
		want string
	}{
		{"a page's overflow", pageOf(t, `"sealed_secret"`, func(h []byte) { h[12], h[13], h[14] = 0xff, 0xff, 0x7f }), "page check"},
		{"a key's material", flipAll(t, `"sealed":"`, 12), "material"},
		{"a key's spec", flipAll(t, `"spec":"SYMMETRIC_DEFAULT"`, 9), "spec"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := filepath.Join(t.TempDir(), "data")
			os.MkdirAll(d, 0o700)
			for _, f := range []string{"root.key", "audit.log", "kms.db"} {
				b, _ := os.ReadFile(filepath.Join(dir, f))
				if f == "kms.db" {
					b = tc.fn(b)
				}
				os.WriteFile(filepath.Join(d, f), b, 0o600)
			}
			db := filepath.Join(d, "kms.db")
			refused(t, d, []string{"store", "check", "--data-dir", d}, "store damaged: "+db, tc.want, "hint: restore the store from a backup")
			refused(t, d, []string{"serve", "--data-dir", d, "--check-store", "--listen", "127.0.0.1:0"}, "store damaged: "+db, tc.want)
		})
	}

	other := filepath.Join(t.TempDir(), "other.key")
	os.WriteFile(other, []byte(base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"store", "check", "--data-dir", dir, "--root-key-file", other}, 1, "root key does not open this store"},
		{[]string{"store"}, 2, "store check"},
		{[]string{"store", "check", "--bogus"}, 2, "bogus"},
		{[]string{"store", "check", "--data-dir", filepath.Join(dir, "nothing")}, 3, "not initialised"},
		{[]string{"store", "check", "--data-dir", dir, "--root-key-file", filepath.Join(dir, "nothing")}, 3, "no such file"},
	} {
		if code, out, errs := runCmd(tc.args...); code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, want %d saying %q\n%s%s", tc.args, code, tc.code, tc.want, out, errs)
		}
	}
}

// TestStoreCheckShared: store check of a PostgreSQL store opens every
// record and says it checks no pages.
func TestStoreCheckShared(t *testing.T) {
	u := pgtest.DB(t)
	rk := filepath.Join(t.TempDir(), "root.key")
	if code, _, errs := runCmd("init", "--store", u, "--root-key-file", rk); code != 0 {
		t.Fatalf("init --store: %s", errs)
	}
	code, out, errs := runCmd("store", "check", "--store", u, "--root-key-file", rk)
	if code != 0 || !strings.Contains(out, "no page check") || !strings.Contains(out, "0 keys (0 materials), 0 aliases, 1 credentials") {
		t.Fatalf("store check --store: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runCmd("store", "check", "--store", u); code != 2 || !strings.Contains(errs, "needs --root-key SPEC") {
		t.Errorf("store check --store without a root key: exit %d: %s", code, errs)
	}
}

// TestAdminCredentialOut: --admin-credential-out writes the first admin
// credential to a new 0600 file outside the data directory (init, serve's
// first start), refuses one that exists before making anything, and serve
// warns at every start while DIR/admin-credential.json is there.
func TestAdminCredentialOut(t *testing.T) {
	base := t.TempDir()
	out := filepath.Join(base, "admin.json")
	readCred := func(path string) credentialJSON {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", path, fi, err)
		}
		var c credentialJSON
		b, _ := os.ReadFile(path)
		if err := json.Unmarshal(b, &c); err != nil || c.AccessKeyID == "" || c.SecretAccessKey == "" {
			t.Fatalf("%s: %q %v", path, b, err)
		}
		return c
	}

	a := filepath.Join(base, "a")
	code, stdout, errs := runCmd("init", "--data-dir", a, "--admin-credential-out", out)
	if code != 0 || stdout != "" || !strings.Contains(errs, out) {
		t.Fatalf("init --admin-credential-out: exit %d, stdout %q, stderr %s", code, stdout, errs)
	}
	readCred(out)
	b := filepath.Join(base, "b")
	if code, _, errs := runCmd("init", "--data-dir", b, "--admin-credential-out", out); code != 1 || !strings.Contains(errs, "refusing to overwrite") {
		t.Errorf("init onto an existing --admin-credential-out: exit %d: %s", code, errs)
	}
	if _, err := os.Stat(b); !os.IsNotExist(err) {
		t.Errorf("a refused init made its data directory: %v", err)
	}
	err := serve(context.Background(), serveConfig{dataDir: b, listen: "127.0.0.1:0", adminCredentialOut: out}, &syncBuffer{}, nil)
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Errorf("serve onto an existing --admin-credential-out: %v", err)
	}
	if _, err := os.Stat(filepath.Join(b, "kms.db")); !os.IsNotExist(err) {
		t.Errorf("a refused serve made a store: %v", err)
	}

	// serve's first start with --admin-credential-out: the credential is
	// there and serves, nothing in the directory, no warning.
	out2 := filepath.Join(base, "admin2.json")
	addr, stderr, stop := startServe(t, serveConfig{dataDir: b, adminCredentialOut: out2})
	cred := readCred(out2)
	if _, err := awsClient(t, addr, "us-east-1", cred).ListKeys(context.Background(), &awskms.ListKeysInput{}); err != nil {
		t.Errorf("the credential written to --admin-credential-out: %v", err)
	}
	if _, err := os.Stat(filepath.Join(b, "admin-credential.json")); !os.IsNotExist(err) {
		t.Errorf("admin-credential.json in the data directory: %v", err)
	}
	if strings.Contains(stderr.String(), "warning: "+filepath.Join(b, "admin-credential.json")) || !strings.Contains(stderr.String(), out2) {
		t.Errorf("serve --admin-credential-out said: %s", stderr)
	}
	stop()

	// Without it: a warning at the first start and every later one, until
	// the file is moved out.
	c := filepath.Join(base, "c")
	const warning = "admin-credential.json holds the admin credential: move it out of the data directory and delete it: whoever reads the data directory then holds the admin credential"
	for i := range 3 {
		if i == 2 {
			os.Rename(filepath.Join(c, "admin-credential.json"), filepath.Join(base, "moved.json"))
		}
		_, stderr, stop := startServe(t, serveConfig{dataDir: c})
		if got := strings.Contains(stderr.String(), warning); got != (i < 2) {
			t.Errorf("start %d: warning %v: %s", i, got, stderr)
		}
		stop()
	}
}

// TestServeStoreFixture: the store the fixture holds (made before the
// store layer, of the current schema: kms/internal/store/bolt/testdata's
// README) passes store check, and serve serves it: its admin credential
// signs, and a ciphertext made then decrypts.
func TestServeStoreFixture(t *testing.T) {
	const fixture = "../../kms/internal/store/bolt/testdata/before-store-layer"
	dir := filepath.Join(t.TempDir(), "data")
	os.MkdirAll(dir, 0o700)
	for _, f := range []string{"kms.db", "root.key", "audit.log"} {
		b, err := os.ReadFile(filepath.Join(fixture, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o600)
	}
	var exp struct {
		Region string `json:"region"`
		Admin  struct {
			AccessKeyID string `json:"access_key_id"`
			Secret      string `json:"secret"`
		} `json:"admin"`
		Blobs []struct {
			Blob      []byte            `json:"blob"`
			Plaintext string            `json:"plaintext"`
			Context   map[string]string `json:"context"`
		} `json:"blobs"`
	}
	b, _ := os.ReadFile(filepath.Join(fixture, "expect.json"))
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runCmd("store", "check", "--data-dir", dir); code != 0 || !strings.Contains(out, "sound") || !strings.Contains(out, "attestkms store protect authenticates them") {
		t.Fatalf("store check of the fixture: exit %d\n%s%s", code, out, errs)
	}
	// Its records are not authenticated: serve refuses it until store
	// protect ran (once; a second run has nothing to do).
	before, _ := os.ReadFile(filepath.Join(dir, "kms.db"))
	if code, _, errs := runCmd("serve", "--data-dir", dir, "--region", exp.Region, "--listen", "127.0.0.1:0"); code != 1 ||
		!strings.Contains(errs, "not authenticated") || !strings.Contains(errs, "hint: after upgrading attestkms") || !strings.Contains(errs, "attestkms store protect") {
		t.Fatalf("serve of the unprotected fixture: exit %d, %q", code, errs)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "kms.db")); !bytes.Equal(before, after) {
		t.Fatal("the refused serve wrote the store")
	}
	if code, out, errs := runCmd("store", "protect", "--data-dir", dir, "extra"); code != 2 || out != "" || !strings.Contains(errs, "unexpected argument") {
		t.Fatalf("store protect with an argument: exit %d, %q, %q", code, out, errs)
	}
	if code, out, errs := runCmd("store", "protect", "--data-dir", dir); code != 0 || !strings.Contains(out, "every record is authenticated under the root key and digested from now on") {
		t.Fatalf("store protect: exit %d, %q, %q", code, out, errs)
	}
	if line := auditLineWith(t, dir, `"operation":"ProtectRecords"`, `"outcome":"ok"`); line == "" {
		t.Fatal("no audit record of the protection")
	}
	if code, out, errs := runCmd("store", "protect", "--data-dir", dir); code != 0 || !strings.Contains(out, "authenticated and digested already: nothing to do") {
		t.Fatalf("store protect again: exit %d, %q, %q", code, out, errs)
	}
	if code, out, errs := runCmd("store", "check", "--data-dir", dir); code != 0 || !strings.Contains(out, "every record's MAC verifies") || !strings.Contains(out, "records digest sums") {
		t.Fatalf("store check after protect: exit %d\n%s%s", code, out, errs)
	}
	addr, _, _ := startServe(t, serveConfig{dataDir: dir, region: exp.Region, checkStore: true})
	c := awsClient(t, addr, exp.Region, credentialJSON{AccessKeyID: exp.Admin.AccessKeyID, SecretAccessKey: exp.Admin.Secret})
	for _, bl := range exp.Blobs {
		out, err := c.Decrypt(context.Background(), &awskms.DecryptInput{CiphertextBlob: bl.Blob, EncryptionContext: bl.Context})
		if err != nil || string(out.Plaintext) != bl.Plaintext {
			t.Fatalf("Decrypt of the fixture's %q: %v", bl.Plaintext, err)
		}
	}
}
