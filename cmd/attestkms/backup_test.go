package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/attestkms/attestkms/kms"
)

// TestBackupWhileServingRestores: backup --endpoint while clients create
// keys and data keys → restore into a new directory → a server on it
// decrypts, through the AWS SDK, every ciphertext made before the backup,
// including those of a key destroyed since, which restore --live lists.
// A changed byte, a non-empty target, another root key: refused, nothing
// written. The offline backup is refused while the server holds the store,
// and works once it is stopped.
func TestBackupWhileServingRestores(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	code, out, errs := runCmd("init", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	admin := parseCredential(t, out)
	adminFile := writeTemp(t, tmp, "admin.json", out)
	addr, _, stop := startServe(t, serveConfig{dataDir: dir})
	endpoint := "http://" + addr
	ctx := context.Background()
	kc := awsClient(t, addr, "us-east-1", admin)
	type sealed struct{ blob, plain []byte }
	var before []sealed
	var doomed string // destroyed after both backups: restore brings it back
	for range 3 {
		k, err := kc.CreateKey(ctx, &awskms.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		if doomed == "" {
			doomed = *k.KeyMetadata.KeyId
		}
		dk, err := kc.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: k.KeyMetadata.KeyId, NumberOfBytes: awsInt32(32)})
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, sealed{dk.CiphertextBlob, dk.Plaintext})
	}
	stopLoad := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var load []sealed // data keys the load made, in the order they were answered
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				k, err := kc.CreateKey(ctx, &awskms.CreateKeyInput{})
				var dk *awskms.GenerateDataKeyOutput
				if err == nil {
					dk, err = kc.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: k.KeyMetadata.KeyId, NumberOfBytes: awsInt32(32)})
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				load = append(load, sealed{dk.CiphertextBlob, dk.Plaintext})
				mu.Unlock()
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // the load runs
	// Every data key answered before the backup starts is under a key the
	// backup holds: the restored stores must decrypt it.
	mu.Lock()
	before = append(before, load...)
	mu.Unlock()
	online := filepath.Join(tmp, "online.bak")
	code, _, errs = runCmd("backup", "--endpoint", endpoint, "--credential", adminFile, "--out", online)
	close(stopLoad)
	wg.Wait()
	if code != 0 || !strings.Contains(errs, "credentials written to") {
		t.Fatalf("backup --endpoint: exit %d %s", code, errs)
	}
	// Only an admin credential may: exit 1, nothing written.
	code, out, errs = runCmd("credential", "create", "--endpoint", endpoint, "--credential", adminFile, "--name", "reader")
	if code != 0 {
		t.Fatalf("credential create: %d %s", code, errs)
	}
	readerFile := writeTemp(t, tmp, "reader.json", out)
	denied := filepath.Join(tmp, "denied.bak")
	code, _, errs = runCmd("backup", "--endpoint", endpoint, "--credential", readerFile, "--out", denied)
	if code != 1 || !strings.Contains(errs, "AccessDeniedException") || !strings.Contains(errs, "hint: only a credential with the admin permission") {
		t.Fatalf("backup with a non-admin credential: exit %d %s", code, errs)
	}
	if _, err := os.Stat(denied); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a refused backup wrote --out")
	}
	// --out is never overwritten.
	if code, _, errs = runCmd("backup", "--endpoint", endpoint, "--credential", adminFile, "--out", online); code != 1 || !strings.Contains(errs, "exists") {
		t.Fatalf("backup over an existing --out: exit %d %s", code, errs)
	}
	// Offline while the server holds the store: refused, with the way.
	if code, _, errs = runCmd("backup", "--data-dir", dir, "--out", filepath.Join(tmp, "x.bak")); code != 1 || !strings.Contains(errs, "--endpoint") {
		t.Fatalf("offline backup while serving: exit %d %s", code, errs)
	}
	if _, err := kc.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: &doomed, PendingWindowInDays: awsInt32(7)}); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	offline := filepath.Join(tmp, "offline.bak")
	if code, _, errs = runCmd("backup", "--data-dir", dir, "--out", offline); code != 0 {
		t.Fatalf("offline backup: exit %d %s", code, errs)
	}
	// The doomed key is destroyed: its deletion scheduled, and maintenance
	// run past its window.
	func() {
		svc, err := kms.Open(kms.Options{DataDir: dir, Now: func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }})
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		if r, err := svc.Admin().Maintain(ctx); err != nil || r.Destroyed != 1 {
			t.Fatalf("Maintain = %+v, %v", r, err)
		}
	}()
	rootKey := filepath.Join(dir, "root.key")
	b, err := os.ReadFile(online)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := os.ReadFile(rootKey)
	if bytes.Contains(b, bytes.TrimSpace(root)) {
		t.Fatal("the backup holds the root key")
	}

	// A changed byte: refused, nothing written (a sample of positions, the
	// header's and the trailer's among them).
	target := filepath.Join(tmp, "flipped")
	for _, i := range []int{0, 5, 20, 40, len(b) / 3, len(b) / 2, len(b) - 70, len(b) - 30, len(b) - 2, len(b) - 1} {
		c := bytes.Clone(b)
		c[i] ^= 0x20
		bad := writeTemp(t, tmp, "bad.bak", string(c))
		code, _, errs = runCmd("restore", "--in", bad, "--data-dir", target, "--root-key-file", rootKey)
		if code != 1 || !strings.Contains(errs, "backup does not verify") {
			t.Fatalf("byte %d changed: exit %d %s", i, code, errs)
		}
		if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("byte %d changed: restore wrote %s", i, target)
		}
	}
	// A non-empty target.
	if code, _, errs = runCmd("restore", "--in", online, "--data-dir", dir, "--root-key-file", rootKey); code != 1 || !strings.Contains(errs, "not empty") {
		t.Fatalf("restore into the live directory: exit %d %s", code, errs)
	}
	// Another root key.
	other := filepath.Join(tmp, "other")
	if code, _, errs = runCmd("init", "--data-dir", other); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs = runCmd("restore", "--in", online, "--data-dir", target, "--root-key-file", filepath.Join(other, "root.key")); code != 1 || !strings.Contains(errs, "does not verify") {
		t.Fatalf("another root key: exit %d %s", code, errs)
	}
	// Usage.
	if code, _, _ = runCmd("restore", "--in", online, "--data-dir", target); code != 2 {
		t.Fatalf("restore without --root-key-file: exit %d", code)
	}
	if code, _, _ = runCmd("restore", "--in", filepath.Join(tmp, "nope"), "--data-dir", target, "--root-key-file", rootKey); code != 3 {
		t.Fatalf("restore of a missing --in: exit %d", code)
	}

	for _, bak := range []string{online, offline} {
		restored := filepath.Join(tmp, "restored-"+filepath.Base(bak))
		code, out, errs = runCmd("restore", "--in", bak, "--data-dir", restored, "--root-key-file", rootKey, "--live", dir)
		// The doomed key comes back, and restore says so; the keys the load
		// made after the online backup are the live store's only.
		if code != 0 || !strings.Contains(out, "resurrected "+doomed+"\n") || !strings.Contains(errs, "warning: 1 keys the live store destroyed are back") {
			t.Fatalf("restore %s: exit %d %q %s", bak, code, out, errs)
		}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l != "resurrected "+doomed && (bak == offline || !strings.HasPrefix(l, "not-in-backup ")) {
				t.Fatalf("restore %s: %q", bak, out)
			}
		}
		addr, _, stop := startServe(t, serveConfig{dataDir: restored, root: rootKeyFlags{file: rootKey}})
		rc := awsClient(t, addr, "us-east-1", admin)
		if bak == offline {
			// Backed up while pending deletion, it comes back so: cancel it.
			if _, err := rc.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: &doomed}); err != nil {
				t.Fatal(err)
			}
			if _, err := rc.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: &doomed}); err != nil {
				t.Fatal(err)
			}
		}
		for i, s := range before {
			d, err := rc.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: s.blob})
			if err != nil || !bytes.Equal(d.Plaintext, s.plain) {
				t.Fatalf("%s: ciphertext %d: %v", bak, i, err)
			}
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
}

func awsInt32(v int32) *int32 { return &v }
