package kms

import (
	"context"
	"encoding/json"
	"time"

	bolt "go.etcd.io/bbolt"
)

// MaintenanceResult counts what Maintain did.
type MaintenanceResult struct {
	Destroyed int // keys whose deletion date passed
	Rotated   int // keys rotated automatically
}

// Maintain destroys keys whose deletion window has ended and rotates keys
// whose rotation date has come, each change with its audit record
// (request_id "maintain", dialect "admin"). The server calls it periodically; it is safe
// to call at any time. A done ctx stops it before its next transaction, with
// what it did so far counted and ErrCanceled.
func (a *Admin) Maintain(ctx context.Context) (MaintenanceResult, error) {
	s := a.s
	if err := canceled(ctx); err != nil {
		return MaintenanceResult{}, err
	}
	var res MaintenanceResult
	var expired, due []string
	err := s.st.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKeys).ForEach(func(_, v []byte) error {
			var rec keyRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			switch {
			case s.expired(&rec):
				expired = append(expired, rec.ID)
			case rec.RotationEnabled && rec.State == Enabled && rec.NextRotation != nil && !s.now().Before(*rec.NextRotation):
				due = append(due, rec.ID)
			}
			return nil
		})
	})
	if err != nil {
		return res, err
	}
	for _, id := range expired {
		if err := s.destroyKey(ctx, systemCall("maintain", "DestroyKey"), id); err != nil {
			return res, err
		}
		res.Destroyed++
	}
	for _, id := range due {
		c := systemCall("maintain", "RotateKey")
		c.noteKey(s.keyARN(c, id))
		c.op.message = "rotated automatically: its rotation period passed"
		err := s.updateKey(ctx, c, id, func(rec *keyRecord) error {
			now := s.now().UTC().Truncate(time.Millisecond)
			if !rec.RotationEnabled || rec.State != Enabled || rec.NextRotation == nil || now.Before(*rec.NextRotation) {
				return errNoChange
			}
			s.rotate(rec, now, RotationAutomatic)
			next := rec.NextRotation.Add(time.Duration(rec.RotationPeriodDays) * 24 * time.Hour)
			if next.Before(now) { // the server was down for whole periods
				next = now.Add(time.Duration(rec.RotationPeriodDays) * 24 * time.Hour)
			}
			rec.NextRotation = &next
			return nil
		})
		if err == errNoChange {
			continue
		}
		if err != nil {
			return res, err
		}
		res.Rotated++
	}
	return res, nil
}
