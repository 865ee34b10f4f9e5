package kms

import (
	"encoding/json"
	"os"
	"sync"
	"time"
)

// AuditRecord is one line of the audit log: one per authenticated request, and
// one per request that failed authentication. It names who, which key, which
// operation, what attestation was relied on, and the outcome — never key
// material, plaintext, data keys or shared secrets, and never the encryption
// context's values.
type AuditRecord struct {
	Time         time.Time           `json:"time"`
	RequestID    string              `json:"request_id"`
	AccessKeyID  string              `json:"access_key_id,omitempty"`
	Principal    string              `json:"principal,omitempty"`
	SourceIP     string              `json:"source_ip,omitempty"`
	Dialect      string              `json:"dialect"`
	Operation    string              `json:"operation"`
	KeyARN       string              `json:"key_arn,omitempty"`
	SourceKeyARN string              `json:"source_key_arn,omitempty"`
	Attestation  *AttestationSummary `json:"attestation,omitempty"`
	// BypassedChecks names the safety checks a new key policy failed that
	// BypassPolicyLockoutSafetyCheck skipped ("lockout",
	// "attestation-safety"): a break-glass policy change is visible here.
	BypassedChecks []string `json:"bypassed_checks,omitempty"`
	Outcome        string   `json:"outcome"` // "ok" or "error"
	ErrorCode      string   `json:"error_code,omitempty"`
	Message        string   `json:"message,omitempty"`
}

// AuditLog appends JSON lines to a file opened O_APPEND, one write per line,
// so lines from concurrent requests never interleave. The file is created
// 0600; to make it append-only against the server itself, chattr +a it.
type AuditLog struct {
	mu sync.Mutex
	f  *os.File
}

// OpenAuditLog opens (creating if needed) the audit log at path.
func OpenAuditLog(path string) (*AuditLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return &AuditLog{f: f}, nil
}

// Write appends rec. A request whose audit line cannot be written must not
// release its result: callers turn an error here into an internal error.
func (a *AuditLog) Write(rec *AuditRecord) error {
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	_, err = a.f.Write(line)
	return err
}

// Close syncs and closes the file.
func (a *AuditLog) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.f.Sync()
	return a.f.Close()
}

// Audit writes rec to the service's audit log, stamping the time if unset.
func (s *Service) Audit(rec *AuditRecord) error {
	if rec.Time.IsZero() {
		rec.Time = s.now().UTC()
	}
	return s.audit.Write(rec)
}
