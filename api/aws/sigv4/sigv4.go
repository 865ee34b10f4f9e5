// Package sigv4 verifies AWS Signature Version 4 signatures carried in
// request headers (algorithm AWS4-HMAC-SHA256), the way the AWS SDKs send
// them. The signer, and the canonicalisation Verify shares with it (the
// canonical request, string to sign, signing key and signature), are
// internal/sigv4's, which the enclave's client imports without this package;
// the tests here hold that signer to the AWS SDK for Go v2's byte for byte,
// and Verify to what the SDK's signer, the KMS client and the shared signer
// send.
//
// Threat model. The attacker controls every byte of the request: method, path,
// query, every header (names, values, repetitions, case) and the body. Trusted
// are the SecretLookup (its answer is the truth about an access key) and the
// clock the caller passes in; Verify never calls time.Now, never touches the
// network and never modifies the request or the secret it is given.
//
// What is checked, before any HMAC: one Authorization header, at most
// maxAuthorization bytes, exactly in the SDK's form; the credential scope's
// service is the Verifier's and its date is X-Amz-Date's day; X-Amz-Date is
// within MaxSkew of now; the signed headers are sorted, unique, at most
// maxSignedHeaders, include host and x-amz-date, every one is on the request,
// and every header that selects what the request means (X-Amz-Target,
// Content-Type, X-Amz-Content-Sha256, X-Amz-Security-Token) is signed when
// present, and then only once; host and method are well-formed and signed
// values hold no control characters (net/http's server refuses them too, but
// a line feed must not pass for a line end in the canonical request);
// X-Amz-Content-Sha256, when present, is the body's SHA-256. Then the
// signature is recomputed over the body's own hash and compared in constant
// time. An unknown access key costs the same HMAC work with a dummy secret and
// gets the same error as a wrong signature, so neither the answer nor its
// timing says which access keys exist.
//
// What is not checked. Replay: a signature stays valid for the whole skew
// window, so the caller must remember Result.Signature (api/internal/replay)
// and refuse it a second time. What SigV4 itself leaves out: unsigned headers
// (User-Agent, Accept-Encoding, …) are the attacker's even on a valid request,
// and canonical header values fold runs of spaces and trim the ends, so
// "a  b" and "a b" are signed alike, and join a header's values with commas,
// so two X-Foo headers sign like one holding both (which is why the headers
// that select meaning must come once). The order of repeated query parameters
// is not signed, so a repeated parameter name is refused. Presigned requests
// (authentication in the query string), SigV4a, chunked/streaming payload
// signing and UNSIGNED-PAYLOAD are not supported and are refused. Neither are
// temporary credentials: X-Amz-Security-Token must be signed when present but
// is not checked, so Lookup must know only long-term keys.
package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
	v4 "github.com/attestkms/attestkms/internal/sigv4"
)

// Error kinds, for errors.Is. Messages never hold a secret or the expected
// signature.
var (
	// ErrMissing: the request has no Authorization header at all.
	ErrMissing = errors.New("missing authentication")
	// ErrMalformed: the Authorization or X-Amz-Date header cannot be parsed,
	// lacks a part, names another algorithm or service, or the signed headers
	// do not cover what they must. It is the signer's own (internal/sigv4),
	// so that what Sign refuses and what Verify refuses are one kind.
	ErrMalformed = v4.ErrMalformed
	// ErrSignature: the access key is unknown, or the signature is not the
	// one its secret makes for this request. The two are deliberately one
	// error with one message.
	ErrSignature = errors.New("signature does not match")
	// ErrExpired: X-Amz-Date is more than MaxSkew away from now, either way.
	ErrExpired = errors.New("signature expired")
	// ErrConfig: the Verifier cannot verify anything (no service, no lookup,
	// negative skew, zero clock). Nothing is accepted.
	ErrConfig = errors.New("sigv4 verifier misconfigured")
)

// DefaultMaxSkew is the clock skew a zero Verifier.MaxSkew allows: AWS's own.
const DefaultMaxSkew = 15 * time.Minute

// SecretLookup returns the secret access key for an access key id, or
// ok=false if there is none. Verify neither modifies nor keeps the secret, so
// it may be shared.
type SecretLookup func(accessKeyID string) (secret []byte, ok bool)

