package kms

import (
	"testing"
)

func TestListKeysPaging(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	want := map[string]bool{}
	for i := 0; i < 7; i++ {
		want[mustKey(t, s, "", "").KeyID] = true
	}
	got := map[string]bool{}
	marker := ""
	pages := 0
	for {
		lk, err := s.ListKeys(bg, c, &ListKeysRequest{Limit: 3, Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		keys, next := lk.Keys, lk.NextMarker
		pages++
		for _, k := range keys {
			if got[k.KeyID] {
				t.Fatalf("key %s listed twice", k.KeyID)
			}
			got[k.KeyID] = true
		}
		if next == "" {
			break
		}
		marker = next
	}
	if pages != 3 || len(got) != len(want) {
		t.Fatalf("%d pages, %d keys", pages, len(got))
	}
	for _, l := range []int32{-1, 1001} {
		_, err := s.ListKeys(bg, c, &ListKeysRequest{Limit: l})
		wantKind(t, err, ErrValidation)
	}
}

func BenchmarkListKeys(b *testing.B) {
	s, _ := newTestService(b)
	c := s.testCall()
	for i := 0; i < 10; i++ {
		mustKey(b, s, "", "")
	}
	req := &ListKeysRequest{}
	for b.Loop() {
		if _, err := s.ListKeys(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}
