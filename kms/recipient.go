package kms

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/recipient"
)

// Recipient is an attested enclave to which a secret is returned wrapped,
// never in plaintext: the enclave's key is taken from its verified
// attestation document. KeyEncryptionAlgorithm is RSAES_OAEP_SHA_256 (an
// RSA key, CMS as AWS returns it), HPKE_P256_SHA256_AES256GCM (an EC P-256
// key) or HPKE_MLKEM768X25519_SHA256_AES256GCM (the document binds the
// SHA-256 of PublicKey); the last two answer with an HPKE frame
// (recipient/hpke.go, docs/hpke.md).
type Recipient struct {
	AttestationDocument    []byte
	KeyEncryptionAlgorithm string
	// PublicKey is the enclave's ML-KEM-768+X25519 public key (1216 bytes)
	// for HPKE_MLKEM768X25519_SHA256_AES256GCM, too big for the evidence,
	// which binds its SHA-256 instead; empty for the other algorithms.
	PublicKey []byte
	// Raw asks for the secret as one raw RSAES-OAEP-SHA-256 ciphertext
	// instead of CMS EnvelopedData, for dialects that return raw ciphertext
	// (Tencent's Plaintext). It holds at most one RSA block of secret: 190
	// bytes for an RSA-2048 key. An HPKE algorithm ignores it: its answer
	// is always the frame.
	Raw bool
}

// PublicKeyWrap asks for a secret encrypted to a public key the caller gives
// (Tencent's EncryptionPublicKey). Unlike a Recipient it proves nothing about
// who holds the private key, so a key whose policy has any
// kms:RecipientAttestation condition refuses it.
type PublicKeyWrap struct {
	// PublicKey is a PEM or DER SubjectPublicKeyInfo: RSA of 2048 to 4096
	// bits, or SM2.
	PublicKey []byte
	// Algorithm is RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1, RSAES_PKCS1_V1_5
	// (RSA keys), SM2 (C1C3C2) or SM2_C1C3C2_ASN1 (SM2 keys); "" means SM2,
	// as Tencent's default.
	Algorithm string
}

// AttestationSummary is what the audit log records of a Recipient's verified
// evidence (audit.Record.Attestation, noted on the operation's own Call by
// verifyRecipient). attest builds it from the claims, so that kms reads no
// format's claims.
type AttestationSummary = attest.Summary

// resolveTarget verifies a Recipient or checks a public-key wrap (at most
// one of them): for the latter, that the key's policy does not expect
// attested callers, and that the key and algorithm can carry a secret of n
// bytes (0: a length not known in advance) — all before the secret exists. k
// is nil for operations without a key.
func (s *Service) resolveTarget(ctx context.Context, c *Call, k *key, r *Recipient, w *PublicKeyWrap, n int) (target, error) {
	if r != nil && w != nil {
		return target{}, errorf(ErrValidation, "give Recipient or EncryptionPublicKey, not both")
	}
	if w != nil {
		// An attestation-bound key refuses a public-key wrap in authorize
		// (gated): a public key alone proves nothing about its holder.
		pw, err := parseWrap(w, n)
		return target{wrap: pw}, err
	}
	claims, err := s.verifyEvidence(ctx, c, r)
	if err != nil || claims == nil {
		return target{}, err
	}
	if recipient.IsHPKE(r.KeyEncryptionAlgorithm) {
		pub, err := hpkeKey(claims, r)
		if err != nil {
			return target{}, err
		}
		// The info binds the operation, the key and the document: an
		// answer opens only in the context of the request it answers.
		arn := ""
		if k != nil {
			arn = s.keyARN(c, k.rec.ID)
		}
		info := recipient.HPKEInfo(c.opName(), arn, r.AttestationDocument)
		return target{claims: claims, hpke: pub, info: info, doc: r.AttestationDocument}, nil
	}
	if claims.PublicKey == nil {
		return target{}, errorf(ErrInvalidRecipient, "Recipient: the attestation document binds an %s key, which cannot receive a secret with %s; use %s", keyTypeOf(claims), r.KeyEncryptionAlgorithm, hpkeAlgFor(claims))
	}
	if r.Raw && n > 0 {
		if err := recipient.CheckWrapTo(claims.PublicKey, recipient.AlgRSAESOAEPSHA256, n); err != nil {
			return target{}, errorf(ErrValidation, "Recipient: a %d-byte secret does not fit one RSA-%d block; ask for at most %d bytes", n, claims.PublicKey.N.BitLen(), claims.PublicKey.Size()-2*32-2)
		}
	}
	return target{claims: claims, raw: r.Raw, doc: r.AttestationDocument}, nil
}

