package sdkhmac

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"time"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/internal/httpsig"
)

// prepare reads the signed header values and the canonical URI and query
// off r, and claims the signature of its canonical request.
func prepare(r *http.Request, a *Authorization, sdkDate string, payloadHash []byte) (*hmacauth.Claim, error) {
	values, err := signedValues(r, a.SignedHeaders)
	if err != nil {
		return nil, err
	}
	uri, err := verifyURI(r)
	if err != nil {
		return nil, err
	}
	query, err := canonicalQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	cr := canonicalRequest{method: r.Method, uri: uri, query: query, headers: a.SignedHeaders, values: values, payloadHash: payloadHash}
	sts := stringToSign(sdkDate, cr.hash())
	return &hmacauth.Claim{
		Result: Result{AccessKeyID: a.AccessKeyID, SignedHeaders: a.SignedHeaders, Signature: a.Signature},
		Sign:   func(secret []byte) [sha256.Size]byte { return signature(secret, sts) },
	}, nil
}

// scheme is SDK-HMAC-SHA256 as hmacauth.Verify runs it.
var scheme = hmacauth.Scheme[*Authorization]{
	DefaultMaxSkew: DefaultMaxSkew,
	Parse:          ParseAuthorization,
	AccessKeyID:    func(a *Authorization) string { return a.AccessKeyID },
	Refuse: func(r *http.Request) error {
		if len(r.Header.Values("X-Security-Token")) != 0 {
			return fmt.Errorf("%w: temporary credentials (x-security-token) are not accepted", httpsig.ErrMalformed)
		}
		return nil
	},
	TimeHeader: HeaderDate,
	// The SDK's signer writes the date it signs in this exact form.
	ParseTime:           func(h http.Header) (string, time.Time, error) { return hmacauth.BasicDate(h, HeaderDate) },
	Prepare:             prepare,
	ContentSHA256:       headerContentSHA256,
	ContentSHA256MustBe: "the body's hex sha-256 (unsigned payloads are not accepted)",
}

// DefaultMaxSkew is the clock skew a zero Verifier.MaxSkew allows: Huawei's
// API gateway's own 15 minutes.
const DefaultMaxSkew = 15 * time.Minute
