package kms

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"time"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// Rotation types of a material version, as ListKeyRotations names them.
const (
	RotationAutomatic = "AUTOMATIC"
	RotationOnDemand  = "ON_DEMAND"
)

const (
	defaultRotationDays = 365
	minRotationDays     = 90
	maxRotationDays     = 2560
	// maxOnDemandRotations is AWS KMS's limit per key.
	maxOnDemandRotations = 10
)

// rotatable is the common check of the rotation operations: a symmetric key,
// not pending deletion, enabled where enabled is required.
func (s *Service) rotatable(c *Call, rec *store.Key, needEnabled bool) error {
	if !keySpecs[KeySpec(rec.Spec)].symmetric {
		return errorf(ErrUnsupported, "%s is not a symmetric encryption key: it cannot be rotated.", s.keyARN(c, rec.ID))
	}
	switch {
	case KeyState(rec.State) == PendingDeletion:
		return errorf(ErrInvalidState, "%s is pending deletion.", s.keyARN(c, rec.ID))
	case needEnabled && KeyState(rec.State) == Disabled:
		return errorf(ErrDisabled, "%s is disabled.", s.keyARN(c, rec.ID))
	}
	return nil
}

// rotate adds a new current material version to rec.
func (s *Service) rotate(rec *store.Key, now time.Time, rotationType string) error {
	material := make([]byte, 32)
	rand.Read(material)
	m, err := store.SealMaterial(s.sealer, rec.ID, rec.Current().Version+1, material)
	clear(material)
	if err != nil {
		return err
	}
	m.CreatedAt, m.RotationType = now, rotationType
	rec.Materials = append(rec.Materials, m)
	return nil
}

// EnableKeyRotationRequest turns on automatic rotation every
// RotationPeriodInDays: 90 to 2560. Zero: 365.
type EnableKeyRotationRequest struct {
	KeyID                string
	RotationPeriodInDays int32
}

// EnableKeyRotationResponse is EnableKeyRotation's answer: the key.
type EnableKeyRotationResponse struct{ KeyRef }

// EnableKeyRotation turns on automatic rotation.
func (s *Service) EnableKeyRotation(ctx context.Context, c *Call, req *EnableKeyRotationRequest) (*EnableKeyRotationResponse, error) {
	return run(s, ctx, c, "EnableKeyRotation", opChange, req, s.enableKeyRotation)
}

