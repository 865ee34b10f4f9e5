package kms

import (
	"context"
	"crypto/rand"

	"github.com/attestkms/attestkms/answer"
)

// GenerateRandomRequest asks for 1 to 1024 random bytes.
type GenerateRandomRequest struct {
	NumberOfBytes    int32
	CustomKeyStoreID string
	// Recipient, if given, gets the bytes wrapped to its attested key.
	Recipient *Recipient
}

// GenerateRandomResponse is GenerateRandom's answer: Plaintext, or with a
// Recipient CiphertextForRecipient. The caller zeroes Plaintext once sent.
type GenerateRandomResponse struct {
	Plaintext              []byte
	CiphertextForRecipient []byte
	// AnswerSignature, with a Recipient, is the service key's signature of
	// the answer (servicekey.go, docs/answers.md); nil otherwise.
	AnswerSignature *AnswerSignature
}

func (r *GenerateRandomResponse) wipe() { clear(r.Plaintext) }

// GenerateRandom returns random bytes. It uses no key, so no key policy
// applies; a Recipient's evidence is still verified.
func (s *Service) GenerateRandom(ctx context.Context, c *Call, req *GenerateRandomRequest) (*GenerateRandomResponse, error) {
	return run(s, ctx, c, "GenerateRandom", opUse, req, s.generateRandom)
}

func (s *Service) generateRandom(ctx context.Context, c *Call, req *GenerateRandomRequest) (*GenerateRandomResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	if req.CustomKeyStoreID != "" {
		return nil, errorf(ErrUnsupported, "custom key stores are not supported")
	}
	if req.NumberOfBytes < 1 || req.NumberOfBytes > maxRandomBytes {
		return nil, errorf(ErrValidation, "NumberOfBytes must be between 1 and %d", maxRandomBytes)
	}
	to, err := s.resolveTarget(ctx, c, nil, req.Recipient, nil, int(req.NumberOfBytes))
	if err != nil {
		return nil, err
	}
	b := make([]byte, req.NumberOfBytes)
	rand.Read(b)
	var resp GenerateRandomResponse
	if resp.Plaintext, resp.CiphertextForRecipient, err = deliver(to, b, true); err != nil {
		return nil, err
	}
	resp.AnswerSignature, err = s.signAnswer(c, to, "",
		answer.Field{Name: "CiphertextForRecipient", Value: resp.CiphertextForRecipient})
	if err != nil {
		return nil, err
	}
	return &resp, nil
}
