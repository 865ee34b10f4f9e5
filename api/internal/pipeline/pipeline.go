// Package pipeline is the path every request takes, whatever its dialect,
// written once. A dialect (api/aws, api/huawei, api/tencent) describes only
// what is its own in a Dialect: how it names an operation, its
// Authenticator (its signature scheme), how it routes and decodes, its one
// error Table, and the shapes of its answers. Handler.Handle does the rest,
// in this order:
//
//  1. Give the request an id (a random UUID) and, where the dialect has one,
//     its response header; note what its audit needs (the operation as the
//     request names it, at most 64 bytes of it, the direct peer's address).
//     If the peer's budget for failed authentications (Limits) is spent,
//     refuse it now (ErrThrottled), unaudited, unless its Authorization
//     header names an access key the server knows (the Authenticator's
//     AccessKeyID, then kms's Credentials.Known, which copies no secret):
//     that request goes on, to be served if its signature
//     verifies.
//  2. Read the body, at most MaxBody (1 MiB): refused at once when
//     Content-Length says more, else as soon as the limit is passed
//     (ErrTooLarge; ErrUnreadable for a body that cannot be read).
//  3. Authenticate it (the dialect's Authenticator) with one credential
//     lookup, whose copy of the secret is zeroed as soon as the signature is
//     checked; the principal is the one that lookup found. An unknown access
//     key and a bad signature are one answer (ErrSignature). A verifier that
//     is misconfigured is an internal error, never the client's.
//  4. Authentication failures stop here, counted for their source's
//     summary line (kms/audit's AuthFailure) and charged to its budget: an
//     unauthenticated request never writes a line of its own. From a source
//     whose budget was spent (a request that named a known key), a failure
//     before the signature verified, and a body refused in 2 (not counted,
//     as from any source), are answered ErrThrottled, as the requests
//     refused in 1 are: the answer does not say whether the key exists.
//     Such a failure is still counted (summary, Observer) by its own
//     reason, not as the throttling its client is told (spentFailure).
//     Failures after it verified (5, 6) get their own answers.
//  5. The dialect's CheckScope, if any (AWS: the credential scope's region
//     must be the service's). Then a signature already used is refused
//     (ErrReplay, 6) before it costs the key's budget: a captured request
//     resent must not spend its victim's. Then the access key's budget
//     (Limits): none left is ErrThrottled, counted for the key's summary
//     line (kms/audit's Throttled).
//  6. Record the signature, refusing one already used (ErrReplay): one
//     replay cache for every dialect, namespaced by dialect, remembering
//     each signature at least twice the largest skew any dialect accepts
//     (api.New builds it so). Recorded only now, after the budget, so
//     that a throttled client's retry is not a replay.
//  7. The dialect's Route finds the operation (its URL, headers, method,
//     content type); the operation decodes the body strictly and calls kms
//     with a kms.Call naming the request id, the principal, the source, the
//     dialect and its error table (WireError, so that kms's audit records
//     carry the code the client sees).
//  8. kms writes each operation's audit record itself, and answers a key use
//     or a change only once its record is durable (package kms/audit): the
//     pipeline copies nothing. It records what kms did not: an authenticated
//     request its dialect or the pipeline refused before or instead of an
//     operation, or a panic (kms.Service.AuditRefusal).
//  9. Render the answer or the error in the dialect's shape (its Table turns
//     kinds into wire codes), and zero the secrets the answer held.
//
// A panic anywhere in 2 to 8 is an internal error, logged with its stack and
// audited; the server goes on serving. Internal errors are logged with their
// cause (a client that hung up only at level debug, and counted by the
// Observer as OutcomeCanceled, not as the server's error); clients see only
// the dialect's generic message.
// An authentication failure takes a token from its peer's budget for
// failures. The Observer, if any, is told each request's operation (as the
// dialect's table names it, or UnknownOperation), outcome and duration, and
// why authentication or a budget refused it; at level debug the Logger gets
// a line per request.
//
// Threat model: every header and body byte is the attacker's until the
// signature verifies, and the body is still hostile after (an authenticated
// client may be compromised). Before authentication the server spends on a
// request at most one bounded body read, one credential lookup and one
// signature's HMAC work (the same for an unknown access key), and counts it
// in kms/audit's bounded table of failed authentications (one summary line
// per source and interval); an unauthenticated client cannot fill the replay
// cache, where only verified signatures are recorded. Once a peer's budget
// for failures is spent (Limits; per node, and per address or IPv6 /64), its
// requests that name no access key the server knows (no Authorization
// header, one that does not parse, an unknown key) cost the header's parse,
// two map lookups (the budget's, the credentials'), reading the body (at most
// MaxBody, dropped unhashed: a known key's is read too, and net/http's 100
// Continue or a connection closed for a body left unread would otherwise say
// which keys exist) and an answer, and are not even counted, until the
// budget refills. A request that names a known key is still checked: an
// address is not a client (everything behind one NAT, such as a cloud NAT
// gateway in front of a subnet of enclaves, shares its budget, as does all
// of one /64), and a neighbour that spends it must not lock out, with no
// credential, a client that signs correctly. Such a request costs what any
// request from a source with budget left costs (the body read and its
// SHA-256, a credential lookup, one signature's HMAC work) and one more
// credential lookup; if it fails it is counted and charged (its source stays
// spent), by its own reason, never a line of its own, and answered as the
// requests refused unchecked are. So anyone who knows an access key id (ids are not secrets:
// they are in clients' configurations and in logs) can make the server check
// one signature per request from a spent source, as from any other: there
// the budget saves no CPU, and only the sender's own rate and bandwidth
// bound it. A check is 7 to 12 µs for a small request (api/aws/sigv4's
// BenchmarkVerify, on this project's shared 2-CPU machine under load), plus
// about 1 ms per MiB of body hashed, up to MaxBody. The difference in cost
// is also what a prober at a spent source can time to learn which access key
// ids exist (microseconds; the answer itself does not say). Once the table
// of addresses is full, the addresses it does not hold are never refused
// before authentication (their failures are charged to a shared overflow,
// which refuses nobody): a flood from many addresses then costs a signature
// check per request, and cannot lock out a new client by spending a budget
// it shares. A request refused for its access key's budget is counted for
// its key's summary line (kms/audit's Throttled), not given a line of its
// own, which would let the client spend the disk instead. Trusted are kms
// (its answers and its credential lookup), the clock and the configuration.
// What is not done here: TLS (the server's), and authorisation, which is
// kms's key policy.
package pipeline

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/api/internal/replay"
	"github.com/attestkms/attestkms/api/internal/secretjson"
	"github.com/attestkms/attestkms/internal/httpsig"
	"github.com/attestkms/attestkms/kms"
)

