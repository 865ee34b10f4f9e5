package kms

import "context"

// GetPublicKeyRequest names an asymmetric key.
type GetPublicKeyRequest struct {
	KeyID string
}

// GetPublicKeyResponse is GetPublicKey's answer.
type GetPublicKeyResponse struct {
	KeyRef
	PublicKey              []byte // DER SubjectPublicKeyInfo
	KeySpec                KeySpec
	KeyUsage               KeyUsage
	KeyAgreementAlgorithms []string
}

// GetPublicKey returns an asymmetric key's public key.
func (s *Service) GetPublicKey(ctx context.Context, c *Call, req *GetPublicKeyRequest) (*GetPublicKeyResponse, error) {
	return run(s, ctx, c, "GetPublicKey", opRead, req, s.getPublicKey)
}

func (s *Service) getPublicKey(ctx context.Context, c *Call, req *GetPublicKeyRequest) (*GetPublicKeyResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	k, err := s.loadKey(ctx, c, req.KeyID)
	if err != nil {
		return nil, err
	}
	defer k.release()
	if err := s.usable(c, k); err != nil {
		return nil, err
	}
	if err := s.authorize(c, k, "kms:GetPublicKey", nil, nil); err != nil {
		return nil, err
	}
	if k.rec.PublicKey == nil {
		return nil, errorf(ErrUnsupported, "%s is a symmetric key: it has no public key.", s.keyARN(c, k.rec.ID))
	}
	resp := &GetPublicKeyResponse{
		KeyRef: s.keyRef(c, k.rec.ID), PublicKey: append([]byte(nil), k.rec.PublicKey...),
		KeySpec: KeySpec(k.rec.Spec), KeyUsage: KeyUsage(k.rec.Usage),
	}
	if KeyUsage(k.rec.Usage) == KeyAgreement {
		resp.KeyAgreementAlgorithms = []string{AlgECDH}
	}
	return resp, nil
}
