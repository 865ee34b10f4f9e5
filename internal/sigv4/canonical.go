package sigv4

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/attestkms/attestkms/internal/hmacsha256"
	"github.com/attestkms/attestkms/internal/httpsig"
)

// This file is the one canonicalisation signing and verifying share, as the
// SigV4 specification and the AWS SDK for Go v2 (aws/signer/v4) define it:
//
//	CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n
//	                   CanonicalHeaders \n SignedHeaders \n PayloadHash
//	StringToSign     = AWS4-HMAC-SHA256 \n X-Amz-Date \n Scope \n hex(SHA256(CanonicalRequest))
//	Signature        = HMAC(HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request"), StringToSign)

// CanonicalRequest holds the parts of a canonical request; Hash writes them
// straight into SHA-256. The caller gives each part already in canonical
// form, except header values, which Hash canonicalises (trimmed, runs of
// spaces folded, a header's values joined by commas).
type CanonicalRequest struct {
	Method      string
	URI         string     // already encoded: CanonicalURI
	Query       string     // already canonical: CanonicalQuery
	Headers     []string   // lower-case, sorted, unique
	Values      [][]string // Values[i] are Headers[i]'s, in request order
	PayloadHash []byte     // lower-case hex SHA-256 of the body
}

func (c *CanonicalRequest) writeTo(w io.Writer) {
	httpsig.WriteCanonicalRequest(w, c.Method, c.URI, c.Query, c.Headers, func(dst []byte, i int) []byte {
		dst = append(dst, c.Headers[i]...)
		dst = append(dst, ':')
		for j, v := range c.Values[i] {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendHeaderValue(dst, v)
		}
		return append(dst, '\n')
	}, c.PayloadHash)
}

// Hash returns the lower-case hex SHA-256 of the canonical request.
func (c *CanonicalRequest) Hash() []byte { return httpsig.HexSHA256(c.writeTo) }

// String is the canonical request itself, for tests and debugging.
func (c *CanonicalRequest) String() string { return httpsig.Text(c.writeTo) }

// appendHeaderValue appends v as the SDK canonicalises it: spaces trimmed
// from both ends, runs of spaces folded to one, then any other surrounding
// white space trimmed.
func appendHeaderValue(dst []byte, v string) []byte {
	start := len(dst)
	v = strings.Trim(v, " ")
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		dst = append(dst, v[i])
	}
	t := bytes.TrimSpace(dst[start:])
	n := copy(dst[start:], t)
	return dst[:start+n]
}

// StringToSign is AWS4-HMAC-SHA256 \n amzDate \n scope \n canonicalHash.
func StringToSign(amzDate, scope string, canonicalHash []byte) []byte {
	return httpsig.StringToSign(Algorithm, amzDate, scope, canonicalHash)
}

// Signature derives the signing key from secret and the scope and MACs sts
// with it. It zeroes every key it derives; secret is left as it was.
func Signature(secret []byte, date, region, service string, sts []byte) [sha256.Size]byte {
	k := SigningKey(secret, date, region, service)
	sig := SignWithKey(&k, sts)
	clear(k[:])
	return sig
}

// SigningKey is the key of secret for a credential scope, the same for
// every request in it: HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region),
// service), "aws4_request"). It is as secret as the secret for that day,
// region and service. It zeroes the intermediate keys; secret is left as it
// was.
func SigningKey(secret []byte, date, region, service string) [sha256.Size]byte {
	k := make([]byte, 0, 4+len(secret))
	k = append(k, "AWS4"...)
	k = append(k, secret...)
	var kDate, kRegion, kService, kSigning [sha256.Size]byte
	mac(&kDate, k, []byte(date))
	clear(k)
	mac(&kRegion, kDate[:], []byte(region))
	clear(kDate[:])
	mac(&kService, kRegion[:], []byte(service))
	clear(kRegion[:])
	mac(&kSigning, kService[:], []byte(Terminator))
	clear(kService[:])
	return kSigning
}

// SignWithKey is the signature of sts with a signing key (SigningKey).
func SignWithKey(key *[sha256.Size]byte, sts []byte) [sha256.Size]byte {
	var sig [sha256.Size]byte
	mac(&sig, key[:], sts)
	return sig
}

// mac sets out to HMAC-SHA256(key, data) (hmacsha256: no allocation, and
// its padded copies of the key are zeroed; the key slices we own, we zero).
func mac(out *[sha256.Size]byte, key, data []byte) { *out = hmacsha256.Sum(key, data) }

// CanonicalQuery parses a raw query strictly and returns it canonical: each
// name and value URI-encoded, pairs sorted by encoded name then value, as the
// SDK does. Unparseable queries, repeated names (the order of their values is
// not signed) and presigning parameters are ErrMalformed.
func CanonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "", fmt.Errorf("%w: query string does not parse", ErrMalformed)
	}
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(q))
	for k, vs := range q {
		switch {
		case strings.EqualFold(k, "X-Amz-Signature"), strings.EqualFold(k, "X-Amz-Credential"), strings.EqualFold(k, "X-Amz-Algorithm"):
			return "", fmt.Errorf("%w: presigned query authentication is not supported", ErrMalformed)
		case len(vs) != 1:
			return "", fmt.Errorf("%w: repeated query parameter", ErrMalformed)
		}
		pairs = append(pairs, pair{string(uriEncode(nil, k, true)), string(uriEncode(nil, vs[0], true))})
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String(), nil
}

// uriEncode appends s percent-encoded as SigV4 wants: everything but
// A-Z a-z 0-9 - . _ ~ (and '/' unless encodeSlash) as %XX, upper-case hex.
func uriEncode(dst []byte, s string, encodeSlash bool) []byte {
	const hexUpper = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if httpsig.IsUnreserved(c) || c == '/' && !encodeSlash {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	return dst
}

// CanonicalURI is the SDK's for services other than S3: the request's
// escaped path, encoded once more ("" is "/").
func CanonicalURI(escapedPath string) string {
	if escapedPath == "" {
		escapedPath = "/"
	}
	return string(uriEncode(make([]byte, 0, len(escapedPath)), escapedPath, false))
}

// mustSign are the headers that, when present, select what a request does
// or how its signature is read, so an unsigned one could change a signed
// request's meaning. Host and x-amz-date are required outright.
var mustSign = []string{"content-type", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token", "x-amz-target"}

// MustSign reports whether the lower-case header name is one that, when
// present, must be signed and sent once: it selects what a request does or
// how its signature is read (content-type, x-amz-content-sha256,
// x-amz-date, x-amz-security-token, x-amz-target).
func MustSign(name string) bool { return slices.Contains(mustSign, name) }
