package kms

import (
	"reflect"
	"testing"
)

// TestDescribeKey: DescribeKey answers the metadata CreateKey answered, in
// any state; the resolution of every KeyId form is TestKeyIDForms's.
func TestDescribeKey(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	for _, req := range []*CreateKeyRequest{{Description: "d"}, {KeySpec: EccNistP384, KeyUsage: KeyAgreement}} {
		md, err := s.CreateKey(bg, c, req)
		if err != nil {
			t.Fatal(err)
		}
		d, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID})
		if err != nil || !reflect.DeepEqual(d.KeyMetadata, md.KeyMetadata) {
			t.Fatalf("DescribeKey = %+v, %v; CreateKey said %+v", d, err, md)
		}
	}
	md := mustKey(t, s, "", "")
	if _, err := s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: md.KeyID, PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}
	d, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID})
	if err != nil || d.KeyState != PendingDeletion || d.Enabled || d.DeletionDate == nil || d.PendingDeletionWindowInDays != 7 {
		t.Fatalf("a key pending deletion: %+v, %v", d, err)
	}
}

func BenchmarkDescribeKey(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	req := &DescribeKeyRequest{KeyID: id}
	for b.Loop() {
		if _, err := s.DescribeKey(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}
