package sigv4

import (
	"fmt"
	"net/http"
	"time"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/internal/httpsig"
	v4 "github.com/attestkms/attestkms/internal/sigv4"
)

// DefaultMaxSkew is the clock skew a zero Verifier.MaxSkew allows: AWS's own.
const DefaultMaxSkew = 15 * time.Minute

// scheme is SigV4 as hmacauth.Verify runs it.
var scheme = hmacauth.Scheme[*Authorization]{
	DefaultMaxSkew: DefaultMaxSkew,
	// A presigned request has its signature in the query and no
	// Authorization header: it is refused as unsupported, not as missing.
	Before:      func(r *http.Request) error { _, err := v4.CanonicalQuery(r.URL.RawQuery); return err },
	Parse:       ParseAuthorization,
	AccessKeyID: func(a *Authorization) string { return a.AccessKeyID },
	Service:     func(a *Authorization) string { return a.Service },
	TimeHeader:  "X-Amz-Date",
	ParseTime:   func(h http.Header) (string, time.Time, error) { return hmacauth.BasicDate(h, "X-Amz-Date") },
	ScopeDate: func(a *Authorization, amzDate string, _ time.Time) error {
		if a.Date != amzDate[:8] {
			return fmt.Errorf("%w: credential scope date is not the x-amz-date day", httpsig.ErrMalformed)
		}
		return nil
	},
	Prepare:             prepare,
	ContentSHA256:       "X-Amz-Content-Sha256",
	ContentSHA256MustBe: "the payload's hex sha-256 (unsigned and streaming payloads are not supported)",
}

// prepare reads the signed header values and the canonical URI and query
// off r, and claims the signature of its canonical request.
func prepare(r *http.Request, a *Authorization, amzDate string, payloadHash []byte) (*hmacauth.Claim, error) {
	values, err := signedValues(r, a.SignedHeaders)
	if err != nil {
		return nil, err
	}
	uri, err := verifyURI(r.URL)
	if err != nil {
		return nil, err
	}
	query, err := v4.CanonicalQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	cr := v4.CanonicalRequest{
		Method:      r.Method,
		URI:         uri,
		Query:       query,
		Headers:     a.SignedHeaders,
		Values:      values,
		PayloadHash: payloadHash,
	}
	scope := a.Scope()
	sts := v4.StringToSign(amzDate, scope, cr.Hash())
	return &hmacauth.Claim{
		Result: Result{AccessKeyID: a.AccessKeyID, Region: a.Region, SignedHeaders: a.SignedHeaders, Signature: a.Signature},
		Sign: func(secret []byte) [32]byte {
			return v4.Signature(secret, a.Date, a.Region, a.Service, sts)
		},
		Scope:    scope,
		Derive:   func(secret []byte) [32]byte { return v4.SigningKey(secret, a.Date, a.Region, a.Service) },
		SignWith: func(key *[32]byte) [32]byte { return v4.SignWithKey(key, sts) },
	}, nil
}
