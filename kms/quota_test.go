package kms

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestKeyQuota: the account holds at most Options.MaxKeys keys, in every
// state: a credential allowed CreateKey cannot grow the store without
// bound. A key pending deletion still counts; once destroyed, its room is
// free again. The refusal is LimitExceeded, and writes nothing.
func TestKeyQuota(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	if _, _, err := Init(Options{DataDir: dir, Now: clk.now}); err != nil {
		t.Fatal(err)
	}
	s := openOrFail(t, Options{DataDir: dir, Now: clk.now, MaxKeys: 3})
	defer s.Close()
	c := s.testCall()
	var ids []string
	for range 3 {
		ids = append(ids, mustKey(t, s, "", "").KeyID)
	}
	_, err := s.CreateKey(bg, c, &CreateKeyRequest{})
	wantKind(t, err, ErrLimitExceeded)
	if !strings.Contains(err.Error(), "--max-keys") {
		t.Fatalf("the refusal does not say which limit: %v", err)
	}
	// Huawei and Tencent create a key with its alias: refused whole.
	_, err = s.CreateKey(bg, c, &CreateKeyRequest{Alias: "alias/over"})
	wantKind(t, err, ErrLimitExceeded)
	if _, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: "alias/over"}); Kind(err) != ErrNotFound {
		t.Fatalf("the refused CreateKey left its alias: %v", err)
	}
	if _, err := s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: ids[0], PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateKey(bg, c, &CreateKeyRequest{})
	wantKind(t, err, ErrLimitExceeded) // pending deletion still counts, as in AWS
	clk.add(8 * 24 * time.Hour)
	if r, err := s.Admin().Maintain(bg); err != nil || r.Destroyed != 1 {
		t.Fatalf("Maintain: %+v %v", r, err)
	}
	mustKey(t, s, "", "")
	_, err = s.CreateKey(bg, c, &CreateKeyRequest{})
	wantKind(t, err, ErrLimitExceeded)
}

// TestAliasesPerKeyQuota: at most 50 aliases name one key (AWS's quota),
// whether made by CreateAlias or moved there by UpdateAlias.
func TestAliasesPerKeyQuota(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	full, other := mustKey(t, s, "", "").KeyID, mustKey(t, s, "", "").KeyID
	for i := range maxAliasesPerKey {
		if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: fmt.Sprintf("alias/a%02d", i), TargetKeyID: full}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/one-more", TargetKeyID: full})
	wantKind(t, err, ErrLimitExceeded)
	if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/elsewhere", TargetKeyID: other}); err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateAlias(bg, c, &UpdateAliasRequest{AliasName: "alias/elsewhere", TargetKeyID: full})
	wantKind(t, err, ErrLimitExceeded)
	// An alias of the full key updated to name it again takes no place.
	if _, err := s.UpdateAlias(bg, c, &UpdateAliasRequest{AliasName: "alias/a07", TargetKeyID: full}); err != nil {
		t.Fatalf("UpdateAlias to the key the alias names, on a full key: %v", err)
	}
	if _, err := s.DeleteAlias(bg, c, &DeleteAliasRequest{AliasName: "alias/a00"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateAlias(bg, c, &UpdateAliasRequest{AliasName: "alias/elsewhere", TargetKeyID: full}); err != nil {
		t.Fatalf("once a place is free: %v", err)
	}
}
