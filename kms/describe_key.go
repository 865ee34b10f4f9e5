package kms

import "context"

// DescribeKeyRequest names the key to describe: an id, key ARN, alias/NAME
// or alias ARN, as every KeyID field.
type DescribeKeyRequest struct {
	KeyID string
}

// DescribeKeyResponse is DescribeKey's answer: the key's metadata.
type DescribeKeyResponse struct{ KeyMetadata }

// DescribeKey returns a key's metadata, in any state.
func (s *Service) DescribeKey(ctx context.Context, c *Call, req *DescribeKeyRequest) (*DescribeKeyResponse, error) {
	return run(s, ctx, c, "DescribeKey", opRead, req, s.describeKey)
}

func (s *Service) describeKey(ctx context.Context, c *Call, req *DescribeKeyRequest) (*DescribeKeyResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	k, err := s.loadKey(ctx, c, req.KeyID)
	if err != nil {
		return nil, err
	}
	defer k.release()
	if err := s.authorize(c, k, "kms:DescribeKey", nil, nil); err != nil {
		return nil, err
	}
	return &DescribeKeyResponse{s.metadata(c, k.rec)}, nil
}
