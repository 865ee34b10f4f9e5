package kms

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// sealedValues are the sealed bytes of every material and credential in s's
// store.
func sealedValues(t testing.TB, s *Service) [][]byte {
	t.Helper()
	var out [][]byte
	err := s.st.View(bg, func(r store.Reader) error {
		if err := eachKey(r, func(k *store.Key) error {
			for _, m := range k.Materials {
				out = append(out, bytes.Clone(m.Sealed))
			}
			return nil
		}); err != nil {
			return err
		}
		creds, err := r.Credentials()
		for _, c := range creds {
			out = append(out, bytes.Clone(c.Sealed))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRotateRootKeyUnderLoad: a running store moves to another root key
// while requests create keys and credentials and use keys; every key and
// ciphertext made before, during and after opens under the new key alone,
// the audit log has the change, and nothing sealed under the old key is
// left in the database file.
func TestRotateRootKeyUnderLoad(t *testing.T) {
	s, clk := newTestService(t)
	type ct struct {
		key  string
		blob []byte
		pt   []byte
	}
	var cts []ct
	var mu sync.Mutex
	encrypt := func(key string) error {
		pt := make([]byte, 16)
		rand.Read(pt)
		r, err := s.Encrypt(bg, s.testCall(), &EncryptRequest{KeyID: key, Plaintext: pt})
		if err != nil {
			return err
		}
		mu.Lock()
		cts = append(cts, ct{key, r.CiphertextBlob, pt})
		mu.Unlock()
		return nil
	}
	for i := range 5 {
		md := mustKey(t, s, "", "")
		if i == 0 {
			if _, err := s.RotateKeyOnDemand(bg, s.testCall(), &RotateKeyOnDemandRequest{KeyID: md.KeyID}); err != nil {
				t.Fatal(err)
			}
		}
		if err := encrypt(md.KeyID); err != nil {
			t.Fatal(err)
		}
	}
	mustKey(t, s, EccNistP256, KeyAgreement)
	mustCredential(t, s, &CreateCredentialRequest{Name: "ops", Admin: true, ExpiresIn: time.Hour})
	old := sealedValues(t, s)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				switch (w + i) % 3 {
				case 0:
					var md *CreateKeyResponse
					if md, err = s.CreateKey(bg, s.testCall(), &CreateKeyRequest{}); err == nil {
						err = encrypt(md.KeyID)
					}
				case 1:
					mu.Lock()
					c := cts[i%len(cts)]
					mu.Unlock()
					_, err = s.Decrypt(bg, s.testCall(), &DecryptRequest{CiphertextBlob: c.blob})
				case 2:
					_, err = s.Admin().CreateCredential(bg, &CreateCredentialRequest{Name: "load-" + base64.RawURLEncoding.EncodeToString(randBytes(6))})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	newKey := filepath.Join(t.TempDir(), "new.key")
	resp, err := s.RotateRootKey(bg, s.adminCall(t), &RotateRootKeyRequest{To: "file:" + newKey})
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a request during the rotation: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Made || !resp.Compacted || resp.Keys < 6 || resp.Materials < 7 || resp.Credentials < 2 {
		t.Fatalf("rotation answered %+v", resp)
	}
	// Requests after it, on the same Service.
	if err := encrypt(mustKey(t, s, "", "").KeyID); err != nil {
		t.Fatal(err)
	}
	recs := auditRecords(t, s)
	found := false
	for _, r := range recs {
		found = found || r.Operation == "RotateRootKey" && r.Outcome == "ok"
	}
	if !found {
		t.Fatal("no RotateRootKey record in the audit log")
	}
	opts := s.opts
	s.Close()

	// Nothing sealed under the old key is left in the database file.
	db, err := os.ReadFile(filepath.Join(opts.DataDir, "kms.db"))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range old {
		if bytes.Contains(db, v[:28]) { // the nonce and the start of the ciphertext
			t.Fatalf("sealed value %d of the old root key is still in kms.db", i)
		}
	}
	// The old key opens nothing; the new one everything.
	if _, err := Open(opts); !errors.Is(err, ErrRootKeyMismatch) {
		t.Fatalf("the store under the old root key: %v", err)
	}
	if _, err := CheckStore(bg, Options{DataDir: opts.DataDir, RootKey: "file:" + newKey}); err != nil {
		t.Fatalf("store check under the new key: %v", err)
	}
	s2, err := Open(Options{DataDir: opts.DataDir, RootKey: "file:" + newKey, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for _, c := range cts {
		d, err := s2.Decrypt(bg, s2.testCall(), &DecryptRequest{CiphertextBlob: c.blob})
		if err != nil || !bytes.Equal(d.Plaintext, c.pt) {
			t.Fatalf("a ciphertext of %s after the rotation: %v", c.key, err)
		}
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// TestRotateRootKeyRefusals: each refusal changes nothing and leaves no
// file behind.
func TestRotateRootKeyRefusals(t *testing.T) {
	s, _ := newTestService(t)
	md := mustKey(t, s, "", "")
	ops := mustCredential(t, s, &CreateCredentialRequest{Name: "ops"})
	before := sealedValues(t, s)
	other := filepath.Join(t.TempDir(), "other.key")
	t.Setenv("ATTESTKMS_TEST_SHORT_KEY", base64.StdEncoding.EncodeToString(make([]byte, 16)))
	// A root key file someone else put there, whose key they know (any
	// local user, where the server runs as root): online, the rotation
	// makes its file itself, and reads none.
	planted := filepath.Join(t.TempDir(), "planted.key")
	if err := os.WriteFile(planted, []byte(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		c    *Call
		to   string
		want error
	}{
		"not an admin":         {s.callAs(t, ops.AccessKeyID), "file:" + other, ErrAccessDenied},
		"no principal":         {&Call{RequestID: "x"}, "file:" + other, ErrAccessDenied},
		"the same key":         {s.adminCall(t), "file:" + filepath.Join(s.opts.DataDir, "root.key"), ErrValidation},
		"no provider":          {s.adminCall(t), other, ErrValidation},
		"unset variable":       {s.adminCall(t), "env:ATTESTKMS_TEST_UNSET_KEY", ErrValidation},
		"short key":            {s.adminCall(t), "env:ATTESTKMS_TEST_SHORT_KEY", ErrValidation},
		"file in a void dir":   {s.adminCall(t), "file:/nonexistent/dir/root.key", ErrValidation},
		"relative file":        {s.adminCall(t), "file:new.key", ErrValidation},
		"in the data dir":      {s.adminCall(t), "file:" + filepath.Join(s.opts.DataDir, "new.key"), ErrValidation},
		"a file already there": {s.adminCall(t), "file:" + planted, ErrValidation},
		// An admin credential must not make the server dlopen a library
		// it names: code execution with the server's privileges.
		"a module of the request's": {s.adminCall(t), "pkcs11:token=t;object=o?module-path=" + filepath.Join(t.TempDir(), "evil.so"), ErrValidation},
	} {
		if _, err := s.RotateRootKey(bg, tc.c, &RotateRootKeyRequest{To: tc.to}); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("a refused rotation left %s: %v", other, err)
	}
	after := sealedValues(t, s)
	if len(after) != len(before) {
		t.Fatal("a refused rotation changed the store")
	}
	for i := range before {
		if !bytes.Equal(before[i], after[i]) {
			t.Fatal("a refused rotation resealed a value")
		}
	}
	if _, err := s.Encrypt(bg, s.testCall(), &EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
}

// TestRotateRootKeyOfflineRerun: the offline rotation, run again, finds
// the store under the new key and finishes; under neither key it refuses.
func TestRotateRootKeyOfflineRerun(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	newKey := "file:" + filepath.Join(t.TempDir(), "new.key")
	r1, err := RotateRootKeyOffline(bg, Options{DataDir: dir}, &RotateRootKeyRequest{To: newKey})
	if err != nil || r1.Already || r1.Credentials != 1 {
		t.Fatalf("first run: %+v %v", r1, err)
	}
	r2, err := RotateRootKeyOffline(bg, Options{DataDir: dir}, &RotateRootKeyRequest{To: newKey})
	if err != nil || !r2.Already || !r2.Compacted {
		t.Fatalf("rerun: %+v %v", r2, err)
	}
	third := "file:" + filepath.Join(t.TempDir(), "third.key")
	if _, err := RotateRootKeyOffline(bg, Options{DataDir: dir, RootKey: third}, &RotateRootKeyRequest{To: third}); !errors.Is(err, ErrRootKeyMismatch) && err == nil {
		t.Fatalf("under neither key: %v", err)
	}
	// Back to a variable, from the file.
	k := make([]byte, 32)
	rand.Read(k)
	t.Setenv("ATTESTKMS_TEST_ROOT", base64.StdEncoding.EncodeToString(k))
	if _, err := RotateRootKeyOffline(bg, Options{DataDir: dir, RootKey: newKey}, &RotateRootKeyRequest{To: "env:ATTESTKMS_TEST_ROOT"}); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckStore(bg, Options{DataDir: dir, RootKey: "env:ATTESTKMS_TEST_ROOT"}); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkRotateRootKey(b *testing.B) {
	s, _ := newTestService(b)
	for range 20 {
		mustKey(b, s, "", "")
	}
	keys := []string{"file:" + filepath.Join(s.opts.DataDir, "root.key"), "file:" + filepath.Join(b.TempDir(), "b.key")}
	c := s.adminCall(b)
	i := 1
	for b.Loop() {
		if _, err := s.RotateRootKey(bg, c, &RotateRootKeyRequest{To: keys[i%2]}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
