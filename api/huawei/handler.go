// Package huawei serves the Huawei Cloud DEW KMS v1.0 dialect.
package huawei

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/attestkms/attestkms/api/internal/replay"
	"github.com/attestkms/attestkms/kms"
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
type Handler struct{ opts Options }

// New returns a Handler.
func New(opts Options) *Handler { return &Handler{opts: opts} }

// Handle serves one request. (Being written: it refuses everything.)
func (h *Handler) Handle(c echo.Context) error {
	return c.NoContent(http.StatusNotImplemented)
}
