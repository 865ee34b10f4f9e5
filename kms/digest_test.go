package kms

// The records digest (digest.go, store/digest.go): a database writer who
// puts back an older version of a record, MAC and all, deletes one, or
// puts back the whole store. Each test fails without the digest: the MACs
// alone accept every one of these stores.

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms/internal/store"
	"github.com/attestkms/attestkms/kms/internal/store/bolt"
	bbolt "go.etcd.io/bbolt"
)

// rawStore opens dir's kms.db as a database writer would: the store as it
// is, no root key, no MAC, no digest.
func rawStore(t testing.TB, dir string) store.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(dir, dbFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// rawRecords reads what a writer keeps: records as stored, MACs and all.
func rawRecords(t testing.TB, st store.Store, fn func(r store.Reader) error) {
	t.Helper()
	if err := st.View(bg, fn); err != nil {
		t.Fatal(err)
	}
}

// putBack writes, as the writer, rec over the record of its id: the older
// version it kept.
func putBack(t testing.TB, st store.Store, rec any) {
	t.Helper()
	err := st.Update(bg, func(tx store.Txn) error {
		switch r := rec.(type) {
		case *store.Key:
			cur, err := tx.Key(r.ID)
			if err != nil {
				return err
			}
			r.Version = cur.Version
			return tx.PutKey(r)
		case *store.Alias:
			cur, err := tx.Alias(r.Name)
			if errors.Is(err, store.ErrNotFound) {
				return tx.CreateAlias(r)
			}
			if err != nil {
				return err
			}
			r.Version = cur.Version
			return tx.PutAlias(r)
		case *store.Credential:
			return tx.CreateCredential(r)
		}
		return errors.New("not a record")
	})
	if err != nil {
		t.Fatal(err)
	}
}

// wantDamaged fails unless err is the digest's refusal.
func wantDamaged(t testing.TB, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrStoreDamaged) || !errors.Is(err, store.ErrIntegrity) || !strings.Contains(err.Error(), "records digest") {
		t.Fatalf("%s: %v; want the store refused as damaged by its records digest", what, err)
	}
}

