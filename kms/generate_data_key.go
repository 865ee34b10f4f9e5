package kms

import (
	"context"
	"crypto/rand"

	"github.com/attestkms/attestkms/answer"
)

// GenerateDataKeyRequest asks for a data key: KeySpec AES_128 or AES_256, or
// NumberOfBytes 1-1024, exactly one of them.
type GenerateDataKeyRequest struct {
	KeyID             string
	KeySpec           string
	NumberOfBytes     int32
	EncryptionContext EncryptionContext
	// Recipient, if given, gets the data key wrapped to its attested key
	// instead of in the clear; EncryptTo, if given, encrypted to an
	// unattested public key.
	Recipient *Recipient
	EncryptTo *PublicKeyWrap
	DryRun    bool
}

// GenerateDataKeyResponse is GenerateDataKey's answer. Plaintext is nil
// with a Recipient or EncryptTo (which get CiphertextForRecipient); the
// caller zeroes it once sent.
type GenerateDataKeyResponse struct {
	CiphertextBlob         []byte
	Plaintext              []byte
	CiphertextForRecipient []byte
	KeyRef
	// AnswerSignature, with a Recipient, is the service key's signature of
	// the answer (servicekey.go, docs/answers.md); nil otherwise.
	AnswerSignature *AnswerSignature
}

// GenerateDataKeyWithoutPlaintextRequest asks for a data key returned only
// encrypted: GenerateDataKeyRequest without a recipient of its plaintext.
type GenerateDataKeyWithoutPlaintextRequest struct {
	KeyID             string
	KeySpec           string
	NumberOfBytes     int32
	EncryptionContext EncryptionContext
	DryRun            bool
}

// GenerateDataKeyWithoutPlaintextResponse is GenerateDataKeyWithoutPlaintext's
// answer.
type GenerateDataKeyWithoutPlaintextResponse struct {
	CiphertextBlob []byte
	KeyRef
}

func (r *GenerateDataKeyResponse) wipe() { clear(r.Plaintext) }

const maxRandomBytes = 1024

func dataKeySize(spec string, n int32) (int, error) {
	switch {
	case spec != "" && n != 0:
		return 0, errorf(ErrValidation, "give KeySpec or NumberOfBytes, not both")
	case spec == "AES_256":
		return 32, nil
	case spec == "AES_128":
		return 16, nil
	case spec != "":
		return 0, errorf(ErrValidation, "KeySpec %q is not valid; use AES_128 or AES_256", spec)
	case n == 0:
		return 0, errorf(ErrValidation, "KeySpec or NumberOfBytes is required")
	case n < 1 || n > maxRandomBytes:
		return 0, errorf(ErrValidation, "NumberOfBytes must be between 1 and %d", maxRandomBytes)
	}
	return int(n), nil
}

// GenerateDataKey returns a fresh data key in plaintext and encrypted under a
// symmetric key.
func (s *Service) GenerateDataKey(ctx context.Context, c *Call, req *GenerateDataKeyRequest) (*GenerateDataKeyResponse, error) {
	return run(s, ctx, c, "GenerateDataKey", opUse, req, func(ctx context.Context, c *Call, req *GenerateDataKeyRequest) (*GenerateDataKeyResponse, error) {
		return s.generateDataKey(ctx, c, req, true)
	})
}

// GenerateDataKeyWithoutPlaintext returns a fresh data key encrypted only.
func (s *Service) GenerateDataKeyWithoutPlaintext(ctx context.Context, c *Call, req *GenerateDataKeyWithoutPlaintextRequest) (*GenerateDataKeyWithoutPlaintextResponse, error) {
	return run(s, ctx, c, "GenerateDataKeyWithoutPlaintext", opUse, req, func(ctx context.Context, c *Call, req *GenerateDataKeyWithoutPlaintextRequest) (*GenerateDataKeyWithoutPlaintextResponse, error) {
		r, err := s.generateDataKey(ctx, c, &GenerateDataKeyRequest{
			KeyID: req.KeyID, KeySpec: req.KeySpec, NumberOfBytes: req.NumberOfBytes,
			EncryptionContext: req.EncryptionContext, DryRun: req.DryRun,
		}, false)
		if err != nil {
			return nil, err
		}
		return &GenerateDataKeyWithoutPlaintextResponse{CiphertextBlob: r.CiphertextBlob, KeyRef: r.KeyRef}, nil
	})
}

func (s *Service) generateDataKey(ctx context.Context, c *Call, req *GenerateDataKeyRequest, withPlaintext bool) (*GenerateDataKeyResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	n, err := dataKeySize(req.KeySpec, req.NumberOfBytes)
	if err != nil {
		return nil, err
	}
	if err := validateContext("EncryptionContext", req.EncryptionContext); err != nil {
		return nil, err
	}
	op := "GenerateDataKey"
	if !withPlaintext {
		op = "GenerateDataKeyWithoutPlaintext"
	}
	k, to, err := s.prepareEncryption(ctx, c, req.KeyID, op, req.Recipient, req.EncryptTo, n, req.EncryptionContext, req.DryRun)
	if err != nil {
		return nil, err
	}
	defer k.release()
	dk := make([]byte, n)
	rand.Read(dk)
	blob, err := k.seal(dk, req.EncryptionContext)
	if err != nil {
		clear(dk)
		return nil, err
	}
	resp := &GenerateDataKeyResponse{CiphertextBlob: blob, KeyRef: s.keyRef(c, k.rec.ID)}
	if resp.Plaintext, resp.CiphertextForRecipient, err = deliver(to, dk, withPlaintext); err != nil {
		return nil, err
	}
	resp.AnswerSignature, err = s.signAnswer(c, to, resp.KeyARN,
		answer.Field{Name: "CiphertextForRecipient", Value: resp.CiphertextForRecipient},
		answer.Field{Name: "CiphertextBlob", Value: resp.CiphertextBlob},
		answer.Field{Name: "KeyId", Value: []byte(resp.KeyARN)})
	if err != nil {
		return nil, err
	}
	return resp, nil
}