// MaxOperationName bounds the operation name the audit line records: the
// name comes from the request before it is known to be one of ours.
const MaxOperationName = 64

// An Authenticator verifies one signature scheme (sigv4, tc3 and sdkhmac's
// Verifier are): it checks r's signature over body at now, finding secrets
// with lookup, and returns who signed, when, and the signature (what the
// replay cache keys on), or an error wrapping one of httpsig's kinds
// (ErrMissing, ErrMalformed, ErrExpired, ErrSignature, ErrConfig) or a
// Refusal of the dialect's own. The Result is nil whenever the error is not.
// Skew is how far from the server's clock it accepts a signed time: a
// replay cache the Handler makes for itself remembers signatures twice that
// long.
//
// AccessKeyID is the access key id r's Authorization header names, or ""
// when it names none (no header, or one that does not parse), read before
// the body and touching no secret: hmacauth.Verifier's. A request from a
// source whose budget for failures is spent is checked only if the key it
// names is one the server knows (Limits).
type Authenticator interface {
	Authenticate(r *http.Request, body []byte, now time.Time, lookup hmacauth.SecretLookup) (*hmacauth.Result, error)
	Skew() time.Duration
	AccessKeyID(r *http.Request) string
}

// An Operation runs one authenticated request: it decodes body strictly and
// calls kms on behalf of c.
type Operation func(ctx context.Context, c *kms.Call, body []byte) (*Result, error)

