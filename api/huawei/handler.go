// Package huawei serves the Huawei Cloud DEW KMS v1.0 dialect:
// POST /v1.0/{project_id}/kms/<op> with a JSON body, signed with Huawei's
// AK/SK scheme SDK-HMAC-SHA256 (package sdkhmac), so that the official
// huaweicloud-sdk-go-v3 services/kms/v2 client works against attestkms
// unchanged.
//
// It bounds the body, authenticates, decodes and renders; every decision
// about keys is kms's. Order of a request: read at most 1 MiB; refuse
// X-Auth-Token (there is no IAM to issue one); verify the signature (an
// unknown access key and a bad signature get one answer); refuse a signature
// already used; only then look at the URL: the project_id must be the
// account's (KMS.0305), the method POST, the operation known; decode the JSON
// strictly; run the operation; write the audit line; only then send the
// answer. A request whose audit line cannot be written gets KMS.0101 instead
// of its result. Every answer carries X-Request-Id; errors are
// {"error":{"error_code":"KMS.XXXX","error_msg":"…"}} with an HTTP status of
// 400 or more (errors.go holds the one table from kms kinds to codes).
//
// Encodings, as the SDK's models say: key ids are 36-character ids, never
// ARNs; data keys, their ciphertexts and random bytes are hex; encrypt-data's
// ciphertext, public keys and shared secrets are base64; lengths are decimal
// strings, gen-random's and create-datakey's in bits; times are milliseconds
// since the epoch, in strings; key states are Huawei's codes ("2" enabled,
// "3" disabled, "4" pending deletion).
//
// Threat model: every header and body byte is the attacker's until the
// signature verifies, and the body is still hostile after (an authenticated
// client may be compromised). The signature covers the method, the path, the
// query, the body and the headers the client chose to sign (the SDK signs
// user-agent, x-project-id and x-sdk-date; not host, not content-type). What
// is not done here: TLS (the server's), rate limiting, and IAM: key
// policies are kms's business.
package huawei

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/attestkms/attestkms/api/huawei/sdkhmac"
	"github.com/attestkms/attestkms/api/internal/exchange"
	"github.com/attestkms/attestkms/api/internal/httpio"
	"github.com/attestkms/attestkms/api/internal/replay"
	"github.com/attestkms/attestkms/internal/httpsig"
	"github.com/attestkms/attestkms/kms"
	"github.com/attestkms/attestkms/kms/audit"
)

// MaxSkew is how far a request's X-Sdk-Date may be from the server's clock.
const MaxSkew = 15 * time.Minute

