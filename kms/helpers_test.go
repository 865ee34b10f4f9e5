package kms

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/kms/audit"
	"github.com/attestkms/attestkms/recipient"
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

// adminCall is a call by the account's root credential, as the pipeline
// makes it: with the principal its lookup found.
func (s *Service) adminCall(t testing.TB) *Call {
	t.Helper()
	for _, ci := range s.listCredentials() {
		if ci.Name == adminName {
			return s.callAs(t, ci.AccessKeyID)
		}
	}
	t.Fatal("no root credential")
	return nil
}

// callAs is a call by the credential accessKeyID, as the pipeline makes it.
func (s *Service) callAs(t testing.TB, accessKeyID string) *Call {
	t.Helper()
	_, p, ok := s.Credentials().Lookup(accessKeyID)
	if !ok {
		t.Fatalf("credential %s does not authenticate", accessKeyID)
	}
	return &Call{RequestID: "test-" + p.Name, Principal: p}
}

// mustCredential creates a credential offline (Admin) and returns it.
func mustCredential(t testing.TB, s *Service, req *CreateCredentialRequest) *CreateCredentialResponse {
	t.Helper()
	resp, err := s.Admin().CreateCredential(bg, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func mustKey(t testing.TB, s *Service, spec KeySpec, usage KeyUsage) *CreateKeyResponse {
	t.Helper()
	md, err := s.CreateKey(bg, s.testCall(), &CreateKeyRequest{KeySpec: spec, KeyUsage: usage})
	if err != nil {
		t.Fatal(err)
	}
	return md
}

// servicePlumbing are the methods of Service that are not operations: its
// account, region and lifecycle, and the handles to what is not the data
// plane (Admin, Credentials, AuditLog).
var servicePlumbing = map[string]bool{"Account": true, "Region": true, "Node": true, "Close": true, "Admin": true, "Credentials": true, "AuditLog": true, "AuditRefusal": true, "Ready": true, "ServiceKeys": true}

// auditRecords are the records of s's audit log, in order.
func auditRecords(t testing.TB, s *Service) []audit.Record {
	t.Helper()
	b, err := os.ReadFile(s.opts.auditPath())
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Record
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		var r audit.Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// lastRecord is the last record of operation op in s's audit log.
func lastRecord(t testing.TB, s *Service, op string) audit.Record {
	t.Helper()
	recs := auditRecords(t, s)
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Operation == op {
			return recs[i]
		}
	}
	t.Fatalf("no %s record in the audit log", op)
	return audit.Record{}
}

// benchKey is a fresh service and one key of spec and usage in it, for a
// benchmark: the service, the admin's call and the key id.
func benchKey(b *testing.B, spec KeySpec, usage KeyUsage) (*Service, *Call, string) {
	b.Helper()
	s, _ := newTestService(b)
	return s, s.testCall(), mustKey(b, s, spec, usage).KeyID
}

func wantKind(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("err = %v; want kind %v", err, kind)
	}
}

// errOf is the error of an operation's (answer, error), for assertions on
// the error alone.
func errOf[T any](_ T, err error) error { return err }

// storedKey is key id's record as stored, in JSON (its Version aside).
func storedKey(t *testing.T, s *Service, id string) []byte {
	t.Helper()
	rec, err := s.st.Key(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(mustJSON(t, rec))
}

// mustJSON is v in JSON.
func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// enclave is a fake attested enclave: its key, and the claims a verifier
// would return for its document.
type enclave struct {
	priv   *rsa.PrivateKey
	claims *attest.Claims
}

func newEnclave(t testing.TB, pcr0 byte) *enclave {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	pcrs := map[int][]byte{}
	for i := 0; i < 16; i++ {
		pcrs[i] = make([]byte, 48)
	}
	pcrs[0] = bytes.Repeat([]byte{pcr0}, 48)
	return &enclave{priv: priv, claims: &attest.Claims{
		Format: attest.FormatNitro, Time: time.Now(), PublicKey: &priv.PublicKey, PublicKeyDER: der,
		ModuleID: "i-0123-enc0123", Digest: "SHA384", PCRs: pcrs, Debug: pcr0 == 0,
	}}
}

// fakeVerifier "verifies" a document by naming an enclave: the document is
// the enclave's index.
type fakeVerifier struct {
	enclaves []*enclave
	err      error
	calls    int
}

func (f *fakeVerifier) Verify(doc []byte, now time.Time) (*attest.Claims, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return f.enclaves[doc[0]].claims, nil
}

func (e *enclave) recipient(index byte) *Recipient {
	return &Recipient{AttestationDocument: []byte{index}, KeyEncryptionAlgorithm: recipient.KeyEncryptionAlgorithm}
}

func (e *enclave) unwrap(t *testing.T, cfr []byte) []byte {
	t.Helper()
	pt, err := recipient.UnwrapCMS(e.priv, cfr)
	if err != nil {
		t.Fatal(err)
	}
	return pt
}

// newAttestedService returns a service whose Recipients v verifies. As the
// real verifiers do (nitro and snp's Options.AllowDebug), a debug-mode
// enclave's evidence is refused (attest.ErrPolicy) unless allowDebug: kms
// itself never judges it.
func newAttestedService(t *testing.T, v attest.Verifier, allowDebug bool) (*Service, *clock) {
	s, clk := newTestService(t)
	s.opts.Attestation = &debugPolicy{v: v, allow: allowDebug}
	return s, clk
}

// debugPolicy refuses what v verifies when it is of a debug-mode enclave,
// unless allow, as the real verifiers do.
type debugPolicy struct {
	v     attest.Verifier
	allow bool
}

func (d *debugPolicy) Verify(doc []byte, now time.Time) (*attest.Claims, error) {
	c, err := d.v.Verify(doc, now)
	if err == nil && c.Debug && !d.allow {
		return nil, fmt.Errorf("%w: the attestation document comes from an enclave in debug mode", attest.ErrPolicy)
	}
	return c, err
}

// reflectNil reports whether v is nil or a nil pointer.
func reflectNil(v any) bool {
	return v == nil || reflect.ValueOf(v).IsNil()
}
