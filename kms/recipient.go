package kms

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/recipient"
)

// Recipient is an attested enclave to which a secret is returned wrapped,
// never in plaintext: the enclave's RSA key is taken from its verified
// attestation document.
type Recipient struct {
	AttestationDocument    []byte
	KeyEncryptionAlgorithm string
}

// AttestationSummary is what the audit log records of a Recipient's verified
// evidence: enough to tell which enclave got which secret, nothing secret.
type AttestationSummary struct {
	Format          string    `json:"format"`
	ModuleID        string    `json:"module_id,omitempty"`
	PCR0            string    `json:"pcr0,omitempty"`
	PublicKeySHA256 string    `json:"public_key_sha256"`
	Time            time.Time `json:"time"`
	Debug           bool      `json:"debug,omitempty"`
}

func summarise(cl *attest.Claims) *AttestationSummary {
	fp := sha256.Sum256(cl.PublicKeyDER)
	sum := &AttestationSummary{
		Format: string(cl.Format), ModuleID: cl.ModuleID, PublicKeySHA256: hex.EncodeToString(fp[:]),
		Time: cl.Time.UTC(), Debug: cl.Debug,
	}
	if pcr0, ok := cl.PCRs[0]; ok {
		sum.PCR0 = hex.EncodeToString(pcr0)
	}
	return sum
}

// verifyRecipient checks a Recipient's algorithm and evidence and returns the
// verified claims; nil for no Recipient. Every failure is ErrInvalidRecipient
// wrapping the attest kind, with a message that says what failed.
func (s *Service) verifyRecipient(c *Call, r *Recipient) (*attest.Claims, error) {
	if r == nil {
		return nil, nil
	}
	if err := recipient.CheckAlgorithm(r.KeyEncryptionAlgorithm); err != nil {
		return nil, &Error{Kind: ErrValidation, Msg: "Recipient: " + err.Error()}
	}
	if len(r.AttestationDocument) == 0 {
		return nil, errorf(ErrValidation, "Recipient.AttestationDocument is required")
	}
	if s.opts.Attestation == nil {
		return nil, errorf(ErrInvalidRecipient, "Recipient: this server is not configured to verify attestation documents")
	}
	claims, err := s.opts.Attestation.Verify(r.AttestationDocument, s.now())
	if err != nil {
		return nil, &Error{Kind: ErrInvalidRecipient, Msg: "Recipient: the attestation document was refused: " + err.Error(), Cause: err}
	}
	if claims == nil || claims.PublicKey == nil {
		return nil, internal(errors.New("verifier returned no claims or no key without an error"))
	}
	c.Attestation = summarise(claims)
	if claims.Debug && !s.opts.AllowDebugEnclaves {
		return nil, errorf(ErrInvalidRecipient, "Recipient: the attestation document comes from an enclave in debug mode, whose memory is open to its host; this server refuses it (start it with --allow-debug-enclaves to accept such documents in tests)")
	}
	return claims, nil
}

// wrapForRecipient wraps secret to the attested key as CMS EnvelopedData (the
// CiphertextForRecipient of AWS KMS) and zeroes secret.
func wrapForRecipient(claims *attest.Claims, secret []byte) ([]byte, error) {
	defer clear(secret)
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
func (s *Service) prepareEncryption(c *Call, keyID, op string, r *Recipient, ec EncryptionContext, isDryRun bool) (*key, *attest.Claims, error) {
	k, err := s.encryptable(c, keyID, op)
	if err != nil {
		return nil, nil, err
	}
	claims, err := s.verifyRecipient(c, r)
	if err == nil {
		err = s.authorize(c, k, "kms:"+op, claims, ec)
	}
	if err == nil && isDryRun {
		err = dryRun()
	}
	if err != nil {
		k.release()
		return nil, nil, err
	}
	return k, claims, nil
}

// deliver hands a fresh secret over: wrapped to the Recipient when there is
// one, else in plaintext when the operation returns it, else zeroed.
func deliver(claims *attest.Claims, secret []byte, withPlaintext bool) (plaintext, ciphertextForRecipient []byte, err error) {
	switch {
	case claims != nil:
		cfr, err := wrapForRecipient(claims, secret)
		return nil, cfr, err
	case withPlaintext:
		return secret, nil, nil
	}
	clear(secret)
	return nil, nil, nil
}
