package kms

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"path/filepath"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/answer"
	"github.com/attestkms/attestkms/kms/internal/store"
	"github.com/attestkms/attestkms/kms/internal/store/bolt"
)

func pins(s *Service) []string {
	var out []string
	for _, k := range s.ServiceKeys() {
		out = append(out, k.ID)
	}
	return out
}

// TestAnswersSigned: every answer to a request with a Recipient carries the
// service key's signature over its document, operation, key and fields;
// an answer without one (plaintext, or a public-key wrap) carries none.
func TestAnswersSigned(t *testing.T) {
	good := newEnclave(t, 0xab)
	v := &fakeVerifier{enclaves: []*enclave{good}}
	s, _ := newAttestedService(t, v, false)
	c := s.testCall()
	sym := mustKey(t, s, "", "")
	r := good.recipient(0)
	pin := pins(s)
	if len(pin) != 1 || !answer.IsFingerprint(pin[0]) {
		t.Fatalf("service keys %v", pin)
	}
	check := func(op string, sig *answer.Signature, arn string, fields ...answer.Field) {
		t.Helper()
		if err := answer.Verify(pin, sig, r.AttestationDocument, op, arn, fields); err != nil {
			t.Errorf("%s: %v", op, err)
		}
		// The same answer for another document does not verify.
		if err := answer.Verify(pin, sig, append([]byte("x"), r.AttestationDocument...), op, arn, fields); err == nil {
			t.Errorf("%s: verifies for another document", op)
		}
	}
	f := func(name string, v []byte) answer.Field { return answer.Field{Name: name, Value: v} }

	gdk, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: sym.KeyID, KeySpec: "AES_256", Recipient: r})
	if err != nil {
		t.Fatal(err)
	}
	check("GenerateDataKey", gdk.AnswerSignature, gdk.KeyARN, f("CiphertextForRecipient", gdk.CiphertextForRecipient), f("CiphertextBlob", gdk.CiphertextBlob), f("KeyId", []byte(gdk.KeyARN)))
	dec, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: gdk.CiphertextBlob, Recipient: r})
	if err != nil {
		t.Fatal(err)
	}
	check("Decrypt", dec.AnswerSignature, dec.KeyARN, f("CiphertextForRecipient", dec.CiphertextForRecipient), f("KeyId", []byte(dec.KeyARN)), f("EncryptionAlgorithm", []byte(dec.EncryptionAlgorithm)))
	rnd, err := s.GenerateRandom(bg, c, &GenerateRandomRequest{NumberOfBytes: 32, Recipient: r})
	if err != nil {
		t.Fatal(err)
	}
	check("GenerateRandom", rnd.AnswerSignature, "", f("CiphertextForRecipient", rnd.CiphertextForRecipient))
	kp, err := s.GenerateDataKeyPair(bg, c, &GenerateDataKeyPairRequest{KeyID: sym.KeyID, KeyPairSpec: PairRSA2048, Recipient: r})
	if err != nil {
		t.Fatal(err)
	}
	check("GenerateDataKeyPair", kp.AnswerSignature, kp.KeyARN, f("CiphertextForRecipient", kp.CiphertextForRecipient), f("PrivateKeyCiphertextBlob", kp.PrivateKeyCiphertextBlob), f("PublicKey", kp.PublicKey), f("KeyId", []byte(kp.KeyARN)), f("KeyPairSpec", []byte(kp.KeyPairSpec)))
	ka := mustKey(t, s, EccNistP384, KeyAgreement)
	peer, _ := ecdh.P384().GenerateKey(rand.Reader)
	peerSPKI, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	ds, err := s.DeriveSharedSecret(bg, c, &DeriveSharedSecretRequest{KeyID: ka.KeyID, KeyAgreementAlgorithm: "ECDH", PublicKey: peerSPKI, Recipient: r})
	if err != nil {
		t.Fatal(err)
	}
	check("DeriveSharedSecret", ds.AnswerSignature, ds.KeyARN, f("CiphertextForRecipient", ds.CiphertextForRecipient), f("KeyId", []byte(ds.KeyARN)), f("KeyAgreementAlgorithm", []byte(ds.KeyAgreementAlgorithm)), f("KeyOrigin", []byte(ds.KeyOrigin)))

	// No Recipient, no signature.
	plain, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: sym.KeyID, KeySpec: "AES_256"})
	if err != nil || plain.AnswerSignature != nil {
		t.Fatalf("a plaintext answer: %v, signature %v", err, plain.AnswerSignature)
	}
}