// verifyRecipient checks a Recipient's algorithm and evidence and returns the
// verified claims; nil for no Recipient. Every failure is ErrInvalidRecipient
// wrapping the attest kind, with a message that says what failed, but
// attest.ErrThrottled (no verdict: the verifier's budget for new chains is
// spent), which is ErrThrottled.
func (s *Service) verifyRecipient(c *Call, r *Recipient) (*attest.Claims, error) {
	if r == nil {
		return nil, nil
	}
	if err := recipient.CheckAlgorithm(r.KeyEncryptionAlgorithm); err != nil {
		return nil, &Error{Kind: ErrValidation, Msg: "Recipient: " + err.Error()}
	}
	mlkem := r.KeyEncryptionAlgorithm == recipient.AlgHPKEMLKEM768X25519
	switch {
	case mlkem && len(r.PublicKey) == 0:
		return nil, errorf(ErrValidation, "Recipient.PublicKey is required with %s: the %d-byte ML-KEM-768+X25519 key whose SHA-256 the attestation document binds", recipient.AlgHPKEMLKEM768X25519, recipient.MLKEMPublicKeySize)
	case !mlkem && len(r.PublicKey) > 0:
		return nil, errorf(ErrValidation, "Recipient.PublicKey is only for %s; with %s the key is the attestation document's", recipient.AlgHPKEMLKEM768X25519, r.KeyEncryptionAlgorithm)
	case len(r.PublicKey) > 0 && len(r.PublicKey) != recipient.MLKEMPublicKeySize:
		return nil, errorf(ErrValidation, "Recipient.PublicKey is %d bytes; an ML-KEM-768+X25519 public key is %d", len(r.PublicKey), recipient.MLKEMPublicKeySize)
	}
	if len(r.AttestationDocument) == 0 {
		return nil, errorf(ErrValidation, "Recipient.AttestationDocument is required")
	}
	if s.opts.Attestation == nil {
		return nil, errorf(ErrInvalidRecipient, "Recipient: this server is not configured to verify attestation documents")
	}
	claims, err := s.opts.Attestation.Verify(r.AttestationDocument, s.now())
	if errors.Is(err, attest.ErrThrottled) {
		// Not a verdict on the evidence: the verifier's budget for chains
		// it has not seen is spent for now.
		return nil, &Error{Kind: ErrThrottled, Msg: "Recipient: " + err.Error(), Cause: err}
	}
	if err != nil {
		return nil, &Error{Kind: ErrInvalidRecipient, Msg: "Recipient: the attestation document was refused: " + err.Error(), Cause: err}
	}
	if claims != nil && claims.PublicKey == nil && claims.KeyUnusable != nil {
		// Genuine evidence (a NitroTPM document binding an EC key, say)
		// whose key no secret can be wrapped to.
		return nil, &Error{Kind: ErrInvalidRecipient, Msg: fmt.Sprintf("Recipient: the attestation document is genuine, but its public_key (%s) cannot receive a secret with %s: %v", claims.KeyType, r.KeyEncryptionAlgorithm, claims.KeyUnusable), Cause: claims.KeyUnusable}
	}
	if claims == nil || claims.PublicKey == nil && claims.KeyType != "EC P-256" && claims.KeyType != attest.KeyTypeDigest {
		return nil, internal(errors.New("verifier returned no claims or no key without an error"))
	}
	// Whether evidence is acceptable at all (a debug-mode enclave, a VMPL,
	// a TCB) its verifier has judged: claims are what it admitted.
	sum := claims.Summary()
	sum.KeyEncryptionAlgorithm = r.KeyEncryptionAlgorithm
	c.noteAttestation(sum)
	return claims, nil
}

