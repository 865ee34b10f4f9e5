// Package recipient wraps a secret to the public key of an attested enclave
// (RSA as AWS KMS does, or HPKE: hpke.go), and unwraps it inside the
// enclave: the Recipient of AWS KMS's
// Decrypt, DeriveSharedSecret, GenerateDataKey, GenerateDataKeyPair and
// GenerateRandom, whose secret then leaves the service only as
// CiphertextForRecipient. It also wraps a secret to a public key nothing
// attests, RSA or SM2, that a caller sends (WrapTo; see below).
//
// Two forms are made. WrapRaw is one RSAES-OAEP block (SHA-256, MGF1-SHA-256,
// empty label), for dialects that return the bare ciphertext. WrapCMS is what
// AWS KMS returns to Nitro Enclaves: a CMS EnvelopedData (RFC 5652), hybrid,
// so that secrets longer than one RSA block (a private key of a data key pair)
// fit. Its shape copies a real AWS response element for element:
//
//	ContentInfo SEQUENCE                          30 80 (indefinite)
//	  contentType id-envelopedData 1.2.840.113549.1.7.3
//	  content [0] EXPLICIT                        a0 80 (indefinite)
//	    EnvelopedData SEQUENCE                    30 80 (indefinite)
//	      version 2
//	      recipientInfos SET, one element         definite, DER from here down
//	        KeyTransRecipientInfo SEQUENCE
//	          version 2
//	          rid [0] IMPLICIT SubjectKeyIdentifier = SHA-256(DER SubjectPublicKeyInfo)
//	          keyEncryptionAlgorithm id-RSAES-OAEP 1.2.840.113549.1.1.7 with explicit
//	            RSAES-OAEP-params: [0] sha256 + NULL, [1] mgf1 (sha256 + NULL); no pSource
//	          encryptedKey OCTET STRING = RSA-OAEP-SHA-256 of a fresh 32-byte AES key
//	      encryptedContentInfo SEQUENCE           30 80 (indefinite)
//	        contentType id-data 1.2.840.113549.1.7.1
//	        contentEncryptionAlgorithm aes256-CBC 2.16.840.1.101.3.4.1.42, IV OCTET STRING(16)
//	        encryptedContent [0] IMPLICIT         a0 80 (constructed, indefinite)
//	          OCTET STRING chunks of AES-256-CBC(PKCS#7-padded secret)
//	          end-of-contents 00 00 closes each of the five indefinite elements
//
// The indefinite lengths are not a matter of taste. The CMS reader of AWS's
// Nitro Enclaves SDK (kmstool-enclave-cli) does not parse BER: it skips the
// header of ContentInfo, its [0], EnvelopedData and EncryptedContentInfo and
// reads on INTO each, so a definite length there makes it swallow the whole
// element as one opaque blob and fail. It takes encryptedContent either as a
// primitive [0] or as a constructed indefinite [0] of OCTET STRINGs, never as
// a constructed definite one; AWS sends the constructed indefinite form, and
// so do we. A definite-length DER envelope, valid CMS that OpenSSL reads
// happily, would break every enclave built on that SDK.
//
// Threat model. The public key comes from evidence that package attest has
// verified; this package verifies nothing and trusts its caller for that
// (WrapCMS only checks that the SubjectPublicKeyInfo it hashes is the key it
// encrypts to, and that the key is RSA of 2048 to 4096 bits). Once wrapped,
// the secret is hidden from everyone but the holder of the private key: the
// network, proxies, logs, and the enclave's own parent instance, through
// which the response travels. The unwrap side runs in the enclave and parses
// bytes that crossed that host, so every byte is hostile: its BER reader is
// strict (the one shape above, with definite or indefinite lengths where BER
// allows either), bounded (64 KiB, 16 levels of nesting, 1024 content
// chunks), and allocates nothing larger than its input.
//
// What is not done. The envelope is neither signed nor authenticated: anyone
// who can replace a response can encrypt a secret of their own choosing to
// the enclave's public key, which is public. A successful UnwrapCMS proves
// only that the content key was encrypted to this key, not by whom. The
// enclave must get the
// response over an authenticated channel (TLS to the service it trusts) and
// must treat what it unwraps accordingly. The AES-CBC content has no MAC
// either (neither has AWS's); bit flips in the IV or content garble the
// secret, detected only when they break the padding. CBC padding oracles do
// not apply to an enclave decrypting its own responses, but UnwrapCMS still
// checks the padding in constant time and says nothing of how it is wrong.
//
// Unattested public keys. Tencent Cloud KMS lets a caller send a PEM public
// key (EncryptionPublicKey, RSA or SM2) and an EncryptionAlgorithm, and
// returns the secret encrypted to that key instead of in plaintext.
// ParsePublicKey reads such a key and WrapTo encrypts to it (wrapto.go; the
// SM2 ciphertext forms and the evidence behind them are in sm2.go). Nothing
// attests that key: the caller may send any key, so the wrap proves nothing
// about who can read the secret, only that the network, proxies and logs
// between us and the holder of the private key cannot. It protects the
// secret on its way to the caller, never from the caller, and so kms refuses
// it for keys whose policy asks for attested recipients. The key is hostile
// input: ParsePublicKey accepts one canonical DER encoding of an RSA key of
// 2048 to 4096 bits or of an SM2 point on its curve, and refuses everything
// else saying what it was. What it cannot check, that an RSA modulus has two
// large prime factors, matters to nobody but the caller: whoever may have a
// secret wrapped could have had it in plaintext, and a weak key weakens only
// their own wrap. PKCS #1 v1.5 is offered because Tencent offers it; WrapTo's
// documentation says why only decryptors need fear it.
package recipient

