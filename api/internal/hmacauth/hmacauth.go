// Package hmacauth is the request-signature verifier of the three schemes
// served here (AWS SigV4 in api/aws/sigv4, Huawei SDK-HMAC-SHA256 in
// api/huawei/sdkhmac, Tencent TC3-HMAC-SHA256 in api/tencent/tc3), written
// once: each scheme's Verifier is a Verifier[A, S] (its configuration:
// Service, MaxSkew, Lookup), whose Authenticate runs every verification in
// one order (verify.go) and asks the scheme's Scheme only for what differs.
// Here too is what they check alike: the syntax of their Authorization
// headers (AuthorizationFormat, Signed), the signed time and its skew, the
// body's hash, the gathering of signed header values, and the constant-time
// comparison that makes an unknown access key indistinguishable from a
// wrong signature (Match). Their error kinds and character classes are
// internal/httpsig's, shared with the enclave's signer.
//
// What each scheme signs stays in its own package, because there they
// genuinely differ: the canonical URI (SigV4 encodes the escaped path again,
// SDK-HMAC escapes each decoded segment and appends "/", TC3 signs "/"), the
// canonical query (SigV4 refuses repeated names, SDK-HMAC sorts their
// values), header values (SigV4 folds spaces and joins repeats with commas,
// SDK-HMAC trims one value, TC3 trims and lower-cases), the string to sign
// and the key derivation.
//
// Threat model: every input here is the attacker's. The parsers of parts
// (ParseAuthorization, ParseSignedHeaders, ParseSignature, ParseBasicDate,
// SignedValues) return bare descriptions without the kind, which their
// callers wrap (Malformed); everything else returns errors wrapping one of
// httpsig's kinds. No message holds a secret or an expected signature.
package hmacauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/attestkms/attestkms/internal/httpsig"
)

// BasicDateFormat is X-Amz-Date's and X-Sdk-Date's layout.
const BasicDateFormat = "20060102T150405Z"

// SecretLookup returns the secret of an access key id (Tencent's SecretId),
// or ok=false if there is none. A verifier neither modifies nor keeps it.
type SecretLookup func(accessKeyID string) (secret []byte, ok bool)

// Result describes a request whose signature verified.
type Result struct {
	// AccessKeyID is the access key whose secret made the signature
	// (Tencent's SecretId).
	AccessKeyID string
	// Region is the credential scope's region for a scheme whose scope
	// names one (SigV4), "" otherwise. Any well-formed region is accepted:
	// what a region means is the caller's business (the AWS dialect refuses
	// all but the service's own).
	Region string
	// SignedAt is the signed time (X-Amz-Date, X-Sdk-Date, X-TC-Timestamp),
	// in UTC.
	SignedAt time.Time
	// SignedHeaders are the header names the signature covers, lower case
	// and sorted.
	SignedHeaders []string
	// BodySHA256 is the SHA-256 of the body the signature covers, which
	// every scheme signs (PayloadHash): the pipeline hands it on, so that
	// nothing hashes the body twice.
	BodySHA256 [sha256.Size]byte
	// Signature is the verified signature (32 bytes): the key for a replay
	// cache. It is unique to a request and its second only when the client
	// signs something unique (the AWS SDKs' invocation id).
	Signature []byte
}

// Signs reports whether the signature covers the header name (lower case).
func (r *Result) Signs(name string) bool { return slices.Contains(r.SignedHeaders, name) }

// BasicDate returns the one header of that name (X-Amz-Date, X-Sdk-Date) and
// the instant it names, 20060102T150405Z exactly (ParseBasicDate). Its
// errors wrap ErrMalformed.
func BasicDate(h http.Header, name string) (string, time.Time, error) {
	lower := httpsig.ASCIILower(name)
	vs := h.Values(name)
	if len(vs) != 1 {
		return "", time.Time{}, fmt.Errorf("%w: want one %s header, have %d", httpsig.ErrMalformed, lower, len(vs))
	}
	t, err := ParseBasicDate(lower, vs[0])
	if err != nil {
		return "", time.Time{}, Malformed(err)
	}
	return vs[0], t, nil
}