// hpkeKey is the HPKE public key of a Recipient whose evidence verified, if
// the evidence binds one for its algorithm: the document's P-256 key, or the
// Recipient's ML-KEM key when the document binds its SHA-256. Anything else
// is ErrInvalidRecipient saying which algorithm the document's key takes.
func hpkeKey(claims *attest.Claims, r *Recipient) (hpke.PublicKey, error) {
	alg := r.KeyEncryptionAlgorithm
	var b []byte
	switch alg {
	case recipient.AlgHPKEP256:
		if claims.KeyType != "EC P-256" {
			return nil, errorf(ErrInvalidRecipient, "Recipient: the attestation document binds an %s key, which cannot receive a secret with %s; use %s", keyTypeOf(claims), alg, hpkeAlgFor(claims))
		}
		b = claims.PublicKeyDER
	case recipient.AlgHPKEMLKEM768X25519:
		if claims.KeyType != attest.KeyTypeDigest {
			return nil, errorf(ErrInvalidRecipient, "Recipient: the attestation document binds an %s key, not the SHA-256 of an ML-KEM-768+X25519 key, so it cannot receive a secret with %s; use %s", keyTypeOf(claims), alg, hpkeAlgFor(claims))
		}
		if !bytes.Equal(recipient.MLKEMKeyDigest(r.PublicKey), claims.PublicKeyDER) {
			return nil, errorf(ErrInvalidRecipient, "Recipient: the attestation document does not bind Recipient.PublicKey: its public_key is not the SHA-256 of that key")
		}
		b = r.PublicKey
	}
	pub, err := recipient.ParseHPKEPublicKey(alg, b)
	if err != nil {
		return nil, &Error{Kind: ErrInvalidRecipient, Msg: "Recipient: " + err.Error(), Cause: err}
	}
	return pub, nil
}

// keyTypeOf names the evidence's key for an error.
func keyTypeOf(claims *attest.Claims) string {
	switch {
	case claims.KeyType == attest.KeyTypeDigest:
		return "ML-KEM (a 32-byte SHA-256 digest)"
	case claims.KeyType != "":
		return claims.KeyType
	case claims.PublicKey != nil:
		return fmt.Sprintf("RSA-%d", claims.PublicKey.N.BitLen())
	}
	return "unknown"
}

// hpkeAlgFor names the algorithm the evidence's key takes.
func hpkeAlgFor(claims *attest.Claims) string {
	switch {
	case claims.PublicKey != nil:
		return recipient.KeyEncryptionAlgorithm
	case claims.KeyType == "EC P-256":
		return recipient.AlgHPKEP256
	}
	return recipient.AlgHPKEMLKEM768X25519 + " with Recipient.PublicKey"
}

// wrapForRecipient wraps secret to the attested key — as CMS EnvelopedData
// (the CiphertextForRecipient of AWS KMS), or raw RSAES-OAEP-SHA-256 when the
// Recipient asks — and zeroes secret.
func wrapForRecipient(claims *attest.Claims, raw bool, secret []byte) ([]byte, error) {
	defer clear(secret)
	if raw {
		ct, err := recipient.WrapRaw(claims.PublicKey, secret, rand.Reader)
		if errors.Is(err, recipient.ErrSecretSize) {
			return nil, errorf(ErrValidation, "Recipient: a %d-byte secret does not fit one RSA-%d block; ask for at most %d bytes", len(secret), claims.PublicKey.N.BitLen(), claims.PublicKey.Size()-2*32-2)
		}
		if err != nil {
			return nil, internal(fmt.Errorf("wrapping for the recipient: %w", err))
		}
		return ct, nil
	}
	ct, err := recipient.WrapCMS(claims.PublicKey, claims.PublicKeyDER, secret, rand.Reader)
	if err != nil {
		return nil, internal(fmt.Errorf("wrapping for the recipient: %w", err))
	}
	return ct, nil
}

