// Package sigv4 verifies AWS Signature Version 4 signatures carried in
// request headers (algorithm AWS4-HMAC-SHA256), the way the AWS SDKs send
// them. The signer, and the canonicalisation Verify shares with it (the
// canonical request, string to sign, signing key and signature), are
// internal/sigv4's, which the enclave's client imports without this package;
// the tests here hold that signer to the AWS SDK for Go v2's byte for byte,
// and Verify to what the SDK's signer, the KMS client and the shared signer
// send.
//
// Errors wrap one of internal/httpsig's kinds (ErrMissing, ErrMalformed,
// ErrExpired, ErrSignature, ErrConfig), which every scheme shares; the
// verifier's configuration and Result are api/internal/hmacauth's.
//
// Threat model. The attacker controls every byte of the request: method, path,
// query, every header (names, values, repetitions, case) and the body. Trusted
// are the SecretLookup (its answer is the truth about an access key) and the
// clock the caller passes in; Verify never calls time.Now, never touches the
// network and never modifies the request or the secret it is given.
//
// What is checked, before any HMAC: one Authorization header, at most
// maxAuthorization bytes, exactly in the SDK's form; the credential scope's
// service is the Verifier's and its date is X-Amz-Date's day; X-Amz-Date is
// within MaxSkew of now; the signed headers are sorted, unique, at most
// maxSignedHeaders, include host and x-amz-date, every one is on the request,
// and every header that selects what the request means (X-Amz-Target,
// Content-Type, X-Amz-Content-Sha256, X-Amz-Security-Token) is signed when
// present, and then only once; host and method are well-formed and signed
// values hold no control characters (net/http's server refuses them too, but
// a line feed must not pass for a line end in the canonical request);
// X-Amz-Content-Sha256, when present, is the body's SHA-256. Then the
// signature is recomputed over the body's own hash and compared in constant
// time. An unknown access key costs the same HMAC work with a dummy secret and
// gets the same error as a wrong signature, so neither the answer nor its
// timing says which access keys exist.
//
// What is not checked. Replay: a signature stays valid for the whole skew
// window, so the caller must remember Result.Signature (api/internal/replay;
// the pipeline in api/internal/pipeline does) and refuse it a second time. What SigV4 itself leaves out: unsigned headers
// (User-Agent, Accept-Encoding, …) are the attacker's even on a valid request,
// and canonical header values fold runs of spaces and trim the ends, so
// "a  b" and "a b" are signed alike, and join a header's values with commas,
// so two X-Foo headers sign like one holding both (which is why the headers
// that select meaning must come once). The order of repeated query parameters
// is not signed, so a repeated parameter name is refused. Presigned requests
// (authentication in the query string), SigV4a, chunked/streaming payload
// signing and UNSIGNED-PAYLOAD are not supported and are refused. Neither are
// temporary credentials: X-Amz-Security-Token must be signed when present but
// is not checked, so Lookup must know only long-term keys.
package sigv4

import "github.com/attestkms/attestkms/api/internal/hmacauth"

// Verifier checks SigV4 header signatures (hmacauth.Verifier): Service is
// the credential scope's, e.g. "kms"; MaxSkew bounds |now - X-Amz-Date|.
type Verifier = hmacauth.Verifier[*Authorization, sigV4]

// Result describes a request whose signature verified; its Region is the
// credential scope's and SignedAt is X-Amz-Date.
type Result = hmacauth.Result

// sigV4 names the scheme in Verifier.
type sigV4 struct{}

func (sigV4) Scheme() *hmacauth.Scheme[*Authorization] { return &scheme }
