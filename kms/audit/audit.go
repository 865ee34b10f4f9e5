// Package audit is attestkms's audit log: one JSON line per authenticated
// request, and one per request that failed authentication, appended to a
// file beside the store. A line names who, which key, which operation, what
// attestation was relied on, and the outcome — never key material,
// plaintext, data keys or shared secrets, and never the encryption context's
// values.
//
// kms opens the log with its store (kms.Service.AuditLog) and writes its own
// events to it (a region move); the dialects in api/ write one Record per
// request and release no answer whose line could not be written. The line
// format is a contract: operators and tests grep it.
package audit

import (
	"encoding/json"
	"os"
	"sync"
	"time"

	"github.com/attestkms/attestkms/attest"
)

// Record is one line of the audit log.
type Record struct {
	Time         time.Time    `json:"time"`
	RequestID    string       `json:"request_id"`
	AccessKeyID  string       `json:"access_key_id,omitempty"`
	Principal    string       `json:"principal,omitempty"`
	SourceIP     string       `json:"source_ip,omitempty"`
	Dialect      string       `json:"dialect"`
	Operation    string       `json:"operation"`
	KeyARN       string       `json:"key_arn,omitempty"`
	SourceKeyARN string       `json:"source_key_arn,omitempty"`
	Attestation  *Attestation `json:"attestation,omitempty"`
	// BypassedChecks names the safety checks a new key policy failed that
	// BypassPolicyLockoutSafetyCheck skipped ("lockout",
	// "attestation-safety"): a break-glass policy change is visible here.
	BypassedChecks []string `json:"bypassed_checks,omitempty"`
	Outcome        string   `json:"outcome"` // "ok" or "error"
	ErrorCode      string   `json:"error_code,omitempty"`
	Message        string   `json:"message,omitempty"`
	// Credential is the access key id an admin API operation created,
	// rotated (the new one) or deleted.
	Credential string `json:"credential,omitempty"`
}

// Attestation is what a Record says of a Recipient's verified evidence:
// enough to tell which enclave got which secret, nothing secret. attest
// builds it from verified claims ((*attest.Claims).Summary), so that neither
// kms nor this package reads a format's claims.
type Attestation = attest.Summary

// Log appends JSON lines to a file opened O_APPEND, one write per line, so
// lines from concurrent requests never interleave. The file is created 0600;
// to make it append-only against the server itself, chattr +a it.
type Log struct {
	mu    sync.Mutex
	f     *os.File
	now   func() time.Time
	bytes Counter // nil: not counted
}

// A Counter counts what the log writes: the server's
// attestkms_audit_bytes_total (a prometheus.Counter is one).
type Counter interface{ Add(float64) }

// CountBytes makes c count the bytes of every line written from now on;
// nil stops counting.
func (l *Log) CountBytes(c Counter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bytes = c
}

// Open opens (creating if needed) the audit log at path. now stamps records
// written without a time; if nil, time.Now.
func Open(path string, now func() time.Time) (*Log, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Log{f: f, now: now}, nil
}

// Write appends rec, stamping its time (UTC) if unset. A request whose audit
// line cannot be written must not release its result: callers turn an error
// here into an internal error.
func (l *Log) Write(rec *Record) error {
	if rec.Time.IsZero() {
		rec.Time = l.now().UTC()
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.f.Write(line)
	if l.bytes != nil && n > 0 {
		l.bytes.Add(float64(n))
	}
	return err
}

// Close syncs and closes the file. Writes after it fail.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.f.Sync()
	return l.f.Close()
}