import (
	"crypto/rsa"
	"errors"
	"fmt"
)

// KeyEncryptionAlgorithm is AWS KMS's only key encryption algorithm for a
// Recipient, and ours by default. A Recipient may also name one of the HPKE
// algorithms (hpke.go): AlgHPKEP256 or AlgHPKEMLKEM768X25519.
const KeyEncryptionAlgorithm = "RSAES_OAEP_SHA_256"

// algorithmsList names the algorithms a Recipient may name, for errors.
const algorithmsList = KeyEncryptionAlgorithm + ", " + AlgHPKEP256 + " or " + AlgHPKEMLKEM768X25519

// Error kinds. Every error this package returns wraps exactly one, with the
// detail in its text, except a failure of the random source given to a wrap,
// which is returned as it is.
var (
	ErrAlgorithm  = errors.New("unsupported key encryption algorithm") // a Recipient names anything but KeyEncryptionAlgorithm; WrapTo's algorithm is unknown or does not fit the key
	ErrKey        = errors.New("unacceptable recipient key")           // nil, not 2048-4096 bits, not the key its SubjectPublicKeyInfo describes, or anything ParsePublicKey refuses
	ErrSecretSize = errors.New("secret size out of range")             // empty, or too long for the form asked for
	ErrMalformed  = errors.New("malformed wrapped secret")             // not the shape above (or WrapTo's), a bound exceeded, an algorithm other than ours
	ErrWrongKey   = errors.New("secret is wrapped to another key")     // the envelope's subject key identifier is not the private key's
	ErrDecrypt    = errors.New("wrapped secret does not decrypt")      // RSA (OAEP or PKCS #1 v1.5) or SM2 decryption failure, or bad content padding
)

// Kinds lists the kinds, for callers that map each to their own errors.
var Kinds = []error{ErrAlgorithm, ErrKey, ErrSecretSize, ErrMalformed, ErrWrongKey, ErrDecrypt}

// maxEchoedAlgorithm bounds how much of a client's algorithm name an error
// repeats: a name is a short enum value, and errors end up in logs.
const maxEchoedAlgorithm = 64

// CheckAlgorithm returns nil if alg is KeyEncryptionAlgorithm or an HPKE
// algorithm, compared exactly (AWS's enum is case-sensitive), and an error
// wrapping ErrAlgorithm that names the allowed values otherwise, also when
// alg is empty.
func CheckAlgorithm(alg string) error {
	switch {
	case alg == KeyEncryptionAlgorithm, IsHPKE(alg):
		return nil
	case alg == "":
		return fmt.Errorf("%w: none given; use %s", ErrAlgorithm, algorithmsList)
	case len(alg) > maxEchoedAlgorithm:
		alg = alg[:maxEchoedAlgorithm] + "..."
	}
	return fmt.Errorf("%w %q: use %s", ErrAlgorithm, alg, algorithmsList)
}

// Bounds on the keys secrets are wrapped to. attest refuses evidence whose
// key is outside them; they are repeated here so that no caller can wrap a
// secret to a weak key, or spend an unbounded RSA operation, by mistake.
const (
	minRSABits = 2048
	maxRSABits = 4096
)

func checkPublicKey(pub *rsa.PublicKey) error {
	if pub == nil || pub.N == nil {
		return fmt.Errorf("%w: no public key", ErrKey)
	}
	if n := pub.N.BitLen(); n < minRSABits || n > maxRSABits {
		return fmt.Errorf("%w: RSA key of %d bits, want %d to %d", ErrKey, n, minRSABits, maxRSABits)
	}
	return nil
}

func checkPrivateKey(priv *rsa.PrivateKey) error {
	if priv == nil || priv.N == nil {
		return fmt.Errorf("%w: no private key", ErrKey)
	}
	return nil
}
