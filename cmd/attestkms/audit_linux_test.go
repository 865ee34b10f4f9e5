//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
)

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestServeSIGHUPReopensAuditLog: SIGHUP makes serve reopen its audit log
// (what logrotate does: rename, then SIGHUP) instead of killing it; the
// lines after it land in the new file, the chain runs through both, and
// SIGTERM still shuts it down cleanly.
func TestServeSIGHUPReopensAuditLog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a server")
	}
	bin := buildBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	cmd, addr := startChild(t, bin, dataDir, "--audit-max-size", "0")
	c := client(t, dataDir, addr)
	ctx := context.Background()
	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dataDir, "audit.log")
	rotated := log + ".1"
	if err := os.Rename(log, rotated); err != nil {
		t.Fatal(err)
	}
	// Until the SIGHUP, lines go on to the renamed file.
	if _, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: k.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new audit log", func() bool { _, err := os.Stat(log); return err == nil })
	if _, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("after the SIGHUP")}); err != nil {
		t.Fatalf("after SIGHUP: %v", err)
	}
	old, cur := fileLines(t, rotated), fileLines(t, log)
	if !bytes.Contains(old[len(old)-1], []byte(`"operation":"DescribeKey"`)) || !bytes.Contains(cur[0], []byte(`"operation":"ReopenAuditLog"`)) ||
		!bytes.Contains(cur[len(cur)-1], []byte(`"operation":"Encrypt"`)) {
		t.Fatalf("renamed:\n%s\nnew:\n%s", bytes.Join(old, []byte("\n")), bytes.Join(cur, []byte("\n")))
	}
	if code, out, _ := runCmd("audit", "verify", "--data-dir", dataDir); code != 0 || !bytes.Contains([]byte(out), []byte("in 2 files")) {
		t.Fatalf("audit verify: exit %d\n%s", code, out)
	}
	// A second SIGHUP without a rename changes nothing.
	cmd.Process.Signal(syscall.SIGHUP)
	if _, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM after SIGHUPs: %v", err)
	}
	if cur := fileLines(t, log); bytes.Count(bytes.Join(cur, nil), []byte("ReopenAuditLog")) != 1 {
		t.Fatalf("a SIGHUP without a rename reopened:\n%s", bytes.Join(cur, []byte("\n")))
	}
	if code, out, _ := runCmd("audit", "verify", "--data-dir", dataDir); code != 0 {
		t.Fatalf("audit verify: exit %d\n%s", code, out)
	}
}

// setFileSizeLimit sets the soft RLIMIT_FSIZE of process pid: no file it
// writes grows past limit bytes (its writes fail with EFBIG; SIGXFSZ, which
// a Go program does not ask for, is ignored).
func setFileSizeLimit(t *testing.T, pid int, limit uint64) {
	t.Helper()
	var old syscall.Rlimit
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_FSIZE, 0, uintptr(unsafe.Pointer(&old)), 0, 0); errno != 0 {
		t.Fatal(errno)
	}
	lim := syscall.Rlimit{Cur: limit, Max: old.Max}
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_FSIZE, uintptr(unsafe.Pointer(&lim)), 0, 0, 0); errno != 0 {
		t.Fatal(errno)
	}
}

// TestServeFullAuditDisk: a server whose audit log cannot grow (a file-size
// limit, as a full disk) refuses changes and secrets cleanly — an internal
// error, nothing created, no data key — while it answers reads of public
// data; once the limit is lifted it serves everything again by itself, and
// the chain holds, with a line counting what could not be written.
func TestServeFullAuditDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a server")
	}
	bin := buildBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	cmd, addr := startChild(t, bin, dataDir, "--audit-max-size", "0")
	c := client(t, dataDir, addr)
	ctx := context.Background()
	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	id := k.KeyMetadata.KeyId
	log := filepath.Join(dataDir, "audit.log")
	fi, _ := os.Stat(log)
	db, _ := os.Stat(filepath.Join(dataDir, "kms.db"))
	// The limit: the log's size and a little, far above the store's.
	limit := max(fi.Size(), db.Size()) + 4096
	setFileSizeLimit(t, cmd.Process.Pid, uint64(limit))
	for i := 0; ; i++ {
		if _, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: id}); err != nil {
			t.Fatalf("DescribeKey as the log fills: %v", err)
		}
		if fi, _ := os.Stat(log); fi.Size() > limit-600 || i > 100 {
			break
		}
	}
	before, _ := c.ListKeys(ctx, &awskms.ListKeysInput{})
	internal := func(what string, err error) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "KMSInternalException" {
			t.Fatalf("%s with the audit log full: %v; want KMSInternalException", what, err)
		}
	}
	for range 3 {
		_, err := c.CreateKey(ctx, &awskms.CreateKeyInput{})
		internal("CreateKey", err)
	}
	gdk, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: id, KeySpec: "AES_256"})
	internal("GenerateDataKey", err)
	if gdk != nil {
		t.Fatal("a data key left unaudited")
	}
	_, err = c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: id})
	internal("DisableKey", err)
	// Public reads go on; nothing changed.
	if d, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: id}); err != nil || !d.KeyMetadata.Enabled {
		t.Fatalf("DescribeKey with the audit log full: %v", err)
	}
	after, err := c.ListKeys(ctx, &awskms.ListKeysInput{})
	if err != nil || len(after.Keys) != len(before.Keys) {
		t.Fatalf("ListKeys with the audit log full: %v (%d keys, %d before)", err, len(after.Keys), len(before.Keys))
	}
	if fi, _ := os.Stat(log); fi.Size() > limit {
		t.Fatalf("the log grew past its limit: %d", fi.Size())
	}
	// The probes: alive, and not ready.
	if code, _ := get(t, "http://"+addr+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz with the audit log full: %d", code)
	}
	if code, body := get(t, "http://"+addr+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with the audit log full: %d %q; want 503", code, body)
	}

	// Space returns: ready again, the next request is served, and all is
	// audited again.
	setFileSizeLimit(t, cmd.Process.Pid, ^uint64(0))
	if code, body := get(t, "http://"+addr+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz once space returned: %d %q", code, body)
	}
	if _, err := c.CreateKey(ctx, &awskms.CreateKeyInput{}); err != nil {
		t.Fatalf("CreateKey once space returned: %v", err)
	}
	if _, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: id, KeySpec: "AES_256"}); err != nil {
		t.Fatalf("GenerateDataKey once space returned: %v", err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if code, out, _ := runCmd("audit", "verify", "--data-dir", dataDir); code != 0 {
		t.Fatalf("audit verify: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(log); !bytes.Contains(b, []byte(`"operation":"AuditLogRecovered"`)) || !bytes.Contains(b, []byte("file too large")) {
		t.Fatal("no line counts what could not be written")
	}
}
