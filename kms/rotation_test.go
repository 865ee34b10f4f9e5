package kms

import (
	"testing"
	"time"
)

func TestRotation(t *testing.T) {
	s, clk := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	var blobs [][]byte
	encrypt := func() {
		r, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: []byte{byte(len(blobs))}})
		if err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, r.CiphertextBlob)
	}
	encrypt()
	if _, err := s.RotateKeyOnDemand(bg, c, &RotateKeyOnDemandRequest{KeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}
	encrypt()
	wantKind(t, errOf(s.EnableKeyRotation(bg, c, &EnableKeyRotationRequest{KeyID: md.KeyID, RotationPeriodInDays: 89})), ErrValidation)
	if _, err := s.EnableKeyRotation(bg, c, &EnableKeyRotationRequest{KeyID: md.KeyID, RotationPeriodInDays: 90}); err != nil {
		t.Fatal(err)
	}
	st, err := s.GetKeyRotationStatus(bg, c, &GetKeyRotationStatusRequest{KeyID: md.KeyID})
	if err != nil || !st.KeyRotationEnabled || st.RotationPeriodInDays != 90 || !st.NextRotationDate.Equal(clk.now().Add(90*24*time.Hour)) {
		t.Fatalf("GetKeyRotationStatus = %+v, %v", st, err)
	}
	clk.add(90 * 24 * time.Hour)
	if r, err := s.Admin().Maintain(bg); err != nil || r.Rotated != 1 {
		t.Fatalf("Maintain = %+v, %v", r, err)
	}
	encrypt()
	for i, b := range blobs {
		if v := uint32(b[17])<<24 | uint32(b[18])<<16 | uint32(b[19])<<8 | uint32(b[20]); v != uint32(i+1) {
			t.Errorf("blob %d made with material version %d; want %d", i, v, i+1)
		}
		r, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: b})
		if err != nil || r.Plaintext[0] != byte(i) {
			t.Fatalf("blob %d: %v", i, err)
		}
	}
	lr, err := s.ListKeyRotations(bg, c, &ListKeyRotationsRequest{KeyID: md.KeyID})
	if err != nil {
		t.Fatal(err)
	}
	if rs := lr.Rotations; len(rs) != 2 || rs[0].RotationType != RotationOnDemand || rs[1].RotationType != RotationAutomatic || rs[1].KeyMaterialState != "CURRENT" {
		t.Fatalf("ListKeyRotations = %+v", rs)
	}
	all, err := s.ListKeyRotations(bg, c, &ListKeyRotationsRequest{KeyID: md.KeyID, AllKeyMaterial: true, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	next := all.NextMarker
	rest, err := s.ListKeyRotations(bg, c, &ListKeyRotationsRequest{KeyID: md.KeyID, AllKeyMaterial: true, Limit: 2, Marker: next})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Rotations) != 2 || next == "" || len(rest.Rotations) != 1 {
		t.Fatalf("paged rotations: %d, %q, %d", len(all.Rotations), next, len(rest.Rotations))
	}
	for i := 1; i < maxOnDemandRotations; i++ {
		if _, err := s.RotateKeyOnDemand(bg, c, &RotateKeyOnDemandRequest{KeyID: md.KeyID}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.RotateKeyOnDemand(bg, c, &RotateKeyOnDemandRequest{KeyID: md.KeyID})
	wantKind(t, err, ErrLimitExceeded)

	ec := mustKey(t, s, EccNistP256, KeyAgreement)
	_, err = s.RotateKeyOnDemand(bg, c, &RotateKeyOnDemandRequest{KeyID: ec.KeyID})
	wantKind(t, err, ErrUnsupported)
	wantKind(t, errOf(s.EnableKeyRotation(bg, c, &EnableKeyRotationRequest{KeyID: ec.KeyID, RotationPeriodInDays: 0})), ErrUnsupported)
}

func BenchmarkEnableKeyRotation(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	req := &EnableKeyRotationRequest{KeyID: id}
	for b.Loop() {
		if _, err := s.EnableKeyRotation(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDisableKeyRotation(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	req := &DisableKeyRotationRequest{KeyID: id}
	for b.Loop() {
		if _, err := s.DisableKeyRotation(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetKeyRotationStatus(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	if _, err := s.EnableKeyRotation(bg, c, &EnableKeyRotationRequest{KeyID: id}); err != nil {
		b.Fatal(err)
	}
	req := &GetKeyRotationStatusRequest{KeyID: id}
	for b.Loop() {
		if _, err := s.GetKeyRotationStatus(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRotateKeyOnDemand moves to a new key, untimed, every
// maxOnDemandRotations rotations: a key allows no more.
func BenchmarkRotateKeyOnDemand(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	for i := 0; i < b.N; i++ {
		if i > 0 && i%maxOnDemandRotations == 0 {
			b.StopTimer()
			id = mustKey(b, s, "", "").KeyID
			b.StartTimer()
		}
		if _, err := s.RotateKeyOnDemand(bg, c, &RotateKeyOnDemandRequest{KeyID: id}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkListKeyRotations(b *testing.B) {
	s, c, id := benchKey(b, "", "")
	for i := 0; i < 3; i++ {
		if _, err := s.RotateKeyOnDemand(bg, c, &RotateKeyOnDemandRequest{KeyID: id}); err != nil {
			b.Fatal(err)
		}
	}
	req := &ListKeyRotationsRequest{KeyID: id, AllKeyMaterial: true}
	for b.Loop() {
		if _, err := s.ListKeyRotations(bg, c, req); err != nil {
			b.Fatal(err)
		}
	}
}
