package kms

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
	c.Request = []byte(`{"the request's body":"as received"}`)
	sym := mustKey(t, s, "", "")
	r := good.recipient(0)
	pin := pins(s)
	if len(pin) != 1 || !answer.IsFingerprint(pin[0]) {
		t.Fatalf("service keys %v", pin)
	}
	check := func(op string, sig *answer.Signature, arn string, fields ...answer.Field) {
		t.Helper()
		if err := answer.Verify(pin, sig, r.AttestationDocument, c.Request, op, arn, fields); err != nil {
			t.Errorf("%s: %v", op, err)
		}
		// The same answer for another document, or to another request,
		// does not verify.
		if err := answer.Verify(pin, sig, append([]byte("x"), r.AttestationDocument...), c.Request, op, arn, fields); err == nil {
			t.Errorf("%s: verifies for another document", op)
		}
		if err := answer.Verify(pin, sig, r.AttestationDocument, append([]byte(" "), c.Request...), op, arn, fields); err == nil {
			t.Errorf("%s: verifies for another request", op)
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
		asLegacy(t, s.opts, tx, m)
		return tx.PutMeta(m)
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := StoredServiceKeys(context.Background(), Options{DataDir: dir}); err == nil {
		t.Fatal("StoredServiceKeys of a store without keys answered")
	}
	s2, err := Open(Options{DataDir: dir, Now: clk.now, ProtectRecords: true})
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

// TestRotateServiceKey: a rotation publishes the new key at once; the old
// one keeps signing, and stays published, until its grace ends; then the
// new one signs alone. An enclave pinning both works throughout; one
// pinning only the old key works until the grace ends.
func TestRotateServiceKey(t *testing.T) {
	good := newEnclave(t, 0xab)
	s, clk := newAttestedService(t, &fakeVerifier{enclaves: []*enclave{good}}, false)
	r := good.recipient(0)
	old := pins(s)
	signedBy := func() string { return answerSigner(t, s, r) }
	if _, err := s.RotateServiceKey(bg, s.testCall(), &RotateServiceKeyRequest{GraceDays: 400}); err == nil {
		t.Fatal("a 400-day grace was taken")
	}
	if _, err := s.RotateServiceKey(bg, &Call{RequestID: "x"}, &RotateServiceKeyRequest{}); err == nil {
		t.Fatal("an unauthenticated rotation was taken")
	}
	resp, err := s.RotateServiceKey(bg, s.adminCall(t), &RotateServiceKeyRequest{GraceDays: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Retiring) != 1 || resp.Retiring[0].ID != old[0] || !resp.Retiring[0].RetiredAt.Equal(clk.now().Add(7*24*time.Hour)) {
		t.Fatalf("rotation answered %+v", resp)
	}
	if got := pins(s); len(got) != 2 || got[0] != old[0] || got[1] != resp.New.ID {
		t.Fatalf("published during the grace: %v", got)
	}
	if by := signedBy(); by != old[0] {
		t.Fatalf("during the grace, answers are signed by %s, not the old key", by)
	}
	if rec := lastRecord(t, s, "RotateServiceKey"); rec.Outcome != "ok" || !strings.Contains(rec.Message, resp.New.ID) {
		t.Fatalf("audit record %+v", rec)
	}
	clk.add(7*24*time.Hour + time.Second)
	if got := pins(s); len(got) != 1 || got[0] != resp.New.ID {
		t.Fatalf("published after the grace: %v", got)
	}
	if by := signedBy(); by != resp.New.ID {
		t.Fatalf("after the grace, answers are signed by %s, not the new key", by)
	}
	// It survives a reopen; a second rotation drops the retired key.
	dir := s.opts.DataDir
	s.Close()
	s2, err := Open(Options{DataDir: dir, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := pins(s2); len(got) != 1 || got[0] != resp.New.ID {
		t.Fatalf("published after a reopen: %v", got)
	}
	resp2, err := s2.RotateServiceKey(bg, s2.adminCall(t), &RotateServiceKeyRequest{})
	if err != nil || len(resp2.Retiring) != 1 || resp2.Retiring[0].ID != resp.New.ID || !resp2.Retiring[0].RetiredAt.Equal(clk.now().Add(30*24*time.Hour)) {
		t.Fatalf("second rotation: %+v, %v", resp2, err)
	}
	if set := s2.svcKeys.Load(); len(set.keys) != 2 {
		t.Fatalf("the set holds %d keys after the second rotation, want 2 (the retired one dropped)", len(set.keys))
	}
	// The set is bounded: rotations within the others' grace stop at
	// maxServiceKeys.
	for range maxServiceKeys - 2 {
		if _, err := s2.RotateServiceKey(bg, s2.adminCall(t), &RotateServiceKeyRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s2.RotateServiceKey(bg, s2.adminCall(t), &RotateServiceKeyRequest{}); !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("a rotation past %d keys: %v", maxServiceKeys, err)
	}
}

func BenchmarkRotateServiceKey(b *testing.B) {
	s, clk := newTestService(b)
	c := s.adminCall(b)
	for b.Loop() {
		if _, err := s.RotateServiceKey(bg, c, &RotateServiceKeyRequest{GraceDays: 1}); err != nil {
			b.Fatal(err)
		}
		clk.add(25 * time.Hour) // the previous key retired: the set stays two keys
	}
}

// TestInstallServiceKeysNewerWins: of two sets installed in either order,
// the newer stays — the set a later rotation made, which holds the
// earlier's newest key — so a node never goes back to a set whose newest
// key the store has since retired.
func TestInstallServiceKeysNewerWins(t *testing.T) {
	s, _ := newAttestedService(t, &fakeVerifier{}, false)
	set := func(ids ...string) *serviceKeys {
		out := &serviceKeys{}
		for _, id := range ids {
			out.keys = append(out.keys, ServiceKey{ID: id})
		}
		return out
	}
	s.svcKeys.Store(nil)
	a, b, c := set("k0"), set("k0", "k1"), set("k1", "k2") // c dropped k0, whose grace ended
	for _, order := range [][]*serviceKeys{{a, b, c}, {c, b, a}, {b, c, a}, {c, a, b}} {
		s.svcKeys.Store(nil)
		for _, x := range order {
			s.installServiceKeys(x)
		}
		if s.svcKeys.Load() != c {
			t.Fatalf("installed in order %v: %v, want the newest", order, s.svcKeys.Load().keys)
		}
	}
	if s.installServiceKeys(set("k1", "k2")) {
		t.Fatal("a set with the same newest key replaced the installed one")
	}
}

// TestConcurrentRotationsOneNode: rotations racing on one node (no
// follower on an embedded store) leave it signing with the stored set.
func TestConcurrentRotationsOneNode(t *testing.T) {
	s, _ := newAttestedService(t, &fakeVerifier{}, false)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.RotateServiceKey(bg, s.adminCall(t), &RotateServiceKeyRequest{GraceDays: 1}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var stored []byte
	if err := s.view(bg, func(r store.Reader) error {
		m, err := r.Meta()
		if err == nil {
			stored = m.ServiceKeys
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want, err := openServiceKeys(s.sealer, stored)
	if err != nil {
		t.Fatal(err)
	}
	got := s.svcKeys.Load()
	if len(got.keys) != 5 || got.keys[len(got.keys)-1].ID != want.keys[len(want.keys)-1].ID {
		t.Fatalf("the node signs with %d keys ending %s; the store holds %d ending %s", len(got.keys), got.keys[len(got.keys)-1].ID, len(want.keys), want.keys[len(want.keys)-1].ID)
	}
}

// TestRevokeServiceKey: Revoke drops every current key at once (a leaked
// one): the new key alone is published and signs from that instant, the
// audit record names the revoked keys, it holds across a reopen, and it is
// taken even when the set is full (an emergency must not wait for a
// grace to end).
func TestRevokeServiceKey(t *testing.T) {
	good := newEnclave(t, 0xab)
	s, _ := newAttestedService(t, &fakeVerifier{enclaves: []*enclave{good}}, false)
	r := good.recipient(0)
	signedBy := func(s *Service) string { return answerSigner(t, s, r) }
	if _, err := s.RotateServiceKey(bg, s.adminCall(t), &RotateServiceKeyRequest{Revoke: true, GraceDays: 3}); !errors.Is(err, ErrValidation) {
		t.Fatalf("Revoke with a grace: %v", err)
	}
	// Fill the set: every key in its grace.
	for range maxServiceKeys - 1 {
		if _, err := s.RotateServiceKey(bg, s.adminCall(t), &RotateServiceKeyRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	before := pins(s)
	if len(before) != maxServiceKeys {
		t.Fatalf("%d keys published, want %d", len(before), maxServiceKeys)
	}
	if by := signedBy(s); by != before[0] {
		t.Fatalf("before the revocation, answers are signed by %s, not the oldest key", by)
	}
	resp, err := s.RotateServiceKey(bg, s.adminCall(t), &RotateServiceKeyRequest{Revoke: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Revoked) != maxServiceKeys || len(resp.Retiring) != 0 {
		t.Fatalf("revocation answered %d revoked, %d retiring", len(resp.Revoked), len(resp.Retiring))
	}
	if got := pins(s); len(got) != 1 || got[0] != resp.New.ID {
		t.Fatalf("published after the revocation: %v", got)
	}
	if by := signedBy(s); by != resp.New.ID {
		t.Fatalf("after the revocation, answers are signed by %s, not the new key", by)
	}
	rec := lastRecord(t, s, "RotateServiceKey")
	for _, id := range before {
		if !strings.Contains(rec.Message, id) {
			t.Fatalf("the audit record does not name revoked key %s: %q", id, rec.Message)
		}
	}
	opts := s.opts
	s.Close()
	s2, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := pins(s2); len(got) != 1 || got[0] != resp.New.ID {
		t.Fatalf("published after a reopen: %v", got)
	}
	if by := signedBy(s2); by != resp.New.ID {
		t.Fatalf("after a reopen, answers are signed by %s", by)
	}
}

// TestServiceKeyGenerations: sets are ordered by generation, so a node that
// read only some of the store's sets still ends on the newest: after a
// revocation (which keeps no key of the set before it), or after missing a
// rotation whose grace ended before the next one. Both were refused by
// comparing the keys alone (a node kept signing with the revoked key).
func TestServiceKeyGenerations(t *testing.T) {
	s, _ := newAttestedService(t, &fakeVerifier{}, false)
	set := func(gen uint64, ids ...string) *serviceKeys {
		out := &serviceKeys{gen: gen}
		for _, id := range ids {
			out.keys = append(out.keys, ServiceKey{ID: id})
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		old, new *serviceKeys
		newer    bool
	}{
		{"revocation", set(3, "k2", "k3"), set(4, "k4"), true},
		{"a missed rotation", set(1, "k1"), set(3, "k2", "k3"), true},
		{"an older set read late", set(4, "k4"), set(3, "k2", "k3"), false},
		{"the same generation", set(2, "k1", "k2"), set(2, "k1", "k2"), false},
		{"the first generation after sets without one", set(0, "k0"), set(1, "k0", "k1"), true},
		{"without generations, a rotation", set(0, "k0"), set(0, "k0", "k1"), true},
		{"without generations, a set lacking the newest key", set(0, "k0", "k1"), set(0, "k2"), false},
	} {
		s.svcKeys.Store(tc.old)
		if got := s.installServiceKeys(tc.new); got != tc.newer || (s.svcKeys.Load() == tc.new) != tc.newer {
			t.Errorf("%s: installed %v, want %v", tc.name, got, tc.newer)
		}
	}
}

// answerSigner is the key id that signs s's answer to a GenerateRandom for
// r, failing t unless the signature verifies under a key s publishes.
func answerSigner(t *testing.T, s *Service, r *Recipient) string {
	t.Helper()
	rnd, err := s.GenerateRandom(bg, s.testCall(), &GenerateRandomRequest{NumberOfBytes: 16, Recipient: r})
	if err != nil {
		t.Fatal(err)
	}
	if err := answer.Verify(pins(s), rnd.AnswerSignature, r.AttestationDocument, nil, "GenerateRandom", "", []answer.Field{{Name: "CiphertextForRecipient", Value: rnd.CiphertextForRecipient}}); err != nil {
		t.Fatalf("an answer not by a published key: %v", err)
	}
	return rnd.AnswerSignature.KeyID
}

// TestRevocationNotUndoneByMetaReplay: a database writer who kept the
// meta's service keys and MAC from before a revocation puts them back; the
// next Open of the data directory that installed the revocation refuses
// the store instead of signing with the revoked key again (a review found
// it: the MAC proves the set was once the store's, not that it still is).
func TestRevocationNotUndoneByMetaReplay(t *testing.T) {
	good := newEnclave(t, 0xab)
	s, _ := newAttestedService(t, &fakeVerifier{enclaves: []*enclave{good}}, false)
	r := good.recipient(0)
	leaked := answerSigner(t, s, r)
	opts := s.opts
	s.Close()
	kept := map[string][]byte{"service_keys": readMetaRaw(t, opts.DataDir, "service_keys"), "mac": readMetaRaw(t, opts.DataDir, "mac")}
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.RotateServiceKey(bg, s.adminCall(t), &RotateServiceKeyRequest{Revoke: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for k, v := range kept {
		tamperMeta(t, opts.DataDir, k, v)
	}
	// The records digest sums the meta: it finds the meta put back first.
	_, err = Open(opts)
	wantDamaged(t, "Open of the pre-revocation meta", err)
	// And behind it, the service key set's own generation.
	withoutDigestChecks(t)
	s2, err := Open(opts)
	if err == nil {
		defer s2.Close()
		t.Fatalf("the pre-revocation meta put back opened; answers signed by %s (revoked %s, new %s)", answerSigner(t, s2, r), leaked, resp.New.ID)
	}
	if !errors.Is(err, ErrStoreDamaged) || !strings.Contains(err.Error(), serviceKeyGenMarker) {
		t.Fatalf("refused, but not as a damaged store naming %s: %v", serviceKeyGenMarker, err)
	}
}

// TestServiceKeyGenMarkerBounded: the data directory's generation file is
// read at most 32 bytes, and one that does not hold a generation refuses
// the Open (it hardens the next Open: garbage there must not be ignored).
func TestServiceKeyGenMarkerBounded(t *testing.T) {
	s, _ := newTestService(t)
	opts := s.opts
	s.Close()
	p := filepath.Join(opts.DataDir, serviceKeyGenMarker)
	for _, content := range [][]byte{[]byte("x\n"), bytes.Repeat([]byte("9"), 1<<20)} {
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := Open(opts); err == nil {
			s.Close()
			t.Fatalf("Open took a generation file of %d bytes", len(content))
		} else if !errors.Is(err, ErrStoreDamaged) {
			t.Fatalf("a generation file of %d bytes: %v", len(content), err)
		}
	}
}
