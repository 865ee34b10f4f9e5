// Package tc3 verifies and makes Tencent Cloud API 3.0 signatures
// (algorithm TC3-HMAC-SHA256) carried in request headers, the way
// github.com/tencentcloud/tencentcloud-sdk-go signs them. Verify and Sign share
// one canonicalisation (canonical.go); the tests hold Sign to the SDK's signer
// byte for byte and Verify to what the SDK's KMS client sends.
//
// What TC3 signs, as the Go SDK (common v1.3.210, client.go
// sendWithSignatureV3) computes it for a POST:
//
//	CanonicalRequest = "POST\n/\n\n" + "content-type:<v>\nhost:<v>\n" + "\n" + "content-type;host" + "\n" + hex(SHA-256(body))
//	StringToSign     = "TC3-HMAC-SHA256\n" + X-TC-Timestamp + "\n" + <yyyy-mm-dd>/<service>/tc3_request + "\n" + hex(SHA-256(CanonicalRequest))
//	key              = HMAC(HMAC(HMAC("TC3"+SecretKey, date), service), "tc3_request")
//	Authorization    = "TC3-HMAC-SHA256 Credential=<SecretId>/<date>/<service>/tc3_request, SignedHeaders=content-type;host, Signature=<hex HMAC(key, StringToSign)>"
//
// The date is X-TC-Timestamp's UTC day. Tencent's documentation lets a client
// sign more headers (its own example signs x-tc-action too) and says that
// signed header names and values are lower-cased and trimmed; Verify follows
// that rule, which is the SDK's bytes whenever the SDK's values are lower
// case (its Content-Type is application/json and its Host is the endpoint as
// configured: write endpoints in lower case).
//
// What is NOT signed by the SDK, and what that means. The SDK signs only
// content-type and host. X-TC-Action, X-TC-Version, X-TC-Region and every
// other header are not covered, so the body and the second are all a
// signature binds: whoever holds a signed request can send its body again,
// within the skew window, under another action that accepts the same body.
// That is the caller's problem to contain (api/tencent documents how it
// does); a client that also signs x-tc-action closes it for itself, and
// Verify then checks that header like any other signed one. Nothing unique
// to a request is signed either (the SDK's Nonce is not sent with TC3), so
// two identical calls within one second carry the same signature.
//
// Threat model. The attacker controls every byte of the request. Trusted are
// the SecretLookup (its answer is the truth about a SecretId) and the clock
// the caller passes in; Verify never calls time.Now, never touches the
// network, and never modifies the request or the secret it is given.
//
// What is checked, before any HMAC: one Authorization header of at most
// maxAuthorization bytes exactly in the SDK's form; the credential scope's
// service is the Verifier's and its date is X-TC-Timestamp's UTC day;
// X-TC-Timestamp is one canonical decimal number within MaxSkew of now; the
// signed headers are lower case, sorted, unique, at most maxSignedHeaders,
// include content-type and host, and each is on the request exactly once with
// a value of printable ASCII; the method is POST, the path "/" and the query
// empty (the only request shape the SDK signs without a query, and the only
// one a KMS client sends). Requests asking for what is not supported are
// refused: an unsigned payload (X-TC-Content-SHA256) and temporary
// credentials (X-TC-Token, which Lookup could not check). Then the signature
// is recomputed over the body's own hash and compared in constant time. An
// unknown SecretId costs the same HMAC work with a dummy secret and gets the
// same error as a wrong signature.
//
// What is not checked. Replay: a signature stays valid for the whole skew
// window; the caller decides what to remember (Result.Signature).
// Signature methods v1 (HmacSHA1, HmacSHA256 in form parameters) and GET
// requests are refused.
package tc3

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
)

// Error kinds, for errors.Is. Messages never hold a secret or the expected
// signature.
var (
	// ErrMissing: the request has no Authorization header at all.
	ErrMissing = errors.New("missing authentication")
	// ErrMalformed: the Authorization or X-TC-Timestamp header cannot be
	// parsed, lacks a part, names another algorithm or service, the signed
	// headers do not cover what they must, or the request asks for a TC3
	// feature that is not supported.
	ErrMalformed = errors.New("malformed signature")
	// ErrSignature: the SecretId is unknown, or the signature is not the one
	// its secret makes for this request. The two are deliberately one error
	// with one message.
	ErrSignature = errors.New("signature does not match")
	// ErrExpired: X-TC-Timestamp is more than MaxSkew away from now, either
	// way.
	ErrExpired = errors.New("signature expired")
	// ErrConfig: the Verifier cannot verify anything (no service, no lookup,
	// negative skew, zero clock). Nothing is accepted.
	ErrConfig = errors.New("tc3 verifier misconfigured")
)

// DefaultMaxSkew is the clock skew a zero Verifier.MaxSkew allows: Tencent's
// own ("Timestamp 和服务器时间相差不得超过五分钟").
const DefaultMaxSkew = 5 * time.Minute

// SecretLookup returns the SecretKey of a SecretId, or ok=false if there is
// none. Verify neither modifies nor keeps the secret, so it may be shared.
type SecretLookup func(secretID string) (secret []byte, ok bool)

