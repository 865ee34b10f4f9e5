package tc3

import (
	"fmt"
	"slices"
	"strings"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/internal/httpsig"
)

const (
	algorithm  = "TC3-HMAC-SHA256"
	terminator = "tc3_request"
	dateFormat = "2006-01-02"

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

// authorization is TC3's Authorization header. The SDK's is about 200
// bytes; 16 signed headers of 64 characters stay under 1.5 KiB.
var authorization = hmacauth.AuthorizationFormat{
	Algorithm:        algorithm,
	Credential:       "Credential",
	MaxLength:        2048,
	MaxSignedHeaders: maxSignedHeaders,
	MaxHeaderName:    maxHeaderName,
	Check:            checkSignedHeaders,
}

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
	// Signed holds the signed headers (lower case, sorted and unique,
	// including content-type and host) and the claimed signature.
	hmacauth.Signed
}

// ParseAuthorization parses an Authorization header value of the form
//
//	TC3-HMAC-SHA256 Credential=AKID/2019-01-18/kms/tc3_request, SignedHeaders=content-type;host, Signature=<64 hex>
//
// Parts are separated by commas with optional spaces; each of the three must
// appear exactly once, non-empty, in any order, and nothing else may. The
// signature is exactly 64 lower-case hex digits. Every error wraps
// httpsig.ErrMalformed; the returned value is nil whenever the error is not.
func ParseAuthorization(h string) (*Authorization, error) {
	return hmacauth.Parse(&authorization, h, (*Authorization).setCredential)
}

// setCredential reads secretid/date/service/tc3_request into a.
func (a *Authorization) setCredential(credential string) error {
	scope := strings.Split(credential, "/")
	if len(scope) != 4 {
		return fmt.Errorf("%w: credential is not secretid/date/service/tc3_request", httpsig.ErrMalformed)
	}
	a.SecretID, a.Date, a.Service = scope[0], scope[1], scope[2]
	if err := checkScope(a.SecretID, a.Date, a.Service); err != nil {
		return err
	}
	if scope[3] != terminator {
		return fmt.Errorf("%w: credential scope does not end in %s", httpsig.ErrMalformed, terminator)
	}
	return nil
}

// String returns the header value, in the SDK's exact form.
func (a *Authorization) String() string {
	return authorization.String(a.SecretID+"/"+a.scope(), &a.Signed)
}

// scope is the credential scope: date/service/tc3_request.
func (a *Authorization) scope() string {
	return a.Date + "/" + a.Service + "/" + terminator
}

// checkScope checks the SecretId and scope charsets and bounds, for
// ParseAuthorization and for Sign's arguments alike.
func checkScope(secretID, date, service string) error {
	switch {
	case !httpsig.IsToken(secretID, maxSecretID, isSecretIDByte):
		return fmt.Errorf("%w: secret id must be 1-%d characters of A-Z a-z 0-9 _ -", httpsig.ErrMalformed, maxSecretID)
	case !isScopeDate(date):
		return fmt.Errorf("%w: credential scope date is not a yyyy-mm-dd date", httpsig.ErrMalformed)
	case !httpsig.IsToken(service, maxService, isServiceByte):
		return fmt.Errorf("%w: service must be 1-%d characters of a-z 0-9 -", httpsig.ErrMalformed, maxService)
	}
	return nil
}

// checkSignedHeaders requires content-type and host among the signed
// headers, Tencent's rule.
func checkSignedHeaders(names []string) error {
	for _, req := range requiredHeaders {
		if !slices.Contains(names, req) {
			return fmt.Errorf("%w: signed headers must include %s", httpsig.ErrMalformed, req)
		}
	}
	return nil
}

func isScopeDate(s string) bool {
	_, ok := httpsig.ParseTime(dateFormat, s)
	return ok
}

func isSecretIDByte(c byte) bool {
	return httpsig.IsDigit(c) || httpsig.IsLower(c) || 'A' <= c && c <= 'Z' || c == '_' || c == '-'
}

func isServiceByte(c byte) bool { return httpsig.IsDigit(c) || httpsig.IsLower(c) || c == '-' }
