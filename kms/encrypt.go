package kms

import (
	"context"
	"unicode/utf8"
)

// EncryptRequest encrypts up to 4096 bytes under a symmetric key.
type EncryptRequest struct {
	KeyID               string
	Plaintext           []byte
	EncryptionContext   EncryptionContext
	EncryptionAlgorithm string // "" means SYMMETRIC_DEFAULT, the only one
	DryRun              bool
}

// EncryptResponse is Encrypt's answer.
type EncryptResponse struct {
	CiphertextBlob []byte
	KeyRef
	EncryptionAlgorithm string
}

const (
	maxContextPairs = 64
	maxContextBytes = 8192
)

// validateContext bounds an encryption context so that its canonical encoding
// is well defined (uint16 lengths) and cheap.
func validateContext(field string, ec EncryptionContext) error {
	if len(ec) > maxContextPairs {
		return errorf(ErrValidation, "%s has more than %d pairs", field, maxContextPairs)
	}
	n := 0
	for k, v := range ec {
		if k == "" {
			return errorf(ErrValidation, "%s has an empty key", field)
		}
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return errorf(ErrValidation, "%s is not UTF-8", field)
		}
		n += len(k) + len(v)
	}
	if n > maxContextBytes {
		return errorf(ErrValidation, "%s is larger than %d bytes", field, maxContextBytes)
	}
	return nil
}

func checkSymmetricAlgorithm(field, alg string) error {
	if alg != "" && alg != AlgSymmetricDefault {
		return errorf(ErrValidation, "%s %q is not supported; use SYMMETRIC_DEFAULT", field, alg)
	}
	return nil
}

// encryptable loads a key for encryption: enabled, ENCRYPT_DECRYPT.
func (s *Service) encryptable(ctx context.Context, c *Call, keyID, op string) (*key, error) {
	k, err := s.loadKey(ctx, c, keyID)
	if err != nil {
		return nil, err
	}
	if err := s.usable(c, k); err != nil {
		k.release()
		return nil, err
	}
	if err := s.requireUsage(c, k, EncryptDecrypt, op); err != nil {
		k.release()
		return nil, err
	}
	return k, nil
}

// seal encrypts plaintext under k's current material.
func (k *key) seal(plaintext []byte, ec EncryptionContext) ([]byte, error) {
	cur := k.rec.Current()
	blob, err := sealBlob(k.id16, cur.Version, k.sym[cur.Version], plaintext, ec)
	if err != nil {
		return nil, internal(err)
	}
	return blob, nil
}

func dryRun() error {
	return errorf(ErrDryRun, "The request would have succeeded, but the DryRun option is set.")
}

// Encrypt encrypts plaintext under a symmetric key.
func (s *Service) Encrypt(ctx context.Context, c *Call, req *EncryptRequest) (*EncryptResponse, error) {
	return run(s, ctx, c, "Encrypt", opUse, req, s.encrypt)
}

func (s *Service) encrypt(ctx context.Context, c *Call, req *EncryptRequest) (*EncryptResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	if len(req.Plaintext) == 0 || len(req.Plaintext) > maxPlaintextLen {
		return nil, errorf(ErrValidation, "Plaintext must be 1 to %d bytes", maxPlaintextLen)
	}
	if err := validateContext("EncryptionContext", req.EncryptionContext); err != nil {
		return nil, err
	}
	if err := checkSymmetricAlgorithm("EncryptionAlgorithm", req.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	k, _, err := s.prepareEncryption(ctx, c, req.KeyID, "Encrypt", nil, nil, 0, req.EncryptionContext, req.DryRun)
	if err != nil {
		return nil, err
	}
	defer k.release()
	blob, err := k.seal(req.Plaintext, req.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return &EncryptResponse{CiphertextBlob: blob, KeyRef: s.keyRef(c, k.rec.ID), EncryptionAlgorithm: AlgSymmetricDefault}, nil
}
