// Package sdkhmac verifies and makes Huawei Cloud's AK/SK request signatures
// of algorithm SDK-HMAC-SHA256, the way huaweicloud-sdk-go-v3
// (core/auth/signer) sends them:
//
//	X-Sdk-Date: 20060102T150405Z
//	Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b;c>, Signature=<64 hex>
//
//	CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n
//	                   CanonicalHeaders \n SignedHeaders \n hex(SHA256(body))
//	StringToSign     = SDK-HMAC-SHA256 \n X-Sdk-Date \n hex(SHA256(CanonicalRequest))
//	Signature        = hex(HMAC-SHA256(SK, StringToSign))
//
// The canonical URI is the path with each segment percent-encoded (all but
// A-Z a-z 0-9 - . _ ~) and always ends with "/"; the canonical headers are
// one "name:value" line per signed header, its value trimmed. Unlike AWS
// SigV4 there is no key derivation, no credential scope and no region: the
// secret key MACs the string to sign directly. Verify and Sign share one
// canonicalisation (canonical.go); the tests hold Sign to the SDK's signer
// byte for byte and Verify to what the SDK's KMS client sends.
//
// Threat model. The attacker controls every byte of the request: method,
// path, query, every header and the body. Trusted are the SecretLookup (its
// answer is the truth about an access key) and the clock the caller passes
// in; Verify never calls time.Now, never touches the network and never
// modifies the request or the secret it is given.
//
// What is checked, before any HMAC: one Authorization header, at most
// maxAuthorization bytes, in the SDK's form and naming SDK-HMAC-SHA256 (the
// SDK's SM3 and ECDSA variants are refused); the signed headers are
// lower-case, sorted, unique, at most maxSignedHeaders, include x-sdk-date,
// and every one of them is on the request exactly once (host from r.Host),
// without control characters; one X-Sdk-Date, in the SDK's exact format and
// within MaxSkew of now; X-Sdk-Content-Sha256, which the SDK's signer
// substitutes for the body's hash, is refused unless it is that hash, so the
// body is always signed (UNSIGNED-PAYLOAD is not accepted); no
// X-Security-Token (temporary credentials come from an IAM this service does
// not have). Then the signature is recomputed over the body's own hash and
// compared in constant time. An unknown access key costs the same HMAC work
// with a dummy secret and gets the same error as a wrong signature, so
// neither the answer nor its timing says which access keys exist.
//
// What is not checked. Replay: a signature stays valid for the whole skew
// window, so the caller must remember Result.Signature (api/internal/replay)
// and refuse it a second time. What the scheme itself leaves out: the SDK
// signs only the headers it sets (user-agent, x-project-id, x-sdk-date), not
// host and not content-type, so a captured request can be sent to another
// host that knows the same key, and its unsigned headers are the
// attacker's; TLS is what protects them. The query's parameter order and the
// order of a repeated parameter's values are not signed (the SDK sorts
// them). A header the SDK would sign under two spellings (two values) is
// refused here rather than canonicalised.
package sdkhmac

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
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
	// ErrMalformed: the Authorization or X-Sdk-Date header cannot be parsed,
	// names another algorithm, or the signed headers do not cover what they
	// must or name headers the request lacks.
	ErrMalformed = errors.New("malformed signature")
	// ErrSignature: the access key is unknown, or the signature is not the
	// one its secret makes for this request. The two are deliberately one
	// error with one message.
	ErrSignature = errors.New("signature does not match")
	// ErrExpired: X-Sdk-Date is more than MaxSkew away from now, either way.
	ErrExpired = errors.New("signature expired")
	// ErrConfig: the Verifier cannot verify anything (no lookup, negative
	// skew, zero clock). Nothing is accepted.
	ErrConfig = errors.New("sdkhmac verifier misconfigured")
)

// DefaultMaxSkew is the clock skew a zero Verifier.MaxSkew allows: Huawei's
// API gateway's own 15 minutes.
const DefaultMaxSkew = 15 * time.Minute

// SecretLookup returns the secret key for an access key id, or ok=false if
// there is none. Verify neither modifies nor keeps the secret.
type SecretLookup func(accessKeyID string) (secret []byte, ok bool)

// Verifier checks SDK-HMAC-SHA256 signatures. Each field says what its zero
// value means; no zero value switches a check off.
type Verifier struct {
	// MaxSkew bounds |now - X-Sdk-Date|. Zero means DefaultMaxSkew; negative
	// is ErrConfig. There is no "unlimited".
	MaxSkew time.Duration
	// Lookup finds secrets. Nil is ErrConfig at Verify time.
	Lookup SecretLookup
}

