package sdkhmac

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/internal/hmacsha256"
	"github.com/attestkms/attestkms/internal/httpsig"
)

// This file is the one canonicalisation Verify and Sign share, as
// huaweicloud-sdk-go-v3's core/auth/signer/signer.go computes it:
//
//	CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n
//	                   CanonicalHeaders \n SignedHeaders \n PayloadHash
//	CanonicalURI     = each "/"-separated segment of the (decoded) path
//	                   escaped, joined by "/", with a "/" appended unless
//	                   it ends with one
//	CanonicalQuery   = for each name in sorted order, for each of its values
//	                   in sorted order, escape(name)=escape(value), joined by &
//	CanonicalHeaders = for each signed name, name:TrimSpace(value) \n
//	StringToSign     = SDK-HMAC-SHA256 \n X-Sdk-Date \n hex(SHA256(CanonicalRequest))
//	Signature        = hex(HMAC-SHA256(secret, StringToSign))

// canonicalRequest holds the parts of a canonical request; hash writes them
// straight into SHA-256.
type canonicalRequest struct {
	method      string
	uri         string     // already canonical
	query       string     // already canonical
	headers     []string   // lower-case, sorted, unique
	values      [][]string // values[i] are headers[i]'s, sorted (Verify: exactly one)
	payloadHash []byte     // lower-case hex
}

func (c *canonicalRequest) writeTo(w io.Writer) {
	httpsig.WriteCanonicalRequest(w, c.method, c.uri, c.query, c.headers, func(dst []byte, i int) []byte {
		for _, v := range c.values[i] {
			dst = append(dst, c.headers[i]...)
			dst = append(dst, ':')
			dst = append(dst, strings.TrimSpace(v)...)
			dst = append(dst, '\n')
		}
		return dst
	}, c.payloadHash)
}

// hash returns the lower-case hex SHA-256 of the canonical request.
func (c *canonicalRequest) hash() []byte { return httpsig.HexSHA256(c.writeTo) }

// String is the canonical request itself, for tests and debugging.
func (c *canonicalRequest) String() string { return httpsig.Text(c.writeTo) }

func stringToSign(sdkDate string, canonicalHash []byte) []byte {
	return httpsig.StringToSign(Algorithm, sdkDate, "", canonicalHash)
}

// signature MACs sts with secret (hmacsha256 zeroes its padded copies of
// it); secret is left as it was.
func signature(secret, sts []byte) [sha256.Size]byte { return hmacsha256.Sum(secret, sts) }

// escape appends s percent-encoded as the SDK's escape does: everything but
// A-Z a-z 0-9 - . _ ~ as %XX, upper-case hex.
func escape(dst []byte, s string) []byte {
	const hexUpper = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if httpsig.IsUnreserved(c) {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	return dst
}

// canonicalURI is the SDK's: path (decoded, as the SDK holds it before
// net/http escapes it for the wire) split at "/", each segment escaped,
// joined, and a "/" appended unless the result ends with one.
func canonicalURI(path string) string {
	b := make([]byte, 0, len(path)+8)
	for i, seg := range strings.Split(path, "/") {
		if i > 0 {
			b = append(b, '/')
		}
		b = escape(b, seg)
	}
	if len(b) == 0 || b[len(b)-1] != '/' {
		b = append(b, '/')
	}
	return string(b)
}

// verifyURI is the canonical URI of a request a server received: its
// decoded path, which is what the SDK signed and what the server acts on. An
// opaque URL is no path we could route.
func verifyURI(r *http.Request) (string, error) {
	if r.URL.Opaque != "" {
		return "", fmt.Errorf("%w: opaque request uri", httpsig.ErrMalformed)
	}
	return canonicalURI(r.URL.Path), nil
}

// canonicalQuery parses a raw query as url.ParseQuery does (the server's
// reading of it; the SDK writes it with url.Values.Encode) and returns it
// canonical, as the SDK's canonicalQueryString does: names sorted, each
// name's values sorted, both before escaping. An unparseable query is
// httpsig.ErrMalformed.
func canonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "", fmt.Errorf("%w: query string does not parse", httpsig.ErrMalformed)
	}
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names)
	b := make([]byte, 0, len(raw)+16)
	for _, k := range names {
		vs := slices.Clone(q[k])
		slices.Sort(vs)
		for _, v := range vs {
			if len(b) > 0 {
				b = append(b, '&')
			}
			b = escape(b, k)
			b = append(b, '=')
			b = escape(b, v)
		}
	}
	return string(b), nil
}

// signedValues gathers, for each signed header name, its one value on r
// (hmacauth.SignedValues). Every signed header must be present exactly
// once: under one spelling and with one value (the SDK would sign two as two
// lines; no client of ours sends them, and a header read once must be
// signed once).
func signedValues(r *http.Request, names []string) ([][]string, error) {
	values, err := hmacauth.SignedValues(r, names, authorization.MaxHeaderName, true, nil)
	if err != nil {
		return nil, hmacauth.Malformed(err)
	}
	return values, nil
}
