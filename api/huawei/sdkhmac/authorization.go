package sdkhmac

import (
	"encoding/hex"
	"fmt"
	"strings"
)

const (
	// Algorithm is the only signing algorithm accepted.
	Algorithm = "SDK-HMAC-SHA256"
	// HeaderDate is the header that carries the signing time, DateFormat.
	HeaderDate = "X-Sdk-Date"
	// DateFormat is X-Sdk-Date's layout (the SDK's BasicDateFormat).
	DateFormat = "20060102T150405Z"

	headerContentSHA256 = "X-Sdk-Content-Sha256"

	// maxAuthorization bounds the Authorization header. The KMS client's is
	// about 150 bytes; 64 signed headers of 40 characters stay under 3 KiB.
	maxAuthorization = 4096
	// maxSignedHeaders bounds the signed header list. The KMS client signs 3.
	maxSignedHeaders = 64
	// maxHeaderName bounds one signed header's name; real ones are under 40.
	maxHeaderName = 128
	// maxAccessKeyID bounds an access key id: Huawei's and ours have 20
	// characters.
	maxAccessKeyID = 128
	// maxMethod bounds the method; the longest standard one has 7 bytes.
	maxMethod = 32
	// maxHost bounds the host: a DNS name has at most 253 bytes; the rest
	// is room for a port or an IPv6 literal with a zone.
	maxHost = 300
)

// Authorization is a parsed SDK-HMAC-SHA256 Authorization header value. It
// is syntax only: nothing in it has been verified, and its access key id is
// the sender's claim until Verify says otherwise.
type Authorization struct {
	AccessKeyID string
	// SignedHeaders are lower-case, sorted and unique.
	SignedHeaders []string
	// Signature is the claimed signature, 32 bytes.
	Signature []byte
}

// ParseAuthorization parses an Authorization header value of the form
//
//	SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=<64 hex>
//
// Parts are separated by commas with optional spaces; each of the three must
// appear exactly once, non-empty, in any order, and nothing else may. The
// signature is exactly 64 lower-case hex digits (the SDK's hex encoding).
// Every error wraps ErrMalformed; the returned value is nil whenever the
// error is not.
func ParseAuthorization(h string) (*Authorization, error) {
	if len(h) > maxAuthorization {
		return nil, fmt.Errorf("%w: authorization header longer than %d bytes", ErrMalformed, maxAuthorization)
	}
	if h == "" {
		return nil, fmt.Errorf("%w: empty authorization header", ErrMalformed)
	}
	alg, rest, ok := strings.Cut(h, " ")
	if !ok || alg != Algorithm {
		return nil, fmt.Errorf("%w: algorithm is not %s", ErrMalformed, Algorithm)
	}
	var access, signedHeaders, sig string
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.Trim(part, " ")
		k, val, _ := strings.Cut(part, "=")
		if val == "" {
			return nil, fmt.Errorf("%w: empty or incomplete authorization part", ErrMalformed)
		}
		var dst *string
		switch k {
		case "Access":
			dst = &access
		case "SignedHeaders":
			dst = &signedHeaders
		case "Signature":
			dst = &sig
		default:
			return nil, fmt.Errorf("%w: unknown authorization part", ErrMalformed)
		}
		if *dst != "" {
			return nil, fmt.Errorf("%w: duplicate %s", ErrMalformed, k)
		}
		*dst = val
	}
	switch "" {
	case access:
		return nil, fmt.Errorf("%w: no Access", ErrMalformed)
	case signedHeaders:
		return nil, fmt.Errorf("%w: no SignedHeaders", ErrMalformed)
	case sig:
		return nil, fmt.Errorf("%w: no Signature", ErrMalformed)
	}
	if !isToken(access, maxAccessKeyID, isAccessKeyByte) {
		return nil, fmt.Errorf("%w: access key id must be 1-%d characters of A-Z a-z 0-9 _ -", ErrMalformed, maxAccessKeyID)
	}
	names, err := parseSignedHeaders(signedHeaders)
	if err != nil {
		return nil, err
	}
	if !isLowerHex(sig, 64) {
		return nil, fmt.Errorf("%w: signature is not 64 lower-case hex digits", ErrMalformed)
	}
	s, _ := hex.DecodeString(sig)
	return &Authorization{AccessKeyID: access, SignedHeaders: names, Signature: s}, nil
}

// String returns the header value, in the SDK's exact form.
func (a *Authorization) String() string {
	return Algorithm + " Access=" + a.AccessKeyID +
		", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") +
		", Signature=" + hex.EncodeToString(a.Signature)
}

// parseSignedHeaders splits a;b;c, requiring what the SDK's list always is:
// lower-case header-name characters, strictly increasing (so sorted and
// unique), bounded, and x-sdk-date among them.
func parseSignedHeaders(s string) ([]string, error) {
	n := strings.Count(s, ";") + 1
	if n > maxSignedHeaders {
		return nil, fmt.Errorf("%w: more than %d signed headers", ErrMalformed, maxSignedHeaders)
	}
	names := make([]string, 0, n)
	date := false
	for name := range strings.SplitSeq(s, ";") {
		if !isToken(name, maxHeaderName, isHeaderNameByte) {
			return nil, fmt.Errorf("%w: signed header names must be 1-%d lower-case header characters", ErrMalformed, maxHeaderName)
		}
		if len(names) > 0 && name <= names[len(names)-1] {
			return nil, fmt.Errorf("%w: signed headers are not sorted and unique", ErrMalformed)
		}
		if name == "authorization" {
			return nil, fmt.Errorf("%w: authorization cannot be signed", ErrMalformed)
		}
		date = date || name == "x-sdk-date"
		names = append(names, name)
	}
	if !date {
		return nil, fmt.Errorf("%w: x-sdk-date is not signed", ErrMalformed)
	}
	return names, nil
}

// isToken reports whether s is 1 to max bytes, each passing ok.
func isToken(s string, max int, ok func(byte) bool) bool {
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

func isLowerHex(s string, n int) bool {
	return len(s) == n && isToken(s, n, func(c byte) bool { return isDigit(c) || 'a' <= c && c <= 'f' })
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

func isAccessKeyByte(c byte) bool {
	return isDigit(c) || isLower(c) || isUpper(c) || c == '_' || c == '-'
}

// isHeaderNameByte is RFC 9110's tchar without upper-case letters.
func isHeaderNameByte(c byte) bool {
	return isDigit(c) || isLower(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isMethodByte is RFC 9110's tchar: a method is a token.
func isMethodByte(c byte) bool { return isHeaderNameByte(c) || isUpper(c) }
