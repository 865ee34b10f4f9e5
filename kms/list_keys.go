package kms

import (
	"context"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// ListKeysRequest asks for a page of keys.
type ListKeysRequest struct {
	// Limit bounds the page: 1 to 1000 keys. Zero: 100.
	Limit int32
	// Marker is a previous page's NextMarker; "" starts at the first key.
	Marker string
}

// ListKeysResponse is ListKeys's answer: one page of keys.
type ListKeysResponse struct {
	Keys []KeyListEntry
	// NextMarker continues the listing; "" when this page is the last.
	NextMarker string
}

// KeyListEntry is one key of ListKeys.
type KeyListEntry struct{ KeyRef }

// pageLimit checks a listing's Limit: 0 means def, else 1 to max.
func pageLimit(limit, def, max int32) (int, error) {
	switch {
	case limit == 0:
		return int(def), nil
	case limit < 1 || limit > max:
		return 0, errorf(ErrValidation, "Limit must be between 1 and %d", max)
	}
	return int(limit), nil
}

// ListKeys lists the keys in id order. No key policy applies (a listing
// names keys, it does not use them): the caller's identity policy must allow
// kms:ListKeys on "*", as an IAM policy must in AWS (authorizeIdentity).
func (s *Service) ListKeys(ctx context.Context, c *Call, req *ListKeysRequest) (*ListKeysResponse, error) {
	return run(s, ctx, c, "ListKeys", opRead, req, s.listKeys)
}

func (s *Service) listKeys(ctx context.Context, c *Call, req *ListKeysRequest) (*ListKeysResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	limit, err := pageLimit(req.Limit, 100, 1000)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeIdentity(c, s.accountFacts(c, "kms:ListKeys", "*")); err != nil {
		return nil, err
	}
	var resp ListKeysResponse
	err = s.view(ctx, func(r store.Reader) error {
		start, err := decodeMarker(req.Marker)
		if err != nil {
			return err
		}
		resp.NextMarker, err = listPage(start, limit, r.Keys, func(k *store.Key) string { return k.ID }, func(k *store.Key) (bool, error) {
			if s.expired(k) {
				return false, nil
			}
			resp.Keys = append(resp.Keys, KeyListEntry{s.keyRef(c, k.ID)})
			return true, nil
		})
		return err
	})
	if err != nil {
		return nil, asKMSError(err)
	}
	return &resp, nil
}
