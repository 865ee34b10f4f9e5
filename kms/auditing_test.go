package kms

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/attestkms/attestkms/kms/audit"
	"github.com/attestkms/attestkms/kms/internal/store"
)

// recordsOf are the records of request id in s's audit log.
func recordsOf(t *testing.T, s *Service, id string) []audit.Record {
	t.Helper()
	var out []audit.Record
	for _, r := range auditRecords(t, s) {
		if r.RequestID == id {
			out = append(out, r)
		}
	}
	return out
}

// verifyLog checks s's audit chain, with the store's change seq.
func verifyLog(t *testing.T, s *Service) *audit.Report {
	t.Helper()
	files, err := audit.Files(s.opts.auditPath())
	if err != nil {
		t.Fatal(err)
	}
	var seq uint64
	s.st.View(bg, func(r store.Reader) error { seq, err = r.AuditChangeSeq(s.chain); return err })
	rep, err := audit.Verify(files, audit.VerifyOptions{ChangeSeq: seq})
	if err != nil {
		t.Fatalf("the audit chain: %v", err)
	}
	return rep
}

// TestEveryOperationAudited: every operation, on every path the gate
// test walks, writes one record of its own, with the call's identity, its
// name, its key, its outcome and the code the dialect gave (WireError);
// one whose Recipient was verified names the evidence; a change is a change
// record; the Call is never written to.
func TestEveryOperationAudited(t *testing.T) {
	e := newEnclave(t, 0xab)
	v := &fakeVerifier{enclaves: []*enclave{e}}
	s, _ := newAttestedService(t, v, false)
	n := 0
	check := func(t *testing.T, g *gateEnv, method string, call func(*gateEnv) (any, error), attested bool) {
		t.Helper()
		n++
		id := fmt.Sprintf("req-%d", n)
		c := &Call{RequestID: id, Principal: g.c.Principal, SourceIP: "192.0.2.7", Dialect: "aws",
			WireError: func(err error) (string, string) { return "Wire" + Kind(err).Error(), "msg: " + Message(err) }}
		before := *c
		g.c = c
		_, err := call(g)
		if c.op != nil || c.RequestID != before.RequestID || c.Dialect != before.Dialect {
			t.Fatal("the operation wrote to its Call")
		}
		recs := recordsOf(t, s, id) // a row's call may set its key up first
		if len(recs) == 0 {
			t.Fatalf("no record of %s", method)
		}
		r := recs[len(recs)-1]
		if r.Operation != method || r.Principal != c.Principal.ARN || r.AccessKeyID != c.Principal.AccessKeyID || r.SourceIP != "192.0.2.7" || r.Dialect != "aws" {
			t.Fatalf("record %+v", r)
		}
		switch {
		case err == nil && r.Outcome != "ok", err != nil && (r.Outcome != "error" || r.ErrorCode != "Wire"+Kind(err).Error() || r.Message != "msg: "+Message(err)):
			t.Fatalf("record %+v of %v", r, err)
		case err != nil && !Audited(err):
			t.Fatalf("an audited error is not Audited: %v", err)
		}
		if err == nil && method != "ListKeys" && method != "GenerateRandom" && r.KeyARN == "" {
			t.Fatalf("record names no key: %+v", r)
		}
		if attested && (r.Attestation == nil || r.Attestation.PCR0 != strings.Repeat("ab", 48) || r.Attestation.KeyEncryptionAlgorithm != "RSAES_OAEP_SHA_256") {
			t.Fatalf("record of a verified Recipient %+v", r)
		}
		if wantChange := err == nil && slices.Contains(changes, method); r.Change != wantChange {
			t.Fatalf("%s: change %v; want %v", method, r.Change, wantChange)
		}
	}
	for _, r := range gateRows() {
		t.Run(strings.TrimSpace(r.method+" "+r.variant), func(t *testing.T) {
			g := newGateEnv(t, s, e)
			check(t, g, r.method, r.call, false)
			if r.attested != nil {
				check(t, g, r.method, r.attested, true)
			}
		})
	}
	g := newGateEnv(t, s, e)
	check(t, g, "CreateKey", func(g *gateEnv) (any, error) { return g.s.CreateKey(bg, g.c, &CreateKeyRequest{}) }, false)
	check(t, g, "CreateKey", func(g *gateEnv) (any, error) { return g.s.CreateKey(bg, g.c, &CreateKeyRequest{KeySpec: "RSA_1"}) }, false)
	check(t, g, "ListKeys", func(g *gateEnv) (any, error) { return g.s.ListKeys(bg, g.c, &ListKeysRequest{}) }, false)
	check(t, g, "GenerateRandom", func(g *gateEnv) (any, error) {
		return g.s.GenerateRandom(bg, g.c, &GenerateRandomRequest{NumberOfBytes: 8})
	}, false)
	check(t, g, "GenerateRandom", func(g *gateEnv) (any, error) {
		return g.s.GenerateRandom(bg, g.c, &GenerateRandomRequest{NumberOfBytes: 8, Recipient: e.recipient(0)})
	}, true)
	rep := verifyLog(t, s)
	if rep.Changes == 0 || rep.Voided != 0 {
		t.Fatalf("report %+v", rep)
	}
}

