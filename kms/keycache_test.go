package kms

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestDatabaseHoldsNoKeyMaterial greps the database file for every secret the
// store holds, raw and in the encodings a careless change might use.
func TestDatabaseHoldsNoKeyMaterial(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	var secrets [][]byte
	sym := mustKey(t, s, SymmetricDefault, "")
	if _, err := s.RotateKeyOnDemand(bg, c, &RotateKeyOnDemandRequest{KeyID: sym.KeyID}); err != nil {
		t.Fatal(err)
	}
	var ecIDs []string
	for _, spec := range []KeySpec{EccNistP256, EccNistP384, EccNistP521, EccSecgP256k1} {
		ecIDs = append(ecIDs, mustKey(t, s, spec, KeyAgreement).KeyID)
	}
	k, err := s.cachedKey(bg, sym.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range k.sym {
		secrets = append(secrets, bytes.Clone(m))
	}
	k.release()
	for _, id := range ecIDs {
		k, err := s.cachedKey(bg, id)
		if err != nil {
			t.Fatal(err)
		}
		p8, err := k.ec.MarshalPKCS8()
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, p8)
		k.release()
	}
	cred, err := s.Admin().CreateCredential(bg, &CreateCredentialRequest{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, []byte(cred.SecretAccessKey))
	for _, ci := range s.Admin().ListCredentials() {
		secret, _, _ := s.Credentials().Lookup(ci.AccessKeyID)
		secrets = append(secrets, bytes.Clone(secret))
	}
	if len(secrets) != 2+4+1+2 { // materials, EC keys, the new secret, both credentials' lookups
		t.Fatalf("collected %d secrets", len(secrets))
	}
	s.Close()
	db, err := os.ReadFile(filepath.Join(s.opts.DataDir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	for i, sec := range secrets {
		for _, enc := range [][]byte{sec, []byte(hex.EncodeToString(sec)), []byte(base64.StdEncoding.EncodeToString(sec))} {
			if bytes.Contains(db, enc) {
				t.Fatalf("secret %d appears in the database file", i)
			}
		}
		if len(sec) >= 16 && bytes.Contains(db, sec[:16]) {
			t.Fatalf("a 16-byte prefix of secret %d appears in the database file", i)
		}
	}
	// The store is reopened (by Cleanup's Close) — keep it valid.
	s2, err := Open(s.opts)
	if err != nil {
		t.Fatal(err)
	}
	s.st, s.audit = s2.st, s2.audit
}

// TestConcurrentUseAndChange runs encryption while the key's state changes
// and the cache is invalidated; with -race it checks the locking, and every
// blob made must decrypt.
func TestConcurrentUseAndChange(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	blobs := make(chan []byte, 10000)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := s.Encrypt(bg, s.testCall(), &EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("x")})
				if err == nil {
					blobs <- r.CiphertextBlob
				} else if !errors.Is(err, ErrDisabled) {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		s.DisableKey(bg, c, &DisableKeyRequest{KeyID: md.KeyID})
		s.EnableKey(bg, c, &EnableKeyRequest{KeyID: md.KeyID})
		s.RotateKeyOnDemand(bg, c, &RotateKeyOnDemandRequest{KeyID: md.KeyID})
	}
	close(stop)
	wg.Wait()
	close(blobs)
	n := 0
	for b := range blobs {
		if _, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: b}); err != nil {
			t.Fatalf("blob %d made during changes does not decrypt: %v", n, err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no encryption succeeded")
	}
}
