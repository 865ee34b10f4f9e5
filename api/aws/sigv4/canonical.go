package sigv4

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/internal/httpsig"
	v4 "github.com/attestkms/attestkms/internal/sigv4"
)

// The canonicalisation itself (canonical request, string to sign, signing
// key, signature) is internal/sigv4's, the one the enclave's signer uses
// too. What is here is only what a verifier adds: reading the canonical
// URI and the signed header values off a request it received, and refusing
// the ones that could change a signed request's meaning.

// verifyURI is the canonical URI of a request a server received. An opaque
// URL is no path we could route.
func verifyURI(u *url.URL) (string, error) {
	if u.Opaque != "" {
		return "", fmt.Errorf("%w: opaque request uri", httpsig.ErrMalformed)
	}
	return v4.CanonicalURI(u.EscapedPath()), nil
}

// signedValues gathers, for each signed header name, its values on r
// (hmacauth.SignedValues), and requires what SigV4 must cover here: host
// and x-amz-date signed, authorization not, and every header that must be
// signed (v4.MustSign) that is present signed and sent once.
func signedValues(r *http.Request, names []string) ([][]string, error) {
	for _, req := range []string{"host", "x-amz-date"} {
		if _, ok := slices.BinarySearch(names, req); !ok {
			return nil, fmt.Errorf("%w: %s is not signed", httpsig.ErrMalformed, req)
		}
	}
	if _, ok := slices.BinarySearch(names, "authorization"); ok {
		return nil, fmt.Errorf("%w: authorization cannot be signed", httpsig.ErrMalformed)
	}
	values, err := hmacauth.SignedValues(r, names, v4.MaxHeaderName, false, func(name string) error {
		if v4.MustSign(name) {
			return fmt.Errorf("%s is present but not signed", name)
		}
		return nil
	})
	if err != nil {
		return nil, hmacauth.Malformed(err)
	}
	// Headers whose meaning is one value: a second one would be read by
	// nobody here but signed alike, joined by a comma.
	for i, name := range names {
		if v4.MustSign(name) && len(values[i]) != 1 {
			return nil, fmt.Errorf("%w: more than one %s header", httpsig.ErrMalformed, name)
		}
	}
	return values, nil
}
