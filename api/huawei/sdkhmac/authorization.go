package sdkhmac

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
)

const (
	// Algorithm is the only signing algorithm accepted.
	Algorithm = "SDK-HMAC-SHA256"
	// HeaderDate is the header that carries the signing time, DateFormat.
	HeaderDate = "X-Sdk-Date"
	// DateFormat is X-Sdk-Date's layout (the SDK's BasicDateFormat).
	DateFormat = hmacauth.BasicDateFormat

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
	parts, err := hmacauth.ParseAuthorization(h, Algorithm, maxAuthorization, [3]string{"Access", "SignedHeaders", "Signature"})
	if err != nil {
		return nil, malformed(err)
	}
	access, signedHeaders, sig := parts[0], parts[1], parts[2]
	if !hmacauth.IsToken(access, maxAccessKeyID, isAccessKeyByte) {
		return nil, fmt.Errorf("%w: access key id must be 1-%d characters of A-Z a-z 0-9 _ -", ErrMalformed, maxAccessKeyID)
	}
	names, err := parseSignedHeaders(signedHeaders)
	if err != nil {
		return nil, err
	}
	s, err := hmacauth.ParseSignature(sig)
	if err != nil {
		return nil, malformed(err)
	}
	return &Authorization{AccessKeyID: access, SignedHeaders: names, Signature: s}, nil
}

// malformed wraps a hmacauth error in ErrMalformed.
func malformed(err error) error { return fmt.Errorf("%w: %w", ErrMalformed, err) }

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
	names, err := hmacauth.ParseSignedHeaders(s, maxSignedHeaders, maxHeaderName)
	if err != nil {
		return nil, malformed(err)
	}
	if slices.Contains(names, "authorization") {
		return nil, fmt.Errorf("%w: authorization cannot be signed", ErrMalformed)
	}
	if !slices.Contains(names, "x-sdk-date") {
		return nil, fmt.Errorf("%w: x-sdk-date is not signed", ErrMalformed)
	}
	return names, nil
}

func isAccessKeyByte(c byte) bool {
	return hmacauth.IsDigit(c) || hmacauth.IsLower(c) || hmacauth.IsUpper(c) || c == '_' || c == '-'
}
