// Package sigv4 makes AWS Signature Version 4 signatures carried in request
// headers (algorithm AWS4-HMAC-SHA256), the way the AWS SDKs send them, and
// holds the one canonicalisation that signing and verifying share: the
// canonical request, the string to sign, the signing key and the signature
// (canonical.go). Both sides import it: the enclave's client (package
// enclave) signs with Sign, and the server's verifier (api/aws/sigv4)
// recomputes a signature with CanonicalRequest, StringToSign and Signature.
// Nothing here verifies a request; nothing here imports an api/ package.
//
// Threat model. Sign's inputs are its caller's, not an attacker's: the
// request it is given and the secret. It still refuses (with ErrMalformed)
// what the verifier would refuse, so that a request it signs is one the
// server can take: a bad access key id, scope, host or method, an empty
// secret, a query with repeated or presigning parameters, control
// characters in a header, a header spelled two ways or a meaningful one
// given twice, more than 64 headers to sign. It checks them with
// internal/httpsig's character classes, the ones the verifier applies, and
// its refusals are httpsig's ErrMalformed, the verifier's kind
// (FuzzSignVerify in api/aws/sigv4 holds the two to each other). The
// signing key is derived and zeroed per call; the secret is never kept or
// modified.
package sigv4

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/attestkms/attestkms/internal/httpsig"
)

// ErrMalformed: what Sign was given cannot be signed as the verifier would
// accept it, or (for the verifier) a request's signature cannot be parsed or
// does not cover what it must. It is httpsig's, every verifier's kind.
var ErrMalformed = httpsig.ErrMalformed

const (
	// Algorithm is the only algorithm SigV4 header signatures name here.
	Algorithm = "AWS4-HMAC-SHA256"
	// Terminator ends every credential scope.
	Terminator = "aws4_request"
	// DateFormat is X-Amz-Date's layout.
	DateFormat = "20060102T150405Z"
	// ScopeDateFormat is the credential scope's date.
	ScopeDateFormat = "20060102"

	// MaxSignedHeaders bounds the signed header list. The KMS client signs 8.
	MaxSignedHeaders = 64
	// MaxHeaderName bounds one signed header's name; real ones are under 40.
	MaxHeaderName = 128
	// maxAccessKeyID is AWS's documented bound for an access key id; ours
	// are 20 characters.
	maxAccessKeyID = 128
	// maxRegion bounds a region; the longest AWS region today has 14
	// characters (ap-southeast-5).
	maxRegion = 32
	// maxService bounds a service name (kms, execute-api, …).
	maxService = 64
)

// Authorization is a SigV4 Authorization header value. Parsed from a request
// (api/aws/sigv4.ParseAuthorization) it is syntax only: nothing in it has
// been verified, and its access key id and scope are the sender's claims.
type Authorization struct {
	AccessKeyID string
	Date        string // the credential scope's date, yyyymmdd
	Region      string
	Service     string
	// SignedHeaders are lower-case, sorted and unique.
	SignedHeaders []string
	// Signature is the signature, 32 bytes.
	Signature []byte
}

// String returns the header value, in the AWS SDK's exact form:
//
//	AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kms/aws4_request, SignedHeaders=a;b, Signature=<64 hex>
func (a *Authorization) String() string {
	return Algorithm + " Credential=" + a.AccessKeyID + "/" + a.Scope() +
		", SignedHeaders=" + strings.Join(a.SignedHeaders, ";") +
		", Signature=" + hex.EncodeToString(a.Signature)
}

// Scope is the credential scope: date/region/service/aws4_request.
func (a *Authorization) Scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/" + Terminator
}

// CheckScope checks the access key id and scope charsets and bounds, for
// the verifier's parse of an Authorization header and for Sign's arguments
// alike. Its errors wrap ErrMalformed.
func CheckScope(accessKeyID, date, region, service string) error {
	switch {
	case !httpsig.IsToken(accessKeyID, maxAccessKeyID, isAccessKeyByte):
		return fmt.Errorf("%w: access key id must be 1-%d characters of A-Z a-z 0-9 _", ErrMalformed, maxAccessKeyID)
	case !isScopeDate(date):
		return fmt.Errorf("%w: credential scope date is not a yyyymmdd date", ErrMalformed)
	case !httpsig.IsToken(region, maxRegion, isScopeByte):
		return fmt.Errorf("%w: region must be 1-%d characters of a-z 0-9 -", ErrMalformed, maxRegion)
	case !httpsig.IsToken(service, maxService, isScopeByte):
		return fmt.Errorf("%w: service must be 1-%d characters of a-z 0-9 -", ErrMalformed, maxService)
	}
	return nil
}

func isScopeDate(s string) bool {
	_, ok := httpsig.ParseTime(ScopeDateFormat, s)
	return ok
}

func isAccessKeyByte(c byte) bool {
	return httpsig.IsDigit(c) || httpsig.IsLower(c) || httpsig.IsUpper(c) || c == '_'
}

func isScopeByte(c byte) bool { return httpsig.IsDigit(c) || httpsig.IsLower(c) || c == '-' }