// A Dialect is what one cloud's wire format adds to the pipeline; every
// field is required unless it says what its zero value means.
type Dialect struct {
	// Name names the dialect in the audit log and the replay cache: "aws".
	Name string
	// RequestIDHeader is the response header that carries the request id
	// ("X-Amzn-RequestId"); "" when the dialect puts it in the body.
	RequestIDHeader string
	// Authenticator verifies the dialect's signatures.
	Authenticator Authenticator
	// Errors is the dialect's one table from kinds to wire errors.
	Errors Table
	// Operation names the operation c asks for, as the audit line records
	// it until Route says otherwise (the Handler keeps MaxOperationName
	// bytes).
	Operation func(c echo.Context) string
	// Known reports whether op is the name of an operation the dialect
	// serves (a key of its own table): the metrics name a request's
	// operation only then, and UnknownOperation otherwise, so that no
	// name a client made up becomes a label. If nil, every operation is
	// UnknownOperation.
	Known func(op string) bool
	// CheckScope, if not nil, refuses an authenticated request by what its
	// signature's scope names, before the signature is recorded; its error
	// is audited as an authentication failure.
	CheckScope func(a *hmacauth.Result) error
	// Route finds the operation of an authenticated request. op is the
	// operation's name as recorded; a non-empty renamed replaces it in the
	// audit line, also when err is not nil.
	Route func(c echo.Context, op string) (renamed string, run Operation, err error)
	// WriteAnswer writes a successful answer, out. If nil, out itself is
	// the answer: JSON, status 200, Content-Type ContentType.
	WriteAnswer func(w http.ResponseWriter, requestID string, out any) error
	ContentType string
	// WriteError writes a refusal: its wire error and the message a client
	// may see.
	WriteError func(w http.ResponseWriter, requestID string, wire WireError, msg string) error
}

// Options configure a Handler. Zero values are safe defaults.
type Options struct {
	Service *kms.Service // required
	// Replay is the replay cache, shared with the other dialects. If nil,
	// the handler keeps its own, for its Authenticator's Skew.
	Replay *replay.Cache
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// Logger receives internal errors' causes (never secrets), and at
	// level debug a line per request. If nil, slog.Default().
	Logger *slog.Logger
	// Limits are the request budgets; the zero value limits nothing.
	Limits Limits
	// Observer, if not nil, is told how each request ended (the metrics).
	Observer Observer
}

// Handler serves one dialect.
type Handler struct {
	d      Dialect
	svc    *kms.Service
	replay *replay.Cache
	now    func() time.Time
	log    *slog.Logger
	limits Limits
	obs    Observer
	// requestIDKey is d.RequestIDHeader canonicalised (textproto).
	requestIDKey string
}

