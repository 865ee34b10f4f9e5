package sigv4

import (
	"fmt"
	"strings"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/internal/httpsig"
	v4 "github.com/attestkms/attestkms/internal/sigv4"
)

// authorization is SigV4's Authorization header. The KMS client's is about
// 250 bytes; 64 signed headers of 40 characters stay under 3 KiB.
var authorization = hmacauth.AuthorizationFormat{
	Algorithm:        v4.Algorithm,
	Credential:       "Credential",
	MaxLength:        4096,
	MaxSignedHeaders: v4.MaxSignedHeaders,
	MaxHeaderName:    v4.MaxHeaderName,
}

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
// httpsig.ErrMalformed; the returned value is nil whenever the error is not.
func ParseAuthorization(h string) (*Authorization, error) {
	a := new(Authorization)
	var signed hmacauth.Signed
	if err := authorization.Parse(h, &signed, func(c string) error { return setCredential(a, c) }); err != nil {
		return nil, err
	}
	a.SignedHeaders, a.Signature = signed.SignedHeaders, signed.Signature
	return a, nil
}

// setCredential reads akid/date/region/service/aws4_request into a.
func setCredential(a *Authorization, credential string) error {
	// strings.Split's five parts, without its slice.
	if strings.Count(credential, "/") != 4 {
		return fmt.Errorf("%w: credential is not akid/date/region/service/aws4_request", httpsig.ErrMalformed)
	}
	var scope [5]string
	rest := credential
	for i := range 4 {
		scope[i], rest, _ = strings.Cut(rest, "/")
	}
	scope[4] = rest
	a.AccessKeyID, a.Date, a.Region, a.Service = scope[0], scope[1], scope[2], scope[3]
	if err := v4.CheckScope(a.AccessKeyID, a.Date, a.Region, a.Service); err != nil {
		return err
	}
	if scope[4] != v4.Terminator {
		return fmt.Errorf("%w: credential scope does not end in %s", httpsig.ErrMalformed, v4.Terminator)
	}
	return nil
}
