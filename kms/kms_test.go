package kms

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms/audit"
	"github.com/attestkms/attestkms/kms/internal/eckeys"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var bg = context.Background()

func newTestService(t testing.TB) (*Service, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir, Now: clk.now}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{DataDir: dir, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, clk
}

// testCall is a call by the account's admin credential.
func (s *Service) testCall() *Call {
	return &Call{RequestID: "test", Principal: &Principal{AccessKeyID: "AKIATEST", Name: adminName, ARN: principalARN(s.account, adminName)}}
}

func mustKey(t testing.TB, s *Service, spec KeySpec, usage KeyUsage) *CreateKeyResponse {
	t.Helper()
	md, err := s.CreateKey(bg, s.testCall(), &CreateKeyRequest{KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatal(err)
	}
	return md
}

func wantKind(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("err = %v; want kind %v", err, kind)
	}
}

func TestInitRefusesInitialisedDir(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, dbFile))
	_, _, err := Init(Options{DataDir: dir})
	wantKind(t, err, ErrAlreadyInitialised)
	after, _ := os.ReadFile(filepath.Join(dir, dbFile))
	if !bytes.Equal(before, after) {
		t.Fatal("a refused init changed the store")
	}
	for _, f := range []string{dbFile, rootKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, %v; want 0600", f, fi.Mode().Perm(), err)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode %v; want 0700", fi.Mode().Perm())
	}
}

func TestOpenRefusesWrongRootKey(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir}); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other.key")
	if _, err := createRootKey(other); err != nil {
		t.Fatal(err)
	}
	_, err := Open(Options{DataDir: dir, RootKeyFile: other})
	wantKind(t, err, ErrRootKeyMismatch)

	os.Chmod(filepath.Join(dir, rootKeyFile), 0o644)
	if _, err := Open(Options{DataDir: dir}); err == nil {
		t.Fatal("opened a store whose root key file is world-readable")
	}
}

func TestOpenRefusesSecondProcess(t *testing.T) {
	s, _ := newTestService(t)
	_, err := Open(s.opts)
	wantKind(t, err, ErrStoreInUse)
}

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
	k, err := s.st.loadKey(bg, sym.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range k.sym {
		secrets = append(secrets, bytes.Clone(m))
	}
	k.release()
	for _, id := range ecIDs {
		k, err := s.st.loadKey(bg, id)
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
	cred, err := s.Admin().CreateCredential(bg, "ci")
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

func TestEncryptDecrypt(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	ec := EncryptionContext{"purpose": "test", "tenant": "a"}
	pt := []byte("attack at dawn")
	enc, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyARN, Plaintext: pt, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	if enc.KeyARN != md.KeyARN || enc.KeyID != md.KeyID || c.KeyARN != md.KeyARN {
		t.Fatalf("KeyARN %q, KeyID %q, call ARN %q; want %q", enc.KeyARN, enc.KeyID, c.KeyARN, md.KeyARN)
	}
	if len(enc.CiphertextBlob) != blobHeaderLen+len(pt)+blobTagLen {
		t.Fatalf("blob is %d bytes", len(enc.CiphertextBlob))
	}
	dec, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	if err != nil || !bytes.Equal(dec.Plaintext, pt) || dec.KeyARN != md.KeyARN || dec.KeyID != md.KeyID {
		t.Fatalf("Decrypt = %+v, %v", dec, err)
	}

	// Any changed byte, another context, or no context: InvalidCiphertext.
	for i := range enc.CiphertextBlob {
		b := bytes.Clone(enc.CiphertextBlob)
		b[i] ^= 0x01
		_, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: b, EncryptionContext: ec})
		wantKind(t, err, ErrInvalidCiphertext)
	}
	for _, other := range []EncryptionContext{nil, {"purpose": "test"}, {"purpose": "test", "tenant": "b"}, {"purpose": "test", "tenant": "a", "x": ""}} {
		_, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: other})
		wantKind(t, err, ErrInvalidCiphertext)
	}
	for _, bad := range [][]byte{{0x01}, bytes.Repeat([]byte{1}, blobHeaderLen+blobTagLen-1), append([]byte{2}, enc.CiphertextBlob[1:]...)} {
		_, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: bad, EncryptionContext: ec})
		wantKind(t, err, ErrInvalidCiphertext)
	}
	_, err = s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: make([]byte, maxBlobLen+1)})
	wantKind(t, err, ErrValidation)

	// KeyId naming another key: IncorrectKey; an alias of the right key works.
	other := mustKey(t, s, "", "")
	_, err = s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyID: other.KeyID})
	wantKind(t, err, ErrIncorrectKey)
	if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/app", TargetKeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyID: "alias/app"}); err != nil {
		t.Fatal(err)
	}

	for _, n := range []int{0, maxPlaintextLen + 1} {
		_, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: make([]byte, n)})
		wantKind(t, err, ErrValidation)
	}
	_, err = s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: pt, EncryptionAlgorithm: "RSAES_OAEP_SHA_256"})
	wantKind(t, err, ErrValidation)
	_, err = s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: pt, EncryptionContext: EncryptionContext{"": "x"}})
	wantKind(t, err, ErrValidation)
	_, err = s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: pt, DryRun: true})
	wantKind(t, err, ErrDryRun)
}

