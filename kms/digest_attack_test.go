package kms

// Attacks on the records digest (digest.go, store/digest.go) found in
// review: each test failed on the code before its fix.

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// TestDigestAttackRotationBlessesPutBack: a record put back (its old MAC
// valid) while the server runs, then an online root-key rotation before
// the next maintenance pass: the rotation rebuilt the digest from the
// records as stored, so the record put back became genuine under the new
// key and no later pass, Open or store check could find it. The rotation
// must compare the records with the digest it locked first, and refuse.
func TestDigestAttackRotationBlessesPutBack(t *testing.T) {
	s, _ := newTestService(t)
	id := mustKey(t, s, "", "").KeyID
	var enabled *store.Key
	raw := s.auth.Unwrap()
	rawRecords(t, raw, func(r store.Reader) (err error) { enabled, err = r.Key(id); return err })
	if _, err := s.DisableKey(bg, s.testCall(), &DisableKeyRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin().Maintain(bg); err != nil {
		t.Fatal(err)
	}
	putBack(t, raw, enabled)
	s.keys.dropAll()
	_, err := s.RotateRootKey(bg, s.adminCall(t), &RotateRootKeyRequest{To: "file:" + filepath.Join(t.TempDir(), "next.key")})
	if err == nil {
		_, err = s.Admin().Maintain(bg)
	}
	wantDamaged(t, "a root-key rotation (or the pass after it) over a record put back", err)
}

// TestDigestAttackBackupOfStorePutBackWhole: the whole store put back to an
// older copy (digest and all) is refused by Open, whose data directory has
// seen a newer generation; but store check found it whole, and a backup of
// it was not refused, and its restore
// into a new data directory (what the refusal tells the operator to do)
// made the older copy genuine, the credential revoked since working again.
func TestDigestAttackBackupOfStorePutBackWhole(t *testing.T) {
	dir, _ := revokedThenPutBackWhole(t, nil)
	_, err := CheckStore(bg, Options{DataDir: dir})
	if !errors.Is(err, ErrStoreDamaged) || !strings.Contains(err.Error(), recordsGenMarker) {
		t.Fatalf("store check of the store put back whole: %v; want it refused naming %s, as Open does", err, recordsGenMarker)
	}
	var out strings.Builder
	_, err = BackupOffline(Options{DataDir: dir}, &out)
	if !errors.Is(err, ErrStoreDamaged) || !strings.Contains(err.Error(), recordsGenMarker) {
		t.Fatalf("an offline backup of the store put back whole: %v; want it refused naming %s", err, recordsGenMarker)
	}
	if out.Len() != 0 {
		t.Fatalf("the refused backup wrote %d bytes", out.Len())
	}
}

// TestDigestAttackPassBesideRootRotation: a maintenance pass whose read
// began before an online root-key rotation committed compared its snapshot
// (the digest MACed under the old key) with the keys accepted after it
// (the new one alone): the digest "does not verify", and the node refused
// every operation until the next pass. Maintain's read must not straddle
// a rotation.
func TestDigestAttackPassBesideRootRotation(t *testing.T) {
	s, _ := newTestService(t)
	for range 100 {
		mustKey(t, s, "", "")
	}
	stop := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		defer close(errs)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Admin().Maintain(bg); err != nil {
				errs <- err
				return
			}
		}
	}()
	for i := range 6 {
		if _, err := s.RotateRootKey(bg, s.adminCall(t), &RotateRootKeyRequest{To: "file:" + filepath.Join(t.TempDir(), fmt.Sprintf("next%d.key", i))}); err != nil {
			close(stop)
			t.Fatal(err)
		}
	}
	close(stop)
	if err := <-errs; err != nil {
		t.Fatalf("a pass beside a root-key rotation: %v; want the records found whole", err)
	}
}

