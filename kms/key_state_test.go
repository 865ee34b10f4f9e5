package kms

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/kms/internal/store"
)

func TestKeyStates(t *testing.T) {
	s, clk := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	enc, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DisableKey(bg, c, &DisableKeyRequest{KeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("x")})
	wantKind(t, err, ErrDisabled)
	_, err = s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob})
	wantKind(t, err, ErrDisabled)
	_, err = s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256"})
	wantKind(t, err, ErrDisabled)
	if d, _ := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID}); d.Enabled || d.KeyState != Disabled {
		t.Fatalf("state %s after DisableKey", d.KeyState)
	}
	if _, err := s.EnableKey(bg, c, &EnableKeyRequest{KeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}

	_, err = s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: md.KeyID, PendingWindowInDays: 6})
	wantKind(t, err, ErrValidation)
	_, err = s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: md.KeyID, PendingWindowInDays: 31})
	wantKind(t, err, ErrValidation)
	sd, err := s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: md.KeyID, PendingWindowInDays: 7})
	if err != nil || sd.KeyState != PendingDeletion || !sd.DeletionDate.Equal(clk.now().Add(7*24*time.Hour)) {
		t.Fatalf("ScheduleKeyDeletion = %+v, %v", sd, err)
	}
	_, err = s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: md.KeyID, PendingWindowInDays: 7})
	wantKind(t, err, ErrInvalidState)
	_, err = s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob})
	wantKind(t, err, ErrInvalidState)
	wantKind(t, errOf(s.EnableKey(bg, c, &EnableKeyRequest{KeyID: md.KeyID})), ErrInvalidState)
	wantKind(t, errOf(s.TagResource(bg, c, &TagResourceRequest{KeyID: md.KeyID, Tags: []Tag{{"a", "b"}}})), ErrInvalidState)
	if _, err := s.CancelKeyDeletion(bg, c, &CancelKeyDeletionRequest{KeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID}); d.KeyState != Disabled || d.DeletionDate != nil {
		t.Fatalf("after CancelKeyDeletion: %+v", d)
	}
	_, err = s.CancelKeyDeletion(bg, c, &CancelKeyDeletionRequest{KeyID: md.KeyID})
	wantKind(t, err, ErrInvalidState)

	// Deletion: the key and its aliases are gone once the window ends.
	if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/doomed", TargetKeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: md.KeyID, PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}
	clk.add(7*24*time.Hour - time.Second)
	if _, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID}); err != nil {
		t.Fatalf("key gone before its deletion date: %v", err)
	}
	clk.add(time.Second)
	if r, err := s.Admin().Maintain(bg); err != nil || r.Destroyed != 1 {
		t.Fatalf("Maintain = %+v, %v", r, err)
	}
	_, err = s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID})
	wantKind(t, err, ErrNotFound)
	_, err = s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob})
	wantKind(t, err, ErrInvalidCiphertext)
	if a, err := s.ListAliases(bg, c, &ListAliasesRequest{}); err != nil || len(a.Aliases) != 0 {
		t.Fatalf("aliases of a destroyed key remain: %+v, %v", a, err)
	}
}

func TestLazyDestruction(t *testing.T) {
	s, clk := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	if _, err := s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: md.KeyID, PendingWindowInDays: 30}); err != nil {
		t.Fatal(err)
	}
	clk.add(31 * 24 * time.Hour)
	keys, err := s.ListKeys(bg, c, &ListKeysRequest{})
	if err != nil || len(keys.Keys) != 0 {
		t.Fatalf("ListKeys lists a key past its deletion date")
	}
	_, err = s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID})
	wantKind(t, err, ErrNotFound)
	if r, _ := s.Admin().Maintain(bg); r.Destroyed != 0 {
		t.Fatal("lazily destroyed key destroyed again")
	}
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
				if err := s.updateKey(bg, systemCall("test", "TestChange"), hid, func(_ store.Reader, rec *store.Key) error { rec.Policy = denying(r.action); return nil }); err != nil {
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

func BenchmarkEnableKey(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	req := &EnableKeyRequest{KeyID: id}
	for b.Loop() {
		if _, err := s.EnableKey(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDisableKey(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	req := &DisableKeyRequest{KeyID: id}
	for b.Loop() {
		if _, err := s.DisableKey(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScheduleKeyDeletion(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	for i := 0; i < b.N; i++ {
		if _, err := s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: id, PendingWindowInDays: 7}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := s.CancelKeyDeletion(bg, c, &CancelKeyDeletionRequest{KeyID: id}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func BenchmarkCancelKeyDeletion(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := s.ScheduleKeyDeletion(bg, c, &ScheduleKeyDeletionRequest{KeyID: id, PendingWindowInDays: 7}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := s.CancelKeyDeletion(bg, c, &CancelKeyDeletionRequest{KeyID: id}); err != nil {
			b.Fatal(err)
		}
	}
}
