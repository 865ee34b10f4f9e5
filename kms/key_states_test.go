package kms

import (
	"reflect"
	"testing"
	"time"
)

// TestAdminKeyStates: keys are counted by state, every state present; a key
// whose deletion date has passed is counted nowhere; a canceled ctx reads
// nothing.
func TestAdminKeyStates(t *testing.T) {
	s, clk := newTestService(t)
	c := s.testCall()
	a := s.Admin()
	got, err := a.KeyStates(bg)
	if want := map[KeyState]int{Enabled: 0, Disabled: 0, PendingDeletion: 0}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("empty store: %v, %v; want %v", got, err, want)
	}
	for range 3 {
		mustKey(t, s, "", "")
	}
	off := mustKey(t, s, "", "").KeyID
	if _, err := s.DisableKey(bg, c, &DisableKeyRequest{KeyID: off}); err != nil {
		t.Fatal(err)
	}
	gone := mustKey(t, s, "", "").KeyID
	if _, err := s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: gone, PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}
	got, err = a.KeyStates(bg)
	if want := map[KeyState]int{Enabled: 3, Disabled: 1, PendingDeletion: 1}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("KeyStates = %v, %v; want %v", got, err, want)
	}
	clk.add(8 * 24 * time.Hour)
	got, err = a.KeyStates(bg)
	if want := map[KeyState]int{Enabled: 3, Disabled: 1, PendingDeletion: 0}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after the deletion date: %v, %v; want %v", got, err, want)
	}
	_, err = a.KeyStates(canceledCtx())
	wantKind(t, err, ErrCanceled)
}
