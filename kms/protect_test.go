package kms

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/attestkms/attestkms/kms/audit"
	"github.com/attestkms/attestkms/kms/internal/store"
	"github.com/attestkms/attestkms/kms/internal/store/bolt"
)

// Record authentication (protect.go): a database writer without the root
// key, here test code editing kms.db with the bbolt API while no server
// holds it, changes records; the server refuses each changed record, with
// an internal error naming it and an ERROR line, and serves the others.

// asLegacy makes m the meta of a store made before records were
// authenticated: the root check v1, no MAC; and tx's store one without a
// records digest: a row that does not verify stands for none (a digest
// that verifies in a store whose root check is older is one put back, and
// store protect refuses it: TestDigestAttack2ProtectOfMetaPutBackToV2).
func asLegacy(t testing.TB, opts Options, tx store.Txn, m *store.Meta) {
	t.Helper()
	if err := tx.PutRecordsDigest(&store.RecordsDigest{}); err != nil {
		t.Fatal(err)
	}
	sl, err := openRoot(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	if m.RootCheck, err = store.SealRootCheckV1(sl); err != nil {
		t.Fatal(err)
	}
	m.MAC = nil
	// An older attestkms left no marker in its data directory: without
	// this, the directory that opened the store would (rightly) refuse it.
	if opts.DataDir != "" {
		for _, m := range []string{protectedMarker, digestedMarker, recordsGenMarker} {
			os.Remove(filepath.Join(opts.DataDir, m))
		}
	}
}

// tamperRecord edits the JSON of record k of bucket in dir's kms.db as a
// database writer would: with the storage library, no root key.
func tamperRecord(t testing.TB, dir, bucket, k string, edit func(rec map[string]any)) {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, dbFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		var rec map[string]any
		if err := json.Unmarshal(b.Get([]byte(k)), &rec); err != nil {
			return err
		}
		edit(rec)
		raw, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return b.Put([]byte(k), raw)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tamperMeta sets meta key k of dir's kms.db to v (nil: deletes it).
func tamperMeta(t testing.TB, dir, k string, v []byte) {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, dbFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		if v == nil {
			return tx.Bucket([]byte("meta")).Delete([]byte(k))
		}
		return tx.Bucket([]byte("meta")).Put([]byte(k), v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// logBuffer collects a Service's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tamperWorld is a store with what a writer would attack: an
// attestation-bound key, a disabled key, an alias, two plain keys and a
// plain credential. Its Service is closed.
type tamperWorld struct {
	dir                                string
	acct                               Account
	bound, disabled, aliased, other    string
	alias                              string
	plainAccessKey, plainSecret, admin string
}

func newTamperWorld(t *testing.T) *tamperWorld {
	t.Helper()
	withoutDigestChecks(t)
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := s.testCall()
	w := &tamperWorld{dir: dir, acct: s.Account(), alias: "alias/app"}
	bound, err := s.CreateKey(bg, c, &CreateKeyRequest{Policy: gateBoundPolicy(s.Account()), BypassPolicyLockoutSafetyCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	w.bound = bound.KeyID
	w.disabled = mustKey(t, s, "", "").KeyID
	if _, err := s.DisableKey(bg, c, &DisableKeyRequest{KeyID: w.disabled}); err != nil {
		t.Fatal(err)
	}
	w.aliased = mustKey(t, s, "", "").KeyID
	w.other = mustKey(t, s, "", "").KeyID
	if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: w.alias, TargetKeyID: w.aliased}); err != nil {
		t.Fatal(err)
	}
	cr := mustCredential(t, s, &CreateCredentialRequest{Name: "ops"})
	w.plainAccessKey, w.plainSecret = cr.AccessKeyID, string(cr.SecretAccessKey)
	for _, ci := range s.listCredentials() {
		if ci.Name == adminName {
			w.admin = ci.AccessKeyID
		}
	}
	return w
}

// open opens the world's store, logging into log.
func (w *tamperWorld) open(t *testing.T, log *logBuffer) *Service {
	t.Helper()
	s, err := Open(Options{DataDir: w.dir, Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// wantRefused fails unless err is the integrity refusal of record: an
// internal error naming it, logged at ERROR.
func wantRefused(t *testing.T, err error, record string, log *logBuffer) {
	t.Helper()
	wantKind(t, err, ErrInternal)
	if !errors.Is(err, store.ErrIntegrity) || !strings.Contains(err.Error(), record) || !strings.Contains(err.Error(), "changed outside attestkms") {
		t.Fatalf("err = %v; want the integrity refusal of %s", err, record)
	}
	var ke *Error
	if !errors.As(err, &ke) || !strings.Contains(ke.Msg, record) {
		t.Fatalf("the error's message %q does not name %s", ke.Msg, record)
	}
	// A client is told that a record failed, not which: the log and the
	// audit record name it.
	if m := Message(err); m != IntegrityMessage || strings.Contains(m, record) {
		t.Fatalf("a client is told %q", m)
	}
	if l := log.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, record) {
		t.Fatalf("no ERROR line naming %s in the log:\n%s", record, l)
	}
}

func encryptWith(s *Service, keyID string) error {
	_, err := s.Encrypt(bg, s.testCall(), &EncryptRequest{KeyID: keyID, Plaintext: []byte("x")})
	return err
}

// TestTamperedPolicyRefused: a writer drops the attestation condition of a
// bound key's policy; the key's use is refused (not a plaintext data key
// without a Recipient), and audited; the other keys serve.
func TestTamperedPolicyRefused(t *testing.T) {
	w := newTamperWorld(t)
	open := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principalARN(w.acct, adminName) + `"},"Action":"kms:*","Resource":"*"}]}`
	tamperRecord(t, w.dir, "keys", w.bound, func(r map[string]any) { r["policy"] = open })
	log := &logBuffer{}
	s := w.open(t, log)
	resp, err := s.GenerateDataKey(bg, s.testCall(), &GenerateDataKeyRequest{KeyID: w.bound, KeySpec: "AES_256"})
	if resp != nil {
		t.Fatal("a data key of the tampered key was released")
	}
	wantRefused(t, err, w.bound, log)
	if rec := lastRecord(t, s, "GenerateDataKey"); rec.Outcome == "ok" || !strings.Contains(rec.Message, "changed outside attestkms") || !strings.Contains(rec.Message, w.bound) {
		t.Fatalf("audit record %+v", rec)
	}
	if err := encryptWith(s, w.other); err != nil {
		t.Fatalf("another key: %v", err)
	}
}

// TestTamperedStateRefused: a writer re-enables a disabled key.
func TestTamperedStateRefused(t *testing.T) {
	w := newTamperWorld(t)
	tamperRecord(t, w.dir, "keys", w.disabled, func(r map[string]any) { r["state"] = "Enabled" })
	log := &logBuffer{}
	s := w.open(t, log)
	wantRefused(t, encryptWith(s, w.disabled), w.disabled, log)
}

// TestTamperedAliasRefused: a writer points an alias at another key.
func TestTamperedAliasRefused(t *testing.T) {
	w := newTamperWorld(t)
	tamperRecord(t, w.dir, "aliases", w.alias, func(r map[string]any) { r["key_id"] = w.other })
	log := &logBuffer{}
	s := w.open(t, log)
	wantRefused(t, encryptWith(s, w.alias), w.alias, log)
}

// TestTamperedCredentialRefused: a writer renames a plain credential (its
// secret sealed to its access key id alone) to admin, the root
// credential's name: Open refuses the store, naming the credential, as it
// refuses one whose secret does not open; nothing authenticates as the
// writer wanted. (A running node of a shared store leaves the credential
// out and serves the others: TestSharedTamperingRefused.)
func TestTamperedCredentialRefused(t *testing.T) {
	w := newTamperWorld(t)
	tamperRecord(t, w.dir, "credentials", w.plainAccessKey, func(r map[string]any) { r["name"] = adminName })
	_, err := Open(Options{DataDir: w.dir})
	if !errors.Is(err, ErrStoreDamaged) || !errors.Is(err, store.ErrIntegrity) || !strings.Contains(err.Error(), w.plainAccessKey) || !strings.Contains(err.Error(), "changed outside attestkms") {
		t.Fatalf("Open: %v; want the store refused, naming the credential", err)
	}
}

// TestTamperedMetaRefused: a writer changes the meta's region; Open
// refuses the store.
func TestTamperedMetaRefused(t *testing.T) {
	w := newTamperWorld(t)
	tamperMeta(t, w.dir, "region", []byte("eu-west-1"))
	_, err := Open(Options{DataDir: w.dir, Region: "eu-west-1"})
	if !errors.Is(err, store.ErrIntegrity) || !strings.Contains(err.Error(), "the meta") {
		t.Fatalf("Open: %v; want the meta's integrity refusal", err)
	}
	// Nor with the meta's MAC deleted: the root check says every record
	// has one.
	tamperMeta(t, w.dir, "mac", nil)
	if _, err := Open(Options{DataDir: w.dir, Region: "eu-west-1"}); !errors.Is(err, store.ErrIntegrity) {
		t.Fatalf("Open of a meta without MAC: %v", err)
	}
}

// TestDeletedMACRefused: a record without its MAC in an authenticated
// store is refused, not read as a legacy one.
func TestDeletedMACRefused(t *testing.T) {
	w := newTamperWorld(t)
	tamperRecord(t, w.dir, "keys", w.other, func(r map[string]any) { delete(r, "mac") })
	log := &logBuffer{}
	s := w.open(t, log)
	wantRefused(t, encryptWith(s, w.other), w.other, log)
	if !strings.Contains(log.String(), "has no MAC") {
		t.Fatalf("log:\n%s", log)
	}
}

// TestSwappedMACsRefused: two keys' MACs swapped; both are refused.
func TestSwappedMACsRefused(t *testing.T) {
	w := newTamperWorld(t)
	var macA, macB any
	tamperRecord(t, w.dir, "keys", w.other, func(r map[string]any) { macA = r["mac"] })
	tamperRecord(t, w.dir, "keys", w.aliased, func(r map[string]any) { macB = r["mac"]; r["mac"] = macA })
	tamperRecord(t, w.dir, "keys", w.other, func(r map[string]any) { r["mac"] = macB })
	log := &logBuffer{}
	s := w.open(t, log)
	wantRefused(t, encryptWith(s, w.other), w.other, log)
	wantRefused(t, encryptWith(s, w.aliased), w.aliased, log)
}

// TestTamperedStoreCheck: store check names every record that fails.
func TestTamperedStoreCheck(t *testing.T) {
	w := newTamperWorld(t)
	rep, err := CheckStore(bg, Options{DataDir: w.dir})
	if err != nil || !rep.Authenticated {
		t.Fatalf("CheckStore of a sound store: %+v, %v", rep, err)
	}
	tamperRecord(t, w.dir, "keys", w.disabled, func(r map[string]any) { r["state"] = "Enabled" })
	tamperRecord(t, w.dir, "aliases", w.alias, func(r map[string]any) { r["key_id"] = w.other })
	_, err = CheckStore(bg, Options{DataDir: w.dir})
	if !errors.Is(err, ErrStoreDamaged) || !errors.Is(err, store.ErrIntegrity) || !strings.Contains(err.Error(), w.disabled) || !strings.Contains(err.Error(), w.alias) {
		t.Fatalf("CheckStore: %v; want both records named", err)
	}
}

// TestLegacyStoreProtected: a store made before records were
// authenticated (the fixture the code before the store layer made) is
// MACed whole at its first Open, in one change audited ProtectRecords,
// and is an authenticated store from then on: a record changed after is
// refused.
func TestLegacyStoreProtected(t *testing.T) {
	dir, f := copyFixture(t)
	if rep, err := CheckStore(bg, Options{DataDir: dir}); err != nil || rep.Authenticated {
		t.Fatalf("CheckStore of the legacy store: %+v, %v", rep, err)
	}
	s, err := Open(Options{DataDir: dir, Region: f.Region, Now: func() time.Time { return f.Now }, ProtectRecords: true})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range auditRecords(t, s) {
		if r.Operation == "ProtectRecords" {
			n++
			if r.Outcome != "ok" || !strings.Contains(r.Message, "MACed") {
				t.Fatalf("ProtectRecords record %+v", r)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d ProtectRecords records", n)
	}
	if err := encryptWith(s, f.Keys.Symmetric); err != nil {
		t.Fatal(err)
	}
	s.Close()
	rep, err := CheckStore(bg, Options{DataDir: dir})
	if err != nil || !rep.Authenticated {
		t.Fatalf("CheckStore after the first Open: %+v, %v", rep, err)
	}
	// Opened again: nothing more to do.
	s = openOrFail(t, Options{DataDir: dir, Region: f.Region})
	for _, r := range auditRecords(t, s) {
		if r.Operation == "ProtectRecords" {
			n--
		}
	}
	s.Close()
	if n != 0 {
		t.Fatal("a second ProtectRecords")
	}
	tamperRecord(t, dir, "keys", f.Keys.Disabled, func(r map[string]any) { r["state"] = "Enabled" })
	log := &logBuffer{}
	s, err = Open(Options{DataDir: dir, Region: f.Region, Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantRefused(t, encryptWith(s, f.Keys.Disabled), f.Keys.Disabled, log)
}

// TestLegacyMigrationAllOrNothing: a ProtectRecords that cannot commit
// (a commit that fails, as a kill before it would) leaves the store
// legacy, whole, and the next Open MACs it.
func TestLegacyMigrationAllOrNothing(t *testing.T) {
	dir, f := copyFixture(t)
	st, err := bolt.Open(filepath.Join(dir, dbFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := openRoot(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{opts: Options{DataDir: dir}, now: time.Now, sealer: sl, keys: newKeyCache(), log: slog.New(slog.DiscardHandler)}
	s.auth = store.Authenticate(st, sl, nil)
	s.st = &failingCommit{Store: s.auth, err: errors.New("killed")}
	if s.audit, err = audit.Open(audit.Options{Path: filepath.Join(dir, auditFile), ChangeSeq: f.AuditChangeSeq}); err != nil {
		t.Fatal(err)
	}
	if err := s.protectRecords(); err == nil {
		t.Fatal("protectRecords committed through a failing commit")
	}
	s.audit.Close()
	st.Close()
	sl.Close()
	if rep, err := CheckStore(bg, Options{DataDir: dir}); err != nil || rep.Authenticated {
		t.Fatalf("after the failed migration: %+v, %v; want the legacy store, sound", rep, err)
	}
	s2 := openOrFail(t, Options{DataDir: dir, Region: f.Region, Now: func() time.Time { return f.Now }, ProtectRecords: true})
	s2.Close()
	if rep, err := CheckStore(bg, Options{DataDir: dir}); err != nil || !rep.Authenticated {
		t.Fatalf("after the next Open: %+v, %v", rep, err)
	}
}

// TestRotationReMACs: a root-key rotation MACs every record (aliases, which
// hold nothing sealed, too) under the new key in its one change: the store
// serves and checks under the new key, and a record changed after is
// refused.
func TestRotationReMACs(t *testing.T) {
	w := newTamperWorld(t)
	s := w.open(t, &logBuffer{})
	to := filepath.Join(t.TempDir(), "new.key")
	if _, err := s.RotateRootKey(bg, s.adminCall(t), &RotateRootKeyRequest{To: "file:" + to}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{w.alias, w.other, w.bound} {
		if _, err := s.DescribeKey(bg, s.testCall(), &DescribeKeyRequest{KeyID: id}); err != nil {
			t.Fatalf("%s after the rotation: %v", id, err)
		}
	}
	s.Close()
	rep, err := CheckStore(bg, Options{DataDir: w.dir, RootKeyFile: to})
	if err != nil || !rep.Authenticated || rep.Aliases != 1 {
		t.Fatalf("CheckStore under the new key: %+v, %v", rep, err)
	}
	tamperRecord(t, w.dir, "aliases", w.alias, func(r map[string]any) { r["key_id"] = w.other })
	log := &logBuffer{}
	s2, err := Open(Options{DataDir: w.dir, RootKeyFile: to, Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	wantRefused(t, encryptWith(s2, w.alias), w.alias, log)
}

// TestRestoreMACs: a backup's records travel without MACs; the restored
// store is authenticated under the root key it was restored with, and a
// backup of a legacy store restores authenticated too.
func TestRestoreMACs(t *testing.T) {
	dir, f := copyFixture(t) // legacy: backed up offline before any Open
	var buf bytes.Buffer
	if _, err := BackupOffline(Options{DataDir: dir}, &buf); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte(`"mac":`)) {
		t.Fatal("a record MAC in the backup")
	}
	target := filepath.Join(t.TempDir(), "restored")
	if _, err := Restore(RestoreOptions{DataDir: target, RootKeyFile: filepath.Join(dir, rootKeyFile)}, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	rep, err := CheckStore(bg, Options{DataDir: target, RootKeyFile: filepath.Join(dir, rootKeyFile)})
	if err != nil || !rep.Authenticated {
		t.Fatalf("the restored store: %+v, %v", rep, err)
	}
	s := openOrFail(t, Options{DataDir: target, RootKeyFile: filepath.Join(dir, rootKeyFile), Region: f.Region})
	defer s.Close()
	if err := encryptWith(s, f.Keys.Symmetric); err != nil {
		t.Fatal(err)
	}
	for _, r := range auditRecords(t, s) {
		if r.Operation == "ProtectRecords" {
			t.Fatal("the restored store was migrated again")
		}
	}
}

// withoutDigestChecks turns the records digest's comparison off for t (the
// tests of what refuses a tampered record on its own, which the digest
// would find first: digest_test.go tests the digest).
func withoutDigestChecks(t testing.TB) {
	checkDigest = false
	t.Cleanup(func() { checkDigest = true })
}
