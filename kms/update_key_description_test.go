package kms

import (
	"strings"
	"testing"
)

func TestUpdateKeyDescription(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	r, err := s.UpdateKeyDescription(bg, c, &UpdateKeyDescriptionRequest{KeyID: md.KeyID, Description: "new"})
	if err != nil || r.KeyID != md.KeyID || r.KeyARN != md.KeyARN {
		t.Fatalf("UpdateKeyDescription = %+v, %v", r, err)
	}
	if d, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID}); err != nil || d.Description != "new" {
		t.Fatalf("after the update: %+v, %v", d, err)
	}
	_, err = s.UpdateKeyDescription(bg, c, &UpdateKeyDescriptionRequest{KeyID: md.KeyID, Description: strings.Repeat("x", maxDescription+1)})
	wantKind(t, err, ErrValidation)
	if _, err := s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: md.KeyID, PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateKeyDescription(bg, c, &UpdateKeyDescriptionRequest{KeyID: md.KeyID, Description: "late"})
	wantKind(t, err, ErrInvalidState)
	if d, _ := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID}); d.Description != "new" {
		t.Fatalf("a refused update changed the description to %q", d.Description)
	}
}

func BenchmarkUpdateKeyDescription(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	req := &UpdateKeyDescriptionRequest{KeyID: id, Description: "bench"}
	for b.Loop() {
		if _, err := s.UpdateKeyDescription(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}
