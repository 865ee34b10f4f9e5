package kms

import "context"

// DescribeKeyRequest names the key to describe: an id, key ARN, alias/NAME
// or alias ARN, as every KeyID field.
type DescribeKeyRequest struct {
	KeyID string
	// WithAlias asks for the key's first alias too (Huawei's and
	// Tencent's describe answers carry one), under DescribeKey's
	// authorization: a caller allowed to describe the key need not be
	// allowed kms:ListAliases, the account's whole list.
	WithAlias bool
}

// DescribeKeyResponse is DescribeKey's answer: the key's metadata, and with
// WithAlias its first alias (alias/NAME, in name order; "" if none).
type DescribeKeyResponse struct {
	KeyMetadata
	Alias string
}

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
	resp := &DescribeKeyResponse{KeyMetadata: s.metadata(c, k.rec)}
	if req.WithAlias {
		as, err := s.keyAliases(k)
		if err != nil {
			return nil, err
		}
		if len(as) > 0 {
			resp.Alias = as[0]
		}
	}
	return resp, nil
}
