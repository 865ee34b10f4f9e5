package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/attestkms/attestkms/kms"
)

// An Observer is told what the Handler did with each request: the server's
// metrics (internal/metrics) are one. Every value it is given is one of a
// few: the dialect's name, an operation the dialect serves or "unknown",
// and the words below; never a header or a path as the client wrote it.
type Observer interface {
	// Request is one request answered: its operation, its outcome
	// (Outcome…) and how long it took from its first byte read to its
	// answer written.
	Request(dialect, operation, outcome string, took time.Duration)
	// AuthFailure is a request refused by authentication (Reason…).
	AuthFailure(dialect, reason string)
	// Throttled is a request refused by a budget (Limit…).
	Throttled(dialect, limit string)
}

// Outcomes of a request.
const (
	OutcomeOK          = "ok"
	OutcomeClientError = "client_error"
	OutcomeAuthFailure = "auth_failure"
	OutcomeThrottled   = "throttled"
	OutcomeServerError = "server_error"
	// OutcomeCanceled: the client went away before its answer (nginx's 499,
	// "client closed request"). Counted apart from server_error so that
	// clients' own cancellations do not raise the server's error rate.
	OutcomeCanceled = "canceled"
)

// Reasons of an authentication failure.
const (
	ReasonMissing   = "missing"   // no signature
	ReasonMalformed = "malformed" // a signature not in the scheme's form
	ReasonExpired   = "expired"   // signed too far from the server's clock
	ReasonSignature = "signature" // an unknown access key or a wrong signature
	ReasonReplay    = "replay"    // a signature already used
	ReasonRefused   = "refused"   // refused by the dialect (a scope, a token)
)

// UnknownOperation is the operation of a request that names none the
// dialect serves.
const UnknownOperation = "unknown"

// outcome classifies a request's error; ctx is the request's context.
func outcome(ctx context.Context, err error) string {
	switch {
	case err == nil:
		return OutcomeOK
	case throttledBy(err) != "":
		return OutcomeThrottled
	case errors.Is(err, errAuth):
		return OutcomeAuthFailure
	case hungUp(ctx, err):
		return OutcomeCanceled
	case serverFault(err):
		return OutcomeServerError
	}
	return OutcomeClientError
}

// hungUp reports whether err is a cancellation the client caused: kms
// calls an operation canceled (kms.ErrCanceled) both when its request's
// context is canceled, which net/http does when the client closes the
// connection (or http.Server.Close closes it), and when a deadline of the
// server's own passes while the request is live (a store's, such as
// PostgreSQL's connect_timeout). Only a canceled request context is the
// client's: a request context past its deadline ran out of a time the
// server set, and a cancellation under a live one is the store's, both the
// server's faults (logged at ERROR, counted server_error) lest an
// unreachable database hide among hang-ups.
func hungUp(ctx context.Context, err error) bool {
	return kms.Kind(err) == kms.ErrCanceled && errors.Is(ctx.Err(), context.Canceled)
}

// authReason is why authentication refused err.
func authReason(err error) string {
	for _, r := range []struct {
		kind   error
		reason string
	}{{ErrMissing, ReasonMissing}, {ErrMalformed, ReasonMalformed}, {ErrExpired, ReasonExpired}, {ErrSignature, ReasonSignature}, {ErrReplay, ReasonReplay}} {
		if errors.Is(err, r.kind) {
			return r.reason
		}
	}
	return ReasonRefused
}

// operationLabel is op if the dialect serves it, else UnknownOperation.
func (h *Handler) operationLabel(op string) string {
	if h.d.Known != nil && h.d.Known(op) {
		return op
	}
	return UnknownOperation
}

// observe tells the Observer, if any, how a request ended: its outcome
// (outcome's) and its error.
func (h *Handler) observe(op, oc string, err error, took time.Duration) {
	if h.obs == nil {
		return
	}
	label := h.operationLabel(op)
	h.obs.Request(h.d.Name, label, oc, took)
	if limit := throttledBy(err); limit != "" {
		h.obs.Throttled(h.d.Name, limit)
	} else if errors.Is(err, errAuth) {
		h.obs.AuthFailure(h.d.Name, authReason(err))
	}
}
