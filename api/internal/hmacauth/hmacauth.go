// Package hmacauth holds what the three request-signature schemes served
// here (AWS SigV4 in api/aws/sigv4, Huawei SDK-HMAC-SHA256 in
// api/huawei/sdkhmac, Tencent TC3-HMAC-SHA256 in api/tencent/tc3) check
// alike: the syntax of their Authorization headers, the signed header list,
// the charsets of header names, methods and hosts, the gathering of signed
// header values, and the constant-time comparison that makes an unknown
// access key indistinguishable from a wrong signature.
//
// What each scheme signs stays in its own package, because there they
// genuinely differ: the canonical URI (SigV4 encodes the escaped path again,
// SDK-HMAC escapes each decoded segment and appends "/", TC3 signs "/"), the
// canonical query (SigV4 refuses repeated names, SDK-HMAC sorts their
// values), header values (SigV4 folds spaces and joins repeats with commas,
// SDK-HMAC trims one value, TC3 trims and lower-cases), the string to sign
// and the key derivation.
//
// Threat model: every input here is the attacker's. Errors are bare
// descriptions without the kind; each scheme wraps them in its own
// ErrMalformed. No message holds a secret or an expected signature.
package hmacauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// MaxMethod bounds the method; the longest standard one has 7 bytes.
	MaxMethod = 32
	// MaxHost bounds the host: a DNS name has at most 253 bytes; the rest
	// is room for a port or an IPv6 literal with a zone.
	MaxHost = 300
	// BasicDateFormat is X-Amz-Date's and X-Sdk-Date's layout.
	BasicDateFormat = "20060102T150405Z"
)

// ParseAuthorization splits an Authorization header value of the form
//
//	<algorithm> <names[0]>=v0, <names[1]>=v1, <names[2]>=v2
//
// into its three values, in the order of names. Parts are separated by
// commas with optional spaces; each of the three must appear exactly once,
// non-empty, in any order, and nothing else may. The header is refused,
// before it is read, if it is longer than maxLen bytes.
func ParseAuthorization(h, algorithm string, maxLen int, names [3]string) ([3]string, error) {
	var vals [3]string
	if len(h) > maxLen {
		return vals, fmt.Errorf("authorization header longer than %d bytes", maxLen)
	}
	if h == "" {
		return vals, errors.New("empty authorization header")
	}
	alg, rest, ok := strings.Cut(h, " ")
	if !ok || alg != algorithm {
		return vals, fmt.Errorf("algorithm is not %s", algorithm)
	}
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.Trim(part, " ")
		k, val, _ := strings.Cut(part, "=")
		if val == "" {
			return vals, errors.New("empty or incomplete authorization part")
		}
		i := slices.Index(names[:], k)
		if i < 0 {
			return vals, errors.New("unknown authorization part")
		}
		if vals[i] != "" {
			return vals, fmt.Errorf("duplicate %s", k)
		}
		vals[i] = val
	}
	for i, v := range vals {
		if v == "" {
			return vals, fmt.Errorf("no %s", names[i])
		}
	}
	return vals, nil
}

// ParseSignedHeaders splits a;b;c, requiring what every scheme's canonical
// form guarantees: at most maxHeaders names, each 1 to maxName lower-case
// header-name characters, strictly increasing (so sorted and unique).
func ParseSignedHeaders(s string, maxHeaders, maxName int) ([]string, error) {
	n := strings.Count(s, ";") + 1
	if n > maxHeaders {
		return nil, fmt.Errorf("more than %d signed headers", maxHeaders)
	}
	names := make([]string, 0, n)
	for name := range strings.SplitSeq(s, ";") {
		if !IsToken(name, maxName, IsHeaderNameByte) {
			return nil, fmt.Errorf("signed header names must be 1-%d lower-case header characters", maxName)
		}
		if len(names) > 0 && name <= names[len(names)-1] {
			return nil, errors.New("signed headers are not sorted and unique")
		}
		names = append(names, name)
	}
	return names, nil
}

// ParseSignature decodes a claimed HMAC-SHA256 signature: exactly 64
// lower-case hex digits, as every scheme's SDK writes it.
func ParseSignature(s string) ([]byte, error) {
	if !IsLowerHex(s, 2*sha256.Size) {
		return nil, errors.New("signature is not 64 lower-case hex digits")
	}
	return hex.DecodeString(s)
}

// ParseBasicDate parses header's value s as 20060102T150405Z strictly:
// time.Parse alone accepts one-digit hours, so the value must also print
// back as itself (what is signed is the text, what is checked the instant).
func ParseBasicDate(header, s string) (time.Time, error) {
	t, err := time.Parse(BasicDateFormat, s)
	if err != nil || len(s) != len(BasicDateFormat) || t.Format(BasicDateFormat) != s {
		return time.Time{}, fmt.Errorf("%s is not yyyymmddThhmmssZ", header)
	}
	return t, nil
}

