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
		setup  func(id string) error // puts the key in a state the change needs
		change func(id string) error
	}{
		{action: "kms:PutKeyPolicy", change: func(id string) error {
			return errOf(s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: id, Policy: defaultPolicy(s.account)}))
		}},
		{action: "kms:DisableKey", change: func(id string) error {
			return errOf(s.DisableKey(bg, c, &DisableKeyRequest{KeyID: id}))
		}},
		{action: "kms:EnableKey", setup: func(id string) error {
			return errOf(s.DisableKey(bg, c, &DisableKeyRequest{KeyID: id}))
		}, change: func(id string) error {
			return errOf(s.EnableKey(bg, c, &EnableKeyRequest{KeyID: id}))
		}},
		{action: "kms:ScheduleKeyDeletion", change: func(id string) error {
			return errOf(s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: id, PendingWindowInDays: 7}))
		}},
		{action: "kms:CancelKeyDeletion", setup: func(id string) error {
			return errOf(s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: id, PendingWindowInDays: 7}))
		}, change: func(id string) error {
			return errOf(s.CancelKeyDeletion(bg, c, &CancelKeyDeletionRequest{KeyID: id}))
		}},
		{action: "kms:UpdateKeyDescription", change: func(id string) error {
			return errOf(s.UpdateKeyDescription(bg, c, &UpdateKeyDescriptionRequest{KeyID: id, Description: "changed"}))
		}},
		{action: "kms:TagResource", change: func(id string) error {
			return errOf(s.TagResource(bg, c, &TagResourceRequest{KeyID: id, Tags: []Tag{{"k", "v"}}}))
		}},
		{action: "kms:UntagResource", setup: func(id string) error {
			return errOf(s.TagResource(bg, c, &TagResourceRequest{KeyID: id, Tags: []Tag{{"k", "v"}}}))
		}, change: func(id string) error {
			return errOf(s.UntagResource(bg, c, &UntagResourceRequest{KeyID: id, TagKeys: []string{"k"}}))
		}},
		{action: "kms:EnableKeyRotation", change: func(id string) error {
			return errOf(s.EnableKeyRotation(bg, c, &EnableKeyRotationRequest{KeyID: id}))
		}},
		{action: "kms:DisableKeyRotation", setup: func(id string) error {
			return errOf(s.EnableKeyRotation(bg, c, &EnableKeyRotationRequest{KeyID: id}))
		}, change: func(id string) error {
			return errOf(s.DisableKeyRotation(bg, c, &DisableKeyRotationRequest{KeyID: id}))
		}},
		{action: "kms:RotateKeyOnDemand", change: func(id string) error {
			return errOf(s.RotateKeyOnDemand(bg, c, &RotateKeyOnDemandRequest{KeyID: id}))
		}},
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
				if err := s.st.updateKey(bg, hid, func(rec *keyRecord) error { rec.Policy = denying(r.action); return nil }); err != nil {
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
