package kms

import (
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms/audit"
	"github.com/attestkms/attestkms/kms/internal/sealer"
	"github.com/attestkms/attestkms/kms/internal/store"
)

// openableMaterial scans every byte of every file under dir for a sealed
// material of key id (each of its versions, whose sealed lengths are in
// sealedLen): every window of that length, raw and as standard base64 (the
// JSON of a bbolt record), is tried with the root key (store.OpenMaterial
// bound to the key and version). It returns where a window opened, with
// the number of candidates tried.
func openableMaterial(t *testing.T, sl *sealer.Sealer, dir, id string, sealedLen map[uint32]int) (found []string, tried int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, n := openableIn(sl, path, b, id, sealedLen)
		found, tried = append(found, f...), tried+n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found, tried
}

// openableIn is openableMaterial's scan of b, named name.
func openableIn(sl *sealer.Sealer, name string, b []byte, id string, sealedLen map[uint32]int) (found []string, tried int) {
	for version, n := range sealedLen {
		enc := base64.StdEncoding.EncodedLen(n)
		buf := make([]byte, n)
		for off := 0; off < len(b); off++ {
			if off+n <= len(b) {
				tried++
				m := store.Material{Version: version, Sealed: b[off : off+n]}
				if _, err := store.OpenMaterial(sl, id, &m); err == nil {
					found = append(found, fmt.Sprintf("%s@%d (raw, version %d)", name, off, version))
				}
			}
			if off+enc <= len(b) {
				k, err := base64.StdEncoding.Decode(buf, b[off:off+enc])
				if err != nil || k != n {
					continue
				}
				tried++
				m := store.Material{Version: version, Sealed: buf[:k]}
				if _, err := store.OpenMaterial(sl, id, &m); err == nil {
					found = append(found, fmt.Sprintf("%s@%d (base64, version %d)", name, off, version))
				}
			}
		}
	}
	return found, tried
}

