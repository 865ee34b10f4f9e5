package sigv4

import (
	"fmt"
	"strings"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
	v4 "github.com/attestkms/attestkms/internal/sigv4"
)

// maxAuthorization bounds the Authorization header. The KMS client's is
// about 250 bytes; 64 signed headers of 40 characters stay under 3 KiB.
const maxAuthorization = 4096

// Authorization is a parsed SigV4 Authorization header value. It is syntax
// only: nothing in it has been verified, and its access key id and scope are
// the sender's claims until Verify says otherwise. It is the signer's type
// (internal/sigv4), whose String writes the header as the SDK does.
type Authorization = v4.Authorization

// ParseAuthorization parses an Authorization header value of the form
//
//	AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kms/aws4_request, SignedHeaders=a;b, Signature=<64 hex>
//
// Parts are separated by commas with optional spaces; each of the three must
// appear exactly once, non-empty, in any order, and nothing else may. The
// signature is exactly 64 lower-case hex digits. Every error wraps
// ErrMalformed; the returned value is nil whenever the error is not.
func ParseAuthorization(h string) (*Authorization, error) {
	parts, err := hmacauth.ParseAuthorization(h, v4.Algorithm, maxAuthorization, [3]string{"Credential", "SignedHeaders", "Signature"})
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
	if err := v4.CheckScope(a.AccessKeyID, a.Date, a.Region, a.Service); err != nil {
		return nil, err
	}
	if scope[4] != v4.Terminator {
		return nil, fmt.Errorf("%w: credential scope does not end in %s", ErrMalformed, v4.Terminator)
	}
	if a.SignedHeaders, err = hmacauth.ParseSignedHeaders(signedHeaders, v4.MaxSignedHeaders, v4.MaxHeaderName); err != nil {
		return nil, malformed(err)
	}
	if a.Signature, err = hmacauth.ParseSignature(sig); err != nil {
		return nil, malformed(err)
	}
	return a, nil
}

// malformed wraps a hmacauth error in ErrMalformed.
func malformed(err error) error { return fmt.Errorf("%w: %w", ErrMalformed, err) }
