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
// {"__type","message"} with X-Amzn-ErrorType and an HTTP status from AWS
// JSON 1.1's one table (api/internal/awsjson, the admin API's too). A
// request whose audit line cannot be written gets KMSInternalException
// instead of its result.
//
// Threat model: every header and body byte is the attacker's until the
// signature verifies, and the body is still hostile after (an authenticated
// client may be compromised). What is not done here: TLS (the server's), rate
// limiting, and IAM: key policies are kms's business.
package aws

import (
	"context"
	"reflect"
	"time"

	"github.com/attestkms/attestkms/api/aws/sigv4"
	"github.com/attestkms/attestkms/api/internal/awsjson"
	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/kms"
)

// MaxSkew is how far a request's X-Amz-Date may be from the server's clock.
const MaxSkew = 15 * time.Minute

const (
	targetPrefix = "TrentService."
	contentType  = awsjson.ContentType
)

// New returns the handler of the AWS dialect; route POST / with an
// X-Amz-Target header to its Handle.
func New(opts pipeline.Options) *pipeline.Handler {
	d := &dialect{svc: opts.Service}
	auth := &sigv4.Verifier{Service: "kms", MaxSkew: MaxSkew, Keys: hmacauth.NewKeyCache(0)}
	// Each operation's closure is made once, not per request.
	bound := make(map[string]pipeline.Operation, len(operations))
	for name, op := range operations {
		bound[name] = func(ctx context.Context, c *kms.Call, body []byte) (*result, error) { return op(d, ctx, c, body) }
	}
	return awsjson.New(opts, "aws", targetPrefix, auth, func(name string) (pipeline.Operation, bool) {
		op, ok := bound[name]
		return op, ok
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
	requestTypes = append(requestTypes, reflect.TypeFor[Req]())
	return pipeline.Decoding(decode, fn)
}
