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

// TestDigestAttack2ProtectOfMetaPutBackToV2: a writer who kept the store's
// meta from before store protect (root check v2, its MAC valid) puts it
// back with a key's enabled record, leaving the digest row. The node's own
// directory refuses it (records-digested), and store protect, run from a
// directory without the markers (a shared store's new node directory, as
// docs/rootkey.md names), digested the records as they stood, the key put
// back included, with the generation and history of the digest stored: the
// new digest descended from the one every node had seen, and the node's
// directory then opened the store, the key enabled again. A v2 store whose
// digest verifies under the root key was digested before: its meta was
// put back, and protect refuses it.
func TestDigestAttack2ProtectOfMetaPutBackToV2(t *testing.T) {
	s, _ := newTestService(t)
	dir := s.opts.DataDir
	id := mustKey(t, s, "", "").KeyID
	s.Close()
	asDigestless(t, Options{DataDir: dir})
	var v2meta *store.Meta
	var enabled *store.Key
	st := rawStore(t, dir)
	rawRecords(t, st, func(r store.Reader) (err error) {
		if v2meta, err = r.Meta(); err != nil {
			return err
		}
		enabled, err = r.Key(id)
		return err
	})
	st.Close()
	s = openOrFail(t, Options{DataDir: dir, ProtectRecords: true})
	if _, err := s.DisableKey(bg, s.testCall(), &DisableKeyRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	st = rawStore(t, dir)
	putBack(t, st, enabled)
	if err := st.Update(bg, func(tx store.Txn) error { return tx.PutMeta(v2meta) }); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if s, err := Open(Options{DataDir: dir}); err == nil {
		s.Close()
		t.Fatal("the node's directory opened the store with its v2 meta put back")
	}
	// store protect from a directory without the markers.
	fresh := t.TempDir()
	for _, f := range []string{dbFile, rootKeyFile} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fresh, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s2, protectErr := Open(Options{DataDir: fresh, ProtectRecords: true})
	if protectErr == nil {
		s2.Close()
		b, err := os.ReadFile(filepath.Join(fresh, dbFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dbFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err = Open(Options{DataDir: dir})
		if err == nil {
			defer s.Close()
			t.Fatalf("store protect digested the key put back, and the node's directory serves it (Encrypt: %v)", encryptWith(s, id))
		}
		t.Logf("the node's directory refuses the store protected anew: %v", err)
		return
	}
	if !errors.Is(protectErr, ErrStoreDamaged) || !strings.Contains(protectErr.Error(), "records digest") {
		t.Fatalf("store protect of a v2 meta put back over a digested store: %v; want ErrStoreDamaged naming the records digest", protectErr)
	}
}
