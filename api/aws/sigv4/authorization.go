package sigv4

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
)

const (
	algorithm     = "AWS4-HMAC-SHA256"
	terminator    = "aws4_request"
	amzDateFormat = hmacauth.BasicDateFormat
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
	parts, err := hmacauth.ParseAuthorization(h, algorithm, maxAuthorization, [3]string{"Credential", "SignedHeaders", "Signature"})
	if err != nil {
		return nil, malformed(err)
	}
	credential, signedHeaders, sig := parts[0], parts[1], parts[2]

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
	if a.SignedHeaders, err = hmacauth.ParseSignedHeaders(signedHeaders, maxSignedHeaders, maxHeaderName); err != nil {
		return nil, malformed(err)
	}
	if a.Signature, err = hmacauth.ParseSignature(sig); err != nil {
		return nil, malformed(err)
	}
	return a, nil
}

// malformed wraps a hmacauth error in ErrMalformed.
func malformed(err error) error { return fmt.Errorf("%w: %w", ErrMalformed, err) }

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
	case !hmacauth.IsToken(accessKeyID, maxAccessKeyID, isAccessKeyByte):
		return fmt.Errorf("%w: access key id must be 1-%d characters of A-Z a-z 0-9 _", ErrMalformed, maxAccessKeyID)
	case !isScopeDate(date):
		return fmt.Errorf("%w: credential scope date is not a yyyymmdd date", ErrMalformed)
	case !hmacauth.IsToken(region, maxRegion, isScopeByte):
		return fmt.Errorf("%w: region must be 1-%d characters of a-z 0-9 -", ErrMalformed, maxRegion)
	case !hmacauth.IsToken(service, maxService, isScopeByte):
		return fmt.Errorf("%w: service must be 1-%d characters of a-z 0-9 -", ErrMalformed, maxService)
	}
	return nil
}

func isScopeDate(s string) bool {
	if len(s) != len(scopeFormat) || !hmacauth.IsToken(s, len(scopeFormat), hmacauth.IsDigit) {
		return false
	}
	t, err := time.Parse(scopeFormat, s)
	return err == nil && t.Format(scopeFormat) == s
}

func isAccessKeyByte(c byte) bool {
	return hmacauth.IsDigit(c) || hmacauth.IsLower(c) || 'A' <= c && c <= 'Z' || c == '_'
}

func isScopeByte(c byte) bool { return hmacauth.IsDigit(c) || hmacauth.IsLower(c) || c == '-' }
