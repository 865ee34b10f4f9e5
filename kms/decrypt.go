package kms

import (
	"context"

	"github.com/attestkms/attestkms/answer"
)

// DecryptRequest decrypts a ciphertext blob.
type DecryptRequest struct {
	CiphertextBlob []byte
	// KeyID, if given, must name the key the blob was encrypted under.
	KeyID               string
	EncryptionContext   EncryptionContext
	EncryptionAlgorithm string
	// Recipient, if given, gets the plaintext wrapped to its attested key
	// instead of in the clear; EncryptTo, if given, encrypted to an
	// unattested public key.
	Recipient *Recipient
	EncryptTo *PublicKeyWrap
	DryRun    bool
}

// DecryptResponse is Decrypt's answer: Plaintext, or with a Recipient
// CiphertextForRecipient. The caller zeroes Plaintext once sent.
type DecryptResponse struct {
	Plaintext              []byte
	CiphertextForRecipient []byte
	KeyRef
	EncryptionAlgorithm string
	// AnswerSignature, with a Recipient, is the service key's signature of
	// the answer (servicekey.go, docs/answers.md); nil otherwise.
	AnswerSignature *AnswerSignature
}

func (r *DecryptResponse) wipe() { clear(r.Plaintext) }

// Decrypt opens a ciphertext blob made by Encrypt, GenerateDataKey or
// GenerateDataKeyPair.
func (s *Service) Decrypt(ctx context.Context, c *Call, req *DecryptRequest) (*DecryptResponse, error) {
	return run(s, ctx, c, "Decrypt", opUse, req, s.decrypt)
}

func (s *Service) decrypt(ctx context.Context, c *Call, req *DecryptRequest) (*DecryptResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	h, k, err := s.blobKey(ctx, c, req.CiphertextBlob, req.KeyID, req.EncryptionContext, "EncryptionContext", req.EncryptionAlgorithm, "EncryptionAlgorithm", "Decrypt")
	if err != nil {
		return nil, err
	}
	defer k.release()
	// The blob's length gives the plaintext's: a wrap is checked for it
	// before anything is decrypted.
	to, err := s.resolveTarget(ctx, c, k, req.Recipient, req.EncryptTo, len(req.CiphertextBlob)-blobHeaderLen-blobTagLen)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, k, "kms:Decrypt", to.claims, req.EncryptionContext); err != nil {
		return nil, err
	}
	if req.DryRun {
		return nil, dryRun()
	}
	pt, err := s.openWith(k, h, req.CiphertextBlob, req.EncryptionContext)
	if err != nil {
		return nil, err
	}
	resp := &DecryptResponse{KeyRef: s.keyRef(c, k.rec.ID), EncryptionAlgorithm: AlgSymmetricDefault}
	if resp.Plaintext, resp.CiphertextForRecipient, err = deliver(to, pt, true); err != nil {
		return nil, err
	}
	resp.AnswerSignature, err = s.signAnswer(c, to, resp.KeyARN,
		answer.Field{Name: "CiphertextForRecipient", Value: resp.CiphertextForRecipient},
		answer.Field{Name: "KeyId", Value: []byte(resp.KeyARN)},
		answer.Field{Name: "EncryptionAlgorithm", Value: []byte(resp.EncryptionAlgorithm)})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func errInvalidCiphertext() error {
	return errorf(ErrInvalidCiphertext, "The ciphertext is invalid, was not made by this service, or does not match its encryption context.")
}

// blobKey validates a decryption request and loads the key its blob names,
// checking state and usage; it decrypts nothing. A blob that is not ours or
// names a key that does not exist is ErrInvalidCiphertext and tells the caller
// nothing more. The caller releases the key.
func (s *Service) blobKey(ctx context.Context, c *Call, blob []byte, keyID string, ec EncryptionContext, ecField, alg, algField, op string) (blobHeader, *key, error) {
	var h blobHeader
	if len(blob) == 0 {
		return h, nil, errorf(ErrValidation, "CiphertextBlob is required")
	}
	if len(blob) > maxBlobLen {
		return h, nil, errorf(ErrValidation, "CiphertextBlob is longer than %d bytes", maxBlobLen)
	}
	if err := validateContext(ecField, ec); err != nil {
		return h, nil, err
	}
	if err := checkSymmetricAlgorithm(algField, alg); err != nil {
		return h, nil, err
	}
	want := ""
	if keyID != "" {
		var err error
		if want, err = s.resolveKeyID(ctx, keyID); err != nil {
			return h, nil, err
		}
		c.noteAlias(want, s.aliasNamed(keyID))
	}
	h, _, err := parseBlob(blob)
	if err != nil {
		return h, nil, errInvalidCiphertext()
	}
	id := formatUUID(h.keyID)
	if want != "" && want != id {
		return h, nil, errorf(ErrIncorrectKey, "The key ID in the request does not identify the key that encrypted the ciphertext.")
	}
	k, err := s.loadKeyByID(ctx, c, id)
	if err != nil {
		return h, nil, err
	}
	if k == nil {
		return h, nil, errInvalidCiphertext()
	}
	if err := s.usable(c, k); err != nil {
		k.release()
		return h, nil, err
	}
	if err := s.requireUsage(c, k, EncryptDecrypt, op); err != nil {
		k.release()
		return h, nil, err
	}
	return h, k, nil
}

// openWith decrypts a blob whose key blobKey loaded. Every failure — a
// material version the key does not have, any changed byte, another
// encryption context — is ErrInvalidCiphertext. The caller zeroes the
// plaintext.
func (s *Service) openWith(k *key, h blobHeader, blob []byte, ec EncryptionContext) ([]byte, error) {
	material, ok := k.sym[h.version]
	if !ok {
		return nil, errInvalidCiphertext()
	}
	pt, err := openBlob(blob, h, material, ec)
	if err != nil {
		return nil, errInvalidCiphertext()
	}
	return pt, nil
}