// Result describes a request whose signature verified.
type Result struct {
	AccessKeyID string
	// Date is X-Sdk-Date, in UTC.
	Date time.Time
	// SignedHeaders are the signed header names, as the request listed them.
	SignedHeaders []string
	// Signature is the verified signature (32 bytes), unique to this request
	// and time: the key for a replay cache.
	Signature []byte
}

// Verify checks r's Authorization header against body (the whole request
// body, already read by the caller) at the instant now. It returns the
// authenticated access key, or an error wrapping one of the kinds above;
// Result is nil whenever the error is not.
func (v *Verifier) Verify(r *http.Request, body []byte, now time.Time) (*Result, error) {
	maxSkew := v.MaxSkew
	switch {
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
	if r == nil || r.URL == nil || r.Header == nil {
		return nil, fmt.Errorf("%w: incomplete request", ErrMalformed)
	}

	// Cheap checks first: syntax, clock. No secret is touched until all of
	// them pass.
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
	if len(r.Header.Values("X-Security-Token")) != 0 {
		return nil, fmt.Errorf("%w: temporary credentials (x-security-token) are not accepted", ErrMalformed)
	}
	sdkDate, date, err := requestDate(r.Header)
	if err != nil {
		return nil, err
	}
	if d, ok := hmacauth.Skew(now, date, maxSkew); !ok {
		return nil, fmt.Errorf("%w: x-sdk-date is %s from the server's clock, more than %s", ErrExpired, d.Round(time.Second), maxSkew)
	}
	values, err := signedValues(r, a.SignedHeaders)
	if err != nil {
		return nil, err
	}
	if !hmacauth.IsToken(r.Method, hmacauth.MaxMethod, hmacauth.IsMethodByte) {
		return nil, fmt.Errorf("%w: method is not a token", ErrMalformed)
	}
	uri, err := verifyURI(r)
	if err != nil {
		return nil, err
	}
	query, err := canonicalQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}

	sum := sha256.Sum256(body)
	var payloadHash [64]byte
	hex.Encode(payloadHash[:], sum[:])
	if err := checkContentSHA256(r.Header, payloadHash[:]); err != nil {
		return nil, err
	}

	cr := canonicalRequest{
		method:      r.Method,
		uri:         uri,
		query:       query,
		headers:     a.SignedHeaders,
		values:      values,
		payloadHash: payloadHash[:],
	}
	sts := stringToSign(sdkDate, cr.hash())

	// An unknown access key costs the same HMAC work and gets the same error.
	if !hmacauth.Match(v.Lookup, a.AccessKeyID, a.Signature, func(secret []byte) [sha256.Size]byte {
		return signature(secret, sts)
	}) {
		return nil, ErrSignature
	}
	return &Result{
		AccessKeyID:   a.AccessKeyID,
		Date:          date,
		SignedHeaders: a.SignedHeaders,
		Signature:     a.Signature,
	}, nil
}

// requestDate returns the one X-Sdk-Date header and the instant it names.
func requestDate(h http.Header) (string, time.Time, error) {
	vs := h.Values(HeaderDate)
	if len(vs) != 1 {
		return "", time.Time{}, fmt.Errorf("%w: want one x-sdk-date header, have %d", ErrMalformed, len(vs))
	}
	// The SDK's signer writes the date it signs in this exact form.
	t, err := hmacauth.ParseBasicDate("x-sdk-date", vs[0])
	if err != nil {
		return "", time.Time{}, malformed(err)
	}
	return vs[0], t, nil
}

// checkContentSHA256 compares an X-Sdk-Content-Sha256 header, if any, with
// the body's hash: the SDK's signer signs that header's value in place of
// the body's hash, so any other value would leave the body unsigned. A hex
// value that differs is a body that is not the signed one: ErrSignature. A
// value that is not a hash (UNSIGNED-PAYLOAD) asks for a mode we refuse.
func checkContentSHA256(h http.Header, payloadHash []byte) error {
	vs := h.Values(headerContentSHA256)
	switch {
	case len(vs) == 0:
		return nil
	case len(vs) > 1:
		return fmt.Errorf("%w: more than one x-sdk-content-sha256 header", ErrMalformed)
	case !hmacauth.IsLowerHex(vs[0], 64):
		return fmt.Errorf("%w: x-sdk-content-sha256 must be the body's hex sha-256 (unsigned payloads are not accepted)", ErrMalformed)
	case !hmac.Equal([]byte(vs[0]), payloadHash):
		return ErrSignature
	}
	return nil
}
