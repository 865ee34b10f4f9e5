package kms

// Attacks of a database writer found by a review of record authentication
// (docs/rootkey.md): each fails unless refused.

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms/internal/store"
	bbolt "go.etcd.io/bbolt"
)

// copyRaw copies record from's raw bytes (MAC and all) of bucket to key to.
func copyRaw(t *testing.T, dir, bucket, from, to string) {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, dbFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		v := append([]byte(nil), b.Get([]byte(from))...)
		return b.Put([]byte(to), v)
	}); err != nil {
		t.Fatal(err)
	}
}

// A key record copied under another key's id: served as that key.
func TestTamperKeyRecordUnderOtherID(t *testing.T) {
	w := newTamperWorld(t)
	copyRaw(t, w.dir, "keys", w.other, w.disabled)
	log := &logBuffer{}
	s := w.open(t, log)
	resp, err := s.Encrypt(bg, s.testCall(), &EncryptRequest{KeyID: w.disabled, Plaintext: []byte("secret")})
	if err != nil {
		t.Logf("refused: %v", err)
		return
	}
	t.Errorf("Encrypt under the disabled key %s succeeded; ciphertext's key: %s (other %s)", w.disabled, resp.KeyID, w.other)
}

// An alias record copied under another alias name: the alias retargeted.
func TestTamperAliasRecordUnderOtherName(t *testing.T) {
	w := newTamperWorld(t)
	s0 := w.open(t, &logBuffer{})
	if _, err := s0.CreateAlias(bg, s0.testCall(), &CreateAliasRequest{AliasName: "alias/mine", TargetKeyID: w.other}); err != nil {
		t.Fatal(err)
	}
	s0.Close()
	copyRaw(t, w.dir, "aliases", "alias/mine", w.alias)
	log := &logBuffer{}
	s := w.open(t, log)
	resp, err := s.Encrypt(bg, s.testCall(), &EncryptRequest{KeyID: w.alias, Plaintext: []byte("secret")})
	if err != nil {
		t.Logf("refused: %v", err)
		return
	}
	t.Errorf("Encrypt under %s (target %s) used key %s (other %s)", w.alias, w.aliased, resp.KeyID, w.other)
}

func readMetaRaw(t *testing.T, dir, k string) []byte {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, dbFile), 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v []byte
	db.View(func(tx *bbolt.Tx) error {
		v = append([]byte(nil), tx.Bucket([]byte("meta")).Get([]byte(k))...)
		return nil
	})
	return v
}