// TestDigestAttackRollbackOutgrownByChanges: the whole store put back to an
// older copy (records and digest alike: every sum agrees) while the node
// serves, a credential revoked since among its records. The next pass
// would find its digest older than the data directory has seen; but the
// changes made before it (any caller's: a few CreateKey) each locked the
// older digest, wrote its generation plus one, and noted it, until the
// generation passed what the directory had seen: the pass then found
// nothing, and the revoked credential stayed for good. A change must
// refuse a digest older than the directory has seen, as a pass does.
func TestDigestAttackRollbackOutgrownByChanges(t *testing.T) {
	s, _ := newTestService(t)
	raw := s.auth.Unwrap()
	id := mustKey(t, s, "", "").KeyID
	cr := mustCredential(t, s, &CreateCredentialRequest{Name: "leaked"})
	var kept *store.Credential
	var keptDigest *store.RecordsDigest
	rawRecords(t, raw, func(r store.Reader) (err error) {
		if kept, err = r.Credential(cr.AccessKeyID); err != nil {
			return err
		}
		keptDigest, err = r.RecordsDigest()
		return err
	})
	if _, err := s.DeleteCredential(bg, s.adminCall(t), &DeleteCredentialRequest{AccessKeyID: cr.AccessKeyID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin().Maintain(bg); err != nil {
		t.Fatal(err)
	}
	// The writer puts the store back as it was: the credential and the
	// digest that sums it.
	if err := raw.Update(bg, func(tx store.Txn) error {
		if err := tx.CreateCredential(kept); err != nil {
			return err
		}
		return tx.PutRecordsDigest(keptDigest)
	}); err != nil {
		t.Fatal(err)
	}
	var changeErr error
	for range 3 {
		if _, changeErr = s.CreateKey(bg, s.testCall(), &CreateKeyRequest{}); changeErr != nil {
			break
		}
	}
	_, err := s.Admin().Maintain(bg)
	if changeErr == nil && err == nil {
		t.Fatalf("the store put back whole, then outgrown by changes: every change and the next pass accepted it")
	}
	if changeErr != nil && (!errors.Is(changeErr, ErrStoreDamaged) || Kind(changeErr) != ErrInternal) {
		t.Fatalf("a change on the store put back whole: %v; want ErrInternal for a damaged store", changeErr)
	}
	if d := s.damage(); d == nil || !strings.Contains(d.Error(), recordsGenMarker) {
		t.Fatalf("the node's damage: %v (Maintain: %v); want the store refused as put back, naming %s", d, err, recordsGenMarker)
	}
	if err := encryptWith(s, id); err == nil {
		t.Fatal("the node serves a store put back whole")
	}
}

// TestDigestAttackProtectTakesForgedGeneration: store protect of a store
// without a digest (root check v2) continued the generation of whatever
// digest row the database held, its MAC unchecked: a writer's row of
// generation 2^64-1 made the new digest's generation wrap to 0, the data
// directory's rollback check then starting over (and a directory that had
// noted the forged value refusing the store for good). Only a digest that
// verifies may carry its generation on.
func TestDigestAttackProtectTakesForgedGeneration(t *testing.T) {
	s, _ := newTestService(t)
	dir := s.opts.DataDir
	mustKey(t, s, "", "")
	s.Close()
	asDigestless(t, Options{DataDir: dir})
	st := rawStore(t, dir)
	if err := st.Update(bg, func(tx store.Txn) error {
		return tx.PutRecordsDigest(&store.RecordsDigest{Sum: make([]byte, 32), Generation: math.MaxUint64 - 1, MAC: []byte("forged")})
	}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	s = openOrFail(t, Options{DataDir: dir, ProtectRecords: true})
	defer s.Close()
	mustKey(t, s, "", "")
	var gen uint64
	if err := s.view(bg, func(r store.Reader) (err error) { gen, err = store.DigestGeneration(r); return err }); err != nil {
		t.Fatal(err)
	}
	if gen > 10 || gen == 0 {
		t.Fatalf("the digest's generation after store protect over a forged digest row and one change: %d; want a small one", gen)
	}
}

// TestDigestAttackPassWhileAnotherMaintains: the nodes of a shared store
// take turns maintaining it (the store's lock "maintain"), and a node
// whose pass found the lock held returned at once, its records never
// compared with their digest: a record put back stayed served by every
// node but the one holding the lock, for as long as their passes kept
// meeting. Each node's pass compares the records, lock or none.
func TestDigestAttackPassWhileAnotherMaintains(t *testing.T) {
	s, _ := newTestService(t)
	id := mustKey(t, s, "", "").KeyID
	var enabled *store.Key
	raw := s.auth.Unwrap()
	rawRecords(t, raw, func(r store.Reader) (err error) { enabled, err = r.Key(id); return err })
	if _, err := s.DisableKey(bg, s.testCall(), &DisableKeyRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	putBack(t, raw, enabled)
	release, err := s.st.TryLock(bg, maintenanceLock) // another node's pass
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Admin().Maintain(bg)
	release()
	wantDamaged(t, "a pass while another node maintains the store", err)
	if err := encryptWith(s, id); err == nil {
		t.Fatal("the node serves the key put back enabled")
	}
}

// TestDigestAttackStalePassClearsDamage: a pass whose read began while the
// records were whole, and that ended after another pass had found a record
// put back, cleared the damage that pass had set: the node served the
// record put back until the next pass (a minute), though it had found it.
// A pass may clear only damage found before its read began.
func TestDigestAttackStalePassClearsDamage(t *testing.T) {
	s, _ := newTestService(t)
	id, other := mustKey(t, s, "", "").KeyID, mustKey(t, s, "", "").KeyID
	var enabled, disabled *store.Key
	raw := s.auth.Unwrap()
	rawRecords(t, raw, func(r store.Reader) (err error) { enabled, err = r.Key(id); return err })
	if _, err := s.DisableKey(bg, s.testCall(), &DisableKeyRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	rawRecords(t, raw, func(r store.Reader) (err error) { disabled, err = r.Key(id); return err })

	// The first pass to end its read waits there until told to go on.
	var calls atomic.Int32
	paused, resume := make(chan struct{}), make(chan struct{})
	hook := func() {
		if calls.Add(1) == 1 {
			close(paused)
			<-resume
		}
	}
	judgePassHook.Store(&hook)
	t.Cleanup(func() { judgePassHook.Store(nil) })
	stale := make(chan error, 1)
	go func() {
		_, err := s.Admin().Maintain(bg)
		stale <- err
	}()
	<-paused // its read found the records whole

	putBack(t, raw, enabled)
	_, err := s.Admin().Maintain(bg) // the lock is held: digestPass
	wantDamaged(t, "a pass after the record was put back", err)
	close(resume)
	staleErr := <-stale
	if err := encryptWith(s, id); err == nil {
		t.Fatalf("the node serves the key put back enabled once the pass that began before it ended (%v)", staleErr)
	}
	if err := encryptWith(s, other); Kind(err) != ErrInternal {
		t.Fatalf("an untouched key once the store was found damaged: %v; want every operation refused", err)
	}
	wantDamaged(t, "the pass that began before the record was put back", staleErr)

	// Put right: a pass that begins now finds the records whole, and
	// the node serves again.
	putBack(t, raw, disabled)
	if _, err := s.Admin().Maintain(bg); err != nil {
		t.Fatalf("Maintain once the record is put right: %v", err)
	}
	if err := encryptWith(s, other); err != nil {
		t.Fatalf("served again: %v", err)
	}
}
