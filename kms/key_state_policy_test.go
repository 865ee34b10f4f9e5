package kms

import (
	"bytes"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// storedKey is key id's record as stored, byte for byte.
func storedKey(t *testing.T, s *Service, id string) []byte {
	t.Helper()
	var raw []byte
	if err := s.st.db.View(func(tx *bolt.Tx) error {
		raw = bytes.Clone(tx.Bucket(bucketKeys).Get([]byte(id)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestChangeKeyRechecksPolicy changes a key's policy, between the
// authorisation of a change and its commit, to one that denies the caller
// that change: the change must be refused (AccessDenied) and leave the key
// as the new policy left it. Every operation that changes a stored key goes
// through changeKey.
func TestChangeKeyRechecksPolicy(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	root := principalARN(s.account, adminName)
	denying := func(action string) string {
		return `{"Version":"2012-10-17","Statement":[
		  {"Effect":"Allow","Principal":{"AWS":"` + root + `"},"Action":"kms:*","Resource":"*"},
		  {"Sid":"window","Effect":"Deny","Principal":{"AWS":"` + root + `"},"Action":"` + action + `","Resource":"*"}]}`
	}
	for _, r := range []struct {
		action string
		setup  func(id string) error
		change func(id string) error
	}{
		{"kms:PutKeyPolicy", nil, func(id string) error {
			return s.PutKeyPolicy(bg, c, id, "", defaultPolicy(s.account), false)
		}},
		{"kms:DisableKey", nil, func(id string) error { return s.DisableKey(bg, c, id) }},
		{"kms:EnableKey", func(id string) error { return s.DisableKey(bg, c, id) }, func(id string) error { return s.EnableKey(bg, c, id) }},
		{"kms:ScheduleKeyDeletion", nil, func(id string) error { _, err := s.ScheduleKeyDeletion(bg, c, id, 7); return err }},
		{"kms:CancelKeyDeletion", func(id string) error { _, err := s.ScheduleKeyDeletion(bg, c, id, 7); return err },
			func(id string) error { _, err := s.CancelKeyDeletion(bg, c, id); return err }},
		{"kms:UpdateKeyDescription", nil, func(id string) error { return s.UpdateKeyDescription(bg, c, id, "changed") }},
		{"kms:TagResource", nil, func(id string) error { return s.TagResource(bg, c, id, []Tag{{"k", "v"}}) }},
		{"kms:UntagResource", func(id string) error { return s.TagResource(bg, c, id, []Tag{{"k", "v"}}) },
			func(id string) error { return s.UntagResource(bg, c, id, []string{"k"}) }},
		{"kms:EnableKeyRotation", nil, func(id string) error { return s.EnableKeyRotation(bg, c, id, 0) }},
		{"kms:DisableKeyRotation", func(id string) error { return s.EnableKeyRotation(bg, c, id, 0) },
			func(id string) error { return s.DisableKeyRotation(bg, c, id) }},
		{"kms:RotateKeyOnDemand", nil, func(id string) error { _, err := s.RotateKeyOnDemand(bg, c, id); return err }},
	} {
		t.Run(r.action, func(t *testing.T) {
			id := mustKey(t, s, "", "").KeyID
			if r.setup != nil {
				if err := r.setup(id); err != nil {
					t.Fatal(err)
				}
			}
			var window []byte // the record as the window's change left it
			changeKeyHook = func(hid string) {
				changeKeyHook = nil
				if err := s.st.updateKey(hid, func(rec *keyRecord) error { rec.Policy = denying(r.action); return nil }); err != nil {
					t.Fatal(err)
				}
				window = storedKey(t, s, hid)
			}
			defer func() { changeKeyHook = nil }()
			err := r.change(id)
			wantKind(t, err, ErrAccessDenied)
			if !strings.Contains(err.Error(), "explicit deny") {
				t.Errorf("refused, but not by the new policy's Deny: %v", err)
			}
			if window == nil {
				t.Fatal("the hook did not run")
			}
			if got := storedKey(t, s, id); !bytes.Equal(got, window) {
				t.Fatalf("the refused change was committed:\n%s\nwant\n%s", got, window)
			}
		})
	}
}