// changes are the operations that change the store.
var changes = []string{"CreateKey", "CreateAlias", "UpdateAlias", "DeleteAlias", "PutKeyPolicy", "EnableKey", "DisableKey",
	"ScheduleKeyDeletion", "CancelKeyDeletion", "EnableKeyRotation", "DisableKeyRotation", "RotateKeyOnDemand",
	"TagResource", "UntagResource", "UpdateKeyDescription"}

// fullDisk makes the audit log's writes fail while it is set: a test seam
// (auditOpenFile), for services opened after it.
type fullDisk struct{ full atomic.Bool }

type fullFile struct {
	*os.File
	d *fullDisk
}

var errDiskFull = errors.New("no space left on device")

func (f *fullFile) Write(b []byte) (int, error) {
	if f.d.full.Load() {
		n, _ := f.File.Write(b[:len(b)/3]) // a partial write, as a real one
		return n, errDiskFull
	}
	return f.File.Write(b)
}

func (f *fullFile) Sync() error {
	if f.d.full.Load() {
		return errDiskFull
	}
	return f.File.Sync()
}

func newFullDisk(t *testing.T) *fullDisk {
	d := &fullDisk{}
	auditOpenFile = func(name string, flag int, perm os.FileMode) (audit.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		if err != nil {
			return nil, err
		}
		return &fullFile{File: f, d: d}, nil
	}
	t.Cleanup(func() { auditOpenFile = nil })
	return d
}

