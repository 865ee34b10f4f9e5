package hmacauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"time"

	"github.com/attestkms/attestkms/internal/httpsig"
)

// Verifier checks the signatures of one scheme, S, whose parsed
// Authorization header is an A; each scheme's Verifier is one of these
// (sigv4.Verifier, tc3.Verifier, sdkhmac.Verifier). Each field says what its
// zero value means; no zero value switches a check off.
type Verifier[A any, S SchemeOf[A]] struct {
	// Service is the credential scope's required service, e.g. "kms", for
	// the schemes whose scope names one (SigV4, TC3): empty is ErrConfig at
	// Verify time, not "any service". SDK-HMAC-SHA256 has no scope and
	// ignores it.
	Service string
	// MaxSkew bounds |now - the signed time|. Zero means the scheme's
	// DefaultMaxSkew; negative is ErrConfig. There is no "unlimited".
	MaxSkew time.Duration
	// Lookup finds secrets for Verify. Nil is ErrConfig at Verify time.
	Lookup SecretLookup
	// Keys, if not nil, keeps the signing keys of the schemes that derive
	// one per credential scope (SigV4, TC3), so that a request of a known
	// scope costs one HMAC instead of five (KeyCache says what it keeps
	// and what that costs whom). Nil derives the key for every request.
	Keys *KeyCache
}

// SchemeOf is the type that names a scheme in Verifier[A, S]: its zero
// value's Scheme describes it.
type SchemeOf[A any] interface{ Scheme() *Scheme[A] }

// Verify checks r's Authorization header against body (the whole request
// body, already read by the caller) at the instant now, with v.Lookup. It
// returns the authenticated access key, or an error wrapping one of
// httpsig's kinds; Result is nil whenever the error is not.
func (v *Verifier[A, S]) Verify(r *http.Request, body []byte, now time.Time) (*Result, error) {
	return v.Authenticate(r, body, now, v.Lookup)
}

// Skew is how far from now a signed time may be: MaxSkew, or the scheme's
// DefaultMaxSkew when MaxSkew is zero. A replay cache must remember a
// signature twice that long.
func (v *Verifier[A, S]) Skew() time.Duration {
	if v.MaxSkew != 0 {
		return v.MaxSkew
	}
	var name S
	return name.Scheme().DefaultMaxSkew
}

// A Scheme is what one signature scheme adds to a Verifier, which runs
// every scheme's verification in one order (Authenticate). A is the
// scheme's parsed Authorization header. Optional steps say what nil means.
type Scheme[A any] struct {
	// DefaultMaxSkew is the skew a zero Verifier.MaxSkew allows.
	DefaultMaxSkew time.Duration
	// Before, if not nil, checks the request before its Authorization
	// header is read (SigV4 reads its query first, so that a presigned
	// request, which has no such header, is told it is not supported).
	Before func(r *http.Request) error
	// Parse parses the Authorization header's value, syntax only; its
	// errors wrap httpsig.ErrMalformed.
	Parse func(authz string) (A, error)
	// AccessKeyID is the access key id a parsed header names (Tencent's
	// SecretId): what Verifier.AccessKeyID reads. Nil: it reads none.
	AccessKeyID func(a A) string
	// Service, if not nil, is the service a's credential scope names,
	// which must be Verifier.Service (then required). Nil: the scheme has
	// no scope.
	Service func(a A) string
	// Refuse, if not nil, refuses what a request asks for that the scheme
	// does not support, once its header parsed (SDK-HMAC: temporary
	// credentials).
	Refuse func(r *http.Request) error
	// TimeHeader names the header that carries the signed time, and
	// ParseTime reads it: its text as signed, and the instant it names.
	TimeHeader string
	ParseTime  func(h http.Header) (string, time.Time, error)
	// ScopeDate, if not nil, checks a's credential scope date against the
	// signed time.
	ScopeDate func(a A, signed string, at time.Time) error
	// Prepare checks the rest of the request against a, touching no
	// secret, and returns the claim: what the request says it is, and how
	// to compute the signature it must carry. payloadHash is the body's
	// (PayloadHash).
	Prepare func(r *http.Request, a A, signed string, payloadHash []byte) (*Claim, error)
	// ContentSHA256, if not "", is the header a client may send in place
	// of the body's hash, which must then be that hash (CheckContentSHA256,
	// with ContentSHA256MustBe as the reason for refusing another value).
	ContentSHA256, ContentSHA256MustBe string
}

