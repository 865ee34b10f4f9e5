package recipient

import (
	"crypto"
	"crypto/ecdsa"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"

	"github.com/emmansun/gmsm/sm2"
)

// The algorithms of WrapTo, named exactly as Tencent Cloud KMS's
// EncryptionAlgorithm documents them (compared case-sensitively).
const (
	AlgRSAESOAEPSHA256 = "RSAES_OAEP_SHA_256" // OAEP, SHA-256 and MGF1-SHA-256, empty label
	AlgRSAESOAEPSHA1   = "RSAES_OAEP_SHA_1"   // OAEP, SHA-1 and MGF1-SHA-1, empty label
	AlgRSAESPKCS1v15   = "RSAES_PKCS1_V1_5"   // compatibility only: see WrapTo
	AlgSM2             = "SM2"                // C1C3C2, raw; the default ("" means this). See sm2.go
	AlgSM2ASN1         = "SM2_C1C3C2_ASN1"    // C1C3C2 as the ASN.1 SM2Cipher of GM/T 0009
)

// maxSM2Secret bounds what WrapTo wraps to an SM2 key, which, unlike RSA,
// has no block to fill: Tencent's largest secrets are Decrypt plaintexts of
// at most 4 KiB (its data keys are at most 1 KiB).
const maxSM2Secret = 4 << 10

// rsaScheme is one of the RSA algorithms.
type rsaScheme struct {
	alg  string
	hash func() hash.Hash // nil: PKCS #1 v1.5
	size int              // the hash's output size
}

var rsaSchemes = []rsaScheme{
	{AlgRSAESOAEPSHA256, sha256.New, sha256.Size},
	{AlgRSAESOAEPSHA1, sha1.New, sha1.Size},
	{AlgRSAESPKCS1v15, nil, 0},
}

// maxSecret is the longest secret one block of s carries under a k-byte
// modulus (RFC 8017, 7.1.1 and 7.2.1): 190, 214 and 245 bytes for RSA-2048.
func (s rsaScheme) maxSecret(k int) int {
	if s.hash == nil {
		return k - 11
	}
	return k - 2*s.size - 2
}

func rsaSchemeOf(alg string) (rsaScheme, error) {
	for _, s := range rsaSchemes {
		if alg == s.alg {
			return s, nil
		}
	}
	return rsaScheme{}, fmt.Errorf("%w: %s for an RSA key; use %s, %s or %s",
		ErrAlgorithm, describeAlgorithm(alg), AlgRSAESOAEPSHA256, AlgRSAESOAEPSHA1, AlgRSAESPKCS1v15)
}

// sm2Form reports whether alg asks for the ASN.1 form, or fails.
func sm2Form(alg string) (asn1Form bool, err error) {
	switch alg {
	case AlgSM2, "":
		return false, nil
	case AlgSM2ASN1:
		return true, nil
	}
	return false, fmt.Errorf("%w: %s for an SM2 key; use %s (C1C3C2, the default) or %s",
		ErrAlgorithm, describeAlgorithm(alg), AlgSM2, AlgSM2ASN1)
}

// describeAlgorithm quotes a client's algorithm name for an error, bounded.
func describeAlgorithm(alg string) string {
	switch {
	case alg == "":
		return "none given (which means " + AlgSM2 + ")"
	case len(alg) > maxEchoedAlgorithm:
		alg = alg[:maxEchoedAlgorithm] + "..."
	}
	return fmt.Sprintf("%q", alg)
}

// WrapTo encrypts secret to pub, a key from ParsePublicKey (or an
// *rsa.PublicKey, or an *ecdsa.PublicKey on sm2.P256(), checked the same
// way), with alg; "" means AlgSM2, as in Tencent's API. This is Tencent Cloud
// KMS's EncryptionPublicKey: the secret leaves as this ciphertext instead of
// in plaintext. The key proves nothing about who holds its private half (see
// the package documentation): WrapTo protects the secret on its way to the
// caller, not from the caller.
//
// The algorithm must fit the key: RSA keys take AlgRSAESOAEPSHA256,
// AlgRSAESOAEPSHA1 or AlgRSAESPKCS1v15, SM2 keys AlgSM2 or AlgSM2ASN1;
// anything else, the empty default for an RSA key included, is ErrAlgorithm
// naming the values that key allows. A key outside ParsePublicKey's bounds is
// ErrKey. The secret must be 1 byte to one RSA block (190 bytes for
// RSA-2048 with OAEP-SHA-256, 214 with OAEP-SHA-1, 245 with PKCS #1 v1.5),
// or 1 byte to 4 KiB for SM2: ErrSecretSize otherwise.
//
// OAEP uses an empty label and MGF1 with the OAEP hash. SHA-1 is sound in
// OAEP (it needs no collision resistance there). PKCS #1 v1.5 is here only
// because Tencent offers it: it is not weak to encrypt, but whoever decrypts
// it must not let anyone observe whether a ciphertext's padding was valid
// (an error, a log line, a timing), or that decryptor becomes a Bleichenbacher
// oracle through which an attacker decrypts any ciphertext to the key with
// some thousands to millions of queries. This service only encrypts; it never
// decrypts a PKCS #1 v1.5 ciphertext anyone sends it. Clients should ask for
// AlgRSAESOAEPSHA256.
//
// A nil rand is crypto/rand. For RSA, Go 1.26 uses a secure source whatever
// rand is (unless GODEBUG=cryptocustomrand=1); for SM2, gmsm draws the
// ephemeral scalar from rand.
func WrapTo(pub crypto.PublicKey, alg string, secret []byte, rand io.Reader) ([]byte, error) {
	if rand == nil {
		rand = cryptorand.Reader
	}
	w, err := checkWrap(pub, alg, len(secret))
	if err != nil {
		return nil, err
	}
	if w.sm2 != nil {
		return sealSM2(w.sm2, w.asn1Form, secret, rand)
	}
	var ct []byte
	if w.scheme.hash != nil {
		ct, err = rsa.EncryptOAEP(w.scheme.hash(), rand, w.rsa, secret, nil)
	} else {
		// Deprecated in Go 1.26 for the decrypting side's sake; see above.
		//lint:ignore SA1019 Tencent's RSAES_PKCS1_V1_5 EncryptionAlgorithm; this side only encrypts (see WrapTo)
		ct, err = rsa.EncryptPKCS1v15(rand, w.rsa, secret)
	}
	if err != nil {
		return nil, fmt.Errorf("%s encryption: %w", w.scheme.alg, err)
	}
	return ct, nil
}

