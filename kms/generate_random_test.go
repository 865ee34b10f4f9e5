package kms

import "testing"

func TestGenerateRandom(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	for _, n := range []int32{0, 1025, -5} {
		_, err := s.GenerateRandom(bg, c, &GenerateRandomRequest{NumberOfBytes: n})
		wantKind(t, err, ErrValidation)
	}
	if b, err := s.GenerateRandom(bg, c, &GenerateRandomRequest{NumberOfBytes: 1024}); err != nil || len(b.Plaintext) != 1024 {
		t.Fatal(err)
	}
}

func BenchmarkGenerateRandom(b *testing.B) {
	s, _ := newTestService(b)
	c := s.testCall()
	req := &GenerateRandomRequest{NumberOfBytes: 32}
	for b.Loop() {
		r, err := s.GenerateRandom(bg, c, req)
		if err != nil {
			b.Fatal(err)
		}
		clear(r.Plaintext)
	}
}
