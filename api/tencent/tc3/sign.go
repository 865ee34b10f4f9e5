package tc3

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/internal/httpsig"
)

// Sign adds X-TC-Timestamp and Authorization to r, a POST to "/" carrying
// body, for the instant now (to the second). It signs content-type and host,
// as the SDK does, plus the headers named in extra (lower case, e.g.
// "x-tc-action", as Tencent's documentation shows); each must be on r once.
// For the SDK's request and second its Authorization is the SDK's, byte for
// byte. It refuses (with httpsig.ErrMalformed) what Verify would: a bad SecretId or
// service, an empty secret, another method, path or a query, no or several
// Content-Type headers, unprintable or overlong signed values, a host with
// an IPv6 zone (net/http drops it when sending), more than 16
// signed headers. On error r is left as it was.
func Sign(r *http.Request, body []byte, secretID string, secret []byte, service string, now time.Time, extra ...string) error {
	if r == nil || r.URL == nil {
		return fmt.Errorf("%w: no request", httpsig.ErrMalformed)
	}
	if now.IsZero() || now.Unix() < 0 {
		return fmt.Errorf("%w: signing time before 1970", httpsig.ErrMalformed)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	a := &Authorization{SecretID: secretID, Date: time.Unix(now.Unix(), 0).UTC().Format(dateFormat), Service: service}
	if err := checkScope(a.SecretID, a.Date, a.Service); err != nil {
		return err
	}
	if len(secret) == 0 {
		return fmt.Errorf("%w: empty secret", httpsig.ErrMalformed)
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet // what net/http sends for ""
	}
	path := r.URL.EscapedPath()
	switch {
	case method != http.MethodPost:
		return fmt.Errorf("%w: only POST requests can be signed", httpsig.ErrMalformed)
	case path != "/" && path != "" || r.URL.Opaque != "":
		return fmt.Errorf("%w: the path must be /", httpsig.ErrMalformed)
	case r.URL.RawQuery != "" || r.URL.ForceQuery:
		return fmt.Errorf("%w: a query string is not signed for a POST", httpsig.ErrMalformed)
	}

	names := append([]string{}, requiredHeaders...)
	for _, n := range extra {
		if !httpsig.IsToken(n, maxHeaderName, httpsig.IsHeaderNameByte) || slices.Contains(names, n) {
			return fmt.Errorf("%w: cannot sign header %q twice or under that name", httpsig.ErrMalformed, n)
		}
		names = append(names, n)
	}
	if len(names) > maxSignedHeaders {
		return fmt.Errorf("%w: more than %d headers to sign", httpsig.ErrMalformed, maxSignedHeaders)
	}
	slices.Sort(names)
	if host := r.Host; host != "" && !httpsig.SentAsIs(host) || host == "" && !httpsig.SentAsIs(r.URL.Host) {
		return fmt.Errorf("%w: the request's host has an IPv6 zone, which net/http does not send", httpsig.ErrMalformed)
	}
	values, err := signedValues(r, names)
	if err != nil {
		return err
	}
	a.SignedHeaders = names
	payloadHash := hmacauth.PayloadHash(body)
	sig := signature(secret, a.Date, a.Service, stringToSign(ts, a.scope(), canonicalRequestHash(names, values, payloadHash[:])))
	a.Signature = sig[:]

	if r.Header == nil {
		r.Header = make(http.Header)
	}
	r.Header.Set("X-TC-Timestamp", ts)
	r.Header.Set("Authorization", a.String())
	return nil
}