// storeState is every key and alias record as stored, and the store's
// change seq.
func storeState(t *testing.T, s *Service) string {
	t.Helper()
	var b strings.Builder
	err := s.st.View(bg, func(r store.Reader) error {
		keys, err := r.Keys("", 1000)
		if err != nil {
			return err
		}
		aliases, err := r.Aliases("", 1000)
		if err != nil {
			return err
		}
		seq, err := r.AuditChangeSeq(s.chain)
		for _, rec := range []any{keys, aliases, seq} {
			b.WriteString(mustJSON(t, rec) + "\n")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestFullDiskRefusesChangesAndSecrets: while the audit log cannot be
// written, every change and every key use fails with ErrInternal, changing
// nothing and returning no secret; reads of public data are answered; Ready
// says why; once space returns the next write succeeds and all is served
// again, and the log says how many lines it could not write.
func TestFullDiskRefusesChangesAndSecrets(t *testing.T) {
	d := newFullDisk(t)
	s, _ := newTestService(t)
	c := s.testCall()
	sym := mustKey(t, s, "", "")
	ka := mustKey(t, s, EccNistP256, KeyAgreement)
	if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/a", TargetKeyID: sym.KeyID}); err != nil {
		t.Fatal(err)
	}
	blob, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: sym.KeyID, Plaintext: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(bg); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	pk, _ := ecdh.P256().GenerateKey(rand.Reader)
	peer, _ := x509.MarshalPKIXPublicKey(pk.PublicKey())
	before := storeState(t, s)
	d.full.Store(true)

	for name, call := range map[string]func() (any, error){
		"CreateKey": func() (any, error) { return s.CreateKey(bg, c, &CreateKeyRequest{}) },
		"CreateAlias": func() (any, error) {
			return s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/b", TargetKeyID: sym.KeyID})
		},
		"DeleteAlias": func() (any, error) { return s.DeleteAlias(bg, c, &DeleteAliasRequest{AliasName: "alias/a"}) },
		"DisableKey":  func() (any, error) { return s.DisableKey(bg, c, &DisableKeyRequest{KeyID: sym.KeyID}) },
		"PutKeyPolicy": func() (any, error) {
			return s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: sym.KeyID, Policy: defaultPolicy(s.Account())})
		},
		"ScheduleKeyDeletion": func() (any, error) {
			return s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: sym.KeyID})
		},
		"RotateKeyOnDemand": func() (any, error) { return s.RotateKeyOnDemand(bg, c, &RotateKeyOnDemandRequest{KeyID: sym.KeyID}) },
		"TagResource": func() (any, error) {
			return s.TagResource(bg, c, &TagResourceRequest{KeyID: sym.KeyID, Tags: []Tag{{TagKey: "k", TagValue: "v"}}})
		},
		"Encrypt": func() (any, error) {
			return s.Encrypt(bg, c, &EncryptRequest{KeyID: sym.KeyID, Plaintext: []byte("x")})
		},
		"Decrypt": func() (any, error) { return s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: blob.CiphertextBlob}) },
		"GenerateDataKey": func() (any, error) {
			return s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: sym.KeyID, KeySpec: "AES_256"})
		},
		"GenerateDataKeyPair": func() (any, error) {
			return s.GenerateDataKeyPair(bg, c, &GenerateDataKeyPairRequest{KeyID: sym.KeyID, KeyPairSpec: PairEccNistP256})
		},
		"GenerateRandom": func() (any, error) { return s.GenerateRandom(bg, c, &GenerateRandomRequest{NumberOfBytes: 16}) },
		"DeriveSharedSecret": func() (any, error) {
			return s.DeriveSharedSecret(bg, c, &DeriveSharedSecretRequest{KeyID: ka.KeyID, KeyAgreementAlgorithm: AlgECDH, PublicKey: peer})
		},
		"ReEncrypt": func() (any, error) {
			return s.ReEncrypt(bg, c, &ReEncryptRequest{CiphertextBlob: blob.CiphertextBlob, DestinationKeyID: sym.KeyID})
		},
	} {
		resp, err := call()
		if !errors.Is(err, ErrInternal) || !errors.Is(err, errAuditUnavailable) || !reflectNil(resp) {
			t.Errorf("%s on a full disk: %+v, %v; want ErrInternal and no answer", name, resp, err)
		}
	}
	if got := storeState(t, s); got != before {
		t.Fatalf("the store changed while the audit log could not be written:\n%s\nwas\n%s", got, before)
	}
	if n := s.audit.Expected(); n != 0 {
		t.Fatalf("%d audit lines still expected after the refusals", n)
	}
	// Reads of public data are answered.
	if _, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: "alias/a"}); err != nil {
		t.Errorf("DescribeKey: %v", err)
	}
	if _, err := s.GetPublicKey(bg, c, &GetPublicKeyRequest{KeyID: ka.KeyID}); err != nil {
		t.Errorf("GetPublicKey: %v", err)
	}
	if l, err := s.ListKeys(bg, c, &ListKeysRequest{}); err != nil || len(l.Keys) != 2 {
		t.Errorf("ListKeys: %v", err)
	}
	if _, err := s.ListAliases(bg, c, &ListAliasesRequest{}); err != nil {
		t.Errorf("ListAliases: %v", err)
	}
	if _, err := s.GetKeyPolicy(bg, c, &GetKeyPolicyRequest{KeyID: sym.KeyID}); err != nil {
		t.Errorf("GetKeyPolicy: %v", err)
	}
	if err := s.Ready(bg); err == nil || !strings.Contains(err.Error(), "audit log") {
		t.Fatalf("Ready on a full disk: %v", err)
	}
	// Space returns: Ready's write succeeds, and everything is served.
	d.full.Store(false)
	if err := s.Ready(bg); err != nil {
		t.Fatalf("Ready once space returned: %v", err)
	}
	if _, err := s.CreateKey(bg, c, &CreateKeyRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: blob.CiphertextBlob}); err != nil {
		t.Fatal(err)
	}
	gap := lastRecord(t, s, "AuditLogRecovered")
	if gap.Count < 15+5 {
		t.Fatalf("the gap counts %d lines: %+v", gap.Count, gap)
	}
	verifyLog(t, s)

	// The next write attempt alone brings it back, without Ready.
	d.full.Store(true)
	wantKind(t, errOf(s.CreateKey(bg, c, &CreateKeyRequest{})), ErrInternal)
	d.full.Store(false)
	if _, err := s.CreateKey(bg, c, &CreateKeyRequest{}); err != nil {
		t.Fatalf("the first write once space returned: %v", err)
	}
	if err := s.AuditLog().Err(); err != nil {
		t.Fatalf("still failing: %v", err)
	}
	verifyLog(t, s)
}