// A Claim is what a request says it is, until its signature is matched:
// the Result it has if it is right (Verify sets SignedAt), and how to
// compute the right signature from a secret (Sign must not keep it).
type Claim struct {
	Result
	Sign func(secret []byte) [sha256.Size]byte
	// Scope, Derive and SignWith, if Derive is not nil, are Sign in two
	// steps, for a Verifier with Keys: Sign(secret) is
	// SignWith(Derive(secret)), and Derive's key is the same for every
	// request of the access key in Scope (its credential scope). Neither
	// keeps what it is given.
	Scope    string
	Derive   func(secret []byte) [sha256.Size]byte
	SignWith func(key *[sha256.Size]byte) [sha256.Size]byte
}

// AccessKeyID is the access key id r's one Authorization header names, or
// "" when r has none, more than one, or one that s.Parse refuses: a claim,
// not an identity, read before the body and touching no secret. It costs
// the header's parse (bounded by the scheme's MaxLength), which
// Authenticate repeats. api/internal/pipeline reads it to decide whether a
// request from a source whose budget for failures is spent is worth a
// signature check: only one that names a key the server knows is.
func (v *Verifier[A, S]) AccessKeyID(r *http.Request) string {
	var name S
	s := name.Scheme()
	if s.AccessKeyID == nil || r == nil || r.Header == nil {
		return ""
	}
	authz, err := Authorization(r.Header)
	if err != nil {
		return ""
	}
	a, err := s.Parse(authz)
	if err != nil {
		return ""
	}
	return s.AccessKeyID(a)
}

// Authenticate is Verify with lookup in place of v.Lookup, for a caller
// that looks each request's secret up afresh (api/internal/pipeline). It
// runs a verification as every scheme runs it. Cheap checks first,
// and no secret is touched until all of them pass: v's configuration, the
// lookup and the clock (ErrConfig); that there is a request; s.Before; the
// one Authorization header (ErrMissing without one); s.Parse; the scope's
// service; s.Refuse; the signed time, the scope's date and the skew
// (ErrExpired); a method that is a token; s.Prepare; the body's hash
// against s.ContentSHA256. Then the signature is computed and compared in
// constant time (Match, or with v.Keys its cached form): an unknown access
// key costs the same HMAC work and gets the same error as a wrong
// signature. It returns the Result, or an
// error wrapping one of httpsig's kinds; never both.
func (v *Verifier[A, S]) Authenticate(r *http.Request, body []byte, now time.Time, lookup SecretLookup) (*Result, error) {
	var name S
	s := name.Scheme()
	maxSkew, err := v.start(r, now, lookup, s.DefaultMaxSkew, s.Service != nil)
	if err != nil {
		return nil, err
	}
	if s.Before != nil {
		if err := s.Before(r); err != nil {
			return nil, err
		}
	}
	authz, err := Authorization(r.Header)
	if err != nil {
		return nil, err
	}
	a, err := s.Parse(authz)
	if err != nil {
		return nil, err
	}
	if s.Service != nil && s.Service(a) != v.Service {
		return nil, fmt.Errorf("%w: credential scope names another service", httpsig.ErrMalformed)
	}
	if s.Refuse != nil {
		if err := s.Refuse(r); err != nil {
			return nil, err
		}
	}
	signed, at, err := s.ParseTime(r.Header)
	if err != nil {
		return nil, err
	}
	if s.ScopeDate != nil {
		if err := s.ScopeDate(a, signed, at); err != nil {
			return nil, err
		}
	}
	if d := now.Sub(at); d > maxSkew || d < -maxSkew {
		return nil, fmt.Errorf("%w: %s is %s from the server's clock, more than %s", httpsig.ErrExpired, httpsig.ASCIILower(s.TimeHeader), d.Round(time.Second), maxSkew)
	}
	if !httpsig.IsToken(r.Method, httpsig.MaxMethod, httpsig.IsMethodByte) {
		return nil, fmt.Errorf("%w: method is not a token", httpsig.ErrMalformed)
	}
	bodySum := sha256.Sum256(body)
	payloadHash := hexDigest(bodySum)
	c, err := s.Prepare(r, a, signed, payloadHash[:])
	if err != nil {
		return nil, err
	}
	if s.ContentSHA256 != "" {
		if err := CheckContentSHA256(r.Header, s.ContentSHA256, payloadHash[:], s.ContentSHA256MustBe); err != nil {
			return nil, err
		}
	}
	if !v.match(lookup, c, now) {
		return nil, httpsig.ErrSignature
	}
	c.SignedAt = at.UTC()
	c.BodySHA256 = bodySum
	return &c.Result, nil
}

