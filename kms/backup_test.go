package kms

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// TestBackupUnderLoadRestores: an online backup taken while keys are made
// and used restores into a new directory where every key present at backup
// time decrypts the ciphertexts made under it before, with its aliases,
// all its material versions and the account's credentials.
func TestBackupUnderLoadRestores(t *testing.T) {
	s, clk := newTestService(t)
	admin := s.adminCall(t)
	type ct struct{ key, blob, plain []byte }
	var before []ct
	var keys []string
	for i := range 4 {
		md := mustKey(t, s, "", "")
		keys = append(keys, md.KeyID)
		if i == 0 {
			if _, err := s.RotateKeyOnDemand(bg, s.testCall(), &RotateKeyOnDemandRequest{KeyID: md.KeyID}); err != nil {
				t.Fatal(err)
			}
		}
		dk, err := s.GenerateDataKey(bg, s.testCall(), &GenerateDataKeyRequest{KeyID: md.KeyID, NumberOfBytes: 32})
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, ct{[]byte(md.KeyID), dk.CiphertextBlob, dk.Plaintext})
	}
	if _, err := s.CreateAlias(bg, s.testCall(), &CreateAliasRequest{AliasName: "alias/backed-up", TargetKeyID: keys[1]}); err != nil {
		t.Fatal(err)
	}
	// Scoped credentials: a secret is sealed bound to its admin
	// permission, identity policy and expiry, which must survive intact
	// (an admin carries no identity policy: two credentials).
	ops := mustCredential(t, s, &CreateCredentialRequest{Name: "ops", Admin: true, ExpiresIn: 90 * time.Minute})
	ci := mustCredential(t, s, &CreateCredentialRequest{Name: "ci", ExpiresIn: 90 * time.Minute,
		IdentityPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var load []ct // data keys the load made, in the order they were answered
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				md, err := s.CreateKey(bg, s.testCall(), &CreateKeyRequest{})
				if err != nil {
					t.Error(err)
					return
				}
				dk, err := s.GenerateDataKey(bg, s.testCall(), &GenerateDataKeyRequest{KeyID: md.KeyID, NumberOfBytes: 32})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				load = append(load, ct{[]byte(md.KeyID), dk.CiphertextBlob, dk.Plaintext})
				mu.Unlock()
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	// Every data key answered before the backup starts is under a key the
	// backup holds.
	mu.Lock()
	before = append(before, load...)
	mu.Unlock()
	resp, err := s.Backup(bg, admin, &BackupRequest{})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d data keys before the backup, %d keys in it, %d made by the load in all", len(before), resp.Header.Keys, len(load))
	if resp.Header.Keys < 4 || resp.Header.Credentials != 3 || resp.Header.Aliases != 1 {
		t.Fatalf("header %+v", resp.Header)
	}
	if bytes.Contains(resp.Backup, []byte(mustReadRootB64(t, s))) {
		t.Fatal("the backup holds the root key")
	}
	if r := lastRecord(t, s, "Backup"); r.Outcome != "ok" || !strings.Contains(r.Message, "backup of") {
		t.Fatalf("audit record %+v", r)
	}
	// Only an admin may.
	if _, err := s.Backup(bg, &Call{RequestID: "x"}, &BackupRequest{}); !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("unauthenticated Backup = %v", err)
	}

	newDir := filepath.Join(t.TempDir(), "restored")
	res, err := Restore(RestoreOptions{DataDir: newDir, RootKeyFile: filepath.Join(s.opts.DataDir, "root.key"), Source: "test.bak", Now: clk.now}, resp.Backup)
	if err != nil {
		t.Fatal(err)
	}
	if res.Header != *resp.Header {
		t.Fatalf("restore's header %+v, backup's %+v", res.Header, *resp.Header)
	}
	r, err := Open(Options{DataDir: newDir, RootKeyFile: filepath.Join(s.opts.DataDir, "root.key"), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Account() != s.Account() || r.Region() != s.Region() {
		t.Fatalf("restored account %v %s, want %v %s", r.Account(), r.Region(), s.Account(), s.Region())
	}
	for _, c := range before {
		out, err := r.Decrypt(bg, r.testCall(), &DecryptRequest{CiphertextBlob: c.blob})
		if err != nil || !bytes.Equal(out.Plaintext, c.plain) {
			t.Fatalf("restored store decrypts %s's ciphertext: %v", c.key, err)
		}
	}
	if a, err := r.st.Alias(bg, "alias/backed-up"); err != nil || a.KeyID != keys[1] {
		t.Fatalf("alias %+v, %v", a, err)
	}
	if k, err := r.st.Key(bg, keys[0]); err != nil || len(k.Materials) != 2 {
		t.Fatalf("rotated key %v, %v", k, err)
	}
	if len(r.listCredentials()) != 3 {
		t.Fatal("credentials not restored")
	}
	r.callAs(t, ops.AccessKeyID) // the scoped credentials authenticate
	r.callAs(t, ci.AccessKeyID)
	recs := auditRecords(t, r)
	found := false
	for _, rec := range recs {
		if rec.Operation == "Restore" && strings.Contains(rec.Message, "test.bak") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no Restore record in the new audit log: %+v", recs)
	}
}

func mustReadRootB64(t *testing.T, s *Service) string {
	b, err := os.ReadFile(filepath.Join(s.opts.DataDir, "root.key"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// smallBackup is a backup of a store of one key, offline, and its root key file.
func smallBackup(t *testing.T) (s *Service, dir string, backup []byte) {
	t.Helper()
	s, _ = newTestService(t)
	mustKey(t, s, "", "")
	dir = s.opts.DataDir
	s.Close()
	var buf bytes.Buffer
	if _, err := BackupOffline(Options{DataDir: dir}, &buf); err != nil {
		t.Fatal(err)
	}
	return s, dir, buf.Bytes()
}

// TestRestoreRefusesAnyChangedByte: flipping any byte of a backup makes
// restore refuse, and write nothing.
func TestRestoreRefusesAnyChangedByte(t *testing.T) {
	_, dir, b := smallBackup(t)
	root := filepath.Join(dir, rootKeyFile)
	target := filepath.Join(t.TempDir(), "new")
	for i := range b {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		if _, err := Restore(RestoreOptions{DataDir: target, RootKeyFile: root}, c); !errors.Is(err, ErrBackupInvalid) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
		if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("byte %d flipped: restore wrote %s", i, target)
		}
	}
	for _, n := range []int{0, 1, len(b) / 2, len(b) - 1} {
		if _, err := Restore(RestoreOptions{DataDir: target, RootKeyFile: root}, b[:n]); !errors.Is(err, ErrBackupInvalid) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	if _, err := Restore(RestoreOptions{DataDir: target, RootKeyFile: root}, b); err != nil {
		t.Fatalf("the unchanged backup: %v", err)
	}
}

func TestRestoreRefusesNonEmptyTargetAndWrongRootKey(t *testing.T) {
	_, dir, b := smallBackup(t)
	root := filepath.Join(dir, rootKeyFile)
	target := t.TempDir()
	os.WriteFile(filepath.Join(target, "x"), nil, 0o600)
	if _, err := Restore(RestoreOptions{DataDir: target, RootKeyFile: root}, b); !errors.Is(err, ErrTargetNotEmpty) {
		t.Fatalf("non-empty target: %v", err)
	}
	other := filepath.Join(t.TempDir(), "other.key")
	if _, err := createRootKey(other); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	if _, err := Restore(RestoreOptions{DataDir: empty, RootKeyFile: other}, b); !errors.Is(err, ErrBackupInvalid) {
		t.Fatalf("wrong root key: %v", err)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Fatalf("wrong root key: restore wrote %v", ents)
	}
	// And the offline backup under a wrong root key is refused too.
	if _, err := BackupOffline(Options{DataDir: dir, RootKeyFile: other}, &bytes.Buffer{}); !errors.Is(err, ErrRootKeyMismatch) {
		t.Fatalf("offline backup under another root key: %v", err)
	}
}

// TestRestoreListsResurrectedKeys: a key destroyed after the backup comes
// back with the restore, and Restore says so when given the live store.
func TestRestoreListsResurrectedKeys(t *testing.T) {
	s, clk := newTestService(t)
	doomed := mustKey(t, s, "", "").KeyID
	disabled := mustKey(t, s, "", "").KeyID
	resp, err := s.Backup(bg, s.adminCall(t), &BackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ScheduleKeyDeletion(bg, s.testCall(), &ScheduleKeyDeletionRequest{KeyID: doomed, PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DisableKey(bg, s.testCall(), &DisableKeyRequest{KeyID: disabled}); err != nil {
		t.Fatal(err)
	}
	later := mustKey(t, s, "", "").KeyID
	clk.add(8 * 24 * time.Hour)
	if r, err := s.Admin().Maintain(bg); err != nil || r.Destroyed != 1 {
		t.Fatalf("Maintain = %+v, %v", r, err)
	}
	if _, err := s.st.Key(bg, doomed); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("not destroyed")
	}
	live := s.opts.DataDir
	s.Close()
	res, err := Restore(RestoreOptions{DataDir: filepath.Join(t.TempDir(), "r"), RootKeyFile: filepath.Join(live, rootKeyFile), Live: live}, resp.Backup)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Resurrected) != 1 || res.Resurrected[0] != doomed {
		t.Fatalf("Resurrected = %v, want [%s]", res.Resurrected, doomed)
	}
	if len(res.StateDiffers) != 1 || res.StateDiffers[0] != (StateDiff{disabled, string(Enabled), string(Disabled)}) {
		t.Fatalf("StateDiffers = %+v", res.StateDiffers)
	}
	if len(res.LiveOnly) != 1 || res.LiveOnly[0] != later {
		t.Fatalf("LiveOnly = %v, want [%s]", res.LiveOnly, later)
	}
	// A database writer's change to the live store does not shape the
	// report that decides whether to restore: the live records are
	// verified, and a changed one refuses the comparison.
	tamperRecord(t, live, "keys", disabled, func(rec map[string]any) { rec["state"] = string(Enabled) })
	if _, err := Restore(RestoreOptions{DataDir: filepath.Join(t.TempDir(), "r2"), RootKeyFile: filepath.Join(live, rootKeyFile), Live: live}, resp.Backup); !errors.Is(err, store.ErrIntegrity) {
		t.Fatalf("a tampered live store compared: %v", err)
	}
}

func BenchmarkBackup(b *testing.B) {
	s, _ := newTestService(b)
	for range 20 {
		mustKey(b, s, "", "")
	}
	c := s.adminCall(b)
	for b.Loop() {
		if _, err := s.Backup(bg, c, &BackupRequest{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBackupCountsCannotOverflow: a backup whose MAC verifies (made by the
// holder of the root key) but whose header counts sum, overflowing, to its
// number of lines is refused, not sliced out of range.
func TestBackupCountsCannotOverflow(t *testing.T) {
	s, _, b := smallBackup(t)
	body := b[:len(b)-len("mac ")-65]
	lines := bytes.Split(body[len(backupMagic):len(body)-1], []byte("\n"))
	var h map[string]any
	if err := json.Unmarshal(lines[0], &h); err != nil {
		t.Fatal(err)
	}
	// MaxInt + MaxInt ≡ -2: with credentials = lines-1 the sum is the
	// number of lines.
	h["keys"], h["aliases"], h["credentials"] = math.MaxInt, math.MaxInt, len(lines)-1
	hl, _ := json.Marshal(h)
	hl = bytes.Replace(hl, []byte("9.223372036854776e+18"), []byte("9223372036854775807"), -1)
	lines[0] = hl
	nb := append([]byte(backupMagic), bytes.Join(lines, []byte("\n"))...)
	nb = append(nb, '\n')
	mac := s.sealer.BackupMAC()
	mac.Write(nb)
	nb = fmt.Appendf(nb, "mac %x\n", mac.Sum(nil))
	if _, err := parseBackup(nb, s.sealer); !errors.Is(err, ErrBackupInvalid) || !strings.Contains(err.Error(), "header counts") {
		t.Fatalf("overflowing counts: %v", err)
	}
}