// failingCommit is a store whose commits fail with err: rolled back, or
// with reached, after reaching the disk; then, if set, runs as the commit
// fails.
type failingCommit struct {
	store.Store
	reached bool
	then    func()
	err     error
}

var errRolledBack = errors.New("rolled back")

func (f *failingCommit) Update(ctx context.Context, fn func(store.Txn) error) error {
	var err error
	if f.reached {
		err = f.Store.Update(ctx, fn)
	} else if err = f.Store.Update(ctx, func(tx store.Txn) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errRolledBack
	}); err == errRolledBack {
		err = nil
	}
	if err != nil {
		return err // fn's own: no commit
	}
	if f.then != nil {
		f.then()
	}
	return f.err
}

// TestChangeCommitsWithItsRecord: each branch of a change and its record
// (package audit's doc): the record cannot be written (nothing changes); the
// commit fails (the record is voided at once, nothing changes); the commit
// fails and so does the void (the void is written before the next line);
// the server stops between record and commit (Open voids it); a commit
// reported failed that reached the disk (Open reinstates the record).
func TestChangeCommitsWithItsRecord(t *testing.T) {
	d := newFullDisk(t)
	s, _ := newTestService(t)
	c := s.testCall()
	mustKey(t, s, "", "")
	keyCount := func(s *Service) int {
		l, err := s.ListKeys(bg, s.testCall(), &ListKeysRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Keys)
	}
	orig := s.st

	// The record cannot be written: nothing changes, and no record.
	d.full.Store(true)
	c.RequestID = "unwritten"
	wantKind(t, errOf(s.CreateKey(bg, c, &CreateKeyRequest{})), ErrInternal)
	d.full.Store(false)
	if keyCount(s) != 1 || len(recordsOf(t, s, "unwritten")) != 0 {
		t.Fatal("a change without its record")
	}

	// The commit fails: the record is voided at once, nothing changes.
	s.st = &failingCommit{Store: orig, err: errors.New("disk I/O error")}
	c.RequestID = "uncommitted"
	wantKind(t, errOf(s.CreateKey(bg, c, &CreateKeyRequest{})), ErrInternal)
	s.st = orig
	recs := recordsOf(t, s, "uncommitted")
	if keyCount(s) != 1 || len(recs) != 2 || !recs[0].Change || recs[1].Voids != recs[0].Seq || recs[1].Outcome != "error" || !strings.Contains(recs[1].Message, "disk I/O error") {
		t.Fatalf("a failed commit: %d keys, records %+v", keyCount(s), recs)
	}

	// The commit fails and the void cannot be written: it is written before
	// any later line.
	s.st = &failingCommit{Store: orig, then: func() { d.full.Store(true) }, err: errors.New("disk I/O error")}
	c.RequestID = "void-later"
	wantKind(t, errOf(s.CreateKey(bg, c, &CreateKeyRequest{})), ErrInternal)
	s.st = orig
	d.full.Store(false)
	if _, err := s.DescribeKey(bg, s.testCall(), &DescribeKeyRequest{KeyID: mustKey(t, s, "", "").KeyID}); err != nil {
		t.Fatal(err)
	}
	recs = recordsOf(t, s, "void-later")
	if len(recs) != 2 || recs[1].Voids != recs[0].Seq || keyCount(s) != 2 {
		t.Fatalf("a void written late: %+v", recs)
	}
	verifyLog(t, s)

	// The server stops between record and commit: the record is written,
	// the commit fails, and so does every write after it until it stops.
	s.st = &failingCommit{Store: orig, then: func() { d.full.Store(true) }, err: errors.New("killed")}
	c.RequestID = "crash"
	wantKind(t, errOf(s.CreateKey(bg, c, &CreateKeyRequest{})), ErrInternal)
	s.st = orig
	s.Close()
	d.full.Store(false)
	if recs := recordsOf(t, s, "crash"); len(recs) != 1 || !recs[0].Change {
		t.Fatalf("before reopening: %+v", recs)
	}
	s2, err := Open(s.opts)
	if err != nil {
		t.Fatal(err)
	}
	recs = recordsOf(t, s2, "crash")
	if len(recs) != 2 || recs[1].Voids != recs[0].Seq || !strings.Contains(recs[1].Message, "stopped") || keyCount(s2) != 2 {
		t.Fatalf("a change interrupted before its commit, reopened: %+v", recs)
	}
	verifyLog(t, s2)

	// A commit reported failed that reached the disk: voided, then
	// reinstated when the store is opened again.
	orig2 := s2.st
	s2.st = &failingCommit{Store: orig2, reached: true, err: errors.New("fsync failed after the write")}
	c.RequestID = "committed-after-all"
	wantKind(t, errOf(s2.CreateKey(bg, c, &CreateKeyRequest{})), ErrInternal)
	s2.st = orig2
	s2.Close()
	s3, err := Open(s.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	recs = recordsOf(t, s3, "committed-after-all")
	if len(recs) != 3 || recs[1].Voids != recs[0].Seq || recs[2].Reinstates != recs[0].Seq || keyCount(s3) != 3 {
		t.Fatalf("a change that committed after all: %+v", recs)
	}
	if rep := verifyLog(t, s3); rep.Voided != 3 {
		t.Fatalf("report %+v", rep)
	}
}

// TestOpenOnAFullDisk: a store opens on a full disk, not ready; its first
// lines wait for space.
func TestOpenOnAFullDisk(t *testing.T) {
	d := newFullDisk(t)
	s, _ := newTestService(t)
	s.Close()
	os.Remove(s.opts.auditPath()) // a new log, whose anchor must be written
	d.full.Store(true)
	s, err := Open(s.opts)
	if err != nil {
		t.Fatalf("Open on a full disk: %v", err)
	}
	defer s.Close()
	if err := s.Ready(bg); err == nil {
		t.Fatal("ready on a full disk")
	}
	d.full.Store(false)
	if err := s.Ready(bg); err != nil {
		t.Fatal(err)
	}
	mustKey(t, s, "", "")
	verifyLog(t, s)
}

// TestMaintenanceAudited: maintenance's destructions and rotations, and a
// destruction a read triggers, are changes with their records; the
// compaction that shreds what was destroyed has its own (shred.go).
func TestMaintenanceAudited(t *testing.T) {
	s, clk := newTestService(t)
	c := s.testCall()
	gone, rotated, lazy := mustKey(t, s, "", ""), mustKey(t, s, "", ""), mustKey(t, s, "", "")
	for _, id := range []string{gone.KeyID, lazy.KeyID} {
		if _, err := s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: id, PendingWindowInDays: 7}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.EnableKeyRotation(bg, c, &EnableKeyRotationRequest{KeyID: rotated.KeyID, RotationPeriodInDays: 90}); err != nil {
		t.Fatal(err)
	}
	clk.add(91 * 24 * time.Hour)
	c.RequestID = "lazy"
	wantKind(t, errOf(s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: lazy.KeyID})), ErrNotFound)
	if r := recordsOf(t, s, "lazy"); len(r) != 3 || r[0].Operation != "DestroyKey" || !r[0].Change || r[0].KeyARN != lazy.KeyARN || r[1].Operation != "CompactStore" || r[2].Operation != "DescribeKey" {
		t.Fatalf("a destruction on read: %+v", r)
	}
	res, err := s.Admin().Maintain(bg)
	if err != nil || res.Destroyed != 1 || res.Rotated != 1 {
		t.Fatalf("Maintain = %+v, %v", res, err)
	}
	recs := recordsOf(t, s, "maintain")
	if len(recs) != 3 || recs[0].Operation != "DestroyKey" || recs[0].KeyARN != gone.KeyARN || recs[1].Operation != "RotateKey" || recs[1].KeyARN != rotated.KeyARN || !recs[0].Change || !recs[1].Change || recs[2].Operation != "CompactStore" {
		t.Fatalf("maintenance records %+v", recs)
	}
	verifyLog(t, s)
}

