// Package api serves every dialect on one port: it builds the echo router,
// sends each request to its dialect by what identifies it (DESIGN.md), and
// answers GET /healthz. It holds no key logic and no dialect logic.
package api

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/attestkms/attestkms/api/aws"
	"github.com/attestkms/attestkms/api/huawei"
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
	// One replay cache for every dialect: a signature is a signature.
	rc := replay.New(aws.MaxSkew, 0)
	awsH := aws.New(aws.Options{Service: opts.Service, Replay: rc, Now: opts.Now, Logger: opts.Logger})
	huaweiH := huawei.New(huawei.Options{Service: opts.Service, Replay: rc, Now: opts.Now, Logger: opts.Logger})
	tencentH := tencent.New(tencent.Options{Service: opts.Service, Replay: rc, Now: opts.Now, Logger: opts.Logger})

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
