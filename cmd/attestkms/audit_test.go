package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/attestkms/attestkms/kms"
	"github.com/attestkms/attestkms/kms/audit"
)

// auditStore is a store in a new data directory whose audit log was
// rotated a few times (kms.Options.AuditMaxSize), with the server stopped.
func auditStore(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	acct, cred, err := kms.Init(kms.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := kms.Open(kms.Options{DataDir: dir, AuditMaxSize: 2000})
	if err != nil {
		t.Fatal(err)
	}
	c := &kms.Call{RequestID: "t", Dialect: "test",
		Principal: &kms.Principal{AccessKeyID: cred.AccessKeyID, Name: "admin", ARN: "arn:aws:iam::" + acct.AccountID + ":root"}}
	for range 12 {
		k, err := svc.CreateKey(context.Background(), c, &kms.CreateKeyRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Encrypt(context.Background(), c, &kms.EncryptRequest{KeyID: k.KeyID, Plaintext: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	svc.Close()
	// The last two lines, in the current file whatever the rotations did
	// (lines' lengths vary with their times): a change and a use.
	svc, err = kms.Open(kms.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	k, err := svc.CreateKey(context.Background(), c, &kms.CreateKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Encrypt(context.Background(), c, &kms.EncryptRequest{KeyID: k.KeyID, Plaintext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	svc.Close()
	return dir
}

func fileLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

func writeLines(t *testing.T, path string, ls [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, append(bytes.Join(ls, []byte("\n")), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAuditVerify: attestkms audit verify checks the chain across rotated
// files (exit 0 and the head), names the first edited, removed or swapped
// line (exit 1), finds the newest lines cut off by the store's record of
// its last change, starts later with --from, and exits 2 and 3 on usage and
// unreadable input.
func TestAuditVerify(t *testing.T) {
	dir := auditStore(t)
	log := filepath.Join(dir, "audit.log")
	code, out, errs := runCmd("audit", "verify", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "audit log intact") || !strings.Contains(out, "audit.log.1: seq 1 to") ||
		!strings.Contains(out, "head: seq ") || !strings.Contains(out, "the store's last change is recorded at seq") {
		t.Fatalf("intact: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Stat(log + ".3"); err != nil {
		t.Fatalf("not rotated: %v", err)
	}
	mid := log + ".2"
	pristine, _ := os.ReadFile(mid)
	for name, tc := range map[string]struct {
		edit func(ls [][]byte) [][]byte
		want string
	}{
		"edited": {func(ls [][]byte) [][]byte {
			ls[1] = bytes.Replace(ls[1], []byte(`"ok"`), []byte(`"error"`), 1)
			return ls
		}, "was altered"},
		"removed": {func(ls [][]byte) [][]byte { return append(ls[:1:1], ls[2:]...) }, "is missing"},
		"swapped": {func(ls [][]byte) [][]byte { ls[1], ls[2] = ls[2], ls[1]; return ls }, "lines were reordered"},
	} {
		writeLines(t, mid, tc.edit(fileLines(t, mid)))
		code, out, _ := runCmd("audit", "verify", "--data-dir", dir)
		if code != 1 || !strings.HasPrefix(out, "audit log broken at "+mid+":2: seq ") || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d\n%s", name, code, out)
		}
		os.WriteFile(mid, pristine, 0o600)
	}

	// The newest lines cut off: the chain holds, the store's seq says not.
	cur, _ := os.ReadFile(log)
	ls := fileLines(t, log)
	writeLines(t, log, ls[:len(ls)-2])
	if code, out, _ := runCmd("audit", "verify", "--data-dir", dir); code != 1 || !strings.Contains(out, "newest lines were removed") {
		t.Errorf("a cut log: exit %d\n%s", code, out)
	}
	if code, out, _ := runCmd("audit", "verify", "--audit-path", log); code != 0 {
		t.Errorf("a cut log without the store to compare: exit %d\n%s", code, out)
	}
	os.WriteFile(log, cur, 0o600)

	// Without the first file: broken, unless the check starts later.
	archive := filepath.Join(t.TempDir(), "audit.log.1")
	os.Rename(log+".1", archive)
	if code, out, _ := runCmd("audit", "verify", "--data-dir", dir); code != 1 || !strings.Contains(out, "not at its anchor") {
		t.Errorf("without the first file: exit %d\n%s", code, out)
	}
	if code, out, _ := runCmd("audit", "verify", "--data-dir", dir, "--from", log+".2"); code != 0 || !strings.Contains(out, "the check starts at seq") {
		t.Errorf("--from the oldest kept: exit %d\n%s", code, out)
	}
	if code, out, _ := runCmd("audit", "verify", "--data-dir", dir, "--from", archive); code != 0 || !strings.Contains(out, "from its anchor") {
		t.Errorf("--from an archived file: exit %d\n%s", code, out)
	}

	for _, args := range [][]string{{"audit"}, {"audit", "verify"}, {"audit", "frob"}, {"audit", "verify", "--data-dir", dir, "extra"}} {
		if code, _, _ := runCmd(args...); code != 2 {
			t.Errorf("%v: exit %d; want 2", args, code)
		}
	}
	if code, _, errs := runCmd("audit", "verify", "--audit-path", filepath.Join(t.TempDir(), "none.log")); code != 3 {
		t.Errorf("no log: exit %d %s", code, errs)
	}
	if code, _, errs := runCmd("audit", "verify", "--data-dir", dir, "--from", filepath.Join(dir, "nothing")); code != 3 {
		t.Errorf("an unreadable --from: exit %d %s", code, errs)
	}
	// An intact log whose store is missing cannot be compared with it:
	// unreadable input (3), not a broken log (1).
	noStore := t.TempDir()
	for _, name := range []string{"audit.log"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(noStore, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, errs := runCmd("audit", "verify", "--data-dir", noStore); code != 3 || !strings.Contains(errs, "kms.db") {
		t.Errorf("a log without its store: exit %d %s", code, errs)
	}
	if code, out, _ := runCmd("audit", "--help"); code != 0 || !strings.Contains(out, "Exit status") {
		t.Errorf("help: %d %s", code, out)
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1000": 1000, "100MiB": 100 << 20, "1GiB": 1 << 30, "64KiB": 64 << 10, "5MB": 5e6, "7B": 7} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("%q = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5GiB", "10XB", "99999999999TiB"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	b := byteSize(100 << 20)
	if b.String() != "100MiB" {
		t.Errorf("String = %s", b.String())
	}
}

// checkChangeRecords: after the server was killed at random instants, the
// audit chain holds, every key a client was told was created has its
// CreateKey change record, and every CreateKey change record not voided
// names a key that exists: no change without its record, no record of a
// change that did not happen.
func checkChangeRecords(t *testing.T, c *awskms.Client, dataDir string, acked []string) {
	t.Helper()
	if code, out, _ := runCmd("audit", "verify", "--data-dir", dataDir); code != 0 {
		t.Fatalf("audit verify after SIGKILLs: exit %d\n%s", code, out)
	}
	exists := map[string]bool{}
	var marker *string
	for {
		out, err := c.ListKeys(context.Background(), &awskms.ListKeysInput{Marker: marker})
		for try := 0; err != nil && strings.Contains(err.Error(), "use of closed network connection") && try < 3; try++ {
			// Seen twice in CI (1 run in ~10): the client's read of a 200
			// answer failed on a connection closed on the client's side
			// (net.ErrClosed). A known race of the AWS SDK for Go v2 with
			// net/http's transport (aws/aws-sdk-go-v2#1825, #2737), which
			// the SDK answers by retrying net.ErrClosed by default
			// (aws/aws-sdk-go-v2#2949) — a retry this client switches off
			// (RetryMaxAttempts: 1, so that a kill is seen at once). A read
			// changes nothing, so it is asked again, as the SDK would.
			t.Logf("ListKeys: %v; again", err)
			out, err = c.ListKeys(context.Background(), &awskms.ListKeysInput{Marker: marker})
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range out.Keys {
			exists[*k.KeyId] = true
		}
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	recorded, voided := map[uint64]string{}, map[uint64]bool{}
	for _, line := range fileLines(t, filepath.Join(dataDir, "audit.log")) {
		var r audit.Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		switch {
		case r.Change && r.Operation == "CreateKey":
			recorded[r.Seq] = r.KeyARN[strings.LastIndex(r.KeyARN, "/")+1:]
		case r.Voids != 0:
			voided[r.Voids] = true
		}
	}
	committed := map[string]bool{}
	for seq, id := range recorded {
		if voided[seq] {
			if exists[id] {
				t.Errorf("key %s exists, but its CreateKey record (seq %d) is voided", id, seq)
			}
			continue
		}
		committed[id] = true
		if !exists[id] {
			t.Errorf("the CreateKey record seq %d names key %s, which does not exist", seq, id)
		}
	}
	for id := range exists {
		if !committed[id] {
			t.Errorf("key %s exists without its CreateKey record", id)
		}
	}
	for _, id := range acked {
		if !committed[id] {
			t.Errorf("acknowledged key %s has no CreateKey record", id)
		}
	}
	t.Logf("%d keys, %d CreateKey records, %d voided", len(exists), len(recorded), len(voided))
}

// TestAuditVerifyLongLine: a line longer than the server ever writes is an
// altered log, broken there (exit 1 with its file and line), not an
// unreadable one (exit 3) — wherever it is: the first line of a file (read
// to put the files in chain order) or inside one.
func TestAuditVerifyLongLine(t *testing.T) {
	dir := auditStore(t)
	mid := filepath.Join(dir, "audit.log.2")
	pristine, err := os.ReadFile(mid)
	if err != nil {
		t.Fatal(err)
	}
	long := bytes.Repeat([]byte("a"), 2<<20)
	for _, at := range []int{0, 1} {
		ls := fileLines(t, mid)
		ls = append(ls[:at:at], append([][]byte{long}, ls[at:]...)...)
		writeLines(t, mid, ls)
		code, out, errs := runCmd("audit", "verify", "--data-dir", dir)
		want := fmt.Sprintf("audit log broken at %s:%d: a line longer than", mid, at+1)
		if code != 1 || !strings.HasPrefix(out, want) {
			t.Errorf("a long line %d: exit %d\n%s%s", at+1, code, out, errs)
		}
		if code, out, errs := runCmd("audit", "verify", "--data-dir", dir, "--from", mid); code != 1 || !strings.HasPrefix(out, want) {
			t.Errorf("a long line %d, --from it: exit %d\n%s%s", at+1, code, out, errs)
		}
		os.WriteFile(mid, pristine, 0o600)
	}
}

// TestAuditVerifyEmptied: a log emptied of its chain (its rotated files
// deleted and the current one emptied, or left with lines that are not the
// chain's) is broken (exit 1) when the store has committed changes the log
// must hold; without the store to compare, there is no log to check (3).
func TestAuditVerifyEmptied(t *testing.T) {
	dir := auditStore(t)
	log := filepath.Join(dir, "audit.log")
	rotated, _ := filepath.Glob(log + ".*")
	for _, f := range rotated {
		os.Remove(f)
	}
	for name, content := range map[string]string{"emptied": "", "not the chain's": "{\"message\":\"nothing happened\"}\n"} {
		os.WriteFile(log, []byte(content), 0o600)
		code, out, errs := runCmd("audit", "verify", "--data-dir", dir)
		if code != 1 || !strings.Contains(out, "audit log broken at "+log+": no line of the chain is left") {
			t.Errorf("%s: exit %d\n%s%s", name, code, out, errs)
		}
		if code, out, errs := runCmd("audit", "verify", "--audit-path", log); code != 3 {
			t.Errorf("%s, without the store: exit %d\n%s%s", name, code, out, errs)
		}
	}
}
