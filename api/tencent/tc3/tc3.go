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
// Errors wrap one of internal/httpsig's kinds (ErrMissing, ErrMalformed,
// ErrExpired, ErrSignature, ErrConfig), which every scheme shares; the
// verifier's configuration and Result are api/internal/hmacauth's.
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
// window; the caller decides what to remember (Result.Signature; the
// pipeline in api/internal/pipeline remembers every one).
// Signature methods v1 (HmacSHA1, HmacSHA256 in form parameters) and GET
// requests are refused.
package tc3

import "github.com/attestkms/attestkms/api/internal/hmacauth"

// Verifier checks TC3-HMAC-SHA256 header signatures (hmacauth.Verifier):
// Service is the credential scope's, e.g. "kms"; MaxSkew bounds |now -
// X-TC-Timestamp|; Lookup maps a SecretId to its SecretKey.
type Verifier = hmacauth.Verifier[*Authorization, tc3]

// tc3 names the scheme in Verifier.
type tc3 struct{}

func (tc3) Scheme() *hmacauth.Scheme[*Authorization] { return &scheme }

// Result describes a request whose signature verified: its AccessKeyID is
// the SecretId, SignedAt is X-TC-Timestamp, and SignedHeaders include at
// least content-type and host. Its Signature is the same for every request
// with the same body, signed headers and second.
type Result = hmacauth.Result