func (s *Service) enableKeyRotation(ctx context.Context, c *Call, req *EnableKeyRotationRequest) (*EnableKeyRotationResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	rotationPeriodInDays := req.RotationPeriodInDays
	if rotationPeriodInDays == 0 {
		rotationPeriodInDays = defaultRotationDays
	}
	if rotationPeriodInDays < minRotationDays || rotationPeriodInDays > maxRotationDays {
		return nil, errorf(ErrValidation, "RotationPeriodInDays must be between %d and %d", minRotationDays, maxRotationDays)
	}
	rec, err := s.changeKey(ctx, c, req.KeyID, "kms:EnableKeyRotation", func(rec *store.Key) error {
		if err := s.rotatable(c, rec, true); err != nil {
			return err
		}
		next := s.now().UTC().Truncate(time.Second).Add(time.Duration(rotationPeriodInDays) * 24 * time.Hour)
		rec.RotationEnabled, rec.RotationPeriodDays, rec.NextRotation = true, rotationPeriodInDays, &next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &EnableKeyRotationResponse{s.keyRef(c, rec.ID)}, nil
}

// DisableKeyRotationRequest names a key whose automatic rotation to stop.
type DisableKeyRotationRequest struct {
	KeyID string
}

// DisableKeyRotationResponse is DisableKeyRotation's answer: the key.
type DisableKeyRotationResponse struct{ KeyRef }

// DisableKeyRotation turns automatic rotation off.
func (s *Service) DisableKeyRotation(ctx context.Context, c *Call, req *DisableKeyRotationRequest) (*DisableKeyRotationResponse, error) {
	return run(s, ctx, c, "DisableKeyRotation", opChange, req, s.disableKeyRotation)
}

func (s *Service) disableKeyRotation(ctx context.Context, c *Call, req *DisableKeyRotationRequest) (*DisableKeyRotationResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	rec, err := s.changeKey(ctx, c, req.KeyID, "kms:DisableKeyRotation", func(rec *store.Key) error {
		if err := s.rotatable(c, rec, true); err != nil {
			return err
		}
		rec.RotationEnabled, rec.RotationPeriodDays, rec.NextRotation = false, 0, nil
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &DisableKeyRotationResponse{s.keyRef(c, rec.ID)}, nil
}

// GetKeyRotationStatusRequest names a symmetric key.
type GetKeyRotationStatusRequest struct {
	KeyID string
}

// GetKeyRotationStatusResponse is GetKeyRotationStatus's answer.
type GetKeyRotationStatusResponse struct {
	KeyRef
	KeyRotationEnabled   bool
	RotationPeriodInDays int32      // when enabled
	NextRotationDate     *time.Time // when enabled
}

// GetKeyRotationStatus tells whether and when a key rotates.
func (s *Service) GetKeyRotationStatus(ctx context.Context, c *Call, req *GetKeyRotationStatusRequest) (*GetKeyRotationStatusResponse, error) {
	return run(s, ctx, c, "GetKeyRotationStatus", opRead, req, s.getKeyRotationStatus)
}

func (s *Service) getKeyRotationStatus(ctx context.Context, c *Call, req *GetKeyRotationStatusRequest) (*GetKeyRotationStatusResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	k, err := s.loadKey(ctx, c, req.KeyID)
	if err != nil {
		return nil, err
	}
	defer k.release()
	if err := s.authorize(c, k, "kms:GetKeyRotationStatus", nil, nil); err != nil {
		return nil, err
	}
	if err := s.rotatable(c, k.rec, false); err != nil {
		return nil, err
	}
	return &GetKeyRotationStatusResponse{
		KeyRef: s.keyRef(c, k.rec.ID), KeyRotationEnabled: k.rec.RotationEnabled,
		RotationPeriodInDays: k.rec.RotationPeriodDays, NextRotationDate: k.rec.NextRotation,
	}, nil
}

// RotateKeyOnDemandRequest names a symmetric key to rotate now.
type RotateKeyOnDemandRequest struct {
	KeyID string
}

// RotateKeyOnDemandResponse is RotateKeyOnDemand's answer: the key.
type RotateKeyOnDemandResponse struct{ KeyRef }

// RotateKeyOnDemand rotates a key's material now: new material encrypts, every
// older version still decrypts.
func (s *Service) RotateKeyOnDemand(ctx context.Context, c *Call, req *RotateKeyOnDemandRequest) (*RotateKeyOnDemandResponse, error) {
	return run(s, ctx, c, "RotateKeyOnDemand", opChange, req, s.rotateKeyOnDemand)
}

func (s *Service) rotateKeyOnDemand(ctx context.Context, c *Call, req *RotateKeyOnDemandRequest) (*RotateKeyOnDemandResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	rec, err := s.changeKey(ctx, c, req.KeyID, "kms:RotateKeyOnDemand", func(rec *store.Key) error {
		if err := s.rotatable(c, rec, true); err != nil {
			return err
		}
		n := 0
		for _, m := range rec.Materials {
			if m.RotationType == RotationOnDemand {
				n++
			}
		}
		if n >= maxOnDemandRotations {
			return errorf(ErrLimitExceeded, "%s has been rotated on demand %d times, the most allowed.", s.keyARN(c, rec.ID), n)
		}
		if err := s.rotate(rec, s.now().UTC().Truncate(time.Millisecond), RotationOnDemand); err != nil {
			return internal(err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &RotateKeyOnDemandResponse{s.keyRef(c, rec.ID)}, nil
}

// ListKeyRotationsRequest asks for a page of a symmetric key's rotations;
// with AllKeyMaterial (AWS's ALL_KEY_MATERIAL) the original material too.
type ListKeyRotationsRequest struct {
	KeyID          string
	AllKeyMaterial bool
	// Limit bounds the page: 1 to 1000 entries. Zero: 100.
	Limit int32
	// Marker is a previous page's NextMarker; "" starts at the oldest.
	Marker string
}

// ListKeyRotationsResponse is ListKeyRotations's answer: one page, oldest
// first.
type ListKeyRotationsResponse struct {
	KeyRef
	Rotations []RotationEntry
	// NextMarker continues the listing; "" when this page is the last.
	NextMarker string
}

// RotationEntry is one material version of ListKeyRotations.
type RotationEntry struct {
	KeyRef
	KeyMaterialID    string
	KeyMaterialState string // CURRENT or NON_CURRENT
	RotationDate     time.Time
	RotationType     string // AUTOMATIC, ON_DEMAND, or "" for the original material
}

// ListKeyRotations lists a symmetric key's rotations, newest last.
func (s *Service) ListKeyRotations(ctx context.Context, c *Call, req *ListKeyRotationsRequest) (*ListKeyRotationsResponse, error) {
	return run(s, ctx, c, "ListKeyRotations", opRead, req, s.listKeyRotations)
}

func (s *Service) listKeyRotations(ctx context.Context, c *Call, req *ListKeyRotationsRequest) (*ListKeyRotationsResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	limit, err := pageLimit(req.Limit, 100, 1000)
	if err != nil {
		return nil, err
	}
	k, err := s.loadKey(ctx, c, req.KeyID)
	if err != nil {
		return nil, err
	}
	defer k.release()
	if err := s.authorize(c, k, "kms:ListKeyRotations", nil, nil); err != nil {
		return nil, err
	}
	if err := s.rotatable(c, k.rec, false); err != nil {
		return nil, err
	}
	start := uint32(0)
	if req.Marker != "" {
		m, err := base64.RawURLEncoding.DecodeString(req.Marker)
		if err != nil || len(m) != 4 {
			return nil, errorf(ErrInvalidMarker, "Marker is not valid")
		}
		start = binary.BigEndian.Uint32(m)
	}
	resp := &ListKeyRotationsResponse{KeyRef: s.keyRef(c, k.rec.ID)}
	cur := k.rec.Current().Version
	for _, m := range k.rec.Materials {
		if m.Version < start || (!req.AllKeyMaterial && m.RotationType == "") {
			continue
		}
		if len(resp.Rotations) == limit {
			resp.NextMarker = base64.RawURLEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, m.Version))
			return resp, nil
		}
		state := "NON_CURRENT"
		if m.Version == cur {
			state = "CURRENT"
		}
		resp.Rotations = append(resp.Rotations, RotationEntry{
			KeyRef: resp.KeyRef, KeyMaterialID: m.ID, KeyMaterialState: state,
			RotationDate: m.CreatedAt, RotationType: m.RotationType,
		})
	}
	return resp, nil
}