// Verifier checks SigV4 header signatures. Each field says what its zero value
// means; no zero value switches a check off.
type Verifier struct {
	// Service is the credential scope's required service, e.g. "kms". Empty
	// is ErrConfig at Verify time, not "any service".
	Service string
	// MaxSkew bounds |now - X-Amz-Date|. Zero means DefaultMaxSkew; negative
	// is ErrConfig. There is no "unlimited".
	MaxSkew time.Duration
	// Lookup finds secrets. Nil is ErrConfig at Verify time.
	Lookup SecretLookup
}

// Result describes a request whose signature verified.
type Result struct {
	AccessKeyID string
	// Region is the credential scope's region. Any well-formed region is
	// accepted: what a region means is the caller's business (the AWS
	// dialect refuses all but the service's own).
	Region string
	// Date is X-Amz-Date, in UTC.
	Date time.Time
	// Signature is the verified signature (32 bytes), unique to this request
	// and time: the key for a replay cache.
	Signature []byte
}

// Verify checks r's SigV4 Authorization header against body (the whole
// request body, already read by the caller) at the instant now. It returns the
// authenticated access key and scope, or an error wrapping one of the kinds
// above; Result is nil whenever the error is not.
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

	// Cheap checks first: syntax, scope, clock. No secret is touched until
	// all of them pass.
	query, err := v4.CanonicalQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
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
	amzDate, date, err := requestDate(r.Header)
	if err != nil {
		return nil, err
	}
	if a.Date != amzDate[:8] {
		return nil, fmt.Errorf("%w: credential scope date is not the x-amz-date day", ErrMalformed)
	}
	if d, ok := hmacauth.Skew(now, date, maxSkew); !ok {
		return nil, fmt.Errorf("%w: x-amz-date is %s from the server's clock, more than %s", ErrExpired, d.Round(time.Second), maxSkew)
	}
	values, err := signedValues(r, a.SignedHeaders)
	if err != nil {
		return nil, err
	}
	uri, err := verifyURI(r.URL)
	if err != nil {
		return nil, err
	}
	if !hmacauth.IsToken(r.Method, hmacauth.MaxMethod, hmacauth.IsMethodByte) {
		return nil, fmt.Errorf("%w: method is not a token", ErrMalformed)
	}

	sum := sha256.Sum256(body)
	var payloadHash [64]byte
	hex.Encode(payloadHash[:], sum[:])
	if err := checkContentSHA256(r.Header, payloadHash[:]); err != nil {
		return nil, err
	}

	cr := v4.CanonicalRequest{
		Method:      r.Method,
		URI:         uri,
		Query:       query,
		Headers:     a.SignedHeaders,
		Values:      values,
		PayloadHash: payloadHash[:],
	}
	sts := v4.StringToSign(amzDate, a.Scope(), cr.Hash())

	// An unknown access key costs the same HMAC work and gets the same error.
	if !hmacauth.Match(v.Lookup, a.AccessKeyID, a.Signature, func(secret []byte) [sha256.Size]byte {
		return v4.Signature(secret, a.Date, a.Region, a.Service, sts)
	}) {
		return nil, ErrSignature
	}
	return &Result{
		AccessKeyID: a.AccessKeyID,
		Region:      a.Region,
		Date:        date,
		Signature:   a.Signature,
	}, nil
}

// requestDate returns the one X-Amz-Date header and the instant it names.
func requestDate(h http.Header) (string, time.Time, error) {
	vs := h.Values("X-Amz-Date")
	if len(vs) != 1 {
		return "", time.Time{}, fmt.Errorf("%w: want one x-amz-date header, have %d", ErrMalformed, len(vs))
	}
	t, err := hmacauth.ParseBasicDate("x-amz-date", vs[0])
	if err != nil {
		return "", time.Time{}, malformed(err)
	}
	return vs[0], t, nil
}

// checkContentSHA256 compares an X-Amz-Content-Sha256 header, if any, with
// the body's hash. A hex value that differs is a body that is not the signed
// one, the same as when the header is absent: ErrSignature. A value that is
// not a hash (UNSIGNED-PAYLOAD, STREAMING-…) asks for a mode we refuse.
func checkContentSHA256(h http.Header, payloadHash []byte) error {
	vs := h.Values("X-Amz-Content-Sha256")
	switch {
	case len(vs) == 0:
		return nil
	case len(vs) > 1:
		return fmt.Errorf("%w: more than one x-amz-content-sha256 header", ErrMalformed)
	case !hmacauth.IsLowerHex(vs[0], 64):
		return fmt.Errorf("%w: x-amz-content-sha256 must be the payload's hex sha-256 (unsigned and streaming payloads are not supported)", ErrMalformed)
	case vs[0] != string(payloadHash):
		return ErrSignature
	}
	return nil
}
