package kms

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"time"
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
func (s *Service) rotatable(c *Call, rec *keyRecord, needEnabled bool) error {
	if !keySpecs[rec.Spec].symmetric {
		return errorf(ErrUnsupported, "%s is not a symmetric encryption key: it cannot be rotated.", s.keyARN(c, rec.ID))
	}
	switch {
	case rec.State == PendingDeletion:
		return errorf(ErrInvalidState, "%s is pending deletion.", s.keyARN(c, rec.ID))
	case needEnabled && rec.State == Disabled:
		return errorf(ErrDisabled, "%s is disabled.", s.keyARN(c, rec.ID))
	}
	return nil
}

// rotate adds a new current material version to rec.
func (s *Service) rotate(rec *keyRecord, now time.Time, rotationType string) {
	material := make([]byte, 32)
	rand.Read(material)
	m := sealMaterial(s.st.sealer, rec, rec.current().Version+1, material)
	clear(material)
	m.CreatedAt, m.RotationType = now, rotationType
	rec.Materials = append(rec.Materials, m)
}

// EnableKeyRotation turns on automatic rotation every rotationPeriodInDays
// (90 to 2560; 0 means 365).
func (s *Service) EnableKeyRotation(ctx context.Context, c *Call, keyID string, rotationPeriodInDays int32) error {
	if rotationPeriodInDays == 0 {
		rotationPeriodInDays = defaultRotationDays
	}
	if rotationPeriodInDays < minRotationDays || rotationPeriodInDays > maxRotationDays {
		return errorf(ErrValidation, "RotationPeriodInDays must be between %d and %d", minRotationDays, maxRotationDays)
	}
	_, err := s.changeKey(c, keyID, "kms:EnableKeyRotation", func(rec *keyRecord) error {
		if err := s.rotatable(c, rec, true); err != nil {
			return err
		}
		next := s.now().UTC().Truncate(time.Second).Add(time.Duration(rotationPeriodInDays) * 24 * time.Hour)
		rec.RotationEnabled, rec.RotationPeriodDays, rec.NextRotation = true, rotationPeriodInDays, &next
		return nil
	})
	return err
}

// DisableKeyRotation turns automatic rotation off.
func (s *Service) DisableKeyRotation(ctx context.Context, c *Call, keyID string) error {
	_, err := s.changeKey(c, keyID, "kms:DisableKeyRotation", func(rec *keyRecord) error {
		if err := s.rotatable(c, rec, true); err != nil {
			return err
		}
		rec.RotationEnabled, rec.RotationPeriodDays, rec.NextRotation = false, 0, nil
		return nil
	})
	return err
}

// KeyRotationStatus is GetKeyRotationStatus's answer.
type KeyRotationStatus struct {
	KeyID                string // ARN
	KeyRotationEnabled   bool
	RotationPeriodInDays int32      // when enabled
	NextRotationDate     *time.Time // when enabled
}

// GetKeyRotationStatus tells whether and when a key rotates.
func (s *Service) GetKeyRotationStatus(ctx context.Context, c *Call, keyID string) (*KeyRotationStatus, error) {
	k, err := s.loadKey(c, keyID)
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
	return &KeyRotationStatus{
		KeyID: s.keyARN(c, k.rec.ID), KeyRotationEnabled: k.rec.RotationEnabled,
		RotationPeriodInDays: k.rec.RotationPeriodDays, NextRotationDate: k.rec.NextRotation,
	}, nil
}

// RotateKeyOnDemand rotates a key's material now: new material encrypts, every
// older version still decrypts.
func (s *Service) RotateKeyOnDemand(ctx context.Context, c *Call, keyID string) (string, error) {
	rec, err := s.changeKey(c, keyID, "kms:RotateKeyOnDemand", func(rec *keyRecord) error {
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
		s.rotate(rec, s.now().UTC().Truncate(time.Millisecond), RotationOnDemand)
		return nil
	})
	if err != nil {
		return "", err
	}
	return s.keyARN(c, rec.ID), nil
}

// RotationEntry is one material version of ListKeyRotations.
type RotationEntry struct {
	KeyID            string
	KeyMaterialID    string
	KeyMaterialState string // CURRENT or NON_CURRENT
	RotationDate     time.Time
	RotationType     string // AUTOMATIC, ON_DEMAND, or "" for the original material
}

// ListKeyRotations lists a symmetric key's rotations, newest last; with
// allMaterial the original material too.
func (s *Service) ListKeyRotations(ctx context.Context, c *Call, keyID string, allMaterial bool, p Page) ([]RotationEntry, string, error) {
	limit, err := p.limit(100, 1000)
	if err != nil {
		return nil, "", err
	}
	k, err := s.loadKey(c, keyID)
	if err != nil {
		return nil, "", err
	}
	defer k.release()
	if err := s.authorize(c, k, "kms:ListKeyRotations", nil, nil); err != nil {
		return nil, "", err
	}
	if err := s.rotatable(c, k.rec, false); err != nil {
		return nil, "", err
	}
	start := uint32(0)
	if p.Marker != "" {
		m, err := base64.RawURLEncoding.DecodeString(p.Marker)
		if err != nil || len(m) != 4 {
			return nil, "", errorf(ErrInvalidMarker, "Marker is not valid")
		}
		start = binary.BigEndian.Uint32(m)
	}
	var out []RotationEntry
	cur := k.rec.current().Version
	for _, m := range k.rec.Materials {
		if m.Version < start || (!allMaterial && m.RotationType == "") {
			continue
		}
		if len(out) == limit {
			return out, base64.RawURLEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, m.Version)), nil
		}
		state := "NON_CURRENT"
		if m.Version == cur {
			state = "CURRENT"
		}
		out = append(out, RotationEntry{
			KeyID: s.keyARN(c, k.rec.ID), KeyMaterialID: m.ID, KeyMaterialState: state,
			RotationDate: m.CreatedAt, RotationType: m.RotationType,
		})
	}
	return out, "", nil
}
