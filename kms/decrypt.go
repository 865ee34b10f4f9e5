package kms

import "context"

// DecryptRequest decrypts a ciphertext blob.
type DecryptRequest struct {
	CiphertextBlob []byte
	// KeyID, if given, must name the key the blob was encrypted under.
	KeyID               string
	EncryptionContext   EncryptionContext
	EncryptionAlgorithm string
	DryRun              bool
}

// DecryptResponse is Decrypt's answer; the caller zeroes Plaintext once sent.
type DecryptResponse struct {
	Plaintext           []byte
	KeyID               string // ARN
	EncryptionAlgorithm string
}

// Decrypt opens a ciphertext blob made by Encrypt, GenerateDataKey or
// GenerateDataKeyPair.
func (s *Service) Decrypt(ctx context.Context, c *Call, req *DecryptRequest) (*DecryptResponse, error) {
	pt, k, err := s.open(c, req.CiphertextBlob, req.KeyID, "KeyId", req.EncryptionContext, "EncryptionContext", req.EncryptionAlgorithm, "EncryptionAlgorithm", "Decrypt")
	if err != nil {
		return nil, err
	}
	defer k.release()
	if req.DryRun {
		clear(pt)
		return nil, dryRun()
	}
	return &DecryptResponse{Plaintext: pt, KeyID: s.keyARN(c, k.rec.ID), EncryptionAlgorithm: AlgSymmetricDefault}, nil
}

// open checks and decrypts a blob. Every failure to open — not our format, a
// key that does not exist, a material version it does not have, any changed
// byte, another encryption context — is ErrInvalidCiphertext and tells the
// caller nothing more. The caller releases the key and zeroes the plaintext.
func (s *Service) open(c *Call, blob []byte, keyID, keyField string, ec EncryptionContext, ecField, alg, algField, op string) ([]byte, *key, error) {
	if len(blob) == 0 {
		return nil, nil, errorf(ErrValidation, "CiphertextBlob is required")
	}
	if len(blob) > maxBlobLen {
		return nil, nil, errorf(ErrValidation, "CiphertextBlob is longer than %d bytes", maxBlobLen)
	}
	if err := validateContext(ecField, ec); err != nil {
		return nil, nil, err
	}
	if err := checkSymmetricAlgorithm(algField, alg); err != nil {
		return nil, nil, err
	}
	want := ""
	if keyID != "" {
		var err error
		if want, err = s.resolveKeyID(keyID); err != nil {
			return nil, nil, err
		}
	}
	invalid := errorf(ErrInvalidCiphertext, "The ciphertext is invalid, was not made by this service, or does not match its encryption context.")
	h, _, err := parseBlob(blob)
	if err != nil {
		return nil, nil, invalid
	}
	id := formatUUID(h.keyID)
	if want != "" && want != id {
		return nil, nil, errorf(ErrIncorrectKey, "The key ID in the request does not identify the key that encrypted the ciphertext.")
	}
	k, err := s.loadKeyByID(c, id)
	if err != nil {
		return nil, nil, err
	}
	if k == nil {
		return nil, nil, invalid
	}
	if err := s.usable(c, k); err != nil {
		k.release()
		return nil, nil, err
	}
	if err := s.requireUsage(c, k, EncryptDecrypt, op); err != nil {
		k.release()
		return nil, nil, err
	}
	material, ok := k.sym[h.version]
	if !ok {
		k.release()
		return nil, nil, invalid
	}
	pt, err := openBlob(blob, h, material, ec)
	if err != nil {
		k.release()
		return nil, nil, invalid
	}
	return pt, k, nil
}
