package kms

import "testing"

// TestReady: an open service is ready; a canceled ctx is ErrCanceled; a
// closed one is not ready.
func TestReady(t *testing.T) {
	s, _ := newTestService(t)
	if err := s.Ready(bg); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	wantKind(t, s.Ready(canceledCtx()), ErrCanceled)
	s.Close()
	if err := s.Ready(bg); err == nil {
		t.Fatal("a closed service is ready")
	}
}
