package awsjson

import (
	"fmt"
	"mime"
	"strings"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/labstack/echo/v4"
)

// New is a dialect of AWS JSON 1.1: POST / with X-Amz-Target:
// PREFIX<Operation> (operation finds it), authenticated by auth (SigV4 for
// service kms: the caller's verifier) and scoped to the service's region,
// Content-Type application/x-amz-json-1.1, ErrorTable's errors in their
// shape.
func New(opts pipeline.Options, name, prefix string, auth pipeline.Authenticator, operation func(name string) (pipeline.Operation, bool)) *pipeline.Handler {
	svc := opts.Service
	return pipeline.New(opts, pipeline.Dialect{
		Name:            name,
		RequestIDHeader: "X-Amzn-RequestId",
		Authenticator:   auth,
		Errors:          ErrorTable,
		Operation: func(c echo.Context) string {
			return strings.TrimPrefix(c.Request().Header.Get("X-Amz-Target"), prefix)
		},
		Known: func(op string) bool { _, ok := operation(op); return ok },
		// A credential scope of another region than the service's is
		// refused: the service has one region and its ARNs name it.
		CheckScope: func(a *hmacauth.Result) error {
			if want := svc.Region(); a.Region != want {
				return pipeline.Refuse(ErrWrongRegion, fmt.Sprintf("Credential should be scoped to a valid region. This server's region is '%s', not '%.64s'.", want, a.Region))
			}
			return nil
		},
		// X-Amz-Target's operation, and the Content-Type.
		Route: func(c echo.Context, name string) (string, pipeline.Operation, error) {
			r := c.Request()
			target := r.Header.Get("X-Amz-Target")
			op, ok := operation(strings.TrimPrefix(target, prefix))
			if !ok || !strings.HasPrefix(target, prefix) {
				return "", nil, pipeline.Refuse(ErrUnknownTarget, "Unknown operation "+name)
			}
			// The SDKs send exactly ContentType: compared first, as
			// ParseMediaType allocates a map for every request.
			if ct := r.Header.Get("Content-Type"); ct != ContentType && !isContentType(ct) {
				return "", nil, pipeline.Refuse(ErrValidation, "Content-Type must be "+ContentType)
			}
			return "", op, nil
		},
		ContentType: ContentType,
		WriteError:  WriteError,
	})
}

// isContentType reports whether ct is ContentType with parameters or in
// another case or spacing (a media type's name is case-insensitive).
func isContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == ContentType
}