// PayloadHash is the body's SHA-256 in lower-case hex, as every scheme
// signs it.
func PayloadHash(body []byte) [2 * sha256.Size]byte {
	return hexDigest(sha256.Sum256(body))
}

// hexDigest is sum in lower-case hex.
func hexDigest(sum [sha256.Size]byte) [2 * sha256.Size]byte {
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return out
}

// ParseBasicDate parses header's value s as 20060102T150405Z strictly:
// time.Parse alone accepts one-digit hours, so the value must also print
// back as itself (what is signed is the text, what is checked the instant).
func ParseBasicDate(header, s string) (time.Time, error) {
	t, ok := httpsig.ParseTime(BasicDateFormat, s)
	if !ok {
		return time.Time{}, fmt.Errorf("%s is not yyyymmddThhmmssZ", header)
	}
	return t, nil
}

// dummySecret stands in for the secret of an unknown access key so that the
// refusal costs the same HMAC work as a wrong signature. It is as long as the
// secrets kms makes (base64 of 30 bytes), so even the HMAC key schedule is the
// same. Knowing it gains nothing: an unknown key is refused whatever the
// comparison says.
var dummySecret = make([]byte, 40)

// Match looks up id's secret, computes the signature with it (with a dummy
// secret when id is unknown, so that the answer and its timing do not say
// which ids exist), and compares it with claimed in constant time. It is
// true only when id is known and the signatures are equal. sign must not
// keep the secret; the signature it returns is zeroed here.
func Match(lookup SecretLookup, id string, claimed []byte, sign func(secret []byte) [sha256.Size]byte) bool {
	secret, known := lookup(id)
	if !known {
		secret = dummySecret
	}
	want := sign(secret)
	match := hmac.Equal(want[:], claimed)
	clear(want[:])
	return known && match
}

// SignedValues gathers, for each signed header name (lower-case, sorted,
// unique; at most maxName bytes), its values on r, in request order. Every
// signed header must be present; one sent under two spellings is refused,
// and so is one with more than one value when oneValue is set; values with
// a control character are refused (httpsig.HasControl). For every header present
// but not signed, unsigned is called with its lower-case name and may
// refuse it. Host comes from r.Host (a Host key in r.Header is ignored, as
// net/http does) and must be httpsig.IsToken(httpsig.MaxHost, httpsig.IsHostByte); content-length
// from r.ContentLength when the header map lacks it (httptest and
// client-side requests).
func SignedValues(r *http.Request, names []string, maxName int, oneValue bool, unsigned func(name string) error) ([][]string, error) {
	values := make([][]string, len(names))
	for key, vs := range r.Header {
		if len(vs) == 0 || len(key) > maxName {
			continue // absent; or too long to be a signed name
		}
		lk := httpsig.ASCIILower(key)
		if lk == "host" {
			continue
		}
		i, found := slices.BinarySearch(names, lk)
		if !found {
			if unsigned != nil {
				if err := unsigned(lk); err != nil {
					return nil, err
				}
			}
			continue
		}
		if values[i] != nil {
			return nil, fmt.Errorf("header %s appears under two spellings", lk)
		}
		if oneValue && len(vs) != 1 {
			return nil, fmt.Errorf("signed header %s appears more than once", lk)
		}
		for _, v := range vs {
			if httpsig.HasControl(v) {
				return nil, fmt.Errorf("header %s has a control character", lk)
			}
		}
		values[i] = vs
	}
	for i, name := range names {
		switch {
		case values[i] != nil:
			continue
		case name == "host":
			if !httpsig.IsToken(r.Host, httpsig.MaxHost, httpsig.IsHostByte) {
				return nil, errors.New("request host is empty or not a valid host")
			}
			values[i] = []string{r.Host}
		case name == "content-length" && r.ContentLength > 0:
			values[i] = []string{strconv.FormatInt(r.ContentLength, 10)}
		default:
			return nil, fmt.Errorf("signed header %s is not on the request", name)
		}
	}
	return values, nil
}
