// Package huawei serves the Huawei Cloud DEW KMS v1.0 dialect:
// POST /v1.0/{project_id}/kms/<op> with a JSON body, signed with Huawei's
// AK/SK scheme SDK-HMAC-SHA256 (package sdkhmac), so that the official
// huaweicloud-sdk-go-v3 services/kms/v2 client works against attestkms
// unchanged.
//
// It is a pipeline.Dialect: the request's path (bound the body, authenticate,
// audit, refuse a replay, run, render) is api/internal/pipeline's, and what is
// here is only what is Huawei's. Its Authenticator refuses X-Auth-Token
// (there is no IAM to issue one), then verifies the signature (sdkhmac; an
// unknown access key and a bad signature get one answer). Only once the
// request is authenticated and not a replay is the URL looked at: the
// project_id must be the account's (KMS.0305), X-Project-Id, if sent, the
// same, the method POST, the operation known, the Content-Type JSON; the
// body is decoded once, strictly (decode.go), and an operation that takes no
// recipient refuses one. Every answer carries X-Request-Id; errors are
// {"error":{"error_code":"KMS.XXXX","error_msg":"…"}} with an HTTP status of
// 400 or more (errors.go holds the one table from kinds to codes). A request
// whose audit line cannot be written gets KMS.0101 instead of its result.
//
// Encodings, as the SDK's models say: key ids are 36-character ids, never
// ARNs; data keys, their ciphertexts and random bytes are hex; encrypt-data's
// ciphertext, public keys, shared secrets and key pairs' private keys
// (plaintext and ciphertext, keypairs.go) are base64; lengths are decimal
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
	"fmt"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/attestkms/attestkms/api/huawei/sdkhmac"
	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/kms"
)

// MaxSkew is how far a request's X-Sdk-Date may be from the server's clock.
const MaxSkew = 15 * time.Minute

const contentType = "application/json;charset=UTF-8"

// New returns the handler of the Huawei dialect; route any method of
// /v1.0/:project_id/kms/:op to its Handle.
func New(opts pipeline.Options) *pipeline.Handler {
	d := &dialect{svc: opts.Service}
	return pipeline.New(opts, pipeline.Dialect{
		Name:            "huawei",
		RequestIDHeader: "X-Request-Id",
		Authenticator:   authenticator{&sdkhmac.Verifier{MaxSkew: MaxSkew}},
		Errors:          errorTable,
		Operation:       func(c echo.Context) string { return c.Param("op") },
		Known:           func(op string) bool { _, ok := operations[op]; return ok },
		Route:           d.route,
		ContentType:     contentType,
		WriteError:      writeError,
	})
}

// authenticator refuses a token (X-Auth-Token) before it verifies the
// signature.
type authenticator struct{ *sdkhmac.Verifier }

func (a authenticator) Authenticate(r *http.Request, body []byte, now time.Time, lookup hmacauth.SecretLookup) (*hmacauth.Result, error) {
	if len(r.Header.Values("X-Auth-Token")) != 0 {
		return nil, errAuthToken
	}
	return a.Verifier.Authenticate(r, body, now, lookup)
}

// dialect is what the operations see: the service.
type dialect struct {
	svc *kms.Service
}

// route reads the operation off the path the signature covers (r.URL.Path,
// not the router's reading of the raw path) and checks the project, the
// method and the Content-Type.
func (d *dialect) route(c echo.Context, _ string) (string, pipeline.Operation, error) {
	r := c.Request()
	project, opName, routed := splitPath(r.URL.Path)
	if !routed {
		return "", nil, pipeline.Refuse(codeBadURL, "The request URL must be /v1.0/{project_id}/kms/{operation}.")
	}
	if project != d.svc.Account().ProjectID {
		return opName, nil, errProject
	}
	if xp := r.Header.Values("X-Project-Id"); len(xp) > 1 || len(xp) == 1 && xp[0] != project {
		return opName, nil, pipeline.Refuse(codeProject, "X-Project-Id is not the project_id in the URL.")
	}
	if r.Method != http.MethodPost {
		c.Response().Header().Set("Allow", http.MethodPost)
		return opName, nil, pipeline.Refuse(codeBadURL, fmt.Sprintf("The method %.64s is not supported: every operation is a POST.", r.Method))
	}
	o, found := operations[opName]
	if !found {
		return opName, nil, pipeline.Refuse(codeBadURL, "Unknown operation "+bound(opName)+".")
	}
	// The SDK sends exactly sdkContentType: compared first, as
	// ParseMediaType allocates a map for every request.
	if ct := r.Header.Get("Content-Type"); ct != sdkContentType && !isJSON(ct) {
		return opName, nil, invalid("Content-Type must be application/json")
	}
	call := &opCall{dialect: d, name: opName, recipient: o.recipient}
	return opName, func(ctx context.Context, c *kms.Call, body []byte) (*result, error) { return o.fn(call, ctx, c, body) }, nil
}

// sdkContentType is the Content-Type Huawei's SDK sends.
const sdkContentType = "application/json;charset=UTF-8"

// isJSON reports whether ct is application/json, with parameters or in
// another case or spacing (a media type's name is case-insensitive).
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// bound is the operation name as the audit line keeps it.
func bound(op string) string { return op[:min(len(op), pipeline.MaxOperationName)] }

// splitPath splits /v1.0/{project_id}/kms/{op}.
func splitPath(p string) (project, op string, ok bool) {
	parts := strings.Split(p, "/")
	if len(parts) != 5 || parts[0] != "" || parts[1] != "v1.0" || parts[3] != "kms" || parts[2] == "" || parts[4] == "" {
		return "", "", false
	}
	return parts[2], parts[4], true
}

// result is an operation's answer (pipeline.Result).
type result = pipeline.Result

func ok(out any, secrets ...[]byte) (*result, error) { return pipeline.OK(out, secrets...) }

// opCall is what an operation sees: the service, and which operation it is.
type opCall struct {
	*dialect
	name      string
	recipient bool // the operation takes a recipient member
}

type opFunc func(h *opCall, ctx context.Context, c *kms.Call, body []byte) (*result, error)

// request is what every operation's request has (common).
type request interface {
	checkSequence() error
	recipientGiven() bool
}

// op adapts a typed operation: it decodes the body into Req once, refuses a
// recipient the operation does not take, and checks the sequence.
func op[Req any, P interface {
	*Req
	request
}](fn func(h *opCall, ctx context.Context, c *kms.Call, req *Req) (*result, error)) opFunc {
	requestTypes = append(requestTypes, reflect.TypeFor[Req]())
	return pipeline.Decoding(decode, func(h *opCall, ctx context.Context, c *kms.Call, req *Req) (*result, error) {
		if !h.recipient && P(req).recipientGiven() {
			return nil, invalid("recipient is not accepted by " + h.name + ": its answer is not wrapped to an enclave; use create-datakey, decrypt-datakey, gen-random, derive-shared-secret, create-ec-datakey-pair or create-rsa-datakey-pair")
		}
		if err := P(req).checkSequence(); err != nil {
			return nil, err
		}
		return fn(h, ctx, c, req)
	})
}
