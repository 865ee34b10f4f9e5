package kms

import (
	"context"
	"crypto/rand"
)

// GenerateRandom returns n random bytes, 1 to 1024. The caller zeroes them
// once sent.
func (s *Service) GenerateRandom(ctx context.Context, c *Call, n int32, customKeyStoreID string) ([]byte, error) {
	if customKeyStoreID != "" {
		return nil, errorf(ErrUnsupported, "custom key stores are not supported")
	}
	if n < 1 || n > maxRandomBytes {
		return nil, errorf(ErrValidation, "NumberOfBytes must be between 1 and %d", maxRandomBytes)
	}
	b := make([]byte, n)
	rand.Read(b)
	return b, nil
}