// TestDestroyedKeyIsShredded is issue 13's proof of crypto-shredding: a key
// whose record was rewritten many times (description changes, an on-demand
// rotation: each commit leaves the previous copy of the record, sealed
// material included, in a freed page of kms.db) is scheduled for deletion,
// the clock moves past its window and maintenance destroys it. Then every
// byte of every file in the data directory is scanned for the key's sealed
// material, and every candidate is tried with the root key: none opens.
// Before the destruction the same scan finds it (the scan works), and a
// key that lives on still decrypts.
func TestDestroyedKeyIsShredded(t *testing.T) {
	s, clk := newTestService(t)
	dir := s.opts.DataDir
	live := mustKey(t, s, "", "")
	enc, err := s.Encrypt(bg, s.testCall(), &EncryptRequest{KeyID: live.KeyID, Plaintext: []byte("still here")})
	if err != nil {
		t.Fatal(err)
	}
	doomed := mustKey(t, s, "", "")
	if _, err := s.RotateKeyOnDemand(bg, s.testCall(), &RotateKeyOnDemandRequest{KeyID: doomed.KeyID}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := s.UpdateKeyDescription(bg, s.testCall(), &UpdateKeyDescriptionRequest{KeyID: doomed.KeyID, Description: fmt.Sprintf("copy %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := s.st.Key(bg, doomed.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	sealedLen := map[uint32]int{}
	for _, m := range rec.Materials {
		sealedLen[m.Version] = len(m.Sealed)
	}
	if len(sealedLen) != 2 {
		t.Fatalf("the key has %d versions, want 2", len(sealedLen))
	}
	if found, _ := openableMaterial(t, s.sealer, dir, doomed.KeyID, sealedLen); len(found) == 0 {
		t.Fatal("before the destruction the scan finds nothing: the scan is broken")
	}

	if _, err := s.ScheduleKeyDeletion(bg, s.testCall(), &ScheduleKeyDeletionRequest{KeyID: doomed.KeyID, PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}
	clk.add(8 * 24 * time.Hour)
	r, err := s.Admin().Maintain(bg)
	if err != nil || r.Destroyed != 1 {
		t.Fatalf("Maintain = %+v, %v", r, err)
	}
	if _, err := s.st.Key(bg, doomed.KeyID); err == nil {
		t.Fatal("the key is still stored")
	}

	found, tried := openableMaterial(t, s.sealer, dir, doomed.KeyID, sealedLen)
	if len(found) > 0 {
		t.Fatalf("the destroyed key's material opens with the root key from the data directory (%d of %d candidates):\n%v", len(found), tried, found)
	}
	t.Logf("%d candidates tried, none opens", tried)
	if rec := lastRecord(t, s, "CompactStore"); rec.RequestID != "maintain" || rec.Outcome != audit.OK {
		t.Fatalf("the compaction's record: %+v", rec)
	}

	// The store still serves: the key that lives on decrypts.
	dec, err := s.Decrypt(bg, s.testCall(), &DecryptRequest{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "still here" {
		t.Fatalf("the live key after the destruction: %v", err)
	}
}

// TestKeyDestroyedByARequestIsShredded: a key past its deletion date that a
// request reaches before maintenance does is destroyed by that request
// (resolve.go), and shredded before the request is answered: the scan of
// the data directory finds nothing that opens, with no Maintain.
func TestKeyDestroyedByARequestIsShredded(t *testing.T) {
	s, clk := newTestService(t)
	doomed := mustKey(t, s, "", "")
	for i := range 5 {
		if _, err := s.UpdateKeyDescription(bg, s.testCall(), &UpdateKeyDescriptionRequest{KeyID: doomed.KeyID, Description: fmt.Sprintf("copy %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := s.st.Key(bg, doomed.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	sealedLen := map[uint32]int{1: len(rec.Current().Sealed)}
	if _, err := s.ScheduleKeyDeletion(bg, s.testCall(), &ScheduleKeyDeletionRequest{KeyID: doomed.KeyID, PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}
	clk.add(8 * 24 * time.Hour)
	_, err = s.DescribeKey(bg, s.testCall(), &DescribeKeyRequest{KeyID: doomed.KeyID})
	wantKind(t, err, ErrNotFound)
	if found, tried := openableMaterial(t, s.sealer, s.opts.DataDir, doomed.KeyID, sealedLen); len(found) > 0 {
		t.Fatalf("the destroyed key's material opens (%d of %d candidates): %v", len(found), tried, found)
	}
	if rec := lastRecord(t, s, "CompactStore"); rec.RequestID != "test" {
		t.Fatalf("the compaction's record: %+v", rec)
	}
	// Nothing left pending: the next maintenance compacts nothing more.
	if s.shredPending.Load() {
		t.Fatal("a compaction is still pending")
	}
}

// TestDeletedCredentialIsShredded: a deleted credential's sealed secret,
// in kms.db's free pages after the delete, is gone after the next
// maintenance, which compacts for it (no key was destroyed).
func TestDeletedCredentialIsShredded(t *testing.T) {
	s, _ := newTestService(t)
	cr := mustCredential(t, s, &CreateCredentialRequest{Name: "doomed"})
	var rec *store.Credential
	if err := s.view(bg, func(r store.Reader) (err error) { rec, err = r.Credential(cr.AccessKeyID); return err }); err != nil {
		t.Fatal(err)
	}
	// Every window of the data directory, as base64 of the sealed length,
	// opened as that credential's secret.
	openable := func() (found int) {
		t.Helper()
		n := len(rec.Sealed)
		enc := base64.StdEncoding.EncodedLen(n)
		err := filepath.WalkDir(s.opts.DataDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			buf := make([]byte, n)
			for off := 0; off+enc <= len(b); off++ {
				if k, err := base64.StdEncoding.Decode(buf, b[off:off+enc]); err != nil || k != n {
					continue
				}
				c := *rec
				c.Sealed = buf
				if _, err := store.OpenCredential(s.sealer, &c); err == nil {
					found++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	if err := s.Admin().DeleteCredential(bg, cr.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if openable() == 0 {
		t.Fatal("the deleted credential's secret is not found before maintenance: the test proves nothing")
	}
	if _, err := s.Admin().Maintain(bg); err != nil {
		t.Fatal(err)
	}
	if n := openable(); n > 0 {
		t.Fatalf("the deleted credential's secret opens %d times after maintenance", n)
	}
	lastRecord(t, s, "CompactStore")
}
