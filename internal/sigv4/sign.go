package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/attestkms/attestkms/internal/httpsig"
)

// unsignedHeaders are the headers the AWS SDK leaves out of a signature:
// proxies and transports add or rewrite them.
var unsignedHeaders = []string{"authorization", "expect", "transfer-encoding", "user-agent", "x-amzn-trace-id"}

// Sign adds X-Amz-Date, X-Amz-Content-Sha256 and Authorization to r for body
// at the instant now, signing every header on r plus host (and
// content-length when r.ContentLength > 0), except Authorization, User-Agent,
// X-Amzn-Trace-Id, Expect and Transfer-Encoding, as the AWS SDK for Go v2
// does; for the same request and time its Authorization is the SDK's, byte
// for byte. Like the SDK it drops a default port from r.Host and rewrites
// r.URL.RawQuery in canonical order. It refuses (with ErrMalformed) what
// the verifier (api/aws/sigv4) would: a bad access key id, scope, host or method, an empty secret, a
// query with repeated or presigning parameters, control characters in a
// header, a header spelled two ways or a meaningful one given twice, more
// than 64 headers to sign. On error r is left as it was.
func Sign(r *http.Request, body []byte, accessKeyID string, secret []byte, region, service string, now time.Time) error {
	if r == nil || r.URL == nil {
		return fmt.Errorf("%w: no request", ErrMalformed)
	}
	if now.IsZero() {
		return fmt.Errorf("%w: zero signing time", ErrMalformed)
	}
	amzDate := now.UTC().Format(DateFormat)
	a := &Authorization{AccessKeyID: accessKeyID, Date: amzDate[:8], Region: region, Service: service}
	if err := CheckScope(a.AccessKeyID, a.Date, a.Region, a.Service); err != nil {
		return err
	}
	if len(secret) == 0 {
		return fmt.Errorf("%w: empty secret", ErrMalformed)
	}
	query, err := CanonicalQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	host, stripped, err := sanitizeHost(r)
	if err != nil {
		return err
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet // what net/http sends for ""
	}
	if !httpsig.IsToken(method, httpsig.MaxMethod, httpsig.IsMethodByte) {
		return fmt.Errorf("%w: method is not a token", ErrMalformed)
	}

	// Sign a copy of the header with the two new ones, so that r is changed
	// only once nothing can fail.
	sum := sha256.Sum256(body)
	payloadHash := hex.AppendEncode(nil, sum[:])
	h := r.Header.Clone()
	if h == nil {
		h = make(http.Header)
	}
	h.Set("X-Amz-Date", amzDate)
	h.Set("X-Amz-Content-Sha256", string(payloadHash))
	names, values, err := headersToSign(h, host, r.ContentLength)
	if err != nil {
		return err
	}
	a.SignedHeaders = names
	cr := CanonicalRequest{
		Method:      method,
		URI:         CanonicalURI(uriPath(r.URL)),
		Query:       query,
		Headers:     names,
		Values:      values,
		PayloadHash: payloadHash,
	}
	sig := Signature(secret, a.Date, a.Region, a.Service, StringToSign(amzDate, a.Scope(), cr.Hash()))
	a.Signature = sig[:]

	if r.Header == nil {
		r.Header = make(http.Header)
	}
	r.Header.Set("X-Amz-Date", amzDate)
	r.Header.Set("X-Amz-Content-Sha256", string(payloadHash))
	r.Header.Set("Authorization", a.String())
	if stripped {
		r.Host = host
	}
	r.URL.RawQuery = query
	return nil
}

// headersToSign lists the headers Sign signs, sorted, with their values. A
// name spelled two ways (the SDK merges them in map order) or a header that
// selects meaning given twice is refused, as Verify would.
func headersToSign(h http.Header, host string, contentLength int64) ([]string, [][]string, error) {
	byName := map[string][]string{"host": {host}}
	if contentLength > 0 {
		byName["content-length"] = []string{strconv.FormatInt(contentLength, 10)}
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		lk := httpsig.ASCIILower(k)
		vs := h[k]
		// net/http sends r.Host and r.ContentLength, not these keys.
		if len(vs) == 0 || lk == "host" || lk == "content-length" || slices.Contains(unsignedHeaders, lk) {
			continue
		}
		if !httpsig.IsToken(lk, MaxHeaderName, httpsig.IsHeaderNameByte) {
			return nil, nil, fmt.Errorf("%w: header name %q cannot be signed", ErrMalformed, k)
		}
		for _, v := range vs {
			if httpsig.HasControl(v) {
				return nil, nil, fmt.Errorf("%w: header %s has a control character", ErrMalformed, lk)
			}
		}
		if _, dup := byName[lk]; dup {
			return nil, nil, fmt.Errorf("%w: header %s appears under two spellings", ErrMalformed, lk)
		}
		if len(vs) > 1 && MustSign(lk) {
			return nil, nil, fmt.Errorf("%w: more than one %s header", ErrMalformed, lk)
		}
		byName[lk] = vs
	}
	if len(byName) > MaxSignedHeaders {
		return nil, nil, fmt.Errorf("%w: more than %d headers to sign", ErrMalformed, MaxSignedHeaders)
	}
	names, values := httpsig.SortedHeaders(byName)
	return names, values, nil
}

// sanitizeHost returns the host to sign: r.Host, else r.URL.Host, without a
// default port (80 for http, 443 for https), which the SDK drops from r.Host
// too; stripped says it did.
func sanitizeHost(r *http.Request) (host string, stripped bool, err error) {
	host = r.Host
	if host == "" {
		host = r.URL.Host
	}
	if !httpsig.IsToken(host, httpsig.MaxHost, httpsig.IsHostByte) || !httpsig.SentAsIs(host) {
		return "", false, fmt.Errorf("%w: request host is empty, not a valid host or not sent as it is (an IPv6 zone)", ErrMalformed)
	}
	if h, port, ok := splitPort(host); ok {
		s := strings.ToLower(r.URL.Scheme)
		if s == "http" && port == "80" || s == "https" && port == "443" {
			return h, true, nil
		}
	}
	return host, false, nil
}

// splitPort splits host:port and [v6]:port, keeping the brackets (the SDK
// drops them, which makes a Host header net/http will not send); ok is false
// without a port.
func splitPort(hostport string) (host, port string, ok bool) {
	if strings.HasPrefix(hostport, "[") {
		end := strings.Index(hostport, "]:")
		if end < 0 {
			return "", "", false
		}
		return hostport[:end+1], hostport[end+2:], true
	}
	i := strings.IndexByte(hostport, ':')
	if i < 0 {
		return "", "", false
	}
	return hostport[:i], hostport[i+1:], true
}

// uriPath is the SDK's path to sign: from an opaque //host/path URL the
// path, else the escaped path.
func uriPath(u *url.URL) string {
	if u.Opaque == "" {
		return u.EscapedPath()
	}
	o, _, _ := strings.Cut(u.Opaque, "?")
	o = strings.TrimPrefix(o, "//")
	if i := strings.IndexByte(o, '/'); i >= 0 {
		return o[i:]
	}
	return ""
}
