package kms

import (
	"context"
	"errors"
	"strings"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// keyARN is the ARN of key id, in the service's region whatever the call:
// a key has one ARN, so a policy naming it holds through every dialect and
// every region a request names (s.region is set once, at Open: a node whose
// store moves region stops, follow.go). c, if not nil, keeps the last one
// built, for the operation's other uses of it.
func (s *Service) keyARN(c *Call, id string) string {
	if c != nil && c.op != nil && c.op.arnOf == id && id != "" {
		return c.op.arn
	}
	arn := "arn:aws:kms:" + s.region + ":" + s.account.AccountID + ":key/" + id
	if c != nil && c.op != nil {
		c.op.arnOf, c.op.arn = id, arn
	}
	return arn
}

// KeyRef names the key an answer is about, both ways, so that no caller
// parses an ARN back into an id.
type KeyRef struct {
	KeyID  string // the bare key id: 1234abcd-12ab-34cd-56ef-1234567890ab
	KeyARN string // arn:aws:kms:REGION:ACCOUNT:key/ID, in the service's region
}

func (s *Service) keyRef(c *Call, id string) KeyRef {
	return KeyRef{KeyID: id, KeyARN: s.keyARN(c, id)}
}

// aliasARN is keyARN for alias name (alias/NAME).
func (s *Service) aliasARN(_ *Call, name string) string {
	return "arn:aws:kms:" + s.region + ":" + s.account.AccountID + ":" + name
}

// parseARN splits an arn:aws:kms:REGION:ACCOUNT:RESOURCE of this service's
// region and account and returns RESOURCE ("key/ID" or "alias/NAME"). An ARN
// of another partition, region or account names no key here: it is not found,
// as it would not be in that region's AWS KMS.
func (s *Service) parseARN(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != "aws" || parts[2] != "kms" ||
		parts[3] != s.region || parts[4] != s.account.AccountID {
		return "", false
	}
	return parts[5], true
}

// resolveKeyID turns a KeyId parameter — a key id, a key ARN, alias/NAME or an
// alias ARN — into a key id. Every operation accepts all four (AWS KMS refuses
// aliases in some management operations; attestkms does not).
func (s *Service) resolveKeyID(ctx context.Context, keyID string) (string, error) {
	if keyID == "" {
		return "", errorf(ErrValidation, "KeyId is required")
	}
	if len(keyID) > 2048 {
		return "", errorf(ErrValidation, "KeyId is longer than 2048 characters")
	}
	ref := keyID
	if strings.HasPrefix(keyID, "arn:") {
		res, ok := s.parseARN(keyID)
		if !ok {
			return "", errorf(ErrNotFound, "Invalid arn %s", keyID)
		}
		switch {
		case strings.HasPrefix(res, "key/"):
			ref = strings.TrimPrefix(res, "key/")
			if _, err := parseUUID(ref); err != nil {
				return "", errorf(ErrNotFound, "Invalid arn %s", keyID)
			}
		case strings.HasPrefix(res, "alias/"):
			ref = res
		default:
			return "", errorf(ErrNotFound, "Invalid arn %s", keyID)
		}
	}
	if strings.HasPrefix(ref, "alias/") {
		a, err := s.getAlias(ctx, ref)
		if err != nil {
			return "", err
		}
		if a == nil {
			return "", errorf(ErrNotFound, "Alias %s is not found.", keyID)
		}
		return a.KeyID, nil
	}
	if _, err := parseUUID(ref); err != nil {
		return "", errorf(ErrNotFound, "Invalid keyId %s", keyID)
	}
	return ref, nil
}

// getAlias reads alias name (through the alias cache, over a shared
// store); nil if there is none. The record is the cache's: read only.
func (s *Service) getAlias(ctx context.Context, name string) (*store.Alias, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	a, err := s.cachedAlias(ctx, name)
	if err != nil {
		return nil, asKMSError(err)
	}
	return a, nil
}

// loadKey resolves keyID and loads the key, recording its ARN on the call. A
// key whose deletion date has passed is destroyed here and is not found. The
// caller must release the key.
func (s *Service) loadKey(ctx context.Context, c *Call, keyID string) (*key, error) {
	id, err := s.resolveKeyID(ctx, keyID)
	if err != nil {
		return nil, err
	}
	c.noteAlias(id, s.aliasNamed(keyID))
	k, err := s.loadKeyByID(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return nil, errorf(ErrNotFound, "Key '%s' does not exist", s.keyARN(c, id))
	}
	return k, nil
}

// loadKeyByID is loadKey for a bare key id; nil, nil when there is no such key.
func (s *Service) loadKeyByID(ctx context.Context, c *Call, id string) (*key, error) {
	k, err := s.cachedKey(ctx, id)
	if err != nil {
		return nil, asKMSError(err) // ErrCanceled, or internal
	}
	if k == nil {
		return nil, nil
	}
	if s.expired(k.rec) {
		k.release()
		// Destroyed now, as the request's doing, with its own record. If
		// the audit log cannot take that record the key stays as it is,
		// past its date, not found all the same; maintenance destroys it
		// later.
		if err := s.destroyKey(ctx, c, id); err != nil && !errors.Is(err, errAuditUnavailable) {
			return nil, asKMSError(err)
		}
		// And shredded before the answer (shred.go); if the compaction
		// fails, maintenance retries it.
		if err := s.shred(ctx, c.RequestID); err != nil && s.log != nil {
			s.log.Error("compacting the store after destroying a key", "key_id", id, "err", err)
		}
		return nil, nil
	}
	c.noteKey(s.keyARN(c, id))
	return k, nil
}

// usable checks that k's state allows cryptographic use.
func (s *Service) usable(c *Call, k *key) error {
	switch KeyState(k.rec.State) {
	case Enabled:
		return nil
	case Disabled:
		return errorf(ErrDisabled, "%s is disabled.", s.keyARN(c, k.rec.ID))
	case PendingDeletion:
		return errorf(ErrInvalidState, "%s is pending deletion.", s.keyARN(c, k.rec.ID))
	}
	return errorf(ErrInvalidState, "%s is in state %s.", s.keyARN(c, k.rec.ID), k.rec.State)
}

// notPendingDeletion is the state check of management operations, which
// AWS KMS allows on enabled and disabled keys.
func (s *Service) notPendingDeletion(c *Call, k *key) error {
	if KeyState(k.rec.State) == PendingDeletion {
		return errorf(ErrInvalidState, "%s is pending deletion.", s.keyARN(c, k.rec.ID))
	}
	return nil
}

func (s *Service) requireUsage(c *Call, k *key, u KeyUsage, op string) error {
	if KeyUsage(k.rec.Usage) != u {
		return errorf(ErrInvalidKeyUsage, "%s key usage is %s which is not valid for %s.", s.keyARN(c, k.rec.ID), k.rec.Usage, op)
	}
	return nil
}

// destroyKey deletes a key whose deletion date has passed: its record, its
// sealed material and every alias pointing at it, with the audit record of
// a DestroyKey on behalf of c (a request's, or maintenance's). A key gone or
// no longer due is left alone, and nothing is recorded.
func (s *Service) destroyKey(ctx context.Context, c *Call, id string) error {
	dc := begin(c, "DestroyKey", opChange)
	dc.noteKey(s.keyARN(c, id))
	dc.op.message = "the key's deletion date passed: its material and aliases were destroyed"
	err := s.change(ctx, dc, func(tx store.Txn) error {
		rec, err := tx.Key(id)
		if errors.Is(err, store.ErrNotFound) || err == nil && !s.expired(rec) {
			return errNoChange // destroyed or cancelled meanwhile
		}
		if err != nil {
			return err
		}
		return tx.DeleteKey(id) // and its aliases
	}, id)
	if errors.Is(err, errNoChange) {
		return nil
	}
	return err // a destruction marks a compaction pending (change, shred.go)
}

// aliasNamed returns the alias a KeyId parameter names, alias/NAME, whether
// given so or as an alias ARN; "" for a key id or key ARN.
func (s *Service) aliasNamed(keyID string) string {
	if strings.HasPrefix(keyID, "alias/") {
		return keyID
	}
	if res, ok := s.parseARN(keyID); ok && strings.HasPrefix(res, "alias/") {
		return res
	}
	return ""
}
