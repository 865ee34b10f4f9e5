package hmacauth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/attestkms/attestkms/internal/httpsig"
)

// AuthorizationFormat is how one scheme writes its Authorization header:
//
//	<Algorithm> <Credential>=…, SignedHeaders=a;b;c, Signature=<64 hex>
//
// What differs between schemes is the algorithm, the name and content of the
// credential part, and the bounds; the syntax is one.
type AuthorizationFormat struct {
	Algorithm  string // e.g. AWS4-HMAC-SHA256
	Credential string // the credential part's name: "Credential", or SDK-HMAC's "Access"
	// MaxLength bounds the whole header, refused before it is read.
	MaxLength int
	// MaxSignedHeaders and MaxHeaderName bound the signed header list.
	MaxSignedHeaders, MaxHeaderName int
	// Check, if not nil, checks the signed header list beyond its syntax:
	// what must or must not be signed.
	Check func(names []string) error
}

// Signed is what every scheme's parsed Authorization header holds beside
// its credential: what the signature claims to cover, and the signature.
type Signed struct {
	// SignedHeaders are lower case, sorted and unique.
	SignedHeaders []string
	// Signature is the claimed signature, 32 bytes.
	Signature []byte
}

// Signed's method: a scheme's header type that embeds Signed has it.
func (s *Signed) signedPart() *Signed { return s }

// Parse parses h into a new header of the scheme, P, which embeds Signed;
// credential reads the credential part into it. It is nil whenever the
// error is not.
func Parse[T any, P interface {
	*T
	signedPart() *Signed
}](f *AuthorizationFormat, h string, credential func(a P, value string) error) (P, error) {
	a := P(new(T))
	if err := f.Parse(h, a.signedPart(), func(v string) error { return credential(a, v) }); err != nil {
		return nil, err
	}
	return a, nil
}

// Parse parses h into signed: its signed headers and signature. It checks,
// in this order, the parts (ParseAuthorization); the credential, with the
// scheme's credential func; the signed header list (ParseSignedHeaders),
// then with f.Check; the signature (ParseSignature). Every error wraps
// httpsig.ErrMalformed.
func (f *AuthorizationFormat) Parse(h string, signed *Signed, credential func(string) error) error {
	parts, err := ParseAuthorization(h, f.Algorithm, f.MaxLength, [3]string{f.Credential, "SignedHeaders", "Signature"})
	if err != nil {
		return Malformed(err)
	}
	if err := credential(parts[0]); err != nil {
		return err
	}
	if signed.SignedHeaders, err = ParseSignedHeaders(parts[1], f.MaxSignedHeaders, f.MaxHeaderName); err != nil {
		return Malformed(err)
	}
	if f.Check != nil {
		if err := f.Check(signed.SignedHeaders); err != nil {
			return err
		}
	}
	if signed.Signature, err = ParseSignature(parts[2]); err != nil {
		return Malformed(err)
	}
	return nil
}

// String writes an Authorization header in the SDKs' exact form.
func (f *AuthorizationFormat) String(credential string, signed *Signed) string {
	return f.Algorithm + " " + f.Credential + "=" + credential +
		", SignedHeaders=" + strings.Join(signed.SignedHeaders, ";") +
		", Signature=" + hex.EncodeToString(signed.Signature)
}

// Malformed wraps a bare error of this package in httpsig.ErrMalformed.
func Malformed(err error) error { return fmt.Errorf("%w: %w", httpsig.ErrMalformed, err) }

// ParseAuthorization splits an Authorization header value of the form
//
//	<algorithm> <names[0]>=v0, <names[1]>=v1, <names[2]>=v2
//
// into its three values, in the order of names. Parts are separated by
// commas with optional spaces; each of the three must appear exactly once,
// non-empty, in any order, and nothing else may. The header is refused,
// before it is read, if it is longer than maxLen bytes.
func ParseAuthorization(h, algorithm string, maxLen int, names [3]string) ([3]string, error) {
	var vals [3]string
	if len(h) > maxLen {
		return vals, fmt.Errorf("authorization header longer than %d bytes", maxLen)
	}
	if h == "" {
		return vals, errors.New("empty authorization header")
	}
	alg, rest, ok := strings.Cut(h, " ")
	if !ok || alg != algorithm {
		return vals, fmt.Errorf("algorithm is not %s", algorithm)
	}
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.Trim(part, " ")
		k, val, _ := strings.Cut(part, "=")
		if val == "" {
			return vals, errors.New("empty or incomplete authorization part")
		}
		i := slices.Index(names[:], k)
		if i < 0 {
			return vals, errors.New("unknown authorization part")
		}
		if vals[i] != "" {
			return vals, fmt.Errorf("duplicate %s", k)
		}
		vals[i] = val
	}
	for i, v := range vals {
		if v == "" {
			return vals, fmt.Errorf("no %s", names[i])
		}
	}
	return vals, nil
}

// ParseSignedHeaders splits a;b;c, requiring what every scheme's canonical
// form guarantees: at most maxHeaders names, each 1 to maxName lower-case
// header-name characters, strictly increasing (so sorted and unique).
func ParseSignedHeaders(s string, maxHeaders, maxName int) ([]string, error) {
	n := strings.Count(s, ";") + 1
	if n > maxHeaders {
		return nil, fmt.Errorf("more than %d signed headers", maxHeaders)
	}
	names := make([]string, 0, n)
	for name := range strings.SplitSeq(s, ";") {
		if !httpsig.IsToken(name, maxName, httpsig.IsHeaderNameByte) {
			return nil, fmt.Errorf("signed header names must be 1-%d lower-case header characters", maxName)
		}
		if len(names) > 0 && name <= names[len(names)-1] {
			return nil, errors.New("signed headers are not sorted and unique")
		}
		names = append(names, name)
	}
	return names, nil
}

// ParseSignature decodes a claimed HMAC-SHA256 signature: exactly 64
// lower-case hex digits, as every scheme's SDK writes it.
func ParseSignature(s string) ([]byte, error) {
	if !httpsig.IsLowerHex(s, 2*sha256.Size) {
		return nil, errors.New("signature is not 64 lower-case hex digits")
	}
	return hex.DecodeString(s)
}
