// Package api serves every dialect on one port: it builds the echo router,
// sends each request to its dialect by what identifies it (docs/architecture.md), and
// answers GET /healthz (alive) and GET /readyz (the store answers). It holds
// no key logic and no dialect logic. The admin API (api/admin: credentials on
// the running server) is one more dialect on the same port.
//
// Every request, whatever its dialect, takes one path, written once in
// api/internal/pipeline: bound the body (1 MiB, and what all bodies being
// read hold at once: BodyBudget), authenticate it with the
// dialect's signature scheme and one credential lookup, refuse a signature
// already used, route and decode it, run the kms operation, write the audit
// line (withholding the answer if it cannot be written), render it in the
// dialect's shape. A dialect (api/aws, api/huawei, api/tencent) is only what
// is its own: how its requests are routed, its signature scheme (sigv4,
// sdkhmac, tc3 over api/internal/hmacauth), its strict decoding, its one
// error table, and its answers' shapes and encodings.
//
// Threat model: everything a client sends is hostile, before and after it
// authenticates; see api/internal/pipeline for what an unauthenticated client
// can make the server spend. The router trusts no proxy header: the audit
// log records the direct peer.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/attestkms/attestkms/api/admin"
	"github.com/attestkms/attestkms/api/aws"
	"github.com/attestkms/attestkms/api/huawei"
	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/api/internal/ratelimit"
	"github.com/attestkms/attestkms/api/internal/replay"
	"github.com/attestkms/attestkms/api/tencent"
	"github.com/attestkms/attestkms/kms"
)

// Options configure the router. Zero values are safe defaults, but for the
// limits: zero is none (serve's flags set them).
type Options struct {
	Service *kms.Service // required
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// Logger receives internal errors (never secrets), and at level debug a
	// line per request. If nil, slog.Default().
	Logger *slog.Logger
	// RateLimit is each access key's budget, in requests a second with a
	// burst of twice that, whatever dialect it speaks; 0 is none.
	// AuthFailureLimit is each source address's budget of requests that
	// fail authentication, likewise. Both are this process's: per node.
	RateLimit, AuthFailureLimit float64
	// Observer, if not nil, is told how each request ended: the metrics.
	Observer Observer
	// BodyBudget is how many bytes the request bodies being read (before
	// their requests are authenticated) may hold at once, for the whole
	// process: past it a request is refused at once with its dialect's
	// throttling error, which its SDKs retry. 0 is 64 MiB
	// (pipeline.DefaultBodyBudget); less than one body of 1 MiB is that.
	// The last New sets it for every router of the process.
	BodyBudget int64
}

// An Observer is told how each request ended (the pipeline's Observer):
// internal/metrics's Metrics is one.
type Observer = pipeline.Observer

// readyTimeout bounds a readiness check.
const readyTimeout = 5 * time.Second