// New returns the Handler of d.
func New(opts Options, d Dialect) *Handler {
	h := &Handler{d: d, svc: opts.Service, replay: opts.Replay, now: opts.Now, log: opts.Logger, limits: opts.Limits, obs: opts.Observer}
	// The header's name as http.Header keeps it, once: Set would
	// canonicalise it, and allocate, on every request.
	h.requestIDKey = textproto.CanonicalMIMEHeaderKey(d.RequestIDHeader)
	if h.replay == nil {
		h.replay = replay.New(d.Authenticator.Skew(), 0)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	return h
}

// Handle serves one request; route the dialect's requests here.
func (h *Handler) Handle(c echo.Context) error {
	start := time.Now()
	w := c.Response()
	reqID := RequestID()
	if h.requestIDKey != "" {
		w.Header()[h.requestIDKey] = []string{reqID}
	}
	rq := &request{id: reqID, op: bound(h.d.Operation(c)), source: c.RealIP()}

	var res *Result
	var err error
	now := h.now()
	rq.spent = h.sourceSpent(rq.source, now)
	if rq.spent && !h.namesKnownKey(c.Request()) {
		// Before anything costs: not counted for the audit either, or a
		// flood would cost the summary table instead. The body is read
		// (and dropped, never hashed) as a known key's is, so that
		// net/http behaves alike around the answer (a 100 Continue, a
		// connection kept or closed): else that would say, where the
		// answer does not, whether the access key exists.
		discardBody(w, c.Request())
		err = &throttled{LimitSource}
	} else {
		res, err = h.audited(rq, func() (*Result, error) { return h.serve(c, rq) })
		if errors.Is(err, errAuth) {
			h.chargeSource(rq.source, now)
		}
	}
	defer res.Wipe()
	var werr error
	var code string
	if err != nil {
		wire, msg := h.d.Errors.Wire(answer(err))
		code = wire.Code
		switch {
		case hungUp(c.Request().Context(), err):
			// The client hung up: not the server's fault, and an ERROR
			// line per request would let any credential bury the real
			// ones (review finding). A cancellation whose request is
			// still live (a store's own deadline, which kms also calls
			// canceled) is an error (hungUp).
			h.log.Debug("request canceled", "request_id", reqID, "err", err)
		case serverFault(err):
			h.log.Error("internal error", "request_id", reqID, "err", err)
		}
		werr = h.d.WriteError(w, reqID, wire, msg)
	} else if h.d.WriteAnswer == nil {
		werr = secretjson.Write(w, http.StatusOK, h.d.ContentType, res.Out)
	} else {
		werr = h.d.WriteAnswer(w, reqID, res.Out)
	}
	took := time.Since(start)
	oc := outcome(c.Request().Context(), err)
	h.observe(rq.op, oc, err, took)
	if h.log.Enabled(c.Request().Context(), slog.LevelDebug) {
		accessKey := ""
		if rq.call != nil && rq.call.Principal != nil {
			accessKey = rq.call.Principal.AccessKeyID
		}
		h.log.LogAttrs(c.Request().Context(), slog.LevelDebug, "request", slog.String("request_id", reqID), slog.String("dialect", h.d.Name),
			slog.String("operation", rq.op), slog.String("source_ip", rq.source), slog.String("access_key_id", accessKey),
			slog.String("outcome", oc), slog.String("error_code", code), slog.Duration("took", took))
	}
	return werr
}

// request is what the Handler knows of a request for its audit: its id,
// its operation's name, its source, and, once it is authenticated, its
// kms.Call.
type request struct {
	id, op, source string
	// spent: its source's budget for failures was spent when it came (it
	// names a key the server knows, or it would have been refused unchecked).
	spent     bool
	accessKey string // once its signature verified
	call      *kms.Call
}

// serve is steps 2 to 7 (the package doc).
func (h *Handler) serve(c echo.Context, rq *request) (*Result, error) {
	w, r := c.Response(), c.Request()
	body, err := readBody(w, r)
	if err != nil {
		if rq.spent { // answered as a request naming no known key is
			return nil, &throttled{LimitSource}
		}
		return nil, err
	}
	now := h.now()
	lookup := newLookup(h.svc.Credentials())
	a, err := h.d.Authenticator.Authenticate(r, body, now, lookup.Secret)
	lookup.Wipe()
	switch {
	case errors.Is(err, httpsig.ErrConfig):
		return nil, &kms.Error{Kind: kms.ErrInternal, Msg: "internal error", Cause: err}
	case err != nil:
		return nil, unverified(rq, err)
	}
	principal, ok := lookup.Principal(a.AccessKeyID)
	if !ok { // cannot be: the signature verified with its secret
		return nil, unverified(rq, ErrSignature)
	}
	// Checked only now that the signature verified, so that an unknown key
	// and a bad signature still get one answer.
	if h.d.CheckScope != nil {
		if err := h.d.CheckScope(a); err != nil {
			return nil, authFailure(err)
		}
	}
	rq.accessKey = a.AccessKeyID
	// A replay is refused before it takes a token from the key's budget:
	// else an attacker resending one captured request throttles its
	// victim's key on this node (review finding). Looked up, not recorded:
	// the key's budget comes before the signature is recorded, so that a
	// throttled client's retry is not a replay.
	if h.replay.WouldReplay(h.d.Name, a.Signature, a.SignedAt, now) {
		return nil, authFailure(ErrReplay)
	}
	if !h.keyAllowed(a.AccessKeyID, now) {
		return nil, &throttled{LimitAccessKey}
	}
	if h.replay.Replayed(h.d.Name, a.Signature, a.SignedAt, now) {
		return nil, authFailure(ErrReplay)
	}

	rq.call = &kms.Call{RequestID: rq.id, Principal: principal, SourceIP: rq.source, SecureTransport: r.TLS != nil,
		Dialect: h.d.Name, WireError: h.wireError, Request: body}
	if a.BodySHA256 != ([sha256.Size]byte{}) { // an Authenticator that hashed this body
		rq.call.RequestSHA256 = &a.BodySHA256
	}
	renamed, run, err := h.d.Route(c, rq.op)
	if renamed != "" {
		rq.op = bound(renamed)
	}
	if err != nil {
		return nil, err
	}
	return run(r.Context(), rq.call, body)
}

// unverified is err, a failure before the signature verified, as an
// authentication failure: counted for its source's summary and charged to
// its budget (Handle). From a source whose budget is spent it is a
// spentFailure: answered ErrThrottled, as that source's requests naming no
// known key are, so that the answer does not say whether the access key it
// names exists (an unknown key and a bad signature get one answer).
func unverified(rq *request, err error) error {
	if rq.spent {
		return &spentFailure{authFailure(err)}
	}
	return authFailure(err)
}

// spentFailure is an authentication failure (err) from a source whose
// budget for failures is spent. It is counted as what it is, in the
// metrics (OutcomeAuthFailure, its reason) and in its source's summary
// (the code an address with budget left would have got), so that the
// operator sees signatures failing rather than a budget refusing; only
// the client's answer is ErrThrottled's (answer), the one every request
// from that source naming no known key gets.
type spentFailure struct{ err error }

func (e *spentFailure) Error() string { return e.err.Error() }
func (e *spentFailure) Unwrap() error { return e.err }

// answer is the error the client is told of for err: err itself, except
// that a spentFailure is answered as its source's budget refusing it.
func answer(err error) error {
	var s *spentFailure
	if errors.As(err, &s) {
		return &throttled{LimitSource}
	}
	return err
}

// wireError is the code and message of err in the dialect's table, for
// kms's audit records.
func (h *Handler) wireError(err error) (string, string) {
	w, msg := h.d.Errors.Wire(err)
	return w.Code, msg
}

var errInternal = &kms.Error{Kind: kms.ErrInternal, Msg: "internal error"}

// audited runs work, turning a panic into an internal error, and audits
// what kms did not: kms records every operation it runs, and what it runs
// it answers only once recorded; here an authentication failure is counted
// for its source's summary (kms/audit's AuthFailure: never a line per
// request), a request over its access key's budget for its key's summary
// (Throttled), and an authenticated request that no operation recorded (one
// its dialect or the pipeline refused, or a panic) gets its line
// (kms.Service.AuditRefusal). The caller writes the answer and then calls
// Wipe on the result.
func (h *Handler) audited(rq *request, work func() (*Result, error)) (res *Result, err error) {
	func() {
		defer func() {
			if p := recover(); p != nil {
				h.log.Error("panic serving request", "request_id", rq.id, "dialect", h.d.Name, "operation", rq.op, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				res, err = nil, errInternal
			}
		}()
		res, err = work()
	}()
	switch {
	case errors.Is(err, errAuth):
		// The failure's own code, also for a spentFailure, whose client
		// is answered the throttling error instead (Handle).
		wire, _ := h.d.Errors.Wire(err)
		// Counted by the source the budget counts (an IPv6 address's /64,
		// which one host holds whole): else one host writes a summary line
		// per failure, each from another address of its /64.
		h.svc.AuditLog().AuthFailure(sourceKey(rq.source), h.d.Name, wire.Code)
	case throttledBy(err) == LimitAccessKey:
		wire, _ := h.d.Errors.Wire(err)
		h.svc.AuditLog().Throttled(rq.accessKey, h.d.Name, wire.Code)
	case err != nil && rq.call != nil && !kms.Audited(err):
		if aerr := h.svc.AuditRefusal(rq.call, rq.op, err); aerr != nil {
			h.log.Error("audit log write failed", "request_id", rq.id, "err", aerr)
		}
	}
	return res, err
}

// bound keeps MaxOperationName bytes of a name the request chose.
func bound(op string) string {
	if len(op) > MaxOperationName {
		return op[:MaxOperationName]
	}
	return op
}

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

// OK is an answer holding the given secret buffers, which the Handler zeroes
// once the answer is written (or withheld).
func OK(out any, secrets ...[]byte) (*Result, error) {
	return &Result{Out: out, Secrets: secrets}, nil
}

// Decoding adapts an operation on a typed request, fn, to one on the body:
// decode (the dialect's strict JSON) fills a new Req first.
func Decoding[D, Req any](decode func(body []byte, v any) error, fn func(D, context.Context, *kms.Call, *Req) (*Result, error)) func(D, context.Context, *kms.Call, []byte) (*Result, error) {
	return func(d D, ctx context.Context, c *kms.Call, body []byte) (*Result, error) {
		var req Req
		if err := decode(body, &req); err != nil {
			return nil, err
		}
		return fn(d, ctx, c, &req)
	}
}
