package kms

import "context"

// ReEncryptRequest decrypts a blob and encrypts its plaintext under another
// key or context, without the plaintext leaving the service.
type ReEncryptRequest struct {
	CiphertextBlob                 []byte
	SourceKeyID                    string
	SourceEncryptionContext        EncryptionContext
	SourceEncryptionAlgorithm      string
	DestinationKeyID               string
	DestinationEncryptionContext   EncryptionContext
	DestinationEncryptionAlgorithm string
	DryRun                         bool
}

// ReEncryptResponse is ReEncrypt's answer.
type ReEncryptResponse struct {
	CiphertextBlob []byte
	SourceKeyID    string // the source key's bare id
	SourceKeyARN   string
	// KeyRef is the destination key.
	KeyRef
	SourceEncryptionAlgorithm      string
	DestinationEncryptionAlgorithm string
}

// ReEncrypt re-encrypts a blob: kms:ReEncryptFrom on the source key and
// kms:ReEncryptTo on the destination, both checked before anything is opened.
func (s *Service) ReEncrypt(ctx context.Context, c *Call, req *ReEncryptRequest) (*ReEncryptResponse, error) {
	return run(s, ctx, c, "ReEncrypt", opUse, req, s.reEncrypt)
}

func (s *Service) reEncrypt(ctx context.Context, c *Call, req *ReEncryptRequest) (*ReEncryptResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	if req.DestinationKeyID == "" {
		return nil, errorf(ErrValidation, "DestinationKeyId is required")
	}
	if err := validateContext("DestinationEncryptionContext", req.DestinationEncryptionContext); err != nil {
		return nil, err
	}
	if err := checkSymmetricAlgorithm("DestinationEncryptionAlgorithm", req.DestinationEncryptionAlgorithm); err != nil {
		return nil, err
	}
	dst, err := s.encryptable(ctx, c, req.DestinationKeyID, "ReEncrypt")
	if err != nil {
		return nil, err
	}
	defer dst.release()
	dstARN := c.op.keyARN
	c.op.keyARN = ""
	h, src, err := s.blobKey(ctx, c, req.CiphertextBlob, req.SourceKeyID, req.SourceEncryptionContext, "SourceEncryptionContext", req.SourceEncryptionAlgorithm, "SourceEncryptionAlgorithm", "ReEncrypt")
	c.op.sourceKeyARN, c.op.keyARN = c.op.keyARN, dstARN
	if err != nil {
		return nil, err
	}
	defer src.release()
	if err := s.authorize(c, src, "kms:ReEncryptFrom", nil, req.SourceEncryptionContext); err != nil {
		return nil, err
	}
	if err := s.authorize(c, dst, "kms:ReEncryptTo", nil, req.DestinationEncryptionContext); err != nil {
		return nil, err
	}
	if req.DryRun {
		return nil, dryRun()
	}
	pt, err := s.openWith(src, h, req.CiphertextBlob, req.SourceEncryptionContext)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	blob, err := dst.seal(pt, req.DestinationEncryptionContext)
	if err != nil {
		return nil, err
	}
	return &ReEncryptResponse{
		CiphertextBlob:                 blob,
		SourceKeyID:                    src.rec.ID,
		SourceKeyARN:                   s.keyARN(c, src.rec.ID),
		KeyRef:                         s.keyRef(c, dst.rec.ID),
		SourceEncryptionAlgorithm:      AlgSymmetricDefault,
		DestinationEncryptionAlgorithm: AlgSymmetricDefault,
	}, nil
}
