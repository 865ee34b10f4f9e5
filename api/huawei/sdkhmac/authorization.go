package sdkhmac

import (
	"fmt"
	"slices"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/internal/httpsig"
)

const (
	// Algorithm is the only signing algorithm accepted.
	Algorithm = "SDK-HMAC-SHA256"
	// HeaderDate is the header that carries the signing time, DateFormat.
	HeaderDate = "X-Sdk-Date"
	// DateFormat is X-Sdk-Date's layout (the SDK's BasicDateFormat).
	DateFormat = hmacauth.BasicDateFormat

	headerContentSHA256 = "X-Sdk-Content-Sha256"

	// maxAccessKeyID bounds an access key id: Huawei's and ours have 20
	// characters.
	maxAccessKeyID = 128
)

// authorization is SDK-HMAC-SHA256's Authorization header: at most 4 KiB
// (the KMS client's is about 150 bytes; 64 signed headers of 40 characters
// stay under 3 KiB), 64 signed headers (the KMS client signs 3) of at most
// 128 bytes (real ones are under 40), x-sdk-date among them.
var authorization = hmacauth.AuthorizationFormat{Algorithm: Algorithm, Credential: "Access",
	MaxLength: 4096, MaxSignedHeaders: 64, MaxHeaderName: 128, Check: checkSignedHeaders}

// Authorization is a parsed SDK-HMAC-SHA256 Authorization header value. It
// is syntax only: nothing in it has been verified, and its access key id is
// the sender's claim until Verify says otherwise.
type Authorization struct {
	AccessKeyID string
	// Signed holds the signed headers (lower case, sorted and unique,
	// including x-sdk-date) and the claimed signature.
	hmacauth.Signed
}

// ParseAuthorization parses an Authorization header value of the form
//
//	SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=<64 hex>
//
// Parts are separated by commas with optional spaces; each of the three must
// appear exactly once, non-empty, in any order, and nothing else may. The
// signature is exactly 64 lower-case hex digits (the SDK's hex encoding).
// Every error wraps httpsig.ErrMalformed; the returned value is nil whenever the
// error is not.
func ParseAuthorization(h string) (*Authorization, error) {
	return hmacauth.Parse(&authorization, h, (*Authorization).setAccessKeyID)
}

func (a *Authorization) setAccessKeyID(access string) error {
	if !httpsig.IsToken(access, maxAccessKeyID, isAccessKeyByte) {
		return fmt.Errorf("%w: access key id must be 1-%d characters of A-Z a-z 0-9 _ -", httpsig.ErrMalformed, maxAccessKeyID)
	}
	a.AccessKeyID = access
	return nil
}

// String returns the header value, in the SDK's exact form.
func (a *Authorization) String() string {
	return authorization.String(a.AccessKeyID, &a.Signed)
}

// checkSignedHeaders requires what the SDK's list always is: x-sdk-date
// signed, and authorization not.
func checkSignedHeaders(names []string) error {
	if slices.Contains(names, "authorization") {
		return fmt.Errorf("%w: authorization cannot be signed", httpsig.ErrMalformed)
	}
	if !slices.Contains(names, "x-sdk-date") {
		return fmt.Errorf("%w: x-sdk-date is not signed", httpsig.ErrMalformed)
	}
	return nil
}

func isAccessKeyByte(c byte) bool {
	return httpsig.IsDigit(c) || httpsig.IsLower(c) || httpsig.IsUpper(c) || c == '_' || c == '-'
}
