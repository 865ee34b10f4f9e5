package tc3

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/attestkms/attestkms/internal/hmacsha256"
	"github.com/attestkms/attestkms/internal/httpsig"
)

// canonicalRequestHash is hex(SHA-256(CanonicalRequest)) of a POST to "/"
// with no query: the method, the URI, an empty query line, one
// "name:value\n" per signed header, a blank line, the signed header list and
// the body's hex SHA-256, payloadHash.
func canonicalRequestHash(names, values []string, payloadHash []byte) []byte {
	return httpsig.HexSHA256(func(w io.Writer) {
		httpsig.WriteCanonicalRequest(w, http.MethodPost, "/", "", names, func(dst []byte, i int) []byte {
			dst = append(dst, names[i]...)
			dst = append(dst, ':')
			dst = append(dst, values[i]...)
			return append(dst, '\n')
		}, payloadHash)
	})
}

// stringToSign is the algorithm, the timestamp as sent, the credential scope
// and the canonical request's hash, one per line.
func stringToSign(timestamp, scope string, crHash []byte) []byte {
	return httpsig.StringToSign(algorithm, timestamp, scope, crHash)
}

// signature derives the signing key from the secret and signs sts:
// HMAC(HMAC(HMAC(HMAC("TC3"+secret, date), service), "tc3_request"), sts).
func signature(secret []byte, date, service string, sts []byte) [32]byte {
	kSigning := signingKey(secret, date, service)
	sig := hmacSHA256(kSigning[:], sts)
	clear(kSigning[:])
	return sig
}

// signingKey is the key of secret for a credential scope, the same for
// every request in it: HMAC(HMAC(HMAC("TC3"+secret, date), service),
// "tc3_request"). It zeroes the intermediate keys.
func signingKey(secret []byte, date, service string) [32]byte {
	k := make([]byte, 0, 3+len(secret))
	k = append(k, "TC3"...)
	k = append(k, secret...)
	kDate := hmacSHA256(k, []byte(date))
	clear(k)
	kService := hmacSHA256(kDate[:], []byte(service))
	clear(kDate[:])
	kSigning := hmacSHA256(kService[:], []byte(terminator))
	clear(kService[:])
	return kSigning
}

func hmacSHA256(key, data []byte) [32]byte { return hmacsha256.Sum(key, data) }

// requestTimestamp returns the one X-TC-Timestamp header, which must be a
// canonical decimal number of seconds (as the SDK prints it: no sign, no
// leading zero), and the instant it names.
func requestTimestamp(h http.Header) (string, time.Time, error) {
	vs := h.Values("X-TC-Timestamp")
	if len(vs) != 1 {
		return "", time.Time{}, fmt.Errorf("%w: want one x-tc-timestamp header, have %d", httpsig.ErrMalformed, len(vs))
	}
	s := vs[0]
	if !httpsig.IsToken(s, maxTimestamp, httpsig.IsDigit) || len(s) > 1 && s[0] == '0' {
		return "", time.Time{}, fmt.Errorf("%w: x-tc-timestamp is not a decimal number of seconds", httpsig.ErrMalformed)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("%w: x-tc-timestamp is not a decimal number of seconds", httpsig.ErrMalformed)
	}
	return s, time.Unix(n, 0).UTC(), nil
}

// signedValues returns the canonical value of each signed header: host is
// the request's host, every other one must be on the request exactly once.
// Values are trimmed and lower-cased, Tencent's documented rule; they must be
// printable ASCII (a control character could pass for the canonical form's
// line end, and lower-casing beyond ASCII is ambiguous).
func signedValues(r *http.Request, names []string) ([]string, error) {
	values := make([]string, len(names))
	for i, n := range names {
		var v string
		if n == "host" {
			if len(r.Header.Values("Host")) > 0 {
				return nil, fmt.Errorf("%w: a host header beside the request's host", httpsig.ErrMalformed)
			}
			v = r.Host
			if v == "" {
				v = r.URL.Host
			}
			// What net/http sends and its server accepts as a Host: a
			// value outside it would be signed but not sent as signed.
			if !httpsig.IsToken(v, maxHeaderValue, httpsig.IsHostByte) {
				return nil, fmt.Errorf("%w: the request's host is empty or not a valid host", httpsig.ErrMalformed)
			}
		} else {
			vs := r.Header.Values(n)
			if len(vs) != 1 {
				return nil, fmt.Errorf("%w: signed header %s must appear once, appears %d times", httpsig.ErrMalformed, n, len(vs))
			}
			v = vs[0]
		}
		cv, err := canonicalValue(n, v)
		if err != nil {
			return nil, err
		}
		values[i] = cv
	}
	return values, nil
}

func canonicalValue(name, v string) (string, error) {
	v = strings.Trim(v, " \t")
	if v == "" || len(v) > maxHeaderValue {
		return "", fmt.Errorf("%w: signed header %s is empty or longer than %d bytes", httpsig.ErrMalformed, name, maxHeaderValue)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f {
			return "", fmt.Errorf("%w: signed header %s holds a byte that is not printable ascii", httpsig.ErrMalformed, name)
		}
	}
	return httpsig.ASCIILower(v), nil
}
