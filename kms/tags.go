package kms

import (
	"context"
	"encoding/base64"
	"sort"
	"strings"
	"unicode/utf8"
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
func mergeTags(old, tags []Tag) []Tag {
	m := map[string]string{}
	for _, t := range old {
		m[t.TagKey] = t.TagValue
	}
	for _, t := range tags {
		m[t.TagKey] = t.TagValue
	}
	out := make([]Tag, 0, len(m))
	for k, v := range m {
		out = append(out, Tag{TagKey: k, TagValue: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TagKey < out[j].TagKey })
	return out
}

// TagResource adds or replaces tags on a key.
func (s *Service) TagResource(ctx context.Context, c *Call, keyID string, tags []Tag) error {
	if len(tags) == 0 {
		return errorf(ErrValidation, "Tags is required")
	}
	if err := validateTags(tags); err != nil {
		return err
	}
	_, err := s.changeKey(c, keyID, "kms:TagResource", func(rec *keyRecord) error {
		if rec.State == PendingDeletion {
			return errorf(ErrInvalidState, "%s is pending deletion.", s.keyARN(c, rec.ID))
		}
		merged := mergeTags(rec.Tags, tags)
		if len(merged) > maxTags {
			return errorf(ErrLimitExceeded, "a key has at most %d tags", maxTags)
		}
		rec.Tags = merged
		return nil
	})
	return err
}

// UntagResource removes tags from a key; absent keys are ignored.
func (s *Service) UntagResource(ctx context.Context, c *Call, keyID string, tagKeys []string) error {
	if len(tagKeys) == 0 {
		return errorf(ErrValidation, "TagKeys is required")
	}
	if len(tagKeys) > maxTags {
		return errorf(ErrValidation, "TagKeys has more than %d members", maxTags)
	}
	for _, k := range tagKeys {
		if err := validateTagKey(k); err != nil {
			return err
		}
	}
	_, err := s.changeKey(c, keyID, "kms:UntagResource", func(rec *keyRecord) error {
		if rec.State == PendingDeletion {
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
	return err
}

// ListResourceTags lists a key's tags by key.
func (s *Service) ListResourceTags(ctx context.Context, c *Call, keyID string, p Page) ([]Tag, string, error) {
	limit, err := p.limit(50, 50)
	if err != nil {
		return nil, "", err
	}
	k, err := s.loadKey(c, keyID)
	if err != nil {
		return nil, "", err
	}
	defer k.release()
	if err := s.authorize(c, k, "kms:ListResourceTags", nil, nil); err != nil {
		return nil, "", err
	}
	tags := k.rec.Tags
	start := 0
	if p.Marker != "" {
		m, err := base64.RawURLEncoding.DecodeString(p.Marker)
		if err != nil || len(m) == 0 {
			return nil, "", errorf(ErrInvalidMarker, "Marker is not valid")
		}
		start = sort.Search(len(tags), func(i int) bool { return tags[i].TagKey >= string(m) })
	}
	end := min(start+limit, len(tags))
	next := ""
	if end < len(tags) {
		next = base64.RawURLEncoding.EncodeToString([]byte(tags[end].TagKey))
	}
	return append([]Tag(nil), tags[start:end]...), next, nil
}
