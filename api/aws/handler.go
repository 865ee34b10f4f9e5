// Package aws serves the AWS KMS JSON 1.1 dialect: POST / with
// X-Amz-Target: TrentService.<Operation>, signed with AWS Signature Version 4,
// so that the official AWS SDKs work against attestkms unchanged.
//
// It is a pipeline.Dialect: the request's path (bound the body, authenticate,
// audit, refuse a replay, run, render) is api/internal/pipeline's, and what is
// here is only what is AWS's. Its Authenticator is sigv4's Verifier (service
// kms, MaxSkew). A credential scope naming another region than the
// service's is refused (CheckScope, after the signature verified, so that an
// unknown access key and a bad signature still get one answer), as AWS
// refuses it, rather than served under ARNs its signer did not mean. Then
// the operation is X-Amz-Target's (UnknownOperationException), the
// Content-Type must be application/x-amz-json-1.1, and the body is decoded
// strictly (decode.go). Every answer carries X-Amzn-RequestId; errors are
// {"__type","message"} with X-Amzn-ErrorType and an HTTP status from
// errors.go's one table. A request whose audit line cannot be written gets
// KMSInternalException instead of its result.
//
// Threat model: every header and body byte is the attacker's until the
// signature verifies, and the body is still hostile after (an authenticated
// client may be compromised). What is not done here: TLS (the server's), rate
// limiting, and IAM: key policies are kms's business.
package aws

import (
	"context"
	"mime"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/attestkms/attestkms/api/aws/sigv4"
	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/kms"
)

// MaxSkew is how far a request's X-Amz-Date may be from the server's clock.
const MaxSkew = 15 * time.Minute

const (
	targetPrefix = "TrentService."
	contentType  = "application/x-amz-json-1.1"
)

// New returns the handler of the AWS dialect; route POST / with an
// X-Amz-Target header to its Handle.
func New(opts pipeline.Options) *pipeline.Handler {
	d := &dialect{svc: opts.Service}
	return NewJSON11(opts, "aws", targetPrefix, func(name string) (pipeline.Operation, bool) {
		op, ok := operations[name]
		if !ok {
			return nil, false
		}
		return func(ctx context.Context, c *kms.Call, body []byte) (*result, error) { return op(d, ctx, c, body) }, true
	})
}

// NewJSON11 is a dialect of AWS JSON 1.1 as this one is: POST / with
// X-Amz-Target: PREFIX<Operation> (operation finds it), signed with SigV4
// for service kms within MaxSkew and scoped to the service's region,
// Content-Type application/x-amz-json-1.1, this dialect's errors and their
// shape. The admin API (api/admin) is one too.
func NewJSON11(opts pipeline.Options, name, prefix string, operation func(name string) (pipeline.Operation, bool)) *pipeline.Handler {
	svc := opts.Service
	return pipeline.New(opts, pipeline.Dialect{
		Name:            name,
		RequestIDHeader: "X-Amzn-RequestId",
		Authenticator:   &sigv4.Verifier{Service: "kms", MaxSkew: MaxSkew, Keys: hmacauth.NewKeyCache(0)},
		Errors:          errorTable,
		Operation: func(c echo.Context) string {
			return strings.TrimPrefix(c.Request().Header.Get("X-Amz-Target"), prefix)
		},
		Known: func(op string) bool { _, ok := operation(op); return ok },
		// A credential scope of another region than the service's is
		// refused: the service has one region and its ARNs name it.
		CheckScope: func(a *hmacauth.Result) error {
			if want := svc.Region(); a.Region != want {
				return pipeline.Refuse(errWrongRegion, "Credential should be scoped to a valid region. This server's region is '"+want+"', not '"+a.Region+"'.")
			}
			return nil
		},
		// X-Amz-Target's operation, and the Content-Type.
		Route: func(c echo.Context, name string) (string, pipeline.Operation, error) {
			r := c.Request()
			target := r.Header.Get("X-Amz-Target")
			op, ok := operation(strings.TrimPrefix(target, prefix))
			if !ok || !strings.HasPrefix(target, prefix) {
				return "", nil, pipeline.Refuse(errUnknownTarget, "Unknown operation "+name)
			}
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != contentType {
				return "", nil, pipeline.Refuse(errValidation, "Content-Type must be "+contentType)
			}
			return "", op, nil
		},
		ContentType: contentType,
		WriteError:  writeError,
	})
}

// dialect is what the operations see: the service.
type dialect struct {
	svc *kms.Service
}

// result is an operation's answer (pipeline.Result).
type result = pipeline.Result

func ok(out any, secrets ...[]byte) (*result, error) { return pipeline.OK(out, secrets...) }

type opFunc func(d *dialect, ctx context.Context, c *kms.Call, body []byte) (*result, error)

// op adapts a typed operation: it decodes the body into Req first.
func op[Req any](fn func(d *dialect, ctx context.Context, c *kms.Call, req *Req) (*result, error)) opFunc {
	return pipeline.Decoding(decode, fn)
}