// TestVoidClipsStoreError: the void of a change whose commit failed says
// the store error's kind and one clipped line of its text, never the whole
// text (a store error may carry paths, SQL, values).
func TestVoidClipsStoreError(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	orig := s.st
	const marker = "MARKER-beyond-the-clip"
	for _, tc := range []struct {
		err  error
		kind string
	}{
		{fmt.Errorf("%w: pq: connection reset\nat /var/lib/pg/base/16384\n%s%s", store.ErrUnavailable, strings.Repeat("x", 300), marker), "store unavailable"},
		{fmt.Errorf("%w\r\nUPDATE keys SET v=%s %s", store.ErrConflict, strings.Repeat("y", 400), marker), "conflict"},
		{errors.New("disk I/O error\n" + strings.Repeat("z", 256) + marker), "internal"},
	} {
		s.st = &failingCommit{Store: orig, err: tc.err}
		c.RequestID = "void-" + strings.ReplaceAll(tc.kind, " ", "-")
		wantKind(t, errOf(s.CreateKey(bg, c, &CreateKeyRequest{})), ErrInternal)
		s.st = orig
		recs := recordsOf(t, s, c.RequestID)
		if len(recs) != 2 || recs[1].Voids != recs[0].Seq {
			t.Fatalf("%s: records %+v", tc.kind, recs)
		}
		m := recs[1].Message
		prefix := "the change was not committed (" + tc.kind + "): "
		if !strings.HasPrefix(m, prefix) || len(m)-len(prefix) > 256 || strings.ContainsAny(m, "\r\n") || strings.Contains(m, marker) {
			t.Errorf("%s: the void says %q", tc.kind, m)
		}
	}
	log, err := os.ReadFile(s.opts.auditPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(log, []byte("\n")) {
		if bytes.Contains(line, []byte(`"request_id":"void-`)) && (bytes.Contains(line, []byte(marker)) || bytes.Contains(line, []byte(`\n`)) || bytes.Contains(line, []byte(`\r`))) {
			t.Errorf("an audit line carries the store error whole: %s", line)
		}
	}
}

// TestClipLine: one line, at most the limit in bytes, cut between
// characters.
func TestClipLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{"short", "short"},
		{"a\nb\r\n\tc\u2028d\x00e", "a b c d e"},
		{"\nlead\n", "lead"},
		{strings.Repeat("x", 10), strings.Repeat("x", 10)},
		{strings.Repeat("x", 11), strings.Repeat("x", 7) + "..."},
		{"xxxxxx\u00e9zzz", "xxxxxx..."}, // é is two bytes: not cut in half
		{"bad \xff utf-8", "bad \ufffd..."},
	} {
		got := clipLine(tc.in, 10)
		if got != tc.want || len(got) > 10 || !utf8.ValidString(got) {
			t.Errorf("clipLine(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}
