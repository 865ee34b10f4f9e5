package kms

import (
	"context"
	"encoding/base64"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/attestkms/attestkms/kms/internal/store"
)

func validateTags(tags []Tag) error {
	if len(tags) > maxTags {
		return errorf(ErrTag, "a key has at most %d tags", maxTags)
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if err := validateTagKey(t.TagKey); err != nil {
			return err
		}
		if len(t.TagValue) > 256 || !utf8.ValidString(t.TagValue) {
			return errorf(ErrTag, "TagValue of %q must be 0-256 characters of UTF-8", t.TagKey)
		}
		if seen[t.TagKey] {
			return errorf(ErrTag, "TagKey %q appears twice", t.TagKey)
		}
		seen[t.TagKey] = true
	}
	return nil
}

func validateTagKey(k string) error {
	if k == "" || len(k) > 128 || !utf8.ValidString(k) {
		return errorf(ErrTag, "TagKey must be 1-128 characters of UTF-8")
	}
	if strings.HasPrefix(strings.ToLower(k), "aws:") {
		return errorf(ErrTag, "TagKey %q: the aws: prefix is reserved", k)
	}
	return nil
}

// mergeTags sets tags on top of old (a tag with an existing key replaces its
// value), sorted by key.
func mergeTags(old []store.Tag, tags []Tag) []store.Tag {
	m := map[string]string{}
	for _, t := range old {
		m[t.TagKey] = t.TagValue
	}
	for _, t := range tags {
		m[t.TagKey] = t.TagValue
	}
	out := make([]store.Tag, 0, len(m))
	for k, v := range m {
		out = append(out, store.Tag{TagKey: k, TagValue: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TagKey < out[j].TagKey })
	return out
}

// TagResourceRequest adds Tags to a key, or replaces the values of its tags
// with the same keys.
type TagResourceRequest struct {
	KeyID string
	Tags  []Tag
}

// TagResourceResponse is TagResource's answer: the key.
type TagResourceResponse struct{ KeyRef }

// TagResource adds or replaces tags on a key.
func (s *Service) TagResource(ctx context.Context, c *Call, req *TagResourceRequest) (*TagResourceResponse, error) {
	return run(s, ctx, c, "TagResource", opChange, req, s.tagResource)
}

func (s *Service) tagResource(ctx context.Context, c *Call, req *TagResourceRequest) (*TagResourceResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	tags := req.Tags
	if len(tags) == 0 {
		return nil, errorf(ErrValidation, "Tags is required")
	}
	if err := validateTags(tags); err != nil {
		return nil, err
	}
	rec, err := s.changeKey(ctx, c, req.KeyID, "kms:TagResource", func(rec *store.Key) error {
		if KeyState(rec.State) == PendingDeletion {
			return errorf(ErrInvalidState, "%s is pending deletion.", s.keyARN(c, rec.ID))
		}
		merged := mergeTags(rec.Tags, tags)
		if len(merged) > maxTags {
			return errorf(ErrLimitExceeded, "a key has at most %d tags", maxTags)
		}
		rec.Tags = merged
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &TagResourceResponse{s.keyRef(c, rec.ID)}, nil
}

// UntagResourceRequest removes the tags with TagKeys from a key.
type UntagResourceRequest struct {
	KeyID   string
	TagKeys []string
}

// UntagResourceResponse is UntagResource's answer: the key.
type UntagResourceResponse struct{ KeyRef }

// UntagResource removes tags from a key; absent keys are ignored.
func (s *Service) UntagResource(ctx context.Context, c *Call, req *UntagResourceRequest) (*UntagResourceResponse, error) {
	return run(s, ctx, c, "UntagResource", opChange, req, s.untagResource)
}

func (s *Service) untagResource(ctx context.Context, c *Call, req *UntagResourceRequest) (*UntagResourceResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	tagKeys := req.TagKeys
	if len(tagKeys) == 0 {
		return nil, errorf(ErrValidation, "TagKeys is required")
	}
	if len(tagKeys) > maxTags {
		return nil, errorf(ErrValidation, "TagKeys has more than %d members", maxTags)
	}
	for _, k := range tagKeys {
		if err := validateTagKey(k); err != nil {
			return nil, err
		}
	}
	rec, err := s.changeKey(ctx, c, req.KeyID, "kms:UntagResource", func(rec *store.Key) error {
		if KeyState(rec.State) == PendingDeletion {
			return errorf(ErrInvalidState, "%s is pending deletion.", s.keyARN(c, rec.ID))
		}
		drop := map[string]bool{}
		for _, k := range tagKeys {
			drop[k] = true
		}
		kept := rec.Tags[:0:0]
		for _, t := range rec.Tags {
			if !drop[t.TagKey] {
				kept = append(kept, t)
			}
		}
		rec.Tags = kept
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &UntagResourceResponse{s.keyRef(c, rec.ID)}, nil
}

// ListResourceTagsRequest asks for a page of a key's tags.
type ListResourceTagsRequest struct {
	KeyID string
	// Limit bounds the page: 1 to 50 tags. Zero: 50.
	Limit int32
	// Marker is a previous page's NextMarker; "" starts at the first tag.
	Marker string
}

// ListResourceTagsResponse is ListResourceTags's answer: one page of the
// key's tags, by tag key.
type ListResourceTagsResponse struct {
	KeyRef
	Tags []Tag
	// NextMarker continues the listing; "" when this page is the last.
	NextMarker string
}

// ListResourceTags lists a key's tags by key.
func (s *Service) ListResourceTags(ctx context.Context, c *Call, req *ListResourceTagsRequest) (*ListResourceTagsResponse, error) {
	return run(s, ctx, c, "ListResourceTags", opRead, req, s.listResourceTags)
}

func (s *Service) listResourceTags(ctx context.Context, c *Call, req *ListResourceTagsRequest) (*ListResourceTagsResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	limit, err := pageLimit(req.Limit, 50, 50)
	if err != nil {
		return nil, err
	}
	k, err := s.loadKey(ctx, c, req.KeyID)
	if err != nil {
		return nil, err
	}
	defer k.release()
	if err := s.authorize(c, k, "kms:ListResourceTags", nil, nil); err != nil {
		return nil, err
	}
	tags := k.rec.Tags
	start := 0
	if req.Marker != "" {
		m, err := base64.RawURLEncoding.DecodeString(req.Marker)
		if err != nil || len(m) == 0 {
			return nil, errorf(ErrInvalidMarker, "Marker is not valid")
		}
		start = sort.Search(len(tags), func(i int) bool { return tags[i].TagKey >= string(m) })
	}
	end := min(start+limit, len(tags))
	resp := &ListResourceTagsResponse{KeyRef: s.keyRef(c, k.rec.ID)}
	for _, t := range tags[start:end] {
		resp.Tags = append(resp.Tags, Tag(t))
	}
	if end < len(tags) {
		resp.NextMarker = base64.RawURLEncoding.EncodeToString([]byte(tags[end].TagKey))
	}
	return resp, nil
}