// The v1 root check kept from before the upgrade (a 60-byte value: in any
// old backup file, pg_dump, or read by the DBA once) put back later, the
// meta's MAC cleared, a disabled key re-enabled with its MAC stripped:
// without the data directory's marker the next Open would MAC the forgery
// (ProtectRecords).
func TestTamperV1RootCheckReplay(t *testing.T) {
	dir, f := copyFixture(t)
	v1 := readMetaRaw(t, dir, "root_check") // what the writer keeps
	s, err := Open(Options{DataDir: dir, Region: f.Region, ProtectRecords: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if rep, err := CheckStore(bg, Options{DataDir: dir}); err != nil || !rep.Authenticated {
		t.Fatalf("not migrated: %+v %v", rep, err)
	}
	// Later: the writer.
	tamperMeta(t, dir, "root_check", v1)
	tamperMeta(t, dir, "mac", nil)
	tamperRecord(t, dir, "keys", f.Keys.Disabled, func(r map[string]any) { r["state"] = "Enabled"; delete(r, "mac") })
	// The data directory that opened the store authenticated refuses it
	// (its marker, outside the database), and writes nothing.
	s, err = Open(Options{DataDir: dir, Region: f.Region})
	if err == nil {
		defer s.Close()
		if err := encryptWith(s, f.Keys.Disabled); err == nil {
			t.Fatalf("the disabled key %s was re-enabled by a writer replaying the v1 root check", f.Keys.Disabled)
		}
		t.Fatal("a store whose root check went back to v1 opened")
	}
	if !errors.Is(err, ErrStoreDamaged) || !strings.Contains(err.Error(), protectedMarker) {
		t.Fatalf("refused, but not as a damaged store naming the marker: %v", err)
	}
	if got := readMetaRaw(t, dir, "root_check"); !bytes.Equal(got, v1) {
		t.Fatal("the refused Open wrote the root check")
	}
	// A data directory without the marker (a new node's, a copy) refuses
	// it too: before, it MACed the writer's changes (ProtectRecords ran at
	// every Open of a v1 store); now only attestkms store protect does.
	for _, m := range []string{protectedMarker, digestedMarker} {
		if err := os.Remove(filepath.Join(dir, m)); err != nil {
			t.Fatal(err)
		}
	}
	if s, err := Open(Options{DataDir: dir, Region: f.Region}); !errors.Is(err, ErrUnprotected) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("a data directory without the marker: %v; want ErrUnprotected", err)
	}
	if got := readMetaRaw(t, dir, "root_check"); !bytes.Equal(got, v1) {
		t.Fatal("the refused Open wrote the root check")
	}
}

// store check on a bbolt store where a key record sits under another id.
func TestTamperStoreCheckMissesSwap(t *testing.T) {
	w := newTamperWorld(t)
	copyRaw(t, w.dir, "keys", w.other, w.disabled)
	copyRaw(t, w.dir, "aliases", w.alias, "alias/zzz")
	rep, err := CheckStore(bg, Options{DataDir: w.dir})
	if err == nil {
		t.Errorf("store check passes a store with a key record under another id and an alias under another name: %+v", rep)
	}
}

// bbolt pages by bucket key, kms by the record's own id: a record whose id
// is not its bucket key (copied, MAC and all) makes eachKey skip keys; a
// root-key rotation then leaves them under the old key.
func TestTamperRotationSkipsKeys(t *testing.T) {
	withoutDigestChecks(t)
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 1010; i++ {
		ids = append(ids, mustKey(t, s, "", "").KeyID)
	}
	s.Close()
	sortStrings(ids)
	// The 1001st key's record replaced by the last key's.
	copyRaw(t, dir, "keys", ids[len(ids)-1], ids[999])
	s, err = Open(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), "new.key")
	resp, err := s.RotateRootKey(bg, s.adminCall(t), &RotateRootKeyRequest{To: "file:" + to})
	if err != nil {
		t.Logf("rotation refused: %v", err)
		s.Close()
		return
	}
	t.Logf("rotation: %+v", resp)
	s.Close()
	s, err = Open(Options{DataDir: dir, RootKeyFile: to})
	if err != nil {
		t.Fatalf("open under the new key: %v", err)
	}
	defer s.Close()
	lost := 0
	for _, id := range ids[1000 : len(ids)-1] {
		if err := encryptWith(s, id); err != nil {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d keys unusable after the rotation (left under the old root key)", lost)
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// The same, the lowest key's record under the 1000th bucket key: eachKey
// never ends (Maintain spins holding the maintenance lock).
func TestTamperMaintainLoops(t *testing.T) {
	withoutDigestChecks(t)
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 1005; i++ {
		ids = append(ids, mustKey(t, s, "", "").KeyID)
	}
	s.Close()
	sortStrings(ids)
	copyRaw(t, dir, "keys", ids[0], ids[999])
	s, err = Open(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Admin().Maintain(bg); done <- err }()
	select {
	case err := <-done:
		t.Logf("Maintain returned: %v", err)
		s.Close()
	case <-time.After(3 * time.Second):
		t.Errorf("Maintain has not returned after 3s: eachKey loops")
	}
}

// A description that is not UTF-8: MACed over its bytes, stored as JSON
// (U+FFFD): the key fails its MAC once read from the store.
func TestTamperNonUTF8Description(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.CreateKey(bg, s.testCall(), &CreateKeyRequest{Description: "caf\xe9"})
	if err != nil {
		t.Logf("refused: %v", err)
		s.Close()
		return
	}
	s.Close()
	s, err = Open(Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := encryptWith(s, k.KeyID); err != nil {
		t.Errorf("the key is refused after a reopen: %v", err)
	}
}

// TestTamperedKeyDoesNotStopMaintenance: a key record a database writer
// changed is refused (and counted) by maintenance, which still destroys
// the other keys whose deletion date passed.
func TestTamperedKeyDoesNotStopMaintenance(t *testing.T) {
	s, clk := newTestService(t)
	doomed := mustKey(t, s, "", "").KeyID
	tampered := mustKey(t, s, "", "").KeyID
	if _, err := s.ScheduleKeyDeletion(bg, s.testCall(), &ScheduleKeyDeletionRequest{KeyID: doomed, PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}
	dir := s.opts.DataDir
	s.Close()
	tamperRecord(t, dir, "keys", tampered, func(rec map[string]any) { rec["description"] = "changed by hand" })
	s2, err := Open(Options{DataDir: dir, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	clk.add(8 * 24 * time.Hour)
	r, err := s2.Admin().Maintain(bg)
	if err != nil || r.Destroyed != 1 || r.Refused != 1 {
		t.Fatalf("Maintain = %+v, %v; want the doomed key destroyed and the tampered one refused", r, err)
	}
	if _, err := s2.st.Key(bg, doomed); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the doomed key is still there: %v", err)
	}
}
