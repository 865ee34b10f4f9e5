package kms

import (
	"context"
	"encoding/json"

	bolt "go.etcd.io/bbolt"
)

// DescribeKey returns a key's metadata, in any state.
func (s *Service) DescribeKey(ctx context.Context, c *Call, keyID string) (*KeyMetadata, error) {
	k, err := s.loadKey(c, keyID)
	if err != nil {
		return nil, err
	}
	defer k.release()
	if err := s.authorize(c, k, "kms:DescribeKey", nil, nil); err != nil {
		return nil, err
	}
	return s.metadata(c, k.rec), nil
}

// KeyListEntry is one key of ListKeys.
type KeyListEntry struct {
	KeyID  string
	KeyArn string
}

// Page bounds a listing: Limit items at most (0 means the operation's
// default), from Marker (a previous page's NextMarker).
type Page struct {
	Limit  int32
	Marker string
}

func (p Page) limit(def, max int32) (int, error) {
	switch {
	case p.Limit == 0:
		return int(def), nil
	case p.Limit < 1 || p.Limit > max:
		return 0, errorf(ErrValidation, "Limit must be between 1 and %d", max)
	}
	return int(p.Limit), nil
}

// ListKeys lists the keys in id order.
func (s *Service) ListKeys(ctx context.Context, c *Call, p Page) ([]KeyListEntry, string, error) {
	limit, err := p.limit(100, 1000)
	if err != nil {
		return nil, "", err
	}
	var out []KeyListEntry
	var next string
	err = s.st.db.View(func(tx *bolt.Tx) error {
		var err error
		next, err = listPage(tx.Bucket(bucketKeys), p.Marker, limit, func(k, v []byte) (bool, error) {
			var rec keyRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return false, err
			}
			if s.expired(&rec) {
				return false, nil
			}
			out = append(out, KeyListEntry{KeyID: rec.ID, KeyArn: s.keyARN(c, rec.ID)})
			return true, nil
		})
		return err
	})
	if err != nil {
		return nil, "", asKMSError(err)
	}
	return out, next, nil
}

// asKMSError keeps kms errors and turns anything else into an internal one.
func asKMSError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*Error); ok {
		return err
	}
	return internal(err)
}
