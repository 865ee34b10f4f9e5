package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLines pins the line format byte for byte: operators and tests grep it.
func TestLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path, func() time.Time { return time.Date(2026, 11, 23, 13, 0, 0, 0, time.FixedZone("CET", 3600)) })
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range []*Record{
		{RequestID: "r", AccessKeyID: "AK", Principal: "p", SourceIP: "1.2.3.4", Dialect: "aws", Operation: "Decrypt",
			KeyARN: "arn:k", SourceKeyARN: "arn:s", Attestation: &Attestation{Format: "nitro", ModuleID: "m", PCR0: "00", SnpMeasurement: "aa", SnpChipID: "bb", TpmBank: "sha256", TpmPCRs: map[int]string{1: "cc", 0: "dd"}, Nonce: "ee", PublicKeySHA256: "ff", Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Debug: true},
			BypassedChecks: []string{"lockout"}, Outcome: "error", ErrorCode: "X", Message: "m"},
		{RequestID: "r2", Dialect: "tencent", Operation: "O", Outcome: "ok", Attestation: &Attestation{Format: "tpm2", PublicKeySHA256: "00"}},
		{RequestID: "r3"},
		{Time: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), RequestID: "r4"}, // a time given is kept
	} {
		if err := l.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	want := `{"time":"2026-11-23T12:00:00Z","request_id":"r","access_key_id":"AK","principal":"p","source_ip":"1.2.3.4","dialect":"aws","operation":"Decrypt","key_arn":"arn:k","source_key_arn":"arn:s","attestation":{"format":"nitro","module_id":"m","pcr0":"00","snp_measurement":"aa","snp_chip_id":"bb","tpm_bank":"sha256","tpm_pcrs":{"0":"dd","1":"cc"},"nonce":"ee","public_key_sha256":"ff","time":"2026-01-02T03:04:05.000000006Z","debug":true},"bypassed_checks":["lockout"],"outcome":"error","error_code":"X","message":"m"}
{"time":"2026-11-23T12:00:00Z","request_id":"r2","dialect":"tencent","operation":"O","attestation":{"format":"tpm2","public_key_sha256":"00"},"outcome":"ok"}
{"time":"2026-11-23T12:00:00Z","request_id":"r3","dialect":"","operation":"","outcome":""}
{"time":"2020-01-01T00:00:00Z","request_id":"r4","dialect":"","operation":"","outcome":""}
`
	got, _ := os.ReadFile(path)
	if string(got) != want {
		t.Fatalf("audit log:\n%s\nwant\n%s", got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("audit log mode %v", fi.Mode().Perm())
	}
	// Appends to what is there; a closed log refuses.
	l, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Write(&Record{RequestID: "r5"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if err := l.Write(&Record{RequestID: "r6"}); err == nil {
		t.Fatal("a closed log accepted a record")
	}
	got, _ = os.ReadFile(path)
	if !bytes.HasPrefix(got, []byte(want)) || !bytes.Contains(got[len(want):], []byte(`"request_id":"r5"`)) || bytes.Contains(got, []byte("r6")) {
		t.Fatalf("after reopening: %s", got)
	}
}

func BenchmarkWrite(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "audit.log"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	rec := Record{RequestID: "r", AccessKeyID: "AK", Principal: "arn:aws:iam::111122223333:root", Dialect: "aws", Operation: "Decrypt", KeyARN: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", Outcome: "ok"}
	for b.Loop() {
		r := rec
		if err := l.Write(&r); err != nil {
			b.Fatal(err)
		}
	}
}

type counter struct{ n float64 }

func (c *counter) Add(v float64) { c.n += v }

// TestCountBytes: a Counter given to CountBytes counts every byte written
// after, and nothing once taken away.
func TestCountBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Write(&Record{RequestID: "before"}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	c := &counter{}
	l.CountBytes(c)
	for _, id := range []string{"a", "b"} {
		if err := l.Write(&Record{RequestID: id, Dialect: "aws", Operation: "Encrypt", Outcome: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := os.Stat(path)
	if want := float64(after.Size() - before.Size()); c.n != want {
		t.Fatalf("counted %v bytes; the file grew by %v", c.n, want)
	}
	l.CountBytes(nil)
	l.Write(&Record{RequestID: "c"})
	if want := float64(after.Size() - before.Size()); c.n != want {
		t.Fatal("counted after CountBytes(nil)")
	}
}
