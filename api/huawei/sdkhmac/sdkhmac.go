// Package sdkhmac verifies and makes Huawei Cloud's AK/SK request signatures
// of algorithm SDK-HMAC-SHA256, the way huaweicloud-sdk-go-v3
// (core/auth/signer) sends them:
//
//	X-Sdk-Date: 20060102T150405Z
//	Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b;c>, Signature=<64 hex>
//
//	CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n
//	                   CanonicalHeaders \n SignedHeaders \n hex(SHA256(body))
//	StringToSign     = SDK-HMAC-SHA256 \n X-Sdk-Date \n hex(SHA256(CanonicalRequest))
//	Signature        = hex(HMAC-SHA256(SK, StringToSign))
//
// The canonical URI is the path with each segment percent-encoded (all but
// A-Z a-z 0-9 - . _ ~) and always ends with "/"; the canonical headers are
// one "name:value" line per signed header, its value trimmed. Unlike AWS
// SigV4 there is no key derivation, no credential scope and no region: the
// secret key MACs the string to sign directly. Verify and Sign share one
// canonicalisation (canonical.go); the tests hold Sign to the SDK's signer
// byte for byte and Verify to what the SDK's KMS client sends.
//
// Errors wrap one of internal/httpsig's kinds (ErrMissing, ErrMalformed,
// ErrExpired, ErrSignature, ErrConfig), which every scheme shares; the
// verifier's configuration and Result are api/internal/hmacauth's.
//
// Threat model. The attacker controls every byte of the request: method,
// path, query, every header and the body. Trusted are the SecretLookup (its
// answer is the truth about an access key) and the clock the caller passes
// in; Verify never calls time.Now, never touches the network and never
// modifies the request or the secret it is given.
//
// What is checked, before any HMAC: one Authorization header, at most
// maxAuthorization bytes, in the SDK's form and naming SDK-HMAC-SHA256 (the
// SDK's SM3 and ECDSA variants are refused); the signed headers are
// lower-case, sorted, unique, at most 64, include x-sdk-date,
// and every one of them is on the request exactly once (host from r.Host),
// without control characters; one X-Sdk-Date, in the SDK's exact format and
// within MaxSkew of now; X-Sdk-Content-Sha256, which the SDK's signer
// substitutes for the body's hash, is refused unless it is that hash, so the
// body is always signed (UNSIGNED-PAYLOAD is not accepted); no
// X-Security-Token (temporary credentials come from an IAM this service does
// not have). Then the signature is recomputed over the body's own hash and
// compared in constant time. An unknown access key costs the same HMAC work
// with a dummy secret and gets the same error as a wrong signature, so
// neither the answer nor its timing says which access keys exist.
//
// What is not checked. Replay: a signature stays valid for the whole skew
// window, so the caller must remember Result.Signature (api/internal/replay;
// the pipeline in api/internal/pipeline does) and refuse it a second time. What the scheme itself leaves out: the SDK
// signs only the headers it sets (user-agent, x-project-id, x-sdk-date), not
// host and not content-type, so a captured request can be sent to another
// host that knows the same key, and its unsigned headers are the
// attacker's; TLS is what protects them. The query's parameter order and the
// order of a repeated parameter's values are not signed (the SDK sorts
// them). A header the SDK would sign under two spellings (two values) is
// refused here rather than canonicalised.
package sdkhmac

import "github.com/attestkms/attestkms/api/internal/hmacauth"

// Verifier checks SDK-HMAC-SHA256 signatures (hmacauth.Verifier): MaxSkew
// bounds |now - X-Sdk-Date|. The scheme has no credential scope, so Service
// is not used.
type Verifier = hmacauth.Verifier[*Authorization, sdkHMAC]

// Result describes a request whose signature verified: SignedAt is
// X-Sdk-Date, and SignedHeaders are as the request listed them.
type Result = hmacauth.Result

func (sdkHMAC) Scheme() *hmacauth.Scheme[*Authorization] { return &scheme }

// sdkHMAC names the scheme in Verifier.
type sdkHMAC struct{}
