package sdkhmac

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/internal/httpsig"
)

// Sign signs r as huaweicloud-sdk-go-v3's signer does at instant t: it sets
// X-Sdk-Date and Authorization, signing every header on r but Content-Type
// (and any header whose name starts with content-type), headers whose name
// holds an underscore, Host and Authorization, and always the body's hash.
// body must be the bytes r will send. It is for tests, tools and clients of
// attestkms; the server only verifies.
//
// One departure from the SDK: for a Content-Type other than JSON or BSON the
// SDK signs "UNSIGNED-PAYLOAD" instead of the body, which Verify refuses;
// Sign signs the body whatever the content type. An X-Sdk-Content-Sha256
// header that is not the body's hash is httpsig.ErrMalformed.
func Sign(r *http.Request, body []byte, accessKeyID string, secret []byte, t time.Time) error {
	if !httpsig.IsToken(accessKeyID, maxAccessKeyID, isAccessKeyByte) {
		return fmt.Errorf("%w: access key id must be 1-%d characters of A-Z a-z 0-9 _ -", httpsig.ErrMalformed, maxAccessKeyID)
	}
	if len(secret) == 0 {
		return fmt.Errorf("%w: empty secret", httpsig.ErrMalformed)
	}
	if r == nil || r.URL == nil {
		return fmt.Errorf("%w: incomplete request", httpsig.ErrMalformed)
	}
	if r.Header == nil {
		r.Header = http.Header{}
	}
	if !httpsig.IsToken(r.Method, httpsig.MaxMethod, httpsig.IsMethodByte) {
		return fmt.Errorf("%w: method is not a token", httpsig.ErrMalformed)
	}
	uri, err := verifyURI(r)
	if err != nil {
		return err
	}
	query, err := canonicalQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	sdkDate := t.UTC().Format(DateFormat)
	r.Header.Del("Authorization")
	r.Header.Set(HeaderDate, sdkDate)

	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	if vs := r.Header.Values(headerContentSHA256); len(vs) > 1 || len(vs) == 1 && vs[0] != payloadHash {
		return fmt.Errorf("%w: x-sdk-content-sha256 is not the body's hash", httpsig.ErrMalformed)
	}

	byName := map[string][]string{}
	for key, vs := range r.Header {
		lk := strings.ToLower(key)
		if len(vs) == 0 || strings.HasPrefix(lk, "content-type") || strings.Contains(key, "_") || lk == "host" || lk == "authorization" {
			continue
		}
		if !httpsig.IsToken(lk, authorization.MaxHeaderName, httpsig.IsHeaderNameByte) {
			return fmt.Errorf("%w: header name %q cannot be signed", httpsig.ErrMalformed, key)
		}
		for _, v := range vs {
			if httpsig.HasControl(v) {
				return fmt.Errorf("%w: header %s has a control character", httpsig.ErrMalformed, lk)
			}
		}
		byName[lk] = append(byName[lk], vs...)
	}
	if len(byName) > authorization.MaxSignedHeaders {
		return fmt.Errorf("%w: more than %d headers to sign", httpsig.ErrMalformed, authorization.MaxSignedHeaders)
	}
	// The SDK signs a header's values sorted.
	names, values := httpsig.SortedHeaders(byName)
	for _, vs := range values {
		slices.Sort(vs)
	}
	cr := canonicalRequest{method: r.Method, uri: uri, query: query, headers: names, values: values, payloadHash: []byte(payloadHash)}
	sig := signature(secret, stringToSign(sdkDate, cr.hash()))
	a := Authorization{AccessKeyID: accessKeyID, Signed: hmacauth.Signed{SignedHeaders: names, Signature: sig[:]}}
	r.Header.Set("Authorization", a.String())
	return nil
}
