package kms

// A second review of the records digest, as an attacker who writes the
// database (not the root key), after the data directory began to remember
// the digest's MAC and history (Recent) and the meta became an element.

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// TestDigestAttack2CloseNotesForeignHistory: the store put back to an
// older copy and changed since by another node that never saw the newer
// one (a history of its own, carried past this node's generation) is
// refused by this node's next check, as not descending from the digest its
// data directory saw. But Close noted the store's digest as it found it,
// unchecked: the data directory then remembered the other history as its
// own, and the next Open served the copy put back — a credential deleted
// since authenticated again.
func TestDigestAttack2CloseNotesForeignHistory(t *testing.T) {
	s, _ := newTestService(t)
	dir := s.opts.DataDir
	cr := mustCredential(t, s, &CreateCredentialRequest{Name: "leaked"})
	s.Close()
	// The other node's copy (a shared store's other node, here a copy of
	// the data directory): the store as it was, credential and all.
	other := t.TempDir()
	if err := os.CopyFS(other, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(other, "root.key"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = openOrFail(t, Options{DataDir: dir})
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	if _, err := s.DeleteCredential(bg, s.adminCall(t), &DeleteCredentialRequest{AccessKeyID: cr.AccessKeyID}); err != nil {
		t.Fatal(err)
	}
	// The other history: two changes on the copy, its generation past
	// this node's, its Recent naming another digest of that generation.
	s2 := openOrFail(t, Options{DataDir: other})
	mustKey(t, s2, "", "")
	mustKey(t, s2, "", "")
	s2.Close()
	var keys []*store.Key
	var cred *store.Credential
	var digest *store.RecordsDigest
	raw2 := rawStore(t, other)
	rawRecords(t, raw2, func(r store.Reader) (err error) {
		if keys, err = r.Keys("", 1000); err != nil {
			return err
		}
		if cred, err = r.Credential(cr.AccessKeyID); err != nil {
			return err
		}
		digest, err = r.RecordsDigest()
		return err
	})
	raw2.Close()
	// The writer puts the other history's store in place under the
	// running node: its keys, the credential, its digest.
	if err := s.auth.Unwrap().Update(bg, func(tx store.Txn) error {
		for _, k := range keys {
			if _, err := tx.Key(k.ID); errors.Is(err, store.ErrNotFound) {
				if err := tx.CreateKey(k); err != nil {
					return err
				}
			}
		}
		if err := tx.CreateCredential(cred); err != nil {
			return err
		}
		return tx.PutRecordsDigest(digest)
	}); err != nil {
		t.Fatal(err)
	}
	// The node's next check would refuse it (does not descend)...
	if _, err := s.verifyDigest(bg); err == nil {
		t.Fatal("the other history's store accepted by a check")
	}
	// ...but it closes first.
	s.Close()
	var err error
	if s, err = Open(Options{DataDir: dir}); err == nil {
		_, _, ok := s.Credentials().Lookup(cr.AccessKeyID)
		t.Fatalf("Open after Close served the store put back and changed by another history (the deleted credential authenticates: %v)", ok)
	}
	if !errors.Is(err, ErrStoreDamaged) || !strings.Contains(err.Error(), "descend") {
		t.Fatalf("Open: %v; want the store refused as not descending", err)
	}
}
