package tc3

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
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
	parts, err := hmacauth.ParseAuthorization(h, algorithm, maxAuthorization, [3]string{"Credential", "SignedHeaders", "Signature"})
	if err != nil {
		return nil, malformed(err)
	}
	credential, signedHeaders, sig := parts[0], parts[1], parts[2]

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
	if a.Signature, err = hmacauth.ParseSignature(sig); err != nil {
		return nil, malformed(err)
	}
	return a, nil
}

// malformed wraps a hmacauth error in ErrMalformed.
func malformed(err error) error { return fmt.Errorf("%w: %w", ErrMalformed, err) }

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
	case !hmacauth.IsToken(secretID, maxSecretID, isSecretIDByte):
		return fmt.Errorf("%w: secret id must be 1-%d characters of A-Z a-z 0-9 _ -", ErrMalformed, maxSecretID)
	case !isScopeDate(date):
		return fmt.Errorf("%w: credential scope date is not a yyyy-mm-dd date", ErrMalformed)
	case !hmacauth.IsToken(service, maxService, isServiceByte):
		return fmt.Errorf("%w: service must be 1-%d characters of a-z 0-9 -", ErrMalformed, maxService)
	}
	return nil
}

// parseSignedHeaders splits a;b;c, requiring what Tencent's canonical form
// guarantees: lower-case header-name characters, in ASCII order, unique,
// bounded, and content-type and host among them.
func parseSignedHeaders(s string) ([]string, error) {
	names, err := hmacauth.ParseSignedHeaders(s, maxSignedHeaders, maxHeaderName)
	if err != nil {
		return nil, malformed(err)
	}
	for _, req := range requiredHeaders {
		if !slices.Contains(names, req) {
			return nil, fmt.Errorf("%w: signed headers must include %s", ErrMalformed, req)
		}
	}
	return names, nil
}

func isScopeDate(s string) bool {
	if len(s) != len(dateFormat) {
		return false
	}
	t, err := time.Parse(dateFormat, s)
	return err == nil && t.Format(dateFormat) == s
}

func isSecretIDByte(c byte) bool {
	return hmacauth.IsDigit(c) || hmacauth.IsLower(c) || 'A' <= c && c <= 'Z' || c == '_' || c == '-'
}

func isServiceByte(c byte) bool { return hmacauth.IsDigit(c) || hmacauth.IsLower(c) || c == '-' }
