package sigv4

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

const (
	algorithm     = "AWS4-HMAC-SHA256"
	terminator    = "aws4_request"
	amzDateFormat = "20060102T150405Z"
	scopeFormat   = "20060102"

	// maxAuthorization bounds the Authorization header. The KMS client's is
	// about 250 bytes; 64 signed headers of 40 characters stay under 3 KiB.
	maxAuthorization = 4096
	// maxSignedHeaders bounds the signed header list. The KMS client signs 8.
	maxSignedHeaders = 64
	// maxHeaderName bounds one signed header's name; real ones are under 40.
	maxHeaderName = 128
	// maxAccessKeyID is AWS's documented bound for an access key id; ours
	// are 20 characters.
	maxAccessKeyID = 128
	// maxRegion bounds a region; the longest AWS region today has 14
	// characters (ap-southeast-5).
	maxRegion = 32
	// maxService bounds a service name (kms, execute-api, …).
	maxService = 64
	// maxMethod bounds the method; the longest standard one has 7 bytes.
	maxMethod = 32
	// maxHost bounds the host: a DNS name has at most 253 bytes; the rest
	// is room for a port or an IPv6 literal with a zone.
	maxHost = 300
)

// Authorization is a parsed SigV4 Authorization header value. It is syntax
// only: nothing in it has been verified, and its access key id and scope are
// the sender's claims until Verify says otherwise.
type Authorization struct {
	AccessKeyID string
	Date        string // the credential scope's date, yyyymmdd
	Region      string
	Service     string
	// SignedHeaders are lower-case, sorted and unique.
	SignedHeaders []string
	// Signature is the claimed signature, 32 bytes.
	Signature []byte
}

// ParseAuthorization parses an Authorization header value of the form
//
//	AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kms/aws4_request, SignedHeaders=a;b, Signature=<64 hex>
//
// Parts are separated by commas with optional spaces; each of the three must
// appear exactly once, non-empty, in any order, and nothing else may. The
// signature is exactly 64 lower-case hex digits. Every error wraps
// ErrMalformed; the returned value is nil whenever the error is not.
func ParseAuthorization(h string) (*Authorization, error) {
	if len(h) > maxAuthorization {
		return nil, fmt.Errorf("%w: authorization header longer than %d bytes", ErrMalformed, maxAuthorization)
	}
	if h == "" {
		return nil, fmt.Errorf("%w: empty authorization header", ErrMalformed)
	}
	alg, rest, ok := strings.Cut(h, " ")
	if !ok || alg != algorithm {
		return nil, fmt.Errorf("%w: algorithm is not %s", ErrMalformed, algorithm)
	}
	var credential, signedHeaders, sig string
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.Trim(part, " ")
		k, val, _ := strings.Cut(part, "=")
		if val == "" {
			return nil, fmt.Errorf("%w: empty or incomplete authorization part", ErrMalformed)
		}
		var dst *string
		switch k {
		case "Credential":
			dst = &credential
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
	case credential:
		return nil, fmt.Errorf("%w: no Credential", ErrMalformed)
	case signedHeaders:
		return nil, fmt.Errorf("%w: no SignedHeaders", ErrMalformed)
	case sig:
		return nil, fmt.Errorf("%w: no Signature", ErrMalformed)
	}

	a := new(Authorization)
	scope := strings.Split(credential, "/")
	if len(scope) != 5 {
		return nil, fmt.Errorf("%w: credential is not akid/date/region/service/aws4_request", ErrMalformed)
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = scope[0], scope[1], scope[2], scope[3]
	if err := checkScope(a.AccessKeyID, a.Date, a.Region, a.Service); err != nil {
		return nil, err
	}
	if scope[4] != terminator {
		return nil, fmt.Errorf("%w: credential scope does not end in %s", ErrMalformed, terminator)
	}
	names, err := parseSignedHeaders(signedHeaders)
	if err != nil {
		return nil, err
	}
	a.SignedHeaders = names
	if !isLowerHex(sig, 64) {
		return nil, fmt.Errorf("%w: signature is not 64 lower-case hex digits", ErrMalformed)
	}
	a.Signature, _ = hex.DecodeString(sig)
	return a, nil
}

// String returns the header value, in the AWS SDK's exact form.
func (a *Authorization) String() string {
	return algorithm + " Credential=" + a.AccessKeyID + "/" + a.scope() +
		", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") +
		", Signature=" + hex.EncodeToString(a.Signature)
}

// scope is the credential scope: date/region/service/aws4_request.
func (a *Authorization) scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/" + terminator
}

// checkScope checks the access key id and scope charsets and bounds, for
// ParseAuthorization and for Sign's arguments alike.
func checkScope(accessKeyID, date, region, service string) error {
	switch {
	case !isToken(accessKeyID, maxAccessKeyID, isAccessKeyByte):
		return fmt.Errorf("%w: access key id must be 1-%d characters of A-Z a-z 0-9 _", ErrMalformed, maxAccessKeyID)
	case !isScopeDate(date):
		return fmt.Errorf("%w: credential scope date is not a yyyymmdd date", ErrMalformed)
	case !isToken(region, maxRegion, isScopeByte):
		return fmt.Errorf("%w: region must be 1-%d characters of a-z 0-9 -", ErrMalformed, maxRegion)
	case !isToken(service, maxService, isScopeByte):
		return fmt.Errorf("%w: service must be 1-%d characters of a-z 0-9 -", ErrMalformed, maxService)
	}
	return nil
}

// parseSignedHeaders splits a;b;c, requiring what canonical form guarantees:
// lower-case header-name characters, strictly increasing (so sorted and
// unique), bounded.
func parseSignedHeaders(s string) ([]string, error) {
	n := strings.Count(s, ";") + 1
	if n > maxSignedHeaders {
		return nil, fmt.Errorf("%w: more than %d signed headers", ErrMalformed, maxSignedHeaders)
	}
	names := make([]string, 0, n)
	for name := range strings.SplitSeq(s, ";") {
		if !isToken(name, maxHeaderName, isHeaderNameByte) {
			return nil, fmt.Errorf("%w: signed header names must be 1-%d lower-case header characters", ErrMalformed, maxHeaderName)
		}
		if len(names) > 0 && name <= names[len(names)-1] {
			return nil, fmt.Errorf("%w: signed headers are not sorted and unique", ErrMalformed)
		}
		names = append(names, name)
	}
	return names, nil
}

func isScopeDate(s string) bool {
	if len(s) != len(scopeFormat) || !isToken(s, len(scopeFormat), isDigit) {
		return false
	}
	t, err := time.Parse(scopeFormat, s)
	return err == nil && t.Format(scopeFormat) == s
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

func isAccessKeyByte(c byte) bool {
	return isDigit(c) || isLower(c) || 'A' <= c && c <= 'Z' || c == '_'
}

func isScopeByte(c byte) bool { return isDigit(c) || isLower(c) || c == '-' }

// isHeaderNameByte is RFC 9110's tchar without upper-case letters.
func isHeaderNameByte(c byte) bool {
	return isDigit(c) || isLower(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
