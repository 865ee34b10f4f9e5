// Package api serves every dialect on one port: it builds the echo router,
// sends each request to its dialect by what identifies it (docs/architecture.md), and
// answers GET /healthz. It holds no key logic and no dialect logic.
//
// Every request, whatever its dialect, takes one path, written once in
// api/internal/pipeline: bound the body (1 MiB), authenticate it with the
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
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/attestkms/attestkms/api/aws"
	"github.com/attestkms/attestkms/api/huawei"
	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/api/internal/replay"
	"github.com/attestkms/attestkms/api/tencent"
	"github.com/attestkms/attestkms/kms"
)

// Options configure the router. Zero values are safe defaults.
type Options struct {
	Service *kms.Service // required
	// Now is the clock. If nil, time.Now.
	Now func() time.Time
	// Logger receives internal errors (never secrets). If nil, slog.Default().
	Logger *slog.Logger
}

// New returns the HTTP handler for every dialect:
//
//	POST /                       X-Amz-Target: TrentService.<Op>   AWS KMS JSON 1.1
//	POST /                       X-TC-Action: <Op>                 Tencent Cloud KMS API 3.0
//	POST /v1.0/{project_id}/kms/<op>                               Huawei Cloud DEW KMS v1.0
//	GET  /healthz                                                  200 when serving
func New(opts Options) *echo.Echo {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	// One replay cache for every dialect: a signature is a signature. It
	// remembers each as long as the most lenient dialect would accept it
	// again: each dialect declares its own skew.
	rc := replay.New(max(aws.MaxSkew, huawei.MaxSkew, tencent.MaxSkew), 0)
	p := pipeline.Options{Service: opts.Service, Replay: rc, Now: opts.Now, Logger: opts.Logger}
	awsH, huaweiH, tencentH := aws.New(p), huawei.New(p), tencent.New(p)

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
	e.POST("/", func(c echo.Context) error {
		// Tencent is POST / with X-TC-Action; AWS is POST / with X-Amz-Target,
		// and a POST / that names neither gets the AWS dialect's
		// unknown-operation answer after authentication.
		if c.Request().Header.Get("X-TC-Action") != "" && c.Request().Header.Get("X-Amz-Target") == "" {
			return tencentH.Handle(c)
		}
		return awsH.Handle(c)
	})
	// Huawei is /v1.0/{project_id}/kms/<op>; the dialect checks the method.
	e.Any("/v1.0/:project_id/kms/:op", huaweiH.Handle)
	return e
}