// CheckWrapTo reports, without encrypting anything, the error WrapTo would
// return for a secret of n bytes: so a caller can refuse a request before it
// makes or opens the secret.
func CheckWrapTo(pub crypto.PublicKey, alg string, n int) error {
	_, err := checkWrap(pub, alg, n)
	return err
}

// wrapPlan is a checked key and algorithm: RSA with a scheme, or SM2.
type wrapPlan struct {
	rsa      *rsa.PublicKey
	scheme   rsaScheme
	sm2      *ecdsa.PublicKey
	asn1Form bool
}

func checkWrap(pub crypto.PublicKey, alg string, n int) (wrapPlan, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if err := checkRSAPublicKey(k); err != nil {
			return wrapPlan{}, err
		}
		s, err := rsaSchemeOf(alg)
		if err != nil {
			return wrapPlan{}, err
		}
		if err := checkSecretSize(n, s.maxSecret(k.Size()), func() string {
			return fmt.Sprintf("one RSA-%d %s block holds", k.N.BitLen(), s.alg)
		}); err != nil {
			return wrapPlan{}, err
		}
		return wrapPlan{rsa: k, scheme: s}, nil
	case *ecdsa.PublicKey:
		if err := checkSM2PublicKey(k); err != nil {
			return wrapPlan{}, err
		}
		asn1Form, err := sm2Form(alg)
		if err != nil {
			return wrapPlan{}, err
		}
		if err := checkSecretSize(n, maxSM2Secret, func() string { return "an SM2 wrap holds" }); err != nil {
			return wrapPlan{}, err
		}
		return wrapPlan{sm2: k, asn1Form: asn1Form}, nil
	}
	if pub == nil {
		return wrapPlan{}, fmt.Errorf("%w: no public key", ErrKey)
	}
	return wrapPlan{}, fmt.Errorf("%w: a %T; want an RSA or SM2 public key", ErrKey, pub)
}

func checkSecretSize(n, max int, holds func() string) error {
	switch {
	case n == 0:
		return fmt.Errorf("%w: empty secret", ErrSecretSize)
	case n > max:
		return fmt.Errorf("%w: %d bytes, %s at most %d", ErrSecretSize, n, holds(), max)
	}
	return nil
}

// UnwrapFrom is WrapTo's inverse, for tests and for clients: priv is an
// *rsa.PrivateKey or an *sm2.PrivateKey, alg what WrapTo was given. It reads
// exactly the forms WrapTo writes: a ciphertext of the wrong length or shape
// is ErrMalformed, one that does not decrypt (another key, a flipped bit) is
// ErrDecrypt without saying why. That sameness is all it does against
// padding oracles: a client that decrypts AlgRSAESPKCS1v15 ciphertexts from
// others must not let them observe failures at all.
func UnwrapFrom(priv crypto.PrivateKey, alg string, ct []byte) ([]byte, error) {
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		if err := checkPrivateKey(k); err != nil {
			return nil, err
		}
		s, err := rsaSchemeOf(alg)
		if err != nil {
			return nil, err
		}
		if len(ct) != k.Size() {
			return nil, fmt.Errorf("%w: ciphertext of %d bytes, the key's block is %d", ErrMalformed, len(ct), k.Size())
		}
		var secret []byte
		if s.hash != nil {
			secret, err = rsa.DecryptOAEP(s.hash(), nil, k, ct, nil)
		} else {
			//lint:ignore SA1019 the inverse of WrapTo's RSAES_PKCS1_V1_5 for tests and clients, failing alike whatever the cause (see above); the service never calls it
			secret, err = rsa.DecryptPKCS1v15(nil, k, ct)
		}
		if err != nil || len(secret) == 0 {
			return nil, fmt.Errorf("%w: %s", ErrDecrypt, s.alg)
		}
		return secret, nil

	case *sm2.PrivateKey:
		if k == nil || k.D == nil || k.Curve != sm2.P256() {
			return nil, fmt.Errorf("%w: no SM2 private key", ErrKey)
		}
		asn1Form, err := sm2Form(alg)
		if err != nil {
			return nil, err
		}
		return openSM2(k, asn1Form, ct)
	}
	if priv == nil {
		return nil, fmt.Errorf("%w: no private key", ErrKey)
	}
	return nil, fmt.Errorf("%w: a %T; want an *rsa.PrivateKey or an *sm2.PrivateKey", ErrKey, priv)
}
