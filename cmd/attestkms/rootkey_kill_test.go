package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms"
)

// rkCiphertext is a ciphertext recorded in the template store, with its
// plaintext.
type rkCiphertext struct {
	key       string
	blob, pt  []byte
	versioned bool // made under an earlier version of a key rotated on demand
}

// rkTemplate makes a store in dir (its root key the default one,
// dir/root.key) with keys, some rotated on demand (several material
// versions, a ciphertext under each), and credentials; it returns the
// ciphertexts.
func rkTemplate(t *testing.T, dir string, keys, creds int) []rkCiphertext {
	t.Helper()
	ctx := context.Background()
	_, admin, err := kms.Init(kms.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := kms.Open(kms.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	_, p, ok := svc.Credentials().Lookup(admin.AccessKeyID)
	if !ok {
		t.Fatal("the admin credential does not authenticate")
	}
	call := &kms.Call{RequestID: "template", Principal: p}
	var cts []rkCiphertext
	encrypt := func(key string, versioned bool) {
		pt := make([]byte, 24)
		rand.Read(pt)
		r, err := svc.Encrypt(ctx, call, &kms.EncryptRequest{KeyID: key, Plaintext: pt})
		if err != nil {
			t.Fatal(err)
		}
		cts = append(cts, rkCiphertext{key: key, blob: r.CiphertextBlob, pt: pt, versioned: versioned})
	}
	for i := range keys {
		md, err := svc.CreateKey(ctx, call, &kms.CreateKeyRequest{Description: fmt.Sprintf("key %d, to make its record longer: %s", i, strings.Repeat("x", 200))})
		if err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			for range 3 {
				encrypt(md.KeyID, true)
				if _, err := svc.RotateKeyOnDemand(ctx, call, &kms.RotateKeyOnDemandRequest{KeyID: md.KeyID}); err != nil {
					t.Fatal(err)
				}
			}
		}
		encrypt(md.KeyID, false)
	}
	for i := range creds {
		if _, err := svc.Admin().CreateCredential(ctx, &kms.CreateCredentialRequest{Name: fmt.Sprintf("ops-%d", i), Admin: i == 0}); err != nil {
			t.Fatal(err)
		}
	}
	return cts
}

// rkCopyDir copies the data directory src to dst: directories 0700, files
// 0600.
func rkCopyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// rkRotate is the rotation command of the binary bin on dataDir, to the
// root key file newKey.
func rkRotate(bin, dataDir, newKey string) *exec.Cmd {
	cmd := exec.Command(bin, "root-key", "rotate", "--data-dir", dataDir, "--to", "file:"+newKey)
	cmd.Stdout, cmd.Stderr = new(bytes.Buffer), new(bytes.Buffer)
	return cmd
}

// rkAudit reads the audit log of dataDir: how many change records of op
// it holds (ok ones), and how many of them stand (not voided, or
// reinstated). Before kms.Open resolves it, a change record the store did
// not commit stands too.
func rkAudit(t *testing.T, dataDir, op string) (written, standing int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	changes := map[uint64]bool{}
	for line := range bytes.Lines(b) {
		var r struct {
			Operation, Outcome     string
			Change                 bool
			Seq, Voids, Reinstates uint64
		}
		if json.Unmarshal(line, &r) != nil {
			t.Fatalf("audit log line %q", line)
		}
		switch {
		case r.Voids != 0:
			if _, ok := changes[r.Voids]; ok {
				changes[r.Voids] = false
			}
		case r.Reinstates != 0:
			if _, ok := changes[r.Reinstates]; ok {
				changes[r.Reinstates] = true
			}
		case r.Operation == op && r.Outcome == "ok" && r.Change:
			changes[r.Seq] = true
		}
	}
	for _, ok := range changes {
		written++
		if ok {
			standing++
		}
	}
	return written, standing
}

// TestRotateRootKeyKilled: "attestkms root-key rotate" killed with SIGKILL
// at many instants, from its very start to after it would have finished
// (the resealing, the commit, the compaction): each time the store opens
// under exactly one of the two root keys (CheckStore passes under it and
// says ErrRootKeyMismatch under the other), every ciphertext made before
// decrypts under that one, and the same command run again finishes: exit
// 0, Already exactly when the store was under the new key, and then the
// store opens under the new key only, whole.
func TestRotateRootKeyKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills many rotations")
	}
	const instants = 36
	ctx := context.Background()
	bin := buildBinary(t)
	base := t.TempDir()
	tmpl := filepath.Join(base, "template")
	start := time.Now()
	cts := rkTemplate(t, tmpl, rkKeys, 6)
	t.Logf("template: %d ciphertexts in %s", len(cts), time.Since(start).Round(time.Millisecond))

	// Rotations uncut, to know how long one takes: the median of five,
	// after one to warm the caches.
	var runs []time.Duration
	for i := range 6 {
		inst := filepath.Join(base, fmt.Sprintf("uncut%d", i))
		data := filepath.Join(inst, "data")
		rkCopyDir(t, tmpl, data)
		cmd := rkRotate(bin, data, filepath.Join(inst, "new.key"))
		begin := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("uncut rotation: %v: %s", err, cmd.Stderr)
		}
		if i > 0 {
			runs = append(runs, time.Since(begin))
		}
		var resp kms.RotateRootKeyResponse
		if err := json.Unmarshal(cmd.Stdout.(*bytes.Buffer).Bytes(), &resp); err != nil || resp.Already || !resp.Compacted || !resp.Made || resp.Keys != rkKeys || resp.Credentials != 7 {
			t.Fatalf("uncut rotation answered %+v (%v): %s", resp, err, cmd.Stdout)
		}
	}
	slices.Sort(runs)
	uncut := runs[len(runs)/2]
	t.Logf("an uncut rotation takes %s (%v)", uncut.Round(time.Microsecond), runs)

	phases := map[string]int{}
	var order []string
	count := func(p string) {
		if phases[p] == 0 {
			order = append(order, p)
		}
		phases[p]++
	}
	for i := range instants {
		delay := time.Duration(float64(uncut) * 1.3 * float64(i) / float64(instants-1))
		inst := filepath.Join(base, fmt.Sprintf("kill%02d", i))
		data := filepath.Join(inst, "data")
		newKey := filepath.Join(inst, "new.key")
		rkCopyDir(t, tmpl, data)
		oldOpts := kms.Options{DataDir: data}
		newOpts := kms.Options{DataDir: data, RootKey: "file:" + newKey}

		cmd := rkRotate(bin, data, newKey)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if delay > 0 {
			time.Sleep(delay)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		werr := cmd.Wait()
		killed := false
		var ee *exec.ExitError
		if errors.As(werr, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
				killed = true
			} else {
				t.Fatalf("instant %d (%s): the rotation failed on its own: %v: %s", i, delay, werr, cmd.Stderr)
			}
		} else if werr != nil {
			t.Fatal(werr)
		}

		// Exactly one key opens the store; the other is refused as the
		// wrong root key.
		_, errOld := kms.CheckStore(ctx, oldOpts)
		errNew := fmt.Errorf("%w: %s does not exist", kms.ErrRootKeyMismatch, newKey)
		if _, err := os.Stat(newKey); err == nil {
			_, errNew = kms.CheckStore(ctx, newOpts)
		}
		var under kms.Options
		switch {
		case errOld == nil && rkEmpty(newKey):
			// Killed between the new key file's creation (O_EXCL) and its
			// write (kms's createRootKey): the file is there, empty, and
			// every rerun refuses it as "not 32 bytes of base64" until
			// the operator removes it. Nothing is lost (the store is
			// under the old key, whole), but the rerun does not finish.
			count("between the new key file's creation and its write")
			rerun := rkRotate(bin, data, newKey)
			rerr := rerun.Run()
			t.Errorf("instant %d (%s): the kill left %s empty (made, not yet written: createRootKey is not atomic); the store is under the old key, but the rerun: %v: %s", i, delay, newKey, rerr, rerun.Stderr)
			os.RemoveAll(inst)
			continue
		case errOld == nil && errors.Is(errNew, kms.ErrRootKeyMismatch):
			under = oldOpts
		case errNew == nil && errors.Is(errOld, kms.ErrRootKeyMismatch):
			under = newOpts
		default:
			t.Fatalf("instant %d (%s, killed %v): under the old key: %v; under the new: %v", i, delay, killed, errOld, errNew)
		}
		isNew := under.RootKey != ""

		// Which phase the kill landed in.
		recorded, _ := rkAudit(t, data, "RotateRootKey")
		_, compacted := rkAuditOps(t, data, "CompactStore")
		var phase string
		_, compacting := os.Stat(filepath.Join(data, "kms.db.compact"))
		switch {
		case !killed:
			phase = "finished before the kill"
		case !isNew:
			phase = "before the commit"
			if _, err := os.Stat(newKey); err == nil {
				phase = "before the commit, the new key file made"
			}
			if recorded > 0 {
				phase = "before the commit, its audit record written"
			}
		case compacting == nil:
			phase = "after the commit, during the compaction's copy"
		case compacted > 0:
			phase = "after the commit and the compaction"
		default:
			phase = "after the commit, the compaction not (or not yet recorded as) done"
		}
		count(phase)

		// Nothing lost: every ciphertext decrypts under that key.
		svc, err := kms.Open(under)
		if err != nil {
			t.Fatalf("instant %d (%s): open: %v", i, delay, err)
		}
		var call *kms.Call
		for _, ci := range svc.Admin().ListCredentials() {
			if ci.Name == "admin" {
				_, p, ok := svc.Credentials().Lookup(ci.AccessKeyID)
				if !ok {
					t.Fatalf("instant %d: the admin credential does not authenticate", i)
				}
				call = &kms.Call{RequestID: "check", Principal: p}
			}
		}
		if call == nil {
			t.Fatalf("instant %d: no admin credential", i)
		}
		for _, c := range cts {
			r, err := svc.Decrypt(ctx, call, &kms.DecryptRequest{CiphertextBlob: c.blob})
			if err != nil || !bytes.Equal(r.Plaintext, c.pt) {
				t.Fatalf("instant %d (%s, %s): a ciphertext of %s (earlier version: %v) does not decrypt: %v", i, delay, phase, c.key, c.versioned, err)
			}
		}
		svc.Close()
		// Open resolved the audit log: the rotation's record stands
		// exactly when the store is under the new key.
		if written, standing := rkAudit(t, data, "RotateRootKey"); standing != b2i(isNew) || written > 1 {
			t.Errorf("instant %d (%s, %s): under the new key %v, but the audit log holds %d RotateRootKey change records, %d standing", i, delay, phase, isNew, written, standing)
		}

		// The same command again finishes.
		rerun := rkRotate(bin, data, newKey)
		if err := rerun.Run(); err != nil {
			t.Fatalf("instant %d (%s, %s): rerun: %v: %s", i, delay, phase, err, rerun.Stderr)
		}
		var resp kms.RotateRootKeyResponse
		if err := json.Unmarshal(rerun.Stdout.(*bytes.Buffer).Bytes(), &resp); err != nil {
			t.Fatalf("instant %d: rerun printed %q: %v", i, rerun.Stdout, err)
		}
		if resp.Already != isNew || !resp.Compacted || !isNew && (resp.Keys != rkKeys || resp.Credentials != 7) {
			t.Fatalf("instant %d (%s, %s): rerun answered %+v", i, delay, phase, resp)
		}
		if _, err := kms.CheckStore(ctx, newOpts); err != nil {
			t.Fatalf("instant %d (%s, %s): after the rerun, under the new key: %v", i, delay, phase, err)
		}
		if _, err := kms.CheckStore(ctx, oldOpts); !errors.Is(err, kms.ErrRootKeyMismatch) {
			t.Fatalf("instant %d (%s, %s): after the rerun, the old key: %v", i, delay, phase, err)
		}
		if _, standing := rkAudit(t, data, "RotateRootKey"); standing != 1 {
			t.Errorf("instant %d (%s, %s): after the rerun, %d RotateRootKey change records stand in the audit log, want 1", i, delay, phase, standing)
		}
		if _, err := os.Stat(filepath.Join(data, "kms.db.compact")); !os.IsNotExist(err) {
			t.Errorf("instant %d (%s, %s): after the rerun, kms.db.compact: %v", i, delay, phase, err)
		}
		os.RemoveAll(inst)
	}
	var summary []string
	for _, p := range order {
		summary = append(summary, fmt.Sprintf("%s: %d", p, phases[p]))
	}
	t.Logf("%d instants over [0, %s]: %s", instants, time.Duration(float64(uncut)*1.3).Round(time.Microsecond), strings.Join(summary, "; "))
	if phases["before the commit"]+phases["before the commit, the new key file made"]+phases["before the commit, its audit record written"] == 0 {
		t.Error("no instant landed before the commit")
	}
	if phases["finished before the kill"] == instants {
		t.Error("every rotation finished before its kill")
	}
}

// rkAuditOps counts the audit log's records of op, and the ok ones.
func rkAuditOps(t *testing.T, dataDir, op string) (all, ok int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range bytes.Lines(b) {
		var r struct{ Operation, Outcome string }
		if json.Unmarshal(line, &r) == nil && r.Operation == op {
			all++
			if r.Outcome == "ok" {
				ok++
			}
		}
	}
	return all, ok
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// rkKeys is how many keys the template store holds: enough that a
// rotation's resealing and compaction take a while beside the process's
// start.
const rkKeys = 800

// rkEmpty reports whether the file path exists and is empty.
func rkEmpty(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Size() == 0
}
