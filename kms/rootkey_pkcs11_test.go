//go:build pkcs11 && cgo

package kms

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/internal/softhsmtest"
)

// TestPKCS11RootKey: a store made with its root key in a token (SoftHSM2)
// writes nothing key-like to its data directory, serves, fails what needs
// the token while the token is away — with a clear error, warm keys still
// working — and recovers by itself when it is back.
func TestPKCS11RootKey(t *testing.T) {
	uri, _ := softhsmtest.Object(t, "kms-"+strings.ReplaceAll(t.Name(), "/", "-")+"-"+time.Now().Format("150405.000"))
	pin := softhsmtest.PIN(t)
	clk := &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	opts := Options{DataDir: dir, RootKey: uri, PKCS11PIN: pin, Now: clk.now}
	if _, _, err := Init(opts); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "root.key")); !os.IsNotExist(err) {
		t.Fatalf("root.key with a pkcs11: root key: %v", err)
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	warm := mustKey(t, s, "", "")
	cold := mustKey(t, s, "", "")
	enc := func(s *Service, key string) ([]byte, error) {
		r, err := s.Encrypt(bg, s.testCall(), &EncryptRequest{KeyID: key, Plaintext: []byte("secret")})
		if err != nil {
			return nil, err
		}
		return r.CiphertextBlob, nil
	}
	blob, err := enc(s, cold.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc(s, warm.KeyID); err != nil {
		t.Fatal(err)
	}
	// A store sealed under the token does not open under a file key.
	if _, err := CheckStore(bg, Options{DataDir: dir, RootKeyFile: filepath.Join(t.TempDir(), "none.key")}); err == nil {
		t.Fatal("the store opened without its token key")
	}

	s.keys.drop([]string{cold.KeyID}) // cold: its next use opens it, in the token
	restore := softhsmtest.Remove(t)
	if _, err := enc(s, warm.KeyID); err != nil {
		t.Fatalf("a warm key while the token is away: %v", err)
	}
	_, err = s.Decrypt(bg, s.testCall(), &DecryptRequest{CiphertextBlob: blob})
	if !errors.Is(err, ErrInternal) || !strings.Contains(Message(err), "root key is unavailable") {
		t.Fatalf("a cold key while the token is away: %v (%q)", err, Message(err))
	}
	if _, err := s.CreateKey(bg, s.testCall(), &CreateKeyRequest{}); !errors.Is(err, ErrInternal) {
		t.Fatalf("CreateKey while the token is away: %v", err)
	}
	restore()
	var d *DecryptResponse
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if d, err = s.Decrypt(bg, s.testCall(), &DecryptRequest{CiphertextBlob: blob}); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || !bytes.Equal(d.Plaintext, []byte("secret")) {
		t.Fatalf("after the token came back: %v", err)
	}
	if _, err := s.CreateKey(bg, s.testCall(), &CreateKeyRequest{}); err != nil {
		t.Fatalf("CreateKey after the token came back: %v", err)
	}
}

// TestPKCS11Rotation: a store moves from a file root key into the token
// (offline: an online rotation loads no module the server was not started
// with), back to a file online, and into the token again; every ciphertext
// decrypts all along, and the store opens under the key it was moved to
// alone.
func TestPKCS11Rotation(t *testing.T) {
	uri, _ := softhsmtest.Object(t, "kms-rotation-"+time.Now().Format("150405.000"))
	pin := softhsmtest.PIN(t)
	s, clk := newTestService(t)
	md := mustKey(t, s, "", "")
	r, err := s.Encrypt(bg, s.testCall(), &EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateRootKey(bg, s.adminCall(t), &RotateRootKeyRequest{To: uri, PKCS11PIN: pin}); !errors.Is(err, ErrValidation) {
		t.Fatalf("online into a token the server was not started with: %v", err)
	}
	dir := s.opts.DataDir
	s.Close()
	resp, err := RotateRootKeyOffline(bg, Options{DataDir: dir, Now: clk.now}, &RotateRootKeyRequest{To: uri, PKCS11PIN: pin})
	if err != nil || !resp.Made || resp.Keys != 1 {
		t.Fatalf("to the token: %+v %v", resp, err)
	}
	s, err = Open(Options{DataDir: dir, RootKey: uri, PKCS11PIN: pin, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decrypt(bg, s.testCall(), &DecryptRequest{CiphertextBlob: r.CiphertextBlob}); err != nil {
		t.Fatal(err)
	}
	back := "file:" + filepath.Join(t.TempDir(), "back.key")
	if _, err := s.RotateRootKey(bg, s.adminCall(t), &RotateRootKeyRequest{To: back}); err != nil {
		t.Fatal(err)
	}
	s.keys.dropAll()
	if _, err := s.Decrypt(bg, s.testCall(), &DecryptRequest{CiphertextBlob: r.CiphertextBlob}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := CheckStore(bg, Options{DataDir: dir, RootKey: uri, PKCS11PIN: pin}); !errors.Is(err, ErrRootKeyMismatch) {
		t.Fatalf("under the token key after moving back: %v", err)
	}
	// Offline, to the token again, and the store serves from it.
	if _, err := RotateRootKeyOffline(bg, Options{DataDir: dir, RootKey: back}, &RotateRootKeyRequest{To: uri, PKCS11PIN: pin}); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(Options{DataDir: dir, RootKey: uri, PKCS11PIN: pin, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.Decrypt(bg, s2.testCall(), &DecryptRequest{CiphertextBlob: r.CiphertextBlob}); err != nil {
		t.Fatal(err)
	}
}

// TestPKCS11TamperingRefused: with the root key in a token, the record MAC
// key is derived inside it (sealer.NewWrapped); a writer of kms.db, who
// has the file but not the token, re-enables a disabled key: refused.
func TestPKCS11TamperingRefused(t *testing.T) {
	uri, _ := softhsmtest.Object(t, "kms-tamper-"+time.Now().Format("150405.000"))
	dir := t.TempDir()
	opts := Options{DataDir: dir, RootKey: uri, PKCS11PIN: softhsmtest.PIN(t)}
	if _, _, err := Init(opts); err != nil {
		t.Fatal(err)
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	id := mustKey(t, s, "", "").KeyID
	if _, err := s.DisableKey(bg, s.testCall(), &DisableKeyRequest{KeyID: id}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if rep, err := CheckStore(bg, opts); err != nil || !rep.Authenticated {
		t.Fatalf("CheckStore: %+v, %v", rep, err)
	}
	tamperRecord(t, dir, "keys", id, func(r map[string]any) { r["state"] = "Enabled" })
	log := &logBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(log, nil))
	s, err = Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	wantRefused(t, encryptWith(s, id), id, log)
}
