// Package exchange is the part of serving one request that every dialect
// shares: looking up the credential its signature check needs (Lookup),
// and once it knows who is asking, recovering a panic, writing the one audit
// line, withholding the answer when that line cannot be written, and zeroing
// the secrets in the answer once it is sent. Dialects keep their own wire:
// routing, signature schemes, decoding, error shapes.
package exchange

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/attestkms/attestkms/kms"
	"github.com/attestkms/attestkms/kms/audit"
)

// Result is an operation's answer and the secret buffers in it.
type Result struct {
	Out     any
	Secrets [][]byte
}

// Wipe zeroes the secret buffers.
func (r *Result) Wipe() {
	if r == nil {
		return
	}
	for _, s := range r.Secrets {
		clear(s)
	}
}

// OK is an answer holding the given secret buffers.
func OK(out any, secrets ...[]byte) (*Result, error) {
	return &Result{Out: out, Secrets: secrets}, nil
}

// ErrAuth marks authentication failures: they are audited although the
// request has no principal.
var ErrAuth = errors.New("authentication failed")

type authError struct{ err error }

func (e *authError) Error() string   { return e.err.Error() }
func (e *authError) Unwrap() []error { return []error{e.err, ErrAuth} }

// AuthFailure marks err as an authentication failure.
func AuthFailure(err error) error { return &authError{err} }

// WireCode names an error as the dialect sends it (its code, and the message
// a client may see), for the audit line.
type WireCode func(error) (code, message string)

var errInternal = &kms.Error{Kind: kms.ErrInternal, Msg: "internal error"}

// Serve runs work, turning a panic into an internal error, then writes the
// audit line of every authenticated request (rec.AccessKeyID set by work) and
// of every authentication failure. If the line cannot be written the answer
// is withheld and the error is internal: nothing is released unaudited. The
// caller writes the answer and then calls Wipe on the result.
func Serve(auditLog *audit.Log, log *slog.Logger, rec *audit.Record, wire WireCode, work func() (*Result, error)) (res *Result, err error) {
	func() {
		defer func() {
			if p := recover(); p != nil {
				log.Error("panic serving request", "request_id", rec.RequestID, "dialect", rec.Dialect, "operation", rec.Operation, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				res, err = nil, errInternal
			}
		}()
		res, err = work()
	}()
	if rec.AccessKeyID == "" && !errors.Is(err, ErrAuth) {
		return res, err
	}
	if err == nil {
		rec.Outcome = "ok"
	} else {
		rec.Outcome = "error"
		rec.ErrorCode, rec.Message = wire(err)
	}
	if aerr := auditLog.Write(rec); aerr != nil {
		log.Error("audit log write failed", "request_id", rec.RequestID, "err", aerr)
		res.Wipe()
		return nil, &kms.Error{Kind: kms.ErrInternal, Msg: "internal error", Cause: aerr}
	}
	return res, err
}

// WriteJSON encodes v into a buffer it zeroes after sending: the answer may
// hold a secret.
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any) error {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return err
	}
	defer clear(buf.Bytes())
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// RawString is a secret's text in a JSON answer, quoted ("…"), in one buffer
// that MarshalJSON returns itself: encoding/json then copies the secret only
// into the answer's buffer, which WriteJSON zeroes, and listing the RawString
// among the Result's secrets lets Wipe zero this one. Made by Base64 and Hex,
// which encode without a Go string (a string could not be zeroed).
type RawString []byte

// MarshalJSON implements json.Marshaler.
func (r RawString) MarshalJSON() ([]byte, error) { return r, nil }

// Base64 is secret's standard base64, as a RawString.
func Base64(secret []byte) RawString {
	out := make(RawString, base64.StdEncoding.EncodedLen(len(secret))+2)
	out[0], out[len(out)-1] = '"', '"'
	base64.StdEncoding.Encode(out[1:], secret)
	return out
}

// Hex is secret's lower-case hex, as a RawString.
func Hex(secret []byte) RawString {
	out := make(RawString, hex.EncodedLen(len(secret))+2)
	out[0], out[len(out)-1] = '"', '"'
	hex.Encode(out[1:], secret)
	return out
}

// Lookup is one request's credential lookup, for its signature check: it
// hands the check a copy of the secret (kms.Credentials.Lookup gives one),
// remembers whose it was, and Wipe zeroes the copy once the check is done.
// The principal is the one the verifying lookup found, so a credential
// deleted after the check cannot leave the request without one.
type Lookup struct {
	creds     *kms.Credentials
	id        string
	secret    []byte
	principal *kms.Principal
}

// NewLookup returns a lookup for one request.
func NewLookup(creds *kms.Credentials) *Lookup { return &Lookup{creds: creds} }

// Secret is the signature scheme's SecretLookup. The secret it returns is
// zeroed by the next call and by Wipe.
func (l *Lookup) Secret(accessKeyID string) ([]byte, bool) {
	l.Wipe()
	secret, p, ok := l.creds.Lookup(accessKeyID)
	l.id, l.secret, l.principal = accessKeyID, secret, p
	return secret, ok
}

// Principal is the principal of accessKeyID as Secret found it, or
// ok=false if Secret did not find that key.
func (l *Lookup) Principal(accessKeyID string) (*kms.Principal, bool) {
	if l.principal == nil || l.id != accessKeyID {
		return nil, false
	}
	return l.principal, true
}

// Wipe zeroes the secret Secret handed out.
func (l *Lookup) Wipe() {
	clear(l.secret)
	l.secret = nil
}