// match is Match, with v.Keys when the claim's key can be cached.
func (v *Verifier[A, S]) match(lookup SecretLookup, c *Claim, now time.Time) bool {
	if v.Keys == nil || c.Derive == nil || c.SignWith == nil {
		return Match(lookup, c.AccessKeyID, c.Signature, c.Sign)
	}
	return v.Keys.match(lookup, c, now)
}

// start checks the configuration (scoped: the scheme's scope names a
// service), the lookup and the clock (ErrConfig), and that there is a
// request (ErrMalformed), and returns the skew to allow (defaultSkew for a
// zero MaxSkew).
func (v *Verifier[A, S]) start(r *http.Request, now time.Time, lookup SecretLookup, defaultSkew time.Duration, scoped bool) (time.Duration, error) {
	maxSkew := v.MaxSkew
	switch {
	case scoped && v.Service == "":
		return 0, fmt.Errorf("%w: no service", httpsig.ErrConfig)
	case lookup == nil:
		return 0, fmt.Errorf("%w: no secret lookup", httpsig.ErrConfig)
	case maxSkew < 0:
		return 0, fmt.Errorf("%w: negative skew", httpsig.ErrConfig)
	case maxSkew == 0:
		maxSkew = defaultSkew
	}
	if now.IsZero() {
		return 0, fmt.Errorf("%w: zero clock", httpsig.ErrConfig)
	}
	if r == nil || r.URL == nil || r.Header == nil {
		return 0, fmt.Errorf("%w: incomplete request", httpsig.ErrMalformed)
	}
	return maxSkew, nil
}

// Authorization returns the request's one Authorization header value:
// ErrMissing without one, ErrMalformed with more.
func Authorization(h http.Header) (string, error) {
	switch vs := h.Values("Authorization"); len(vs) {
	case 0:
		return "", httpsig.ErrMissing
	case 1:
		return vs[0], nil
	default:
		return "", fmt.Errorf("%w: more than one authorization header", httpsig.ErrMalformed)
	}
}

// CheckContentSHA256 compares the header of that name, if any (SigV4's
// X-Amz-Content-Sha256, SDK-HMAC's X-Sdk-Content-Sha256, which their SDKs
// sign in place of the body's hash), with the body's hash. A hex value that
// differs is a body that is not the signed one, as when the header is
// absent: ErrSignature. A value that is not a hash (UNSIGNED-PAYLOAD,
// STREAMING-…) asks for a mode no scheme here accepts: ErrMalformed, with
// mustBe as the reason.
func CheckContentSHA256(h http.Header, name string, payloadHash []byte, mustBe string) error {
	lower := httpsig.ASCIILower(name)
	vs := h.Values(name)
	switch {
	case len(vs) == 0:
		return nil
	case len(vs) > 1:
		return fmt.Errorf("%w: more than one %s header", httpsig.ErrMalformed, lower)
	case !httpsig.IsLowerHex(vs[0], 2*sha256.Size):
		return fmt.Errorf("%w: %s must be %s", httpsig.ErrMalformed, lower, mustBe)
	case !hmac.Equal([]byte(vs[0]), payloadHash):
		return httpsig.ErrSignature
	}
	return nil
}
