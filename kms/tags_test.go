package kms

import (
	"testing"
)

func TestTags(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	if _, err := s.TagResource(bg, c, &TagResourceRequest{KeyID: md.KeyID, Tags: []Tag{{"b", "2"}, {"a", "1"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TagResource(bg, c, &TagResourceRequest{KeyID: md.KeyID, Tags: []Tag{{"a", "one"}}}); err != nil {
		t.Fatal(err)
	}
	lt, err := s.ListResourceTags(bg, c, &ListResourceTagsRequest{KeyID: md.KeyID})
	if err != nil {
		t.Fatal(err)
	}
	if tags := lt.Tags; len(tags) != 2 || tags[0] != (Tag{"a", "one"}) || tags[1] != (Tag{"b", "2"}) {
		t.Fatalf("tags = %+v", tags)
	}
	p1, err := s.ListResourceTags(bg, c, &ListResourceTagsRequest{KeyID: md.KeyID, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s.ListResourceTags(bg, c, &ListResourceTagsRequest{KeyID: md.KeyID, Limit: 1, Marker: p1.NextMarker})
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Tags) != 1 || len(p2.Tags) != 1 || p2.Tags[0].TagKey != "b" {
		t.Fatalf("paged tags %v %v", p1.Tags, p2.Tags)
	}
	if _, err := s.UntagResource(bg, c, &UntagResourceRequest{KeyID: md.KeyID, TagKeys: []string{"a", "zzz"}}); err != nil {
		t.Fatal(err)
	}
	if lt, err := s.ListResourceTags(bg, c, &ListResourceTagsRequest{KeyID: md.KeyID}); err != nil || len(lt.Tags) != 1 {
		t.Fatalf("after untag: %+v, %v", lt, err)
	}
	many := make([]Tag, maxTags)
	for i := range many {
		many[i] = Tag{TagKey: string(rune('A'+i%26)) + string(rune('a'+i/26)), TagValue: "v"}
	}
	wantKind(t, errOf(s.TagResource(bg, c, &TagResourceRequest{KeyID: md.KeyID, Tags: many})), ErrLimitExceeded)

}

func BenchmarkTagResource(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	req := &TagResourceRequest{KeyID: id, Tags: []Tag{{"team", "bench"}}}
	for b.Loop() {
		if _, err := s.TagResource(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUntagResource(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := s.TagResource(bg, c, &TagResourceRequest{KeyID: id, Tags: []Tag{{"team", "bench"}}}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := s.UntagResource(bg, c, &UntagResourceRequest{KeyID: id, TagKeys: []string{"team"}}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListResourceTags(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	if _, err := s.TagResource(bg, c, &TagResourceRequest{KeyID: id, Tags: []Tag{{"a", "1"}, {"b", "2"}, {"c", "3"}}}); err != nil {
		b.Fatal(err)
	}
	req := &ListResourceTagsRequest{KeyID: id}
	for b.Loop() {
		if _, err := s.ListResourceTags(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}
