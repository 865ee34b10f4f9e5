package sdkhmac

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
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

func (c *canonicalRequest) writeTo(h io.Writer) {
	buf := make([]byte, 0, 1024)
	buf = append(buf, c.method...)
	buf = append(buf, '\n')
	buf = append(buf, c.uri...)
	buf = append(buf, '\n')
	buf = append(buf, c.query...)
	buf = append(buf, '\n')
	for i, name := range c.headers {
		for _, v := range c.values[i] {
			buf = append(buf, name...)
			buf = append(buf, ':')
			buf = append(buf, strings.TrimSpace(v)...)
			buf = append(buf, '\n')
		}
		if len(buf) > 4096 {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	buf = append(buf, '\n')
	for i, name := range c.headers {
		if i > 0 {
			buf = append(buf, ';')
		}
		buf = append(buf, name...)
	}
	buf = append(buf, '\n')
	buf = append(buf, c.payloadHash...)
	h.Write(buf)
}

// hash returns the lower-case hex SHA-256 of the canonical request.
func (c *canonicalRequest) hash() []byte {
	h := sha256.New()
	c.writeTo(h)
	var sum [sha256.Size]byte
	return hex.AppendEncode(nil, h.Sum(sum[:0]))
}

// String is the canonical request itself, for tests and debugging.
func (c *canonicalRequest) String() string {
	var b strings.Builder
	c.writeTo(&b)
	return b.String()
}

func stringToSign(sdkDate string, canonicalHash []byte) []byte {
	b := make([]byte, 0, len(Algorithm)+len(sdkDate)+len(canonicalHash)+2)
	b = append(b, Algorithm+"\n"...)
	b = append(b, sdkDate...)
	b = append(b, '\n')
	return append(b, canonicalHash...)
}

// signature MACs sts with secret. crypto/hmac keeps its own copy of the
// padded key, which we cannot zero; secret is left as it was.
func signature(secret, sts []byte) [sha256.Size]byte {
	var sig [sha256.Size]byte
	h := hmac.New(sha256.New, secret)
	h.Write(sts)
	h.Sum(sig[:0])
	return sig
}

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
