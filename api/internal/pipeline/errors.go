package pipeline

import (
	"errors"
	"fmt"

	"github.com/attestkms/attestkms/internal/httpsig"
	"github.com/attestkms/attestkms/kms"
)

// The pipeline's kinds: what it refuses before a request reaches kms. The
// authentication kinds are httpsig's, which every Authenticator returns
// (its ErrConfig is the server's fault, an internal error); the pipeline
// adds its own. Each dialect's Table gives each kind its wire error and its
// message.
var (
	ErrTooLarge   = fmt.Errorf("request body is larger than %d bytes", MaxBody)
	ErrUnreadable = errors.New("request body could not be read")
	ErrMissing    = httpsig.ErrMissing
	ErrMalformed  = httpsig.ErrMalformed
	ErrExpired    = httpsig.ErrExpired
	ErrSignature  = httpsig.ErrSignature
	ErrReplay     = errors.New("signature already used")
	// ErrThrottled: a budget (Limits) refused the request; the dialect
	// answers with its throttling error, which its SDKs retry.
	ErrThrottled = errors.New("request rate exceeded")
)

// Kinds are the pipeline's kinds, for a dialect's table test to walk.
var Kinds = []error{ErrTooLarge, ErrUnreadable, ErrMissing, ErrMalformed, ErrExpired, ErrSignature, ErrReplay, ErrThrottled}

// A WireError is how a dialect answers one kind of error.
type WireError struct {
	// Code is the dialect's error code ("NotFoundException", "KMS.0207").
	Code string
	// Status is the HTTP status; 0 for a dialect that answers every request
	// with 200 (Tencent).
	Status int
	// Message, for the pipeline's kinds, is the message a client sees (for
	// ErrMalformed followed by ": " and what the verifier found wrong). For
	// kms's kinds it is empty: the message is the error's own
	// (kms.Message).
	Message string
}

// A Table is a dialect's one table from kinds, kms's and the pipeline's
// (Kinds), to its wire errors. It must map kms.ErrInternal: a kind it does
// not map is answered as that.
type Table map[error]WireError

// Wire is how t answers err, and the message a client may see: a Refusal
// as it says; one of the pipeline's kinds with the table's message; any
// other error by its kms kind (kms.Kind, which is ErrInternal for what is
// not a kms error) with kms's message (kms.Message, generic for an
// internal error). The message is cut at kms.MaxMessage bytes: it is the
// one place every error answer's message, and every refusal's audit
// record's (Handler.wireError), is made, and a message may repeat what the
// client sent (a member's name, a header's).
func (t Table) Wire(err error) (WireError, string) {
	w, msg := t.wire(err)
	return w, kms.ClipMessage(msg)
}

func (t Table) wire(err error) (WireError, string) {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Wire, r.Msg
	}
	for _, k := range Kinds {
		if errors.Is(err, k) {
			w, ok := t[k]
			if !ok {
				break
			}
			msg := w.Message
			if k == ErrMalformed {
				msg += ": " + err.Error()
			}
			return w, msg
		}
	}
	w, ok := t[kms.Kind(err)]
	if !ok {
		w = t[kms.ErrInternal]
	}
	return w, kms.Message(err)
}

// serverFault reports whether err is the server's (an internal error or a
// request that did not complete): those are logged with their cause.
func serverFault(err error) bool {
	var r *Refusal
	if errors.As(err, &r) {
		return false
	}
	for _, k := range Kinds {
		if errors.Is(err, k) {
			return false
		}
	}
	k := kms.Kind(err)
	return k == kms.ErrInternal || k == kms.ErrCanceled
}

// A Refusal is an error a dialect decides itself, before or instead of
// kms: it is answered as it says.
type Refusal struct {
	Wire WireError
	Msg  string
}

func (e *Refusal) Error() string { return e.Msg }

// Refuse returns a Refusal: w's code and status, and msg.
func Refuse(w WireError, msg string) error { return &Refusal{Wire: w, Msg: msg} }

// errAuth marks authentication failures: they are audited although the
// request has no principal.
var errAuth = errors.New("authentication failed")

type authError struct{ err error }

func (e *authError) Error() string   { return e.err.Error() }
func (e *authError) Unwrap() []error { return []error{e.err, errAuth} }

// authFailure marks err as an authentication failure.
func authFailure(err error) error { return &authError{err} }