// TestDigestFindsRecordPutBack: a key disabled, its enabled record (MAC and
// all) put back while the server runs, is found by the next maintenance
// pass, which makes the node refuse everything until the record is put
// right again; put back while it is stopped, the next Open refuses the
// store, as store check does.
func TestDigestFindsRecordPutBack(t *testing.T) {
	s, _ := newTestService(t)
	dir := s.opts.DataDir
	id, other := mustKey(t, s, "", "").KeyID, mustKey(t, s, "", "").KeyID
	var enabled, disabled *store.Key
	raw := s.auth.Unwrap()
	rawRecords(t, raw, func(r store.Reader) (err error) { enabled, err = r.Key(id); return err })
	if _, err := s.DisableKey(bg, s.testCall(), &DisableKeyRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	rawRecords(t, raw, func(r store.Reader) (err error) { disabled, err = r.Key(id); return err })
	if _, err := s.Admin().Maintain(bg); err != nil {
		t.Fatalf("Maintain of a whole store: %v", err)
	}

	// While it serves: the next pass finds it, and the node stops.
	putBack(t, raw, enabled)
	_, err := s.Admin().Maintain(bg)
	wantDamaged(t, "Maintain after a record was put back", err)
	if err := encryptWith(s, other); !errors.Is(err, store.ErrIntegrity) || Kind(err) != ErrInternal {
		t.Fatalf("an untouched key once the store is found damaged: %v; want every operation refused", err)
	}
	if _, err := s.GenerateRandom(bg, s.testCall(), &GenerateRandomRequest{NumberOfBytes: 8}); Kind(err) != ErrInternal {
		t.Fatalf("GenerateRandom once the store is found damaged: %v", err)
	}
	if err := s.Ready(bg); err == nil || !strings.Contains(err.Error(), "records digest") {
		t.Fatalf("Ready once the store is found damaged: %v", err)
	}
	// Put right (restored): the next pass finds the records whole, and
	// the node serves again.
	putBack(t, raw, disabled)
	if _, err := s.Admin().Maintain(bg); err != nil {
		t.Fatalf("Maintain once the record is put right: %v", err)
	}
	if err := encryptWith(s, other); err != nil {
		t.Fatalf("served again: %v", err)
	}
	if err := encryptWith(s, id); Kind(err) != ErrDisabled {
		t.Fatalf("the disabled key: %v", err)
	}
	if err := s.Ready(bg); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// While it is stopped: Open refuses the store, and so does store
	// check; nothing is written.
	st := rawStore(t, dir)
	putBack(t, st, enabled)
	st.Close()
	before, _ := os.ReadFile(filepath.Join(dir, dbFile))
	if s, err := Open(Options{DataDir: dir}); err == nil {
		err := encryptWith(s, id)
		s.Close()
		t.Fatalf("Open served a store whose disabled key was put back enabled (Encrypt: %v)", err)
	} else {
		wantDamaged(t, "Open", err)
	}
	_, err = CheckStore(bg, Options{DataDir: dir})
	wantDamaged(t, "CheckStore", err)
	if after, _ := os.ReadFile(filepath.Join(dir, dbFile)); string(before) != string(after) {
		t.Fatal("a refused Open changed the store")
	}
}

// TestDigestFindsDeletionAndResurrection: a credential deleted and put
// back (a revoked key working again), and a key, an alias or a credential
// deleted, each make Open refuse the store.
func TestDigestFindsDeletionAndResurrection(t *testing.T) {
	for _, c := range []struct {
		name   string
		tamper func(t *testing.T, s *Service, dir string)
	}{
		{"a deleted credential put back", func(t *testing.T, s *Service, dir string) {
			cr := mustCredential(t, s, &CreateCredentialRequest{Name: "leaked"})
			var kept *store.Credential
			rawRecords(t, s.auth.Unwrap(), func(r store.Reader) (err error) { kept, err = r.Credential(cr.AccessKeyID); return err })
			if _, err := s.DeleteCredential(bg, s.adminCall(t), &DeleteCredentialRequest{AccessKeyID: cr.AccessKeyID}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			st := rawStore(t, dir)
			defer st.Close()
			putBack(t, st, kept)
		}},
		{"a key deleted", func(t *testing.T, s *Service, dir string) {
			id := mustKey(t, s, "", "").KeyID
			s.Close()
			st := rawStore(t, dir)
			defer st.Close()
			if err := st.Update(bg, func(tx store.Txn) error { return tx.DeleteKey(id) }); err != nil {
				t.Fatal(err)
			}
		}},
		{"an alias deleted", func(t *testing.T, s *Service, dir string) {
			id := mustKey(t, s, "", "").KeyID
			if _, err := s.CreateAlias(bg, s.testCall(), &CreateAliasRequest{AliasName: "alias/app", TargetKeyID: id}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			st := rawStore(t, dir)
			defer st.Close()
			if err := st.Update(bg, func(tx store.Txn) error { return tx.DeleteAlias("alias/app") }); err != nil {
				t.Fatal(err)
			}
		}},
		{"an alias moved back", func(t *testing.T, s *Service, dir string) {
			a, b := mustKey(t, s, "", "").KeyID, mustKey(t, s, "", "").KeyID
			if _, err := s.CreateAlias(bg, s.testCall(), &CreateAliasRequest{AliasName: "alias/app", TargetKeyID: a}); err != nil {
				t.Fatal(err)
			}
			var kept *store.Alias
			rawRecords(t, s.auth.Unwrap(), func(r store.Reader) (err error) { kept, err = r.Alias("alias/app"); return err })
			if _, err := s.UpdateAlias(bg, s.testCall(), &UpdateAliasRequest{AliasName: "alias/app", TargetKeyID: b}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			st := rawStore(t, dir)
			defer st.Close()
			putBack(t, st, kept)
		}},
		{"the digest deleted", func(t *testing.T, s *Service, dir string) {
			s.Close()
			db, err := bbolt.Open(filepath.Join(dir, dbFile), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("meta")).Delete([]byte("records_digest")) }); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := newTestService(t)
			dir := s.opts.DataDir
			c.tamper(t, s, dir)
			if s, err := Open(Options{DataDir: dir}); err == nil {
				s.Close()
				t.Fatal("Open served the store")
			} else {
				wantDamaged(t, "Open", err)
			}
		})
	}
}

// TestDigestFindsWholeStorePutBack: the whole database put back to a copy
// from before a change (digest and meta included, so every sum agrees) is
// refused by the data directory that saw the newer store; a directory that
// never did (the file removed) cannot tell, as documented.
func TestDigestFindsWholeStorePutBack(t *testing.T) {
	dir, revoked := revokedThenPutBackWhole(t, func(s *Service) {
		// The change itself left its generation in the data directory
		// (not only Close, which a crash skips).
		var gen uint64
		if err := s.view(bg, func(r store.Reader) (err error) { gen, err = store.DigestGeneration(r); return err }); err != nil {
			t.Fatal(err)
		}
		if seen, err := readSeen(filepath.Join(s.opts.DataDir, recordsGenMarker)); err != nil || seen.gen != gen || len(seen.mac) != 32 {
			t.Fatalf("%s after the change: %+v, %v; want generation %d and its MAC", recordsGenMarker, seen, err, gen)
		}
	})
	s2, err := Open(Options{DataDir: dir})
	if err == nil {
		_, _, ok := s2.Credentials().Lookup(revoked)
		s2.Close()
		t.Fatalf("Open served the store as it was before the credential was revoked (it authenticates: %v)", ok)
	}
	if !errors.Is(err, ErrStoreDamaged) || !strings.Contains(err.Error(), recordsGenMarker) {
		t.Fatalf("Open of the store put back: %v; want it refused naming %s", err, recordsGenMarker)
	}
	if err := os.Remove(filepath.Join(dir, recordsGenMarker)); err != nil {
		t.Fatal(err)
	}
	s2 = openOrFail(t, Options{DataDir: dir})
	s2.Close()
}

// TestProtectDigestsOlderStore: a store of an attestkms from before the
// digest (root check v2, no digest) is refused until store protect, which
// digests it in one audited change; from then on a record put back is
// found.
func TestProtectDigestsOlderStore(t *testing.T) {
	s, _ := newTestService(t)
	dir := s.opts.DataDir
	id := mustKey(t, s, "", "").KeyID
	var enabled *store.Key
	rawRecords(t, s.auth.Unwrap(), func(r store.Reader) (err error) { enabled, err = r.Key(id); return err })
	s.Close()
	asDigestless(t, Options{DataDir: dir})

	_, err := Open(Options{DataDir: dir})
	if !errors.Is(err, ErrUnprotected) || !strings.Contains(err.Error(), "store protect") || !strings.Contains(err.Error(), "v2") {
		t.Fatalf("Open of a store made before the digest: %v; want ErrUnprotected naming store protect", err)
	}
	if rep, err := CheckStore(bg, Options{DataDir: dir}); err != nil || !rep.Authenticated || rep.Digested {
		t.Fatalf("CheckStore of a store made before the digest: %+v %v", rep, err)
	}
	s = openOrFail(t, Options{DataDir: dir, ProtectRecords: true})
	if !s.Admin().ProtectedRecords() {
		t.Fatal("ProtectRecords did nothing")
	}
	if r := lastRecord(t, s, "ProtectRecords"); r.Outcome != "ok" || !strings.Contains(r.Message, "digested") {
		t.Fatalf("audit record %+v", r)
	}
	if _, err := s.DisableKey(bg, s.testCall(), &DisableKeyRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if rep, err := CheckStore(bg, Options{DataDir: dir}); err != nil || !rep.Digested || rep.DigestGeneration < 2 {
		t.Fatalf("CheckStore once protected: %+v %v", rep, err)
	}
	st := rawStore(t, dir)
	putBack(t, st, enabled)
	st.Close()
	_, err = Open(Options{DataDir: dir})
	wantDamaged(t, "Open after the key was put back", err)
}

// asDigestless makes dir's store one an attestkms from before the records
// digest left: root check v2, its meta MACed, no digest, no marker.
func asDigestless(t testing.TB, opts Options) {
	t.Helper()
	sl, err := openRoot(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	db, err := bbolt.Open(filepath.Join(opts.DataDir, dbFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("meta")).Delete([]byte("records_digest")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	st := rawStore(t, opts.DataDir)
	defer st.Close()
	err = st.Update(bg, func(tx store.Txn) error {
		m, err := tx.Meta()
		if err != nil {
			return err
		}
		if m.RootCheck, err = store.SealRootCheckV2(sl); err != nil {
			return err
		}
		store.SetMAC(sl, m)
		return tx.PutMeta(m)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{digestedMarker, recordsGenMarker} {
		os.Remove(filepath.Join(opts.DataDir, m))
	}
}

// TestDigestKeptByEveryChange: every kind of change keeps the digest equal
// to the records it sums (checked after each), root-key rotation included.
func TestDigestKeptByEveryChange(t *testing.T) {
	s, clk := newTestService(t)
	c := s.testCall()
	check := func(what string) {
		t.Helper()
		if _, err := s.verifyDigest(bg); err != nil {
			t.Fatalf("after %s: %v", what, err)
		}
	}
	check("Init")
	sym := mustKey(t, s, "", "").KeyID
	sym2 := mustKey(t, s, "", "").KeyID
	ka := mustKey(t, s, EccNistP256, KeyAgreement).KeyID
	check("CreateKey")
	steps := []struct {
		what string
		do   func() error
	}{
		{"CreateAlias", func() error {
			_, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/a", TargetKeyID: sym})
			return err
		}},
		{"UpdateAlias", func() error {
			_, err := s.UpdateAlias(bg, c, &UpdateAliasRequest{AliasName: "alias/a", TargetKeyID: sym2})
			return err
		}},
		{"CreateAlias again", func() error {
			_, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/b", TargetKeyID: sym})
			return err
		}},
		{"DeleteAlias", func() error {
			_, err := s.DeleteAlias(bg, c, &DeleteAliasRequest{AliasName: "alias/a"})
			return err
		}},
		{"DisableKey", func() error { _, err := s.DisableKey(bg, c, &DisableKeyRequest{KeyID: sym}); return err }},
		{"EnableKey", func() error { _, err := s.EnableKey(bg, c, &EnableKeyRequest{KeyID: sym}); return err }},
		{"TagResource", func() error {
			_, err := s.TagResource(bg, c, &TagResourceRequest{KeyID: sym, Tags: []Tag{{TagKey: "team", TagValue: "x"}}})
			return err
		}},
		{"EnableKeyRotation", func() error {
			_, err := s.EnableKeyRotation(bg, c, &EnableKeyRotationRequest{KeyID: sym, RotationPeriodInDays: 90})
			return err
		}},
		{"RotateKeyOnDemand", func() error {
			_, err := s.RotateKeyOnDemand(bg, c, &RotateKeyOnDemandRequest{KeyID: sym})
			return err
		}},
		{"CreateCredential", func() error {
			_, err := s.CreateCredential(bg, s.adminCall(t), &CreateCredentialRequest{Name: "ci"})
			return err
		}},
		{"DeleteCredential", func() error {
			for _, ci := range s.listCredentials() {
				if ci.Name == "ci" {
					_, err := s.DeleteCredential(bg, s.adminCall(t), &DeleteCredentialRequest{AccessKeyID: ci.AccessKeyID})
					return err
				}
			}
			return errors.New("no credential ci")
		}},
		{"ScheduleKeyDeletion", func() error {
			_, err := s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: sym, PendingWindowInDays: 7})
			return err
		}},
		{"CancelKeyDeletion", func() error { _, err := s.CancelKeyDeletion(bg, c, &CancelKeyDeletionRequest{KeyID: sym}); return err }},
		{"automatic rotation and deletion (Maintain)", func() error {
			if _, err := s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: sym, PendingWindowInDays: 7}); err != nil {
				return err
			}
			clk.add(100 * 24 * time.Hour)
			r, err := s.Admin().Maintain(bg)
			if err == nil && r.Destroyed != 1 {
				err = errors.New("no key destroyed")
			}
			return err
		}},
		{"RotateRootKey", func() error {
			_, err := s.RotateRootKey(bg, s.adminCall(t), &RotateRootKeyRequest{To: "file:" + filepath.Join(t.TempDir(), "next.key")})
			return err
		}},
		{"a change after the rotation", func() error { _, err := s.DisableKey(bg, c, &DisableKeyRequest{KeyID: ka}); return err }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		check(st.what)
	}
}

// TestDigestPassBesideAChange: a maintenance pass whose read began before a
// change committed (and noted its newer generation in the data directory)
// is no rollback. Found by TestBackupWhileServingRestores: serve's first
// pass, beside the test's first change, made the node refuse everything.
func TestDigestPassBesideAChange(t *testing.T) {
	s, _ := newTestService(t)
	id := mustKey(t, s, "", "").KeyID
	// The file grown beforehand: a change that must grow it waits for
	// every read.
	for i := 0; i < 200; i++ {
		k := mustKey(t, s, "", "").KeyID
		if _, err := s.ScheduleKeyDeletion(bg, s.testCall(), &ScheduleKeyDeletionRequest{KeyID: k, PendingWindowInDays: 7}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DisableKey(bg, s.testCall(), &DisableKeyRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnableKey(bg, s.testCall(), &EnableKeyRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	seen, err := s.seenDigest()
	if err != nil {
		t.Fatal(err)
	}
	err = s.view(bg, func(r store.Reader) error {
		done := make(chan error, 1)
		go func() {
			_, err := s.DisableKey(bg, s.testCall(), &DisableKeyRequest{KeyID: id})
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				return err
			}
		case <-time.After(5 * time.Second):
			t.Skip("the change waits for the read (bbolt grows its file)")
		}
		if now, err := s.seenDigest(); err != nil || now.gen <= seen.gen {
			t.Fatalf("the change noted generation %d (%v), not past %d", now.gen, err, seen.gen)
		}
		_, err := s.checkedDigest(r, seen)
		return err
	})
	if err != nil {
		t.Fatalf("a pass beside a change: %v", err)
	}
	if _, err := s.Admin().Maintain(bg); err != nil {
		t.Fatal(err)
	}
}

// TestBackupRefusesUndigestedRecords: a backup, offline or through the
// running server, of a store whose records are not those its digest sums
// is refused: its restore would digest the record put back, as genuine.
func TestBackupRefusesUndigestedRecords(t *testing.T) {
	s, _ := newTestService(t)
	dir := s.opts.DataDir
	id := mustKey(t, s, "", "").KeyID
	var enabled *store.Key
	rawRecords(t, s.auth.Unwrap(), func(r store.Reader) (err error) { enabled, err = r.Key(id); return err })
	if _, err := s.DisableKey(bg, s.testCall(), &DisableKeyRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	putBack(t, s.auth.Unwrap(), enabled)
	_, err := s.Backup(bg, s.adminCall(t), &BackupRequest{})
	if !errors.Is(err, store.ErrIntegrity) || Kind(err) != ErrInternal {
		t.Fatalf("an online backup of the store: %v", err)
	}
	s.Close()
	var out strings.Builder
	_, err = BackupOffline(Options{DataDir: dir}, &out)
	wantDamaged(t, "an offline backup", err)
	if out.Len() != 0 {
		t.Fatalf("the refused backup wrote %d bytes", out.Len())
	}
}

// TestReadSeen: the data directory's digest file holds "GEN MAC" (hex), or
// the generation alone (written before the MAC was kept); anything else is
// refused, not taken for none.
func TestReadSeen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, recordsGenMarker)
	mac := strings.Repeat("ab", 32)
	for _, c := range []struct {
		text string
		gen  uint64
		mac  bool
		bad  bool
	}{
		{"7\n", 7, false, false},
		{"7 " + mac + "\n", 7, true, false},
		{"x\n", 0, false, true},
		{"7 zz\n", 0, false, true},
		{"7 abab\n", 0, false, true},
	} {
		if err := os.WriteFile(p, []byte(c.text), 0o600); err != nil {
			t.Fatal(err)
		}
		seen, err := readSeen(p)
		if c.bad {
			if !errors.Is(err, ErrStoreDamaged) {
				t.Errorf("%q: %+v, %v; want refused", c.text, seen, err)
			}
			continue
		}
		if err != nil || seen.gen != c.gen || (seen.mac != nil) != c.mac {
			t.Errorf("%q: %+v, %v", c.text, seen, err)
		}
	}
	os.Remove(p)
	if seen, err := readSeen(p); err != nil || seen.gen != 0 || seen.mac != nil {
		t.Errorf("no file: %+v, %v", seen, err)
	}
}

// revokedThenPutBackWhole makes a store, copies its database file (what a
// writer keeps), revokes a credential made before the copy (calling during
// with the service, before it is closed), and puts the copy back: the
// whole store as it was before the revocation, digest and all.
func revokedThenPutBackWhole(t *testing.T, during func(*Service)) (dir, revoked string) {
	t.Helper()
	s, _ := newTestService(t)
	dir = s.opts.DataDir
	revoked = mustCredential(t, s, &CreateCredentialRequest{Name: "leaked"}).AccessKeyID
	s.Close()
	old, err := os.ReadFile(filepath.Join(dir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	s = openOrFail(t, Options{DataDir: dir})
	if _, err := s.DeleteCredential(bg, s.adminCall(t), &DeleteCredentialRequest{AccessKeyID: revoked}); err != nil {
		t.Fatal(err)
	}
	if during != nil {
		during(s)
	}
	s.Close()
	if err := os.WriteFile(filepath.Join(dir, dbFile), old, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, revoked
}