// New returns the HTTP handler for every dialect:
//
//	POST /                       X-Amz-Target: TrentService.<Op>   AWS KMS JSON 1.1
//	POST /                       X-TC-Action: <Op>                 Tencent Cloud KMS API 3.0
//	POST /v1.0/{project_id}/kms/<op>                               Huawei Cloud DEW KMS v1.0
//	POST /                       X-Amz-Target: AttestKMSAdmin.<Op> the admin API (api/admin)
//	GET  /healthz                                                  200 when serving
//	GET  /readyz                                                   200 when kms.Service.Ready, else 503
//	GET  /service-key                                              the answer-signing public keys, PEM
func New(opts Options) *echo.Echo {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	// One replay cache for every dialect: a signature is a signature. It
	// remembers each as long as the most lenient dialect would accept it
	// again: each dialect declares its own skew.
	rc := replay.New(max(aws.MaxSkew, huawei.MaxSkew, tencent.MaxSkew, admin.MaxSkew), 0)
	rc.OnOverflow(func(o replay.Overflow) {
		opts.Logger.Warn("the replay cache is full: it forgot signatures before their time, so a captured request among them could be sent again until the time given (lower --rate-limit, or spread the load over nodes)",
			"forgotten", o.Entries, "first_used_since", o.Since.UTC().Format(time.RFC3339), "replayable_until", o.Until.UTC().Format(time.RFC3339))
	})
	pipeline.SetBodyBudget(opts.BodyBudget)
	p := pipeline.Options{Service: opts.Service, Replay: rc, Now: opts.Now, Logger: opts.Logger, Observer: opts.Observer}
	// One set of budgets for every dialect, like the replay cache.
	if opts.RateLimit > 0 {
		p.Limits.PerKey = ratelimit.New(opts.RateLimit, burst(opts.RateLimit), 0)
	}
	if opts.AuthFailureLimit > 0 {
		p.Limits.FailuresPerSource = ratelimit.New(opts.AuthFailureLimit, burst(opts.AuthFailureLimit), 0)
	}
	awsH, huaweiH, tencentH := aws.New(p), huawei.New(p), tencent.New(p)
	adminH := admin.New(p)

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	// Trust no proxy header: the audit log records the direct peer.
	e.IPExtractor = echo.ExtractIPDirect()
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		code := http.StatusInternalServerError
		if he, ok := err.(*echo.HTTPError); ok {
			code = he.Code
		} else {
			opts.Logger.Error("request failed", "err", err)
		}
		if !c.Response().Committed {
			c.NoContent(code)
		}
	}
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	// Ready: the store (and what else kms.Service.Ready checks) answers.
	// Why not is logged, never shown: the probe is unauthenticated, so the
	// line is written at most once every readyLogEvery, with how many
	// probes were refused since (else anyone could write a WARN line per
	// request while the server is not ready).
	var notReady readyLog
	e.GET("/readyz", func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
		defer cancel()
		if err := opts.Service.Ready(ctx); err != nil {
			if n, ok := notReady.due(time.Now()); ok {
				opts.Logger.Warn("not ready", "err", err, "refused_probes", n)
			}
			return c.String(http.StatusServiceUnavailable, "not ready\n")
		}
		notReady.ok()
		return c.String(http.StatusOK, "ok\n")
	})
	// The answer-signing public keys (docs/answers.md), as `attestkms
	// service-key` prints them: public, so unauthenticated. An enclave
	// pins what its builder fetched here, not what its host relays.
	e.GET("/service-key", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/x-pem-file", kms.FormatServiceKeys(opts.Service.ServiceKeys()))
	})
	e.POST("/", func(c echo.Context) error {
		// Tencent is POST / with X-TC-Action; AWS is POST / with X-Amz-Target,
		// and a POST / that names neither gets the AWS dialect's
		// unknown-operation answer after authentication.
		if c.Request().Header.Get("X-TC-Action") != "" && c.Request().Header.Get("X-Amz-Target") == "" {
			return tencentH.Handle(c)
		}
		// The admin API is POST / with X-Amz-Target: AttestKMSAdmin.<Op>
		// (one header value: a repeated one is the AWS dialect's to refuse).
		if t := c.Request().Header.Values("X-Amz-Target"); len(t) == 1 && strings.HasPrefix(t[0], admin.TargetPrefix) {
			return adminH.Handle(c)
		}
		return awsH.Handle(c)
	})
	// Huawei is /v1.0/{project_id}/kms/<op>; the dialect checks the method.
	e.Any("/v1.0/:project_id/kms/:op", huaweiH.Handle)
	return e
}

// burst is a budget's burst: twice its rate a second, at least 1.
func burst(perSecond float64) int { return max(1, int(2*perSecond)) }

// readyLogEvery bounds how often /readyz logs why the server is not ready.
const readyLogEvery = 10 * time.Second

// readyLog counts refused readiness probes and says when one is to be
// logged: the first, then at most one every readyLogEvery.
type readyLog struct {
	mu      sync.Mutex
	last    time.Time
	pending int
}

// ok says a probe found the server ready: the next refusal, an outage of
// its own, is logged at once, counting only its own probes.
func (r *readyLog) ok() {
	r.mu.Lock()
	r.pending, r.last = 0, time.Time{}
	r.mu.Unlock()
}

// due counts a refused probe and reports whether to log it now, with how
// many were refused since the last line (it included).
func (r *readyLog) due(now time.Time) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending++
	if !r.last.IsZero() && now.Sub(r.last) < readyLogEvery {
		return 0, false
	}
	n := r.pending
	r.last, r.pending = now, 0
	return n, true
}