// Verifier checks TC3-HMAC-SHA256 header signatures. Each field says what its
// zero value means; no zero value switches a check off.
type Verifier struct {
	// Service is the credential scope's required service, e.g. "kms". Empty
	// is ErrConfig at Verify time, not "any service".
	Service string
	// MaxSkew bounds |now - X-TC-Timestamp|. Zero means DefaultMaxSkew;
	// negative is ErrConfig.
	MaxSkew time.Duration
	// Lookup finds secrets. Nil is ErrConfig at Verify time.
	Lookup SecretLookup
}

// Result describes a request whose signature verified.
type Result struct {
	SecretID string
	// Timestamp is X-TC-Timestamp.
	Timestamp time.Time
	// SignedHeaders are the headers the signature covers, lower case and
	// sorted: at least content-type and host.
	SignedHeaders []string
	// Signature is the verified signature (32 bytes): the same for every
	// request with the same body, signed headers and second.
	Signature []byte
}

// Signs reports whether the signature covers the header name (lower case).
func (r *Result) Signs(name string) bool {
	for _, h := range r.SignedHeaders {
		if h == name {
			return true
		}
	}
	return false
}

// Verify checks r's TC3 Authorization header against body (the whole request
// body, already read by the caller) at the instant now. It returns the
// authenticated SecretId, or an error wrapping one of the kinds above; Result
// is nil whenever the error is not.
func (v *Verifier) Verify(r *http.Request, body []byte, now time.Time) (*Result, error) {
	maxSkew := v.MaxSkew
	switch {
	case v.Service == "":
		return nil, fmt.Errorf("%w: no service", ErrConfig)
	case v.Lookup == nil:
		return nil, fmt.Errorf("%w: no secret lookup", ErrConfig)
	case maxSkew < 0:
		return nil, fmt.Errorf("%w: negative skew", ErrConfig)
	case maxSkew == 0:
		maxSkew = DefaultMaxSkew
	}
	if now.IsZero() {
		return nil, fmt.Errorf("%w: zero clock", ErrConfig)
	}
	if r == nil || r.URL == nil {
		return nil, fmt.Errorf("%w: incomplete request", ErrMalformed)
	}

	// Cheap checks first: syntax, scope, clock, request shape. No secret is
	// touched until all of them pass.
	authz := r.Header.Values("Authorization")
	switch len(authz) {
	case 0:
		return nil, ErrMissing
	case 1:
	default:
		return nil, fmt.Errorf("%w: more than one authorization header", ErrMalformed)
	}
	a, err := ParseAuthorization(authz[0])
	if err != nil {
		return nil, err
	}
	if a.Service != v.Service {
		return nil, fmt.Errorf("%w: credential scope names another service", ErrMalformed)
	}
	ts, at, err := requestTimestamp(r.Header)
	if err != nil {
		return nil, err
	}
	if a.Date != at.UTC().Format(dateFormat) {
		return nil, fmt.Errorf("%w: credential scope date is not the x-tc-timestamp day", ErrMalformed)
	}
	if d, ok := hmacauth.Skew(now, at, maxSkew); !ok {
		return nil, fmt.Errorf("%w: x-tc-timestamp is %s from the server's clock, more than %s", ErrExpired, d.Round(time.Second), maxSkew)
	}
	if err := checkShape(r); err != nil {
		return nil, err
	}
	values, err := signedValues(r, a.SignedHeaders)
	if err != nil {
		return nil, err
	}

	sts := stringToSign(ts, a.scope(), canonicalRequestHash(a.SignedHeaders, values, body))
	// An unknown SecretId costs the same HMAC work and gets the same error.
	if !hmacauth.Match(v.Lookup, a.SecretID, a.Signature, func(secret []byte) [32]byte {
		return signature(secret, a.Date, a.Service, sts)
	}) {
		return nil, ErrSignature
	}
	return &Result{SecretID: a.SecretID, Timestamp: at, SignedHeaders: a.SignedHeaders, Signature: a.Signature}, nil
}

// checkShape refuses what the SDK never signs and Verify cannot: another
// method, path or a query (TC3 signs "/" and an empty query for every POST),
// an unsigned payload, temporary credentials.
func checkShape(r *http.Request) error {
	switch {
	case r.Method != http.MethodPost:
		return fmt.Errorf("%w: only POST requests are supported", ErrMalformed)
	case r.URL.EscapedPath() != "/" || r.URL.Opaque != "":
		return fmt.Errorf("%w: the path must be / (tc3 does not sign it)", ErrMalformed)
	case r.URL.RawQuery != "" || r.URL.ForceQuery:
		return fmt.Errorf("%w: a query string is not signed for a POST", ErrMalformed)
	case len(r.Header.Values("X-TC-Content-SHA256")) > 0:
		return fmt.Errorf("%w: unsigned payloads (x-tc-content-sha256) are not supported", ErrMalformed)
	case len(r.Header.Values("X-TC-Token")) > 0:
		return fmt.Errorf("%w: temporary credentials (x-tc-token) are not supported", ErrMalformed)
	}
	return nil
}
