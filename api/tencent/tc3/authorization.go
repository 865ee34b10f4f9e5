package tc3

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

const (
	algorithm  = "TC3-HMAC-SHA256"
	terminator = "tc3_request"
	dateFormat = "2006-01-02"

	// maxAuthorization bounds the Authorization header. The SDK's is about
	// 200 bytes; 16 signed headers of 64 characters stay under 1.5 KiB.
	maxAuthorization = 2048
	// maxSignedHeaders bounds the signed header list. The SDK signs 2,
	// Tencent's documented example 3.
	maxSignedHeaders = 16
	// maxHeaderName bounds one signed header's name; real ones are under 20.
	maxHeaderName = 64
	// maxSecretID bounds a SecretId; Tencent's have 36 characters, ours 20.
	maxSecretID = 128
	// maxService bounds a service name (kms, cvm, …).
	maxService = 64
	// maxTimestamp bounds X-TC-Timestamp's digits: Unix seconds have 10
	// until the year 2286.
	maxTimestamp = 12
	// maxHeaderValue bounds a signed header's value: a DNS name has at most
	// 253 bytes; the rest is room for a port or a media type's parameters.
	maxHeaderValue = 512
)

// requiredHeaders are the headers every TC3 signature must cover: Tencent's
// rule ("至少包含 host 和 content-type 两个头部") and what the SDK signs.
var requiredHeaders = []string{"content-type", "host"}

// Authorization is a parsed TC3 Authorization header value. It is syntax
// only: nothing in it has been verified, and its SecretId and scope are the
// sender's claims until Verify says otherwise.
type Authorization struct {
	SecretID string
	Date     string // the credential scope's date, yyyy-mm-dd
	Service  string
	// SignedHeaders are lower case, sorted and unique, and include
	// content-type and host.
	SignedHeaders []string
	// Signature is the claimed signature, 32 bytes.
	Signature []byte
}

// ParseAuthorization parses an Authorization header value of the form
//
//	TC3-HMAC-SHA256 Credential=AKID/2019-01-18/kms/tc3_request, SignedHeaders=content-type;host, Signature=<64 hex>
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
	if len(scope) != 4 {
		return nil, fmt.Errorf("%w: credential is not secretid/date/service/tc3_request", ErrMalformed)
	}
	a.SecretID, a.Date, a.Service = scope[0], scope[1], scope[2]
	if err := checkScope(a.SecretID, a.Date, a.Service); err != nil {
		return nil, err
	}
	if scope[3] != terminator {
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

// String returns the header value, in the SDK's exact form.
func (a *Authorization) String() string {
	return algorithm + " Credential=" + a.SecretID + "/" + a.scope() +
		", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") +
		", Signature=" + hex.EncodeToString(a.Signature)
}

// scope is the credential scope: date/service/tc3_request.
func (a *Authorization) scope() string {
	return a.Date + "/" + a.Service + "/" + terminator
}

// checkScope checks the SecretId and scope charsets and bounds, for
// ParseAuthorization and for Sign's arguments alike.
func checkScope(secretID, date, service string) error {
	switch {
	case !isToken(secretID, maxSecretID, isSecretIDByte):
		return fmt.Errorf("%w: secret id must be 1-%d characters of A-Z a-z 0-9 _ -", ErrMalformed, maxSecretID)
	case !isScopeDate(date):
		return fmt.Errorf("%w: credential scope date is not a yyyy-mm-dd date", ErrMalformed)
	case !isToken(service, maxService, isServiceByte):
		return fmt.Errorf("%w: service must be 1-%d characters of a-z 0-9 -", ErrMalformed, maxService)
	}
	return nil
}

// parseSignedHeaders splits a;b;c, requiring what Tencent's canonical form
// guarantees: lower-case header-name characters, in ASCII order, unique,
// bounded, and content-type and host among them.
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
	for _, req := range requiredHeaders {
		if !contains(names, req) {
			return nil, fmt.Errorf("%w: signed headers must include %s", ErrMalformed, req)
		}
	}
	return names, nil
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

func isScopeDate(s string) bool {
	if len(s) != len(dateFormat) {
		return false
	}
	t, err := time.Parse(dateFormat, s)
	return err == nil && t.Format(dateFormat) == s
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

func isSecretIDByte(c byte) bool {
	return isDigit(c) || isLower(c) || 'A' <= c && c <= 'Z' || c == '_' || c == '-'
}

func isServiceByte(c byte) bool { return isDigit(c) || isLower(c) || c == '-' }

// isHeaderNameByte is RFC 9110's tchar without upper-case letters.
func isHeaderNameByte(c byte) bool {
	return isDigit(c) || isLower(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
