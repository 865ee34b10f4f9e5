// Package aws serves the AWS KMS JSON 1.1 dialect: POST / with
// X-Amz-Target: TrentService.<Operation>, signed with AWS Signature Version 4,
// so that the official AWS SDKs work against attestkms unchanged.
//
// It bounds the body, authenticates, decodes and renders; every decision about
// keys is kms's. Order of a request: read at most 1 MiB; verify the SigV4
// signature (an unknown access key and a bad signature get one answer); refuse
// a credential scope naming another region than the service's; refuse a
// signature already used; find the operation; decode its JSON strictly; run
// it; write the audit line; only then send the answer. A request whose audit
// line cannot be written gets KMSInternalException instead of its result.
//
// Threat model: every header and body byte is the attacker's until the
// signature verifies, and the body is still hostile after (an authenticated
// client may be compromised). What is not done here: TLS (the server's), rate
// limiting, and IAM: key policies are kms's business.
package aws

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/attestkms/attestkms/api/aws/sigv4"
	"github.com/attestkms/attestkms/api/internal/exchange"
	"github.com/attestkms/attestkms/api/internal/httpio"
	"github.com/attestkms/attestkms/api/internal/replay"
	"github.com/attestkms/attestkms/internal/httpsig"
	"github.com/attestkms/attestkms/kms"
	"github.com/attestkms/attestkms/kms/audit"
)

// MaxSkew is how far a request's X-Amz-Date may be from the server's clock.
const MaxSkew = 15 * time.Minute

const (
	targetPrefix = "TrentService."
	contentType  = "application/x-amz-json-1.1"
	dialect      = "aws"
)

// Options configure a Handler. Zero values are safe defaults.
type Options struct {
	Service *kms.Service // required
	// Replay is the replay cache, shared with the other dialects. If nil, the
	// handler keeps its own.
	Replay *replay.Cache
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// Logger receives internal errors' causes (never secrets). If nil, slog.Default().
	Logger *slog.Logger
}

// Handler serves the AWS dialect.
type Handler struct {
	svc      *kms.Service
	verifier sigv4.Verifier // its Lookup is set per request (exchange.Lookup)
	replay   *replay.Cache
	now      func() time.Time
	log      *slog.Logger
}

