package kms

import (
	"context"
	"errors"

	"github.com/attestkms/attestkms/answer"
	"github.com/attestkms/attestkms/kms/internal/eckeys"
)

// DeriveSharedSecretRequest asks for ECDH between a KEY_AGREEMENT key and a
// peer's public key (DER SubjectPublicKeyInfo).
type DeriveSharedSecretRequest struct {
	KeyID                 string
	KeyAgreementAlgorithm string
	PublicKey             []byte
	// Recipient, if given, gets the shared secret wrapped to its attested key.
	Recipient *Recipient
	DryRun    bool
}

// DeriveSharedSecretResponse is DeriveSharedSecret's answer. SharedSecret is
// the raw x-coordinate of the shared point, as AWS KMS returns it: callers
// should run it through a KDF before using it as a key. With a Recipient it is
// absent and CiphertextForRecipient carries it. The caller zeroes it once sent.
type DeriveSharedSecretResponse struct {
	KeyRef
	SharedSecret           []byte
	CiphertextForRecipient []byte
	KeyAgreementAlgorithm  string
	KeyOrigin              string
	// AnswerSignature, with a Recipient, is the service key's signature of
	// the answer (servicekey.go, docs/answers.md); nil otherwise.
	AnswerSignature *AnswerSignature
}

func (r *DeriveSharedSecretResponse) wipe() { clear(r.SharedSecret) }

// maxPeerKey bounds the peer's SubjectPublicKeyInfo: a P-521 one is 158 bytes.
const maxPeerKey = 1024

// DeriveSharedSecret derives the ECDH shared secret. The peer key must be on
// the KMS key's curve and not the identity, else ErrInvalidPublicKey and no
// secret.
func (s *Service) DeriveSharedSecret(ctx context.Context, c *Call, req *DeriveSharedSecretRequest) (*DeriveSharedSecretResponse, error) {
	return run(s, ctx, c, "DeriveSharedSecret", opUse, req, s.deriveSharedSecret)
}

func (s *Service) deriveSharedSecret(ctx context.Context, c *Call, req *DeriveSharedSecretRequest) (*DeriveSharedSecretResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	if req.KeyAgreementAlgorithm == "" {
		return nil, errorf(ErrValidation, "KeyAgreementAlgorithm is required; use ECDH")
	}
	if req.KeyAgreementAlgorithm != AlgECDH {
		return nil, errorf(ErrValidation, "KeyAgreementAlgorithm %q is not supported; use ECDH", req.KeyAgreementAlgorithm)
	}
	if len(req.PublicKey) == 0 {
		return nil, errorf(ErrValidation, "PublicKey is required")
	}
	if len(req.PublicKey) > maxPeerKey {
		return nil, errorf(ErrValidation, "PublicKey is longer than %d bytes", maxPeerKey)
	}
	k, err := s.loadKey(ctx, c, req.KeyID)
	if err != nil {
		return nil, err
	}
	defer k.release()
	if err := s.usable(c, k); err != nil {
		return nil, err
	}
	if err := s.requireUsage(c, k, KeyAgreement, "DeriveSharedSecret"); err != nil {
		return nil, err
	}
	peer, err := eckeys.ParseSPKI(req.PublicKey)
	if err != nil {
		return nil, errorf(ErrInvalidPublicKey, "PublicKey is not a valid DER SubjectPublicKeyInfo of an uncompressed point on a supported curve")
	}
	if peer.Curve() != k.ec.Curve() {
		return nil, errorf(ErrInvalidPublicKey, "PublicKey is on %s but %s uses %s", peer.Curve(), s.keyARN(c, k.rec.ID), k.ec.Curve())
	}
	to, err := s.resolveTarget(ctx, c, k, req.Recipient, nil, k.ec.Curve().SecretSize())
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, k, "kms:DeriveSharedSecret", to.claims, nil); err != nil {
		return nil, err
	}
	if req.DryRun {
		return nil, dryRun()
	}
	secret, err := k.ec.ECDH(peer)
	if errors.Is(err, eckeys.ErrInvalidKey) || errors.Is(err, eckeys.ErrCurveMismatch) {
		return nil, errorf(ErrInvalidPublicKey, "PublicKey cannot be used for key agreement with %s", s.keyARN(c, k.rec.ID))
	}
	if err != nil {
		return nil, internal(err)
	}
	resp := &DeriveSharedSecretResponse{KeyRef: s.keyRef(c, k.rec.ID), KeyAgreementAlgorithm: AlgECDH, KeyOrigin: OriginAWSKMS}
	if resp.SharedSecret, resp.CiphertextForRecipient, err = deliver(to, secret, true); err != nil {
		return nil, err
	}
	resp.AnswerSignature, err = s.signAnswer(c, to, resp.KeyARN,
		answer.Field{Name: "CiphertextForRecipient", Value: resp.CiphertextForRecipient},
		answer.Field{Name: "KeyId", Value: []byte(resp.KeyARN)},
		answer.Field{Name: "KeyAgreementAlgorithm", Value: []byte(resp.KeyAgreementAlgorithm)},
		answer.Field{Name: "KeyOrigin", Value: []byte(resp.KeyOrigin)})
	if err != nil {
		return nil, err
	}
	return resp, nil
}