const (
	contentType = "application/json;charset=UTF-8"
	dialect     = "huawei"
	// maxOpName bounds the operation name the audit line records before the
	// request is known to be one of ours.
	maxOpName = 64
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

// Handler serves the dialect.
type Handler struct {
	svc      *kms.Service
	verifier sdkhmac.Verifier // its Lookup is set per request (exchange.Lookup)
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
	h.verifier = sdkhmac.Verifier{
		MaxSkew: MaxSkew,
	}
	return h
}

// Handle serves one request; route any method of /v1.0/:project_id/kms/:op
// here.
func (h *Handler) Handle(c echo.Context) error {
	w, r := c.Response(), c.Request()
	reqID := httpio.RequestID()
	w.Header().Set("X-Request-Id", reqID)
	opName := c.Param("op")
	if len(opName) > maxOpName {
		opName = opName[:maxOpName]
	}
	rec := &audit.Record{RequestID: reqID, Dialect: dialect, Operation: opName, SourceIP: c.RealIP()}

	res, err := exchange.Serve(h.svc.AuditLog(), h.log, rec, auditCode, func() (*result, error) {
		return h.serve(r.Context(), w, r, rec)
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

func (h *Handler) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, rec *audit.Record) (*result, error) {
	body, err := httpio.ReadBody(w, r)
	if errors.Is(err, httpio.ErrTooLarge) {
		return nil, errTooLarge
	}
	if err != nil {
		return nil, &dialectError{codeBadJSON, "could not read the request body"}
	}
	if len(r.Header.Values("X-Auth-Token")) != 0 {
		return nil, exchange.AuthFailure(errAuthToken)
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
		return nil, exchange.AuthFailure(errExpired)
	case errors.Is(err, httpsig.ErrMalformed):
		return nil, exchange.AuthFailure(&dialectError{codeAuth, "The request signature is malformed: " + err.Error()})
	case err != nil:
		return nil, exchange.AuthFailure(errBadSignature)
	}
	principal, known := lookup.Principal(v.AccessKeyID)
	if !known { // cannot be: the signature verified with its secret
		return nil, exchange.AuthFailure(errBadSignature)
	}
	rec.AccessKeyID, rec.Principal = v.AccessKeyID, principal.ARN
	if h.replay.Replayed(dialect, v.Signature, v.SignedAt, now) {
		return nil, exchange.AuthFailure(errReplay)
	}

	// The path the signature covers is the one acted on: r.URL.Path, not
	// the router's reading of the raw path.
	project, opName, routed := splitPath(r.URL.Path)
	if !routed {
		return nil, &dialectError{codeBadURL, "The request URL must be /v1.0/{project_id}/kms/{operation}."}
	}
	rec.Operation = opName
	if len(rec.Operation) > maxOpName {
		rec.Operation = rec.Operation[:maxOpName]
	}
	if project != h.svc.Account().ProjectID {
		return nil, errProject
	}
	if xp := r.Header.Values("X-Project-Id"); len(xp) > 1 || len(xp) == 1 && xp[0] != project {
		return nil, &dialectError{codeProject, "X-Project-Id is not the project_id in the URL."}
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &dialectError{codeBadURL, "The method " + r.Method + " is not supported: every operation is a POST."}
	}
	o, found := operations[opName]
	if !found {
		return nil, &dialectError{codeBadURL, "Unknown operation " + rec.Operation + "."}
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, invalid("Content-Type must be application/json")
	}
	if !o.recipient && hasRecipient(body) {
		return nil, invalid("recipient is not accepted by " + opName + ": its answer is not wrapped to an enclave; use create-datakey, decrypt-datakey, gen-random or derive-shared-secret")
	}
	call := &kms.Call{RequestID: rec.RequestID, Principal: principal, SourceIP: rec.SourceIP, SecureTransport: r.TLS != nil}
	res, err := o.fn(h, ctx, call, body)
	rec.KeyARN, rec.SourceKeyARN, rec.Attestation, rec.BypassedChecks = call.KeyARN, call.SourceKeyARN, call.Attestation, call.BypassedChecks
	return res, err
}

// splitPath splits /v1.0/{project_id}/kms/{op}.
func splitPath(p string) (project, op string, ok bool) {
	parts := strings.Split(p, "/")
	if len(parts) != 5 || parts[0] != "" || parts[1] != "v1.0" || parts[3] != "kms" || parts[2] == "" || parts[4] == "" {
		return "", "", false
	}
	return parts[2], parts[4], true
}

func (h *Handler) writeError(w http.ResponseWriter, reqID string, err error) error {
	we, msg := toWire(err)
	if we.status >= 500 {
		h.log.Error("internal error", "request_id", reqID, "err", err)
	}
	type detail struct {
		Code string `json:"error_code"`
		Msg  string `json:"error_msg"`
	}
	return exchange.WriteJSON(w, we.status, contentType, struct {
		Error detail `json:"error"`
	}{detail{we.code, msg}})
}

// result is an operation's answer (exchange.Result).
type result = exchange.Result

func ok(out any, secrets ...[]byte) (*result, error) { return exchange.OK(out, secrets...) }

type opFunc func(h *Handler, ctx context.Context, c *kms.Call, body []byte) (*result, error)

// request is what every operation's request has: the sequence member.
type request interface{ check() error }

// op adapts a typed operation: it decodes the body into Req and checks its
// sequence first.
func op[Req any, P interface {
	*Req
	request
}](fn func(h *Handler, ctx context.Context, c *kms.Call, req *Req) (*result, error)) opFunc {
	return func(h *Handler, ctx context.Context, c *kms.Call, body []byte) (*result, error) {
		var req Req
		if err := decode(body, &req); err != nil {
			return nil, err
		}
		if err := P(&req).check(); err != nil {
			return nil, err
		}
		return fn(h, ctx, c, &req)
	}
}