func TestKeyIDForms(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/team/app_1", TargetKeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}
	acct := s.Account().AccountID
	if md.KeyARN != "arn:aws:kms:us-east-1:"+acct+":key/"+md.KeyID {
		t.Fatalf("Arn = %s; want the key in us-east-1, the default region", md.KeyARN)
	}
	for _, id := range []string{
		md.KeyID, md.KeyARN, "alias/team/app_1",
		"arn:aws:kms:us-east-1:" + acct + ":alias/team/app_1",
		"arn:aws:kms:us-east-1:" + acct + ":key/" + md.KeyID,
	} {
		got, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: id})
		if err != nil || got.KeyID != md.KeyID {
			t.Errorf("DescribeKey(%q) = %v, %v", id, got, err)
		}
	}
	for _, id := range []string{
		"alias/nope", "nope", md.KeyID[:35], "  " + md.KeyID, stringsToUpper(md.KeyID),
		"arn:aws:kms:us-east-1:000000000000:key/" + md.KeyID, // another account
		"arn:aws:kms:us-east-1:" + acct + ":key/nope",
		"arn:aws:s3:us-east-1:" + acct + ":key/" + md.KeyID,
		"arn:aws:kms:us-east-1:" + acct + ":grant/x",
		// Another region or partition: the same key has no second ARN.
		"arn:aws:kms:eu-west-1:" + acct + ":key/" + md.KeyID,
		"arn:aws:kms:ap-south-2:" + acct + ":alias/team/app_1",
		"arn:aws:kms::" + acct + ":key/" + md.KeyID,
		"arn:aws-cn:kms:us-east-1:" + acct + ":key/" + md.KeyID,
		"arn:aws-us-gov:kms:us-east-1:" + acct + ":alias/team/app_1",
		"arn:awsx:kms:us-east-1:" + acct + ":key/" + md.KeyID,
		"arn:aws:kms:US-EAST-1:" + acct + ":key/" + md.KeyID,
		"00000000-0000-4000-8000-000000000000",
	} {
		_, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: id})
		wantKind(t, err, ErrNotFound)
	}
	_, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: ""})
	wantKind(t, err, ErrValidation)
	// Every operation takes every form, management ones too.
	if _, err := s.DisableKey(bg, c, &DisableKeyRequest{KeyID: "alias/team/app_1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnableKey(bg, c, &EnableKeyRequest{KeyID: "arn:aws:kms:us-east-1:" + acct + ":alias/team/app_1"}); err != nil {
		t.Fatal(err)
	}
}

func stringsToUpper(s string) string { return string(bytes.ToUpper([]byte(s))) }

func TestKeyStates(t *testing.T) {
	s, clk := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	enc, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DisableKey(bg, c, &DisableKeyRequest{KeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("x")})
	wantKind(t, err, ErrDisabled)
	_, err = s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob})
	wantKind(t, err, ErrDisabled)
	_, err = s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256"})
	wantKind(t, err, ErrDisabled)
	if d, _ := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID}); d.Enabled || d.KeyState != Disabled {
		t.Fatalf("state %s after DisableKey", d.KeyState)
	}
	if _, err := s.EnableKey(bg, c, &EnableKeyRequest{KeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}

	_, err = s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: md.KeyID, PendingWindowInDays: 6})
	wantKind(t, err, ErrValidation)
	_, err = s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: md.KeyID, PendingWindowInDays: 31})
	wantKind(t, err, ErrValidation)
	sd, err := s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: md.KeyID, PendingWindowInDays: 7})
	if err != nil || sd.KeyState != PendingDeletion || !sd.DeletionDate.Equal(clk.now().Add(7*24*time.Hour)) {
		t.Fatalf("ScheduleKeyDeletion = %+v, %v", sd, err)
	}
	_, err = s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: md.KeyID, PendingWindowInDays: 7})
	wantKind(t, err, ErrInvalidState)
	_, err = s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob})
	wantKind(t, err, ErrInvalidState)
	wantKind(t, errOf(s.EnableKey(bg, c, &EnableKeyRequest{KeyID: md.KeyID})), ErrInvalidState)
	wantKind(t, errOf(s.TagResource(bg, c, &TagResourceRequest{KeyID: md.KeyID, Tags: []Tag{{"a", "b"}}})), ErrInvalidState)
	if _, err := s.CancelKeyDeletion(bg, c, &CancelKeyDeletionRequest{KeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID}); d.KeyState != Disabled || d.DeletionDate != nil {
		t.Fatalf("after CancelKeyDeletion: %+v", d)
	}
	_, err = s.CancelKeyDeletion(bg, c, &CancelKeyDeletionRequest{KeyID: md.KeyID})
	wantKind(t, err, ErrInvalidState)

	// Deletion: the key and its aliases are gone once the window ends.
	if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/doomed", TargetKeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: md.KeyID, PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}
	clk.add(7*24*time.Hour - time.Second)
	if _, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID}); err != nil {
		t.Fatalf("key gone before its deletion date: %v", err)
	}
	clk.add(time.Second)
	if r, err := s.Admin().Maintain(bg); err != nil || r.Destroyed != 1 {
		t.Fatalf("Maintain = %+v, %v", r, err)
	}
	_, err = s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID})
	wantKind(t, err, ErrNotFound)
	_, err = s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob})
	wantKind(t, err, ErrInvalidCiphertext)
	if a, err := s.ListAliases(bg, c, &ListAliasesRequest{}); err != nil || len(a.Aliases) != 0 {
		t.Fatalf("aliases of a destroyed key remain: %+v, %v", a, err)
	}
}