// dummySecret stands in for the secret of an unknown access key so that the
// refusal costs the same HMAC work as a wrong signature. It is as long as the
// secrets kms makes (base64 of 30 bytes), so even the HMAC key schedule is the
// same. Knowing it gains nothing: an unknown key is refused whatever the
// comparison says.
var dummySecret = make([]byte, 40)

// Match looks up id's secret, computes the signature with it (with a dummy
// secret when id is unknown, so that the answer and its timing do not say
// which ids exist), and compares it with claimed in constant time. It is
// true only when id is known and the signatures are equal. sign must not
// keep the secret; the signature it returns is zeroed here.
func Match(lookup func(id string) ([]byte, bool), id string, claimed []byte, sign func(secret []byte) [sha256.Size]byte) bool {
	secret, known := lookup(id)
	if !known {
		secret = dummySecret
	}
	want := sign(secret)
	match := hmac.Equal(want[:], claimed)
	clear(want[:])
	return known && match
}

// Skew is |now - at| <= maxSkew.
func Skew(now, at time.Time, maxSkew time.Duration) (time.Duration, bool) {
	d := now.Sub(at)
	return d, d <= maxSkew && d >= -maxSkew
}

// SignedValues gathers, for each signed header name (lower-case, sorted,
// unique; at most maxName bytes), its values on r, in request order. Every
// signed header must be present; one sent under two spellings is refused,
// and so is one with more than one value when oneValue is set; values with
// a control character are refused (HasControl). For every header present
// but not signed, unsigned is called with its lower-case name and may
// refuse it. Host comes from r.Host (a Host key in r.Header is ignored, as
// net/http does) and must be IsToken(MaxHost, IsHostByte); content-length
// from r.ContentLength when the header map lacks it (httptest and
// client-side requests).
func SignedValues(r *http.Request, names []string, maxName int, oneValue bool, unsigned func(name string) error) ([][]string, error) {
	values := make([][]string, len(names))
	for key, vs := range r.Header {
		if len(vs) == 0 || len(key) > maxName {
			continue // absent; or too long to be a signed name
		}
		lk := ASCIILower(key)
		if lk == "host" {
			continue
		}
		i, found := slices.BinarySearch(names, lk)
		if !found {
			if unsigned != nil {
				if err := unsigned(lk); err != nil {
					return nil, err
				}
			}
			continue
		}
		if values[i] != nil {
			return nil, fmt.Errorf("header %s appears under two spellings", lk)
		}
		if oneValue && len(vs) != 1 {
			return nil, fmt.Errorf("signed header %s appears more than once", lk)
		}
		for _, v := range vs {
			if HasControl(v) {
				return nil, fmt.Errorf("header %s has a control character", lk)
			}
		}
		values[i] = vs
	}
	for i, name := range names {
		switch {
		case values[i] != nil:
			continue
		case name == "host":
			if !IsToken(r.Host, MaxHost, IsHostByte) {
				return nil, errors.New("request host is empty or not a valid host")
			}
			values[i] = []string{r.Host}
		case name == "content-length" && r.ContentLength > 0:
			values[i] = []string{strconv.FormatInt(r.ContentLength, 10)}
		default:
			return nil, fmt.Errorf("signed header %s is not on the request", name)
		}
	}
	return values, nil
}

// HasControl reports whether v holds a control byte other than tab, which
// net/http's server refuses too: a line feed in a value could pass for the
// end of its line in a canonical request.
func HasControl(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

// IsToken reports whether s is 1 to max bytes, each passing ok.
func IsToken(s string, max int, ok func(byte) bool) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// IsLowerHex reports whether s is exactly n lower-case hex digits.
func IsLowerHex(s string, n int) bool {
	return len(s) == n && IsToken(s, n, func(c byte) bool { return IsDigit(c) || 'a' <= c && c <= 'f' })
}

func IsDigit(c byte) bool { return '0' <= c && c <= '9' }
func IsLower(c byte) bool { return 'a' <= c && c <= 'z' }
func IsUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

// IsHeaderNameByte is RFC 9110's tchar without upper-case letters.
func IsHeaderNameByte(c byte) bool {
	return IsDigit(c) || IsLower(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// IsMethodByte is RFC 9110's tchar: a method is a token.
func IsMethodByte(c byte) bool { return IsHeaderNameByte(c) || IsUpper(c) }

// IsHostByte is what net/http's server lets into a Host header (RFC 3986
// reg-name, IP literal and port characters). Verifiers check it again
// rather than trust the HTTP layer: a space would be trimmed by a canonical
// form, so "h " and "h" would be signed alike.
func IsHostByte(c byte) bool {
	return IsDigit(c) || IsLower(c) || IsUpper(c) || strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0
}

// ASCIILower lower-cases A-Z only: unlike strings.ToLower it maps no other
// byte (the Kelvin sign is not a k), so a non-ASCII name never matches a
// signed one.
func ASCIILower(s string) string {
	i := 0
	for i < len(s) && !IsUpper(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if IsUpper(b[i]) {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}