// TestServiceKeyMadeAtFirstOpen: a store made before answers were signed
// gets its key at the first Open, recorded; later Opens keep it.
func TestServiceKeyMadeAtFirstOpen(t *testing.T) {
	s, clk := newTestService(t)
	dir := s.opts.DataDir
	made := pins(s)
	s.Close()
	st, err := bolt.Open(filepath.Join(dir, dbFile), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(bg, func(tx store.Txn) error {
		m, err := tx.Meta()
		if err != nil {
			return err
		}
		m.ServiceKeys = nil
		return tx.PutMeta(m)
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := StoredServiceKeys(context.Background(), Options{DataDir: dir}); err == nil {
		t.Fatal("StoredServiceKeys of a store without keys answered")
	}
	s2, err := Open(Options{DataDir: dir, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	first := pins(s2)
	if len(first) != 1 || first[0] == made[0] {
		t.Fatalf("keys after the first Open: %v (Init's were %v)", first, made)
	}
	if r := lastRecord(t, s2, "CreateServiceKey"); r.Outcome != "ok" || !strings.Contains(r.Message, first[0]) {
		t.Fatalf("audit record %+v", r)
	}
	s2.Close()
	keys, err := StoredServiceKeys(context.Background(), Options{DataDir: dir})
	if err != nil || len(keys) != 1 || keys[0].ID != first[0] {
		t.Fatalf("StoredServiceKeys: %v, %v", keys, err)
	}
	s3, err := Open(Options{DataDir: dir, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if again := pins(s3); len(again) != 1 || again[0] != first[0] {
		t.Fatalf("keys after a second Open: %v, want %v", again, first)
	}
}

// TestServiceKeySurvivesRootRotationAndBackup: the key is not the root
// key's: a root-key rotation reseals it unchanged, a backup carries it, and
// CheckStore opens it.
func TestServiceKeySurvivesRootRotationAndBackup(t *testing.T) {
	s, clk := newTestService(t)
	want := pins(s)
	newKey := filepath.Join(t.TempDir(), "new.key")
	if _, err := s.RotateRootKey(bg, s.adminCall(t), &RotateRootKeyRequest{To: "file:" + newKey}); err != nil {
		t.Fatal(err)
	}
	bk, err := s.Backup(bg, s.adminCall(t), &BackupRequest{})
	if err != nil {
		t.Fatal(err)
	}
	dir := s.opts.DataDir
	s.Close()
	opts := Options{DataDir: dir, RootKeyFile: newKey, Now: clk.now}
	if _, err := CheckStore(bg, opts); err != nil {
		t.Fatalf("CheckStore after the rotation: %v", err)
	}
	s2, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := pins(s2); len(got) != 1 || got[0] != want[0] {
		t.Fatalf("keys after the rotation %v, before %v", got, want)
	}
	s2.Close()
	restored := filepath.Join(t.TempDir(), "restored")
	if _, err := Restore(RestoreOptions{DataDir: restored, RootKeyFile: newKey, Now: clk.now}, bk.Backup); err != nil {
		t.Fatal(err)
	}
	s3, err := Open(Options{DataDir: restored, RootKeyFile: newKey, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if got := pins(s3); len(got) != 1 || got[0] != want[0] {
		t.Fatalf("keys after a restore %v, before %v", got, want)
	}
}