func TestLazyDestruction(t *testing.T) {
	s, clk := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	if _, err := s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: md.KeyID, PendingWindowInDays: 30}); err != nil {
		t.Fatal(err)
	}
	clk.add(31 * 24 * time.Hour)
	keys, err := s.ListKeys(bg, c, &ListKeysRequest{})
	if err != nil || len(keys.Keys) != 0 {
		t.Fatalf("ListKeys lists a key past its deletion date")
	}
	_, err = s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID})
	wantKind(t, err, ErrNotFound)
	if r, _ := s.Admin().Maintain(bg); r.Destroyed != 0 {
		t.Fatal("lazily destroyed key destroyed again")
	}
}

func TestRotation(t *testing.T) {
	s, clk := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	var blobs [][]byte
	encrypt := func() {
		r, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: []byte{byte(len(blobs))}})
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, r.CiphertextBlob)
	}
	encrypt()
	if _, err := s.RotateKeyOnDemand(bg, c, &RotateKeyOnDemandRequest{KeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}
	encrypt()
	wantKind(t, errOf(s.EnableKeyRotation(bg, c, &EnableKeyRotationRequest{KeyID: md.KeyID, RotationPeriodInDays: 89})), ErrValidation)
	if _, err := s.EnableKeyRotation(bg, c, &EnableKeyRotationRequest{KeyID: md.KeyID, RotationPeriodInDays: 90}); err != nil {
		t.Fatal(err)
	}
	st, err := s.GetKeyRotationStatus(bg, c, &GetKeyRotationStatusRequest{KeyID: md.KeyID})
	if err != nil || !st.KeyRotationEnabled || st.RotationPeriodInDays != 90 || !st.NextRotationDate.Equal(clk.now().Add(90*24*time.Hour)) {
		t.Fatalf("GetKeyRotationStatus = %+v, %v", st, err)
	}
	clk.add(90 * 24 * time.Hour)
	if r, err := s.Admin().Maintain(bg); err != nil || r.Rotated != 1 {
		t.Fatalf("Maintain = %+v, %v", r, err)
	}
	encrypt()
	for i, b := range blobs {
		if v := uint32(b[17])<<24 | uint32(b[18])<<16 | uint32(b[19])<<8 | uint32(b[20]); v != uint32(i+1) {
			t.Errorf("blob %d made with material version %d; want %d", i, v, i+1)
		}
		r, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: b})
		if err != nil || r.Plaintext[0] != byte(i) {
			t.Fatalf("blob %d: %v", i, err)
		}
	}
	lr, err := s.ListKeyRotations(bg, c, &ListKeyRotationsRequest{KeyID: md.KeyID})
	if err != nil {
		t.Fatal(err)
	}
	if rs := lr.Rotations; len(rs) != 2 || rs[0].RotationType != RotationOnDemand || rs[1].RotationType != RotationAutomatic || rs[1].KeyMaterialState != "CURRENT" {
		t.Fatalf("ListKeyRotations = %+v", rs)
	}
	all, err := s.ListKeyRotations(bg, c, &ListKeyRotationsRequest{KeyID: md.KeyID, AllKeyMaterial: true, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	next := all.NextMarker
	rest, err := s.ListKeyRotations(bg, c, &ListKeyRotationsRequest{KeyID: md.KeyID, AllKeyMaterial: true, Limit: 2, Marker: next})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Rotations) != 2 || next == "" || len(rest.Rotations) != 1 {
		t.Fatalf("paged rotations: %d, %q, %d", len(all.Rotations), next, len(rest.Rotations))
	}
	for i := 1; i < maxOnDemandRotations; i++ {
		if _, err := s.RotateKeyOnDemand(bg, c, &RotateKeyOnDemandRequest{KeyID: md.KeyID}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.RotateKeyOnDemand(bg, c, &RotateKeyOnDemandRequest{KeyID: md.KeyID})
	wantKind(t, err, ErrLimitExceeded)

	ec := mustKey(t, s, EccNistP256, KeyAgreement)
	_, err = s.RotateKeyOnDemand(bg, c, &RotateKeyOnDemandRequest{KeyID: ec.KeyID})
	wantKind(t, err, ErrUnsupported)
	wantKind(t, errOf(s.EnableKeyRotation(bg, c, &EnableKeyRotationRequest{KeyID: ec.KeyID, RotationPeriodInDays: 0})), ErrUnsupported)
}

func TestDeriveSharedSecret(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	for _, tc := range []struct {
		spec  KeySpec
		curve eckeys.Curve
	}{{EccNistP256, eckeys.P256}, {EccNistP384, eckeys.P384}, {EccNistP521, eckeys.P521}, {EccSecgP256k1, eckeys.Secp256k1}} {
		t.Run(string(tc.spec), func(t *testing.T) {
			md := mustKey(t, s, tc.spec, KeyAgreement)
			pub, err := s.GetPublicKey(bg, c, &GetPublicKeyRequest{KeyID: md.KeyID})
			if err != nil {
				t.Fatal(err)
			}
			kmsPub, err := eckeys.ParseSPKI(pub.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			peer, _ := eckeys.Generate(tc.curve, rand.Reader)
			peerSPKI, _ := peer.Public().MarshalSPKI()
			r, err := s.DeriveSharedSecret(bg, c, &DeriveSharedSecretRequest{KeyID: md.KeyID, KeyAgreementAlgorithm: "ECDH", PublicKey: peerSPKI})
			if err != nil {
				t.Fatal(err)
			}
			want, _ := peer.ECDH(kmsPub)
			if !bytes.Equal(r.SharedSecret, want) || len(want) != tc.curve.SecretSize() {
				t.Fatal("shared secret differs from the peer's own ECDH")
			}
		})
	}
	p256 := mustKey(t, s, EccNistP256, KeyAgreement)
	p384peer, _ := ecdh.P384().GenerateKey(rand.Reader)
	wrongCurve, _ := x509.MarshalPKIXPublicKey(p384peer.PublicKey())
	x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
	xSPKI, _ := x509.MarshalPKIXPublicKey(x25519.PublicKey())
	good, _ := ecdh.P256().GenerateKey(rand.Reader)
	goodSPKI, _ := x509.MarshalPKIXPublicKey(good.PublicKey())
	offCurve := bytes.Clone(goodSPKI)
	offCurve[len(offCurve)-1] ^= 1
	for name, pk := range map[string][]byte{"wrong curve": wrongCurve, "x25519": xSPKI, "off curve": offCurve, "garbage": []byte("hello"), "truncated": goodSPKI[:40]} {
		_, err := s.DeriveSharedSecret(bg, c, &DeriveSharedSecretRequest{KeyID: p256.KeyID, KeyAgreementAlgorithm: "ECDH", PublicKey: pk})
		if !errors.Is(err, ErrInvalidPublicKey) {
			t.Errorf("%s: err = %v; want ErrInvalidPublicKey", name, err)
		}
	}
	_, err := s.DeriveSharedSecret(bg, c, &DeriveSharedSecretRequest{KeyID: p256.KeyID, PublicKey: goodSPKI})
	wantKind(t, err, ErrValidation)
	sym := mustKey(t, s, "", "")
	_, err = s.DeriveSharedSecret(bg, c, &DeriveSharedSecretRequest{KeyID: sym.KeyID, KeyAgreementAlgorithm: "ECDH", PublicKey: goodSPKI})
	wantKind(t, err, ErrInvalidKeyUsage)
	_, err = s.Encrypt(bg, c, &EncryptRequest{KeyID: p256.KeyID, Plaintext: []byte("x")})
	wantKind(t, err, ErrInvalidKeyUsage)
	_, err = s.GetPublicKey(bg, c, &GetPublicKeyRequest{KeyID: sym.KeyID})
	wantKind(t, err, ErrUnsupported)
}

func TestCreateKeyValidation(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	for name, req := range map[string]*CreateKeyRequest{
		"unknown spec":        {KeySpec: "RSA_1024"},
		"ecc without usage":   {KeySpec: EccNistP256},
		"ecc encrypt":         {KeySpec: EccNistP256, KeyUsage: EncryptDecrypt},
		"symmetric agreement": {KeySpec: SymmetricDefault, KeyUsage: KeyAgreement},
		"long description":    {Description: string(make([]byte, maxDescription+1))},
		"bad policy":          {Policy: "{"},
		"policy no statement": {Policy: `{"Version":"2012-10-17"}`},
		"aws tag":             {Tags: []Tag{{"aws:x", "y"}}},
		"duplicate tag":       {Tags: []Tag{{"a", "1"}, {"a", "2"}}},
		"external origin":     {Origin: "EXTERNAL"},
		"multi-region":        {MultiRegion: true},
	} {
		if _, err := s.CreateKey(bg, c, req); err == nil {
			t.Errorf("%s: CreateKey succeeded", name)
		}
	}
	if keys, err := s.ListKeys(bg, c, &ListKeysRequest{}); err != nil || len(keys.Keys) != 0 {
		t.Fatalf("refused CreateKeys left %+v, %v", keys, err)
	}
}

func TestAliases(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	a := mustKey(t, s, "", "")
	b := mustKey(t, s, "", "")
	e := mustKey(t, s, EccNistP256, KeyAgreement)
	if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/x", TargetKeyID: a.KeyID}); err != nil {
		t.Fatal(err)
	}
	wantKind(t, errOf(s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/x", TargetKeyID: b.KeyID})), ErrAlreadyExists)
	wantKind(t, errOf(s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "x", TargetKeyID: b.KeyID})), ErrInvalidAliasName)
	wantKind(t, errOf(s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/aws/x", TargetKeyID: b.KeyID})), ErrInvalidAliasName)
	wantKind(t, errOf(s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/sp ace", TargetKeyID: b.KeyID})), ErrInvalidAliasName)
	wantKind(t, errOf(s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/y", TargetKeyID: "alias/x"})), ErrValidation)
	if _, err := s.UpdateAlias(bg, c, &UpdateAliasRequest{AliasName: "alias/x", TargetKeyID: b.KeyID}); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: "alias/x"}); d.KeyID != b.KeyID {
		t.Fatal("UpdateAlias did not move the alias")
	}
	wantKind(t, errOf(s.UpdateAlias(bg, c, &UpdateAliasRequest{AliasName: "alias/x", TargetKeyID: e.KeyID})), ErrValidation)
	wantKind(t, errOf(s.UpdateAlias(bg, c, &UpdateAliasRequest{AliasName: "alias/none", TargetKeyID: a.KeyID})), ErrNotFound)
	if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/y", TargetKeyID: a.KeyID}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListAliases(bg, c, &ListAliasesRequest{KeyID: a.KeyID})
	if err != nil || len(got.Aliases) != 1 || got.Aliases[0].AliasName != "alias/y" {
		t.Fatalf("ListAliases(a) = %+v, %v", got, err)
	}
	page1, err := s.ListAliases(bg, c, &ListAliasesRequest{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	next := page1.NextMarker
	page2, err := s.ListAliases(bg, c, &ListAliasesRequest{Limit: 1, Marker: next})
	if err != nil {
		t.Fatal(err)
	}
	next2 := page2.NextMarker
	if len(page1.Aliases) != 1 || len(page2.Aliases) != 1 || next2 != "" || page1.Aliases[0].AliasName == page2.Aliases[0].AliasName {
		t.Fatalf("paging aliases: %v %q %v %q", page1.Aliases, next, page2.Aliases, next2)
	}
	_, err = s.ListAliases(bg, c, &ListAliasesRequest{Marker: "!!"})
	wantKind(t, err, ErrInvalidMarker)
	if _, err := s.DeleteAlias(bg, c, &DeleteAliasRequest{AliasName: "alias/x"}); err != nil {
		t.Fatal(err)
	}
	wantKind(t, errOf(s.DeleteAlias(bg, c, &DeleteAliasRequest{AliasName: "alias/x"})), ErrNotFound)
}

func TestTagsAndPolicy(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	if _, err := s.TagResource(bg, c, &TagResourceRequest{KeyID: md.KeyID, Tags: []Tag{{"b", "2"}, {"a", "1"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TagResource(bg, c, &TagResourceRequest{KeyID: md.KeyID, Tags: []Tag{{"a", "one"}}}); err != nil {
		t.Fatal(err)
	}
	lt, err := s.ListResourceTags(bg, c, &ListResourceTagsRequest{KeyID: md.KeyID})
	if err != nil {
		t.Fatal(err)
	}
	if tags := lt.Tags; len(tags) != 2 || tags[0] != (Tag{"a", "one"}) || tags[1] != (Tag{"b", "2"}) {
		t.Fatalf("tags = %+v", tags)
	}
	p1, err := s.ListResourceTags(bg, c, &ListResourceTagsRequest{KeyID: md.KeyID, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s.ListResourceTags(bg, c, &ListResourceTagsRequest{KeyID: md.KeyID, Limit: 1, Marker: p1.NextMarker})
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Tags) != 1 || len(p2.Tags) != 1 || p2.Tags[0].TagKey != "b" {
		t.Fatalf("paged tags %v %v", p1.Tags, p2.Tags)
	}
	if _, err := s.UntagResource(bg, c, &UntagResourceRequest{KeyID: md.KeyID, TagKeys: []string{"a", "zzz"}}); err != nil {
		t.Fatal(err)
	}
	if lt, err := s.ListResourceTags(bg, c, &ListResourceTagsRequest{KeyID: md.KeyID}); err != nil || len(lt.Tags) != 1 {
		t.Fatalf("after untag: %+v, %v", lt, err)
	}
	many := make([]Tag, maxTags)
	for i := range many {
		many[i] = Tag{TagKey: string(rune('A'+i%26)) + string(rune('a'+i/26)), TagValue: "v"}
	}
	wantKind(t, errOf(s.TagResource(bg, c, &TagResourceRequest{KeyID: md.KeyID, Tags: many})), ErrLimitExceeded)

	pol, err := s.GetKeyPolicy(bg, c, &GetKeyPolicyRequest{KeyID: md.KeyID})
	if err != nil || !bytes.Contains([]byte(pol.Policy), []byte(":"+s.Account().AccountID+":root")) {
		t.Fatalf("default policy %+v, %v", pol, err)
	}
	newPol := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}`
	if _, err := s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, PolicyName: "default", Policy: newPol}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetKeyPolicy(bg, c, &GetKeyPolicyRequest{KeyID: md.KeyID, PolicyName: "default"}); err != nil || got.Policy != newPol {
		t.Fatalf("policy not returned as given: %+v, %v", got, err)
	}
	wantKind(t, errOf(s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, PolicyName: "other", Policy: newPol})), ErrNotFound)
	wantKind(t, errOf(s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: "[]"})), ErrMalformedPolicy)
	wantKind(t, errOf(s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: `{"Statement":[],"Version":"2099-01-01"}`})), ErrMalformedPolicy)
}

func TestDataKeys(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	ec := EncryptionContext{"k": "v"}
	for _, tc := range []struct {
		spec string
		n    int32
		size int
	}{{"AES_256", 0, 32}, {"AES_128", 0, 16}, {"", 1, 1}, {"", 1024, 1024}} {
		r, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: tc.spec, NumberOfBytes: tc.n, EncryptionContext: ec})
		if err != nil || len(r.Plaintext) != tc.size {
			t.Fatalf("%+v: %v", tc, err)
		}
		d, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: r.CiphertextBlob, EncryptionContext: ec})
		if err != nil || !bytes.Equal(d.Plaintext, r.Plaintext) {
			t.Fatalf("data key does not decrypt to itself: %v", err)
		}
	}
	for _, req := range []GenerateDataKeyRequest{{KeySpec: "AES_512"}, {NumberOfBytes: 1025}, {NumberOfBytes: -1}, {}, {KeySpec: "AES_256", NumberOfBytes: 32}} {
		req.KeyID = md.KeyID
		_, err := s.GenerateDataKey(bg, c, &req)
		wantKind(t, err, ErrValidation)
	}
	r, err := s.GenerateDataKeyWithoutPlaintext(bg, c, &GenerateDataKeyWithoutPlaintextRequest{KeyID: md.KeyID, KeySpec: "AES_256"})
	if err != nil || len(r.CiphertextBlob) == 0 {
		t.Fatalf("WithoutPlaintext: %+v, %v", r, err)
	}
	// WithoutPlaintext cannot answer a plaintext: its answer has no field for one.
	for _, resp := range []any{GenerateDataKeyWithoutPlaintextResponse{}, GenerateDataKeyPairWithoutPlaintextResponse{}} {
		if f := secretFieldNames(reflect.TypeOf(resp)); len(f) > 0 {
			t.Fatalf("%T has secret fields %v", resp, f)
		}
	}

	for _, spec := range []DataKeyPairSpec{PairRSA2048, PairEccNistP256, PairEccNistP384, PairEccNistP521, PairEccSecgP256k1} {
		kp, err := s.GenerateDataKeyPair(bg, c, &GenerateDataKeyPairRequest{KeyID: md.KeyID, KeyPairSpec: spec, EncryptionContext: ec})
		if err != nil {
			t.Fatal(spec, err)
		}
		d, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: kp.PrivateKeyCiphertextBlob, EncryptionContext: ec})
		if err != nil || !bytes.Equal(d.Plaintext, kp.PrivateKeyPlaintext) {
			t.Fatalf("%s: private key blob does not decrypt to the PKCS#8: %v", spec, err)
		}
		if spec == PairEccSecgP256k1 {
			priv, err := eckeys.ParsePKCS8(kp.PrivateKeyPlaintext)
			if err != nil {
				t.Fatal(err)
			}
			spki, _ := priv.Public().MarshalSPKI()
			if !bytes.Equal(spki, kp.PublicKey) {
				t.Fatal("secp256k1 public key does not match the private key")
			}
			continue
		}
		priv, err := x509.ParsePKCS8PrivateKey(kp.PrivateKeyPlaintext)
		if err != nil {
			t.Fatal(spec, err)
		}
		pub, err := x509.ParsePKIXPublicKey(kp.PublicKey)
		if err != nil {
			t.Fatal(spec, err)
		}
		type keyPair interface {
			Public() crypto.PublicKey
		}
		if !priv.(keyPair).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Fatalf("%s: public key does not match the private key", spec)
		}
	}
	_, err = s.GenerateDataKeyPair(bg, c, &GenerateDataKeyPairRequest{KeyID: md.KeyID, KeyPairSpec: "RSA_1024"})
	wantKind(t, err, ErrValidation)
	for _, n := range []int32{0, 1025, -5} {
		_, err := s.GenerateRandom(bg, c, &GenerateRandomRequest{NumberOfBytes: n})
		wantKind(t, err, ErrValidation)
	}
	if b, err := s.GenerateRandom(bg, c, &GenerateRandomRequest{NumberOfBytes: 1024}); err != nil || len(b.Plaintext) != 1024 {
		t.Fatal(err)
	}
}

func TestReEncrypt(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	a, b := mustKey(t, s, "", ""), mustKey(t, s, "", "")
	enc, _ := s.Encrypt(bg, c, &EncryptRequest{KeyID: a.KeyID, Plaintext: []byte("secret"), EncryptionContext: EncryptionContext{"x": "1"}})
	r, err := s.ReEncrypt(bg, c, &ReEncryptRequest{
		CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: EncryptionContext{"x": "1"},
		DestinationKeyID: b.KeyID, DestinationEncryptionContext: EncryptionContext{"y": "2"},
	})
	if err != nil || r.SourceKeyARN != a.KeyARN || r.SourceKeyID != a.KeyID || r.KeyARN != b.KeyARN || r.KeyID != b.KeyID || c.KeyARN != b.KeyARN || c.SourceKeyARN != a.KeyARN {
		t.Fatalf("ReEncrypt = %+v, %v (call %+v)", r, err, c)
	}
	d, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: r.CiphertextBlob, EncryptionContext: EncryptionContext{"y": "2"}})
	if err != nil || string(d.Plaintext) != "secret" {
		t.Fatal(err)
	}
	_, err = s.ReEncrypt(bg, c, &ReEncryptRequest{CiphertextBlob: enc.CiphertextBlob, DestinationKeyID: b.KeyID})
	wantKind(t, err, ErrInvalidCiphertext)
	s.DisableKey(bg, c, &DisableKeyRequest{KeyID: b.KeyID})
	_, err = s.ReEncrypt(bg, c, &ReEncryptRequest{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: EncryptionContext{"x": "1"}, DestinationKeyID: b.KeyID})
	wantKind(t, err, ErrDisabled)
}

func TestListKeysPaging(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	want := map[string]bool{}
	for i := 0; i < 7; i++ {
		want[mustKey(t, s, "", "").KeyID] = true
	}
	got := map[string]bool{}
	marker := ""
	pages := 0
	for {
		lk, err := s.ListKeys(bg, c, &ListKeysRequest{Limit: 3, Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		keys, next := lk.Keys, lk.NextMarker
		pages++
		for _, k := range keys {
			if got[k.KeyID] {
				t.Fatalf("key %s listed twice", k.KeyID)
			}
			got[k.KeyID] = true
		}
		if next == "" {
			break
		}
		marker = next
	}
	if pages != 3 || len(got) != len(want) {
		t.Fatalf("%d pages, %d keys", pages, len(got))
	}
	for _, l := range []int32{-1, 1001} {
		_, err := s.ListKeys(bg, c, &ListKeysRequest{Limit: l})
		wantKind(t, err, ErrValidation)
	}
}

func TestCredentials(t *testing.T) {
	s, _ := newTestService(t)
	creds := s.Admin().ListCredentials()
	if len(creds) != 1 || creds[0].Name != "admin" || creds[0].PrincipalARN != "arn:aws:iam::"+s.Account().AccountID+":root" {
		t.Fatalf("initial credentials %+v", creds)
	}
	c, err := s.Admin().CreateCredential(bg, "ci")
	if err != nil {
		t.Fatal(err)
	}
	secret, p, ok := s.Credentials().Lookup(c.AccessKeyID)
	if !ok || string(secret) != c.SecretAccessKey || p.ARN != "arn:aws:iam::"+s.Account().AccountID+":user/ci" {
		t.Fatalf("Credentials().Lookup = %v %+v", ok, p)
	}
	if _, err := s.Admin().CreateCredential(bg, "ci"); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	if _, err := s.Admin().CreateCredential(bg, "bad name"); !errors.Is(err, ErrValidation) {
		t.Fatalf("bad name: %v", err)
	}
	if err := s.Admin().DeleteCredential(bg, creds[0].AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if err := s.Admin().DeleteCredential(bg, c.AccessKeyID); !errors.Is(err, ErrValidation) {
		t.Fatalf("deleting the last credential: %v", err)
	}
	if _, _, ok := s.Credentials().Lookup(creds[0].AccessKeyID); ok {
		t.Fatal("deleted credential still authenticates")
	}
	// Survives reopening.
	s.Close()
	s2, err := Open(s.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.st, s.audit = s2.st, s2.audit }()
	if _, _, ok := s2.Credentials().Lookup(c.AccessKeyID); !ok {
		t.Fatal("credential lost on reopen")
	}
	if _, _, ok := s2.Credentials().Lookup(creds[0].AccessKeyID); ok {
		t.Fatal("deleted credential back after reopen")
	}
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

func TestAuditLog(t *testing.T) {
	s, _ := newTestService(t)
	if err := s.AuditLog().Write(&audit.Record{RequestID: "r1", Dialect: "aws", Operation: "Encrypt", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(s.opts.DataDir, auditFile))
	if !bytes.Contains(b, []byte(`"request_id":"r1"`)) || !bytes.HasSuffix(b, []byte("}\n")) {
		t.Fatalf("audit log %q", b)
	}
	if fi, _ := os.Stat(filepath.Join(s.opts.DataDir, auditFile)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("audit log mode %v", fi.Mode().Perm())
	}
}

func TestCreateKeyWithAlias(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md, err := s.CreateKey(bg, c, &CreateKeyRequest{Alias: "alias/app"})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: "alias/app"}); err != nil || d.KeyID != md.KeyID {
		t.Fatalf("alias does not name the new key: %v", err)
	}
	_, err = s.CreateKey(bg, c, &CreateKeyRequest{Alias: "alias/app"})
	wantKind(t, err, ErrAlreadyExists)
	_, err = s.CreateKey(bg, c, &CreateKeyRequest{Alias: "app"})
	wantKind(t, err, ErrInvalidAliasName)
	if keys, err := s.ListKeys(bg, c, &ListKeysRequest{}); err != nil || len(keys.Keys) != 1 {
		t.Fatalf("refused creations left %+v, %v", keys, err)
	}
}

// errOf is the error of an operation's (answer, error), for assertions on
// the error alone.
func errOf[T any](_ T, err error) error { return err }

// TestOperationShape: every method of Service but its plumbing is an
// operation of one shape, Op(ctx, *Call, *OpRequest) (*OpResponse, error);
// an answer that names a key names it both ways (KeyID and KeyARN, never an
// ARN in KeyID); a request that pages (Limit, Marker) gets its page's
// NextMarker in the answer.
func TestOperationShape(t *testing.T) {
	plumbing := map[string]bool{"Account": true, "Region": true, "Close": true, "Admin": true, "Credentials": true, "AuditLog": true}
	ctxType := reflect.TypeFor[context.Context]()
	callType := reflect.TypeFor[*Call]()
	errType := reflect.TypeFor[error]()
	st := reflect.TypeFor[*Service]()
	ops := 0
	for i := 0; i < st.NumMethod(); i++ {
		m := st.Method(i)
		if plumbing[m.Name] {
			continue
		}
		ops++
		ft := m.Type // the receiver is In(0)
		if ft.NumIn() != 4 || ft.In(1) != ctxType || ft.In(2) != callType || ft.NumOut() != 2 || ft.Out(1) != errType {
			t.Errorf("Service.%s is %v; want func(context.Context, *Call, *%sRequest) (*%sResponse, error)", m.Name, ft, m.Name, m.Name)
			continue
		}
		req, resp := ft.In(3), ft.Out(0)
		if req.Kind() != reflect.Pointer || req.Elem().Name() != m.Name+"Request" || resp.Kind() != reflect.Pointer || resp.Elem().Name() != m.Name+"Response" {
			t.Errorf("Service.%s takes %v and answers %v; want *%sRequest and *%sResponse", m.Name, req, resp, m.Name, m.Name)
			continue
		}
		_, id := resp.Elem().FieldByName("KeyID")
		_, arn := resp.Elem().FieldByName("KeyARN")
		if id != arn {
			t.Errorf("%v names a key by KeyID %v, KeyARN %v: it must carry both", resp.Elem(), id, arn)
		}
		_, limit := req.Elem().FieldByName("Limit")
		_, marker := req.Elem().FieldByName("Marker")
		_, next := resp.Elem().FieldByName("NextMarker")
		if limit != marker || marker != next {
			t.Errorf("%v pages (Limit %v, Marker %v) but %v has NextMarker %v", req.Elem(), limit, marker, resp.Elem(), next)
		}
	}
	if ops == 0 {
		t.Fatal("no operations")
	}
}
