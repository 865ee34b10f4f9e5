package tc3

import (
	"fmt"
	"net/http"
	"time"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/internal/httpsig"
)

// DefaultMaxSkew is the clock skew a zero Verifier.MaxSkew allows: Tencent's
// own ("Timestamp 和服务器时间相差不得超过五分钟").
const DefaultMaxSkew = 5 * time.Minute

// scheme is TC3 as hmacauth.Verify runs it.
var scheme = hmacauth.Scheme[*Authorization]{
	DefaultMaxSkew: DefaultMaxSkew,
	Parse:          ParseAuthorization,
	AccessKeyID:    func(a *Authorization) string { return a.SecretID },
	Service:        func(a *Authorization) string { return a.Service },
	TimeHeader:     "X-TC-Timestamp",
	ParseTime:      requestTimestamp,
	ScopeDate: func(a *Authorization, _ string, at time.Time) error {
		if a.Date != at.UTC().Format(dateFormat) {
			return fmt.Errorf("%w: credential scope date is not the x-tc-timestamp day", httpsig.ErrMalformed)
		}
		return nil
	},
	Prepare: prepare,
}

// prepare checks the request's shape and reads its signed header values, and
// claims the signature of its canonical request.
func prepare(r *http.Request, a *Authorization, ts string, payloadHash []byte) (*hmacauth.Claim, error) {
	if err := checkShape(r); err != nil {
		return nil, err
	}
	values, err := signedValues(r, a.SignedHeaders)
	if err != nil {
		return nil, err
	}
	sts := stringToSign(ts, a.scope(), canonicalRequestHash(a.SignedHeaders, values, payloadHash))
	return &hmacauth.Claim{
		Result: Result{AccessKeyID: a.SecretID, SignedHeaders: a.SignedHeaders, Signature: a.Signature},
		Sign: func(secret []byte) [32]byte {
			return signature(secret, a.Date, a.Service, sts)
		},
		Scope:    a.scope(),
		Derive:   func(secret []byte) [32]byte { return signingKey(secret, a.Date, a.Service) },
		SignWith: func(key *[32]byte) [32]byte { return hmacSHA256(key[:], sts) },
	}, nil
}

// checkShape refuses what the SDK never signs and Verify cannot: another
// method, path or a query (TC3 signs "/" and an empty query for every POST),
// an unsigned payload, temporary credentials.
func checkShape(r *http.Request) error {
	switch {
	case r.Method != http.MethodPost:
		return fmt.Errorf("%w: only POST requests are supported", httpsig.ErrMalformed)
	case r.URL.EscapedPath() != "/" || r.URL.Opaque != "":
		return fmt.Errorf("%w: the path must be / (tc3 does not sign it)", httpsig.ErrMalformed)
	case r.URL.RawQuery != "" || r.URL.ForceQuery:
		return fmt.Errorf("%w: a query string is not signed for a POST", httpsig.ErrMalformed)
	case len(r.Header.Values("X-TC-Content-SHA256")) > 0:
		return fmt.Errorf("%w: unsigned payloads (x-tc-content-sha256) are not supported", httpsig.ErrMalformed)
	case len(r.Header.Values("X-TC-Token")) > 0:
		return fmt.Errorf("%w: temporary credentials (x-tc-token) are not supported", httpsig.ErrMalformed)
	}
	return nil
}