// prepareEncryption runs, for an operation that makes a secret under a
// symmetric key, every check in the order each such operation keeps: load
// the key and check its state and usage, verify the Recipient, evaluate the
// policy, honour DryRun. Only after it returns may a secret be made. The
// caller releases the key.
func (s *Service) prepareEncryption(ctx context.Context, c *Call, keyID, op string, r *Recipient, w *PublicKeyWrap, n int, ec EncryptionContext, isDryRun bool) (*key, target, error) {
	k, err := s.encryptable(ctx, c, keyID, op)
	if err != nil {
		return nil, target{}, err
	}
	to, err := s.resolveTarget(ctx, c, k, r, w, n)
	if err == nil {
		err = s.authorize(c, k, "kms:"+op, to.claims, ec)
	}
	if err == nil && isDryRun {
		err = dryRun()
	}
	if err != nil {
		k.release()
		return nil, target{}, err
	}
	return k, to, nil
}

// target is where a secret goes other than in plaintext: a verified
// Recipient (claims, and whether it wants raw RSA), or an unattested public
// key. Zero: plaintext.
type target struct {
	claims *attest.Claims
	raw    bool
	wrap   *parsedWrap
	// hpke, when set, is the Recipient's HPKE key and info the HPKE info
	// of this answer (recipient.HPKEInfo): the secret goes as an HPKE frame.
	hpke hpke.PublicKey
	info []byte
	// doc is the Recipient's attestation document: its answer is signed
	// (signAnswer) for that document.
	doc []byte
}

// deliver hands a fresh secret over: wrapped to the target when there is one,
// else in plaintext when the operation returns it, else zeroed.
func deliver(to target, secret []byte, withPlaintext bool) (plaintext, ciphertextForRecipient []byte, err error) {
	switch {
	case to.hpke != nil:
		defer clear(secret)
		cfr, err := recipient.WrapHPKE(to.hpke, to.info, secret)
		if err != nil {
			return nil, nil, internal(fmt.Errorf("wrapping for the recipient: %w", err))
		}
		return nil, cfr, nil
	case to.claims != nil:
		cfr, err := wrapForRecipient(to.claims, to.raw, secret)
		return nil, cfr, err
	case to.wrap != nil:
		ct, err := to.wrap.seal(secret)
		return nil, ct, err
	case withPlaintext:
		return secret, nil, nil
	}
	clear(secret)
	return nil, nil, nil
}

// parsedWrap is a PublicKeyWrap whose key and algorithm were checked.
type parsedWrap struct {
	pub crypto.PublicKey
	alg string
}

func parseWrap(w *PublicKeyWrap, n int) (*parsedWrap, error) {
	if len(w.PublicKey) == 0 {
		return nil, errorf(ErrValidation, "EncryptionPublicKey is empty")
	}
	pub, err := recipient.ParsePublicKey(w.PublicKey)
	if err == nil {
		err = recipient.CheckWrapTo(pub, w.Algorithm, max(n, 1))
	}
	if err != nil {
		return nil, wrapError(err)
	}
	return &parsedWrap{pub: pub, alg: w.Algorithm}, nil
}

func wrapError(err error) error {
	switch {
	case errors.Is(err, recipient.ErrAlgorithm):
		return &Error{Kind: ErrValidation, Msg: "EncryptionAlgorithm: " + err.Error()}
	case errors.Is(err, recipient.ErrSecretSize), errors.Is(err, recipient.ErrKey):
		return &Error{Kind: ErrValidation, Msg: "EncryptionPublicKey: " + err.Error()}
	}
	return internal(err)
}

// seal encrypts secret to the wrap's key (checked by parseWrap) and zeroes
// secret.
func (w *parsedWrap) seal(secret []byte) ([]byte, error) {
	defer clear(secret)
	ct, err := recipient.WrapTo(w.pub, w.alg, secret, rand.Reader)
	if err != nil {
		return nil, wrapError(err)
	}
	return ct, nil
}
