package kms

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestRotateRootKeyPostgres: a shared store (PostgreSQL), every node
// stopped, moves to another root key offline (attestkms root-key rotate
// --store …): afterwards it opens under the new key only (a node, or a
// store check, with the old is refused as the wrong root key), every
// ciphertext made before decrypts and every credential authenticates with
// its secret, the rotation's audit record is in the node's log, the
// response says nothing was compacted (VACUUM FULL is the operator's,
// docs/shredding.md), and a rerun answers Already.
func TestRotateRootKeyPostgres(t *testing.T) {
	cl := newCluster(t)
	opts := cl.opts("a")
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	type ct struct{ blob, pt []byte }
	var cts []ct
	encrypt := func(key string) {
		t.Helper()
		pt := randBytes(20)
		r, err := s.Encrypt(bg, s.testCall(), &EncryptRequest{KeyID: key, Plaintext: pt})
		if err != nil {
			t.Fatal(err)
		}
		cts = append(cts, ct{r.CiphertextBlob, pt})
	}
	for i := range 5 {
		md := mustKey(t, s, "", "")
		encrypt(md.KeyID)
		if i == 0 {
			for range 2 {
				if _, err := s.RotateKeyOnDemand(bg, s.testCall(), &RotateKeyOnDemandRequest{KeyID: md.KeyID}); err != nil {
					t.Fatal(err)
				}
				encrypt(md.KeyID)
			}
		}
	}
	mustKey(t, s, EccNistP256, KeyAgreement)
	ops := mustCredential(t, s, &CreateCredentialRequest{Name: "ops", Admin: true, ExpiresIn: time.Hour})
	creds := map[string]string{cl.cred.AccessKeyID: cl.cred.SecretAccessKey, ops.AccessKeyID: string(ops.SecretAccessKey)}
	s.Close()

	newKey := filepath.Join(cl.dir, "new.key")
	req := &RotateRootKeyRequest{To: "file:" + newKey}
	resp, err := RotateRootKeyOffline(bg, opts, req)
	if err != nil {
		t.Fatal(err)
	}
	if want := (RotateRootKeyResponse{Keys: 6, Materials: 8, Credentials: 2, Made: true}); *resp != want {
		t.Fatalf("rotation answered %+v, want %+v", *resp, want)
	}

	newOpts := opts
	newOpts.RootKeyFile, newOpts.RootKey = "", "file:"+newKey
	// The old key opens nothing: neither a node (the rotated one, or one
	// that never ran) nor a store check.
	for _, o := range []Options{opts, cl.opts("b")} {
		if s, err := Open(o); !errors.Is(err, ErrRootKeyMismatch) {
			if err == nil {
				s.Close()
			}
			t.Fatalf("Open under the old root key (%s): %v, want ErrRootKeyMismatch", o.DataDir, err)
		}
	}
	if _, err := CheckStore(bg, opts); !errors.Is(err, ErrRootKeyMismatch) {
		t.Fatalf("CheckStore under the old root key: %v, want ErrRootKeyMismatch", err)
	}
	check, err := CheckStore(bg, newOpts)
	if err != nil {
		t.Fatalf("CheckStore under the new root key: %v", err)
	}
	if check.Keys != 6 || check.Materials != 8 || check.Credentials != 2 {
		t.Fatalf("CheckStore under the new root key found %+v", check)
	}

	s, err = Open(newOpts)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cts {
		r, err := s.Decrypt(bg, s.testCall(), &DecryptRequest{CiphertextBlob: c.blob})
		if err != nil || !bytes.Equal(r.Plaintext, c.pt) {
			t.Fatalf("ciphertext %d after the rotation: %v", i, err)
		}
	}
	for id, want := range creds {
		secret, _, ok := s.Credentials().Lookup(id)
		if !ok || string(secret) != want {
			t.Fatalf("credential %s after the rotation: found %v, its secret the same %v", id, ok, string(secret) == want)
		}
	}
	// Keys made after it seal under the new key too.
	encrypt(mustKey(t, s, "", "").KeyID)
	if r := lastRecord(t, s, "RotateRootKey"); r.Outcome != "ok" || !r.Change {
		t.Fatalf("the rotation's audit record: %+v", r)
	}
	s.Close()

	resp, err = RotateRootKeyOffline(bg, opts, req)
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if want := (RotateRootKeyResponse{Already: true}); *resp != want {
		t.Fatalf("rerun answered %+v, want %+v", *resp, want)
	}
	s, err = Open(newOpts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, c := range cts {
		if r, err := s.Decrypt(bg, s.testCall(), &DecryptRequest{CiphertextBlob: c.blob}); err != nil || !bytes.Equal(r.Plaintext, c.pt) {
			t.Fatalf("ciphertext %d after the rerun: %v", i, err)
		}
	}
}