// New returns a Handler.
func New(opts Options) *Handler {
	h := &Handler{svc: opts.Service, replay: opts.Replay, now: opts.Now, log: opts.Logger}
	if h.replay == nil {
		h.replay = replay.New(MaxSkew, 0)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.verifier = sigv4.Verifier{
		Service: "kms",
		MaxSkew: MaxSkew,
	}
	return h
}

// Handle serves one request; route POST / with an X-Amz-Target header here.
func (h *Handler) Handle(c echo.Context) error {
	w, r := c.Response(), c.Request()
	reqID := httpio.RequestID()
	w.Header().Set("X-Amzn-RequestId", reqID)
	target := r.Header.Get("X-Amz-Target")
	opName := strings.TrimPrefix(target, targetPrefix)
	if len(opName) > 64 {
		opName = opName[:64]
	}
	rec := &audit.Record{RequestID: reqID, Dialect: dialect, Operation: opName, SourceIP: c.RealIP()}

	res, err := exchange.Serve(h.svc.AuditLog(), h.log, rec, auditCode, func() (*result, error) {
		return h.serve(r.Context(), w, r, target, rec)
	})
	defer res.Wipe()
	if err != nil {
		return h.writeError(w, reqID, err)
	}
	return exchange.WriteJSON(w, http.StatusOK, contentType, res.Out)
}

func auditCode(err error) (string, string) {
	we, msg := toWire(err)
	return we.code, msg
}

func authFail(w wireError, msg string) error {
	return exchange.AuthFailure(&dialectError{w, msg})
}

func (h *Handler) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, target string, rec *audit.Record) (*result, error) {
	body, err := httpio.ReadBody(w, r)
	if errors.Is(err, httpio.ErrTooLarge) {
		return nil, &dialectError{errTooLarge, "Request body is larger than 1 MiB."}
	}
	if err != nil {
		return nil, &dialectError{wireError{"ValidationException", http.StatusBadRequest}, "could not read the request body"}
	}
	now := h.now()
	// The verifier looks the key up through this request's Lookup, which
	// zeroes the copy of the secret once the signature is checked.
	lookup := exchange.NewLookup(h.svc.Credentials())
	verifier := h.verifier
	verifier.Lookup = lookup.Secret
	v, err := verifier.Verify(r, body, now)
	lookup.Wipe()
	switch {
	case errors.Is(err, httpsig.ErrConfig):
		return nil, &kms.Error{Kind: kms.ErrInternal, Msg: "internal error", Cause: err}
	case errors.Is(err, httpsig.ErrMissing):
		return nil, exchange.AuthFailure(errMissingAuth)
	case errors.Is(err, httpsig.ErrExpired):
		return nil, authFail(errExpiredSignature, "Signature expired: the request's X-Amz-Date is more than 15 minutes from the server's time.")
	case errors.Is(err, httpsig.ErrMalformed):
		return nil, authFail(errIncompleteSignature, "The request signature does not conform to AWS standards: "+err.Error())
	case err != nil:
		return nil, exchange.AuthFailure(errBadSignature)
	}
	principal, ok := lookup.Principal(v.AccessKeyID)
	if !ok { // cannot be: the signature verified with its secret
		return nil, exchange.AuthFailure(errBadSignature)
	}
	rec.AccessKeyID, rec.Principal = v.AccessKeyID, principal.ARN
	// The service has one region and its ARNs name it; a request signed for
	// another is refused as AWS refuses it, rather than served under ARNs
	// its signer did not mean. Checked only now that the signature verified,
	// so that an unknown key and a bad signature still get one answer.
	if want := h.svc.Region(); v.Region != want {
		return nil, authFail(errWrongRegion, "Credential should be scoped to a valid region. This server's region is '"+want+"', not '"+v.Region+"'.")
	}
	if h.replay.Replayed(dialect, v.Signature, v.SignedAt, now) {
		return nil, authFail(errExpiredSignature, "Signature has already been used: this request is a replay.")
	}

	op, ok := operations[strings.TrimPrefix(target, targetPrefix)]
	if !ok || !strings.HasPrefix(target, targetPrefix) {
		return nil, &dialectError{errUnknownTarget, "Unknown operation " + rec.Operation}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != contentType {
		return nil, &dialectError{wireError{"ValidationException", http.StatusBadRequest}, "Content-Type must be " + contentType}
	}
	call := &kms.Call{RequestID: rec.RequestID, Principal: principal, SourceIP: rec.SourceIP, SecureTransport: r.TLS != nil}
	res, err := op(h, ctx, call, body)
	rec.KeyARN, rec.SourceKeyARN, rec.Attestation, rec.BypassedChecks = call.KeyARN, call.SourceKeyARN, call.Attestation, call.BypassedChecks
	return res, err
}

func (h *Handler) writeError(w http.ResponseWriter, reqID string, err error) error {
	we, msg := toWire(err)
	if we.status >= 500 {
		h.log.Error("internal error", "request_id", reqID, "err", err)
	}
	w.Header().Set("X-Amzn-ErrorType", we.code)
	return exchange.WriteJSON(w, we.status, contentType, struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{we.code, msg})
}

// result is an operation's answer (exchange.Result).
type result = exchange.Result

func ok(out any, secrets ...[]byte) (*result, error) { return exchange.OK(out, secrets...) }

type opFunc func(h *Handler, ctx context.Context, c *kms.Call, body []byte) (*result, error)

// op adapts a typed operation: it decodes the body into Req first.
func op[Req any](fn func(h *Handler, ctx context.Context, c *kms.Call, req *Req) (*result, error)) opFunc {
	return func(h *Handler, ctx context.Context, c *kms.Call, body []byte) (*result, error) {
		var req Req
		if err := decode(body, &req); err != nil {
			return nil, err
		}
		return fn(h, ctx, c, &req)
	}
}
