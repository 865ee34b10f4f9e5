package kms

import (
	"testing"
	"time"
)

// TestMaintainRunsOnce: while another holder (another node, later) has the
// store's maintenance lock, Maintain does nothing and says so by its zero
// result, without an error; once it is released, Maintain does the work.
func TestMaintainRunsOnce(t *testing.T) {
	s, clk := newTestService(t)
	md := mustKey(t, s, "", "")
	if _, err := s.ScheduleKeyDeletion(bg, s.testCall(), &ScheduleKeyDeletionRequest{KeyID: md.KeyID, PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}
	clk.add(8 * 24 * time.Hour)
	release, err := s.st.TryLock(bg, maintenanceLock)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.Admin().Maintain(bg); err != nil || r != (MaintenanceResult{}) {
		t.Fatalf("Maintain while another holds its lock = %+v, %v", r, err)
	}
	if _, err := s.st.Key(bg, md.KeyID); err != nil {
		t.Fatalf("the key is gone while another held the lock: %v", err)
	}
	release()
	if r, err := s.Admin().Maintain(bg); err != nil || r.Destroyed != 1 {
		t.Fatalf("Maintain = %+v, %v", r, err)
	}
	// And it gave the lock back.
	if release, err := s.st.TryLock(bg, maintenanceLock); err != nil {
		t.Fatalf("the lock after Maintain: %v", err)
	} else {
		release()
	}
}
