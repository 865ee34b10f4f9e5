package kms

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// AliasListEntry is one alias of ListAliases.
type AliasListEntry struct {
	AliasName       string // alias/NAME
	AliasARN        string
	TargetKeyID     string // the bare id of the key it names
	CreationDate    time.Time
	LastUpdatedDate time.Time
}

var aliasNameRE = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]+$`)

func validateAliasName(name string) error {
	if name == "" {
		return errorf(ErrValidation, "AliasName is required")
	}
	if len(name) > 256 || !aliasNameRE.MatchString(name) {
		return errorf(ErrInvalidAliasName, "AliasName %q must start with alias/ and contain 1-256 characters of a-z A-Z 0-9 / _ -", name)
	}
	if strings.HasPrefix(name, "alias/aws/") {
		return errorf(ErrInvalidAliasName, "the alias/aws/ prefix is reserved for AWS managed keys")
	}
	return nil
}

// aliasTarget loads the key an alias is to point at — a key id or key ARN,
// not another alias, and not a key pending deletion — and checks that its
// policy allows action.
func (s *Service) aliasTarget(ctx context.Context, c *Call, targetKeyID, action string) (*store.Key, error) {
	if strings.HasPrefix(targetKeyID, "alias/") || strings.Contains(targetKeyID, ":alias/") {
		return nil, errorf(ErrValidation, "TargetKeyId must be a key id or key ARN, not an alias")
	}
	k, err := s.loadKey(ctx, c, targetKeyID)
	if err != nil {
		return nil, err
	}
	defer k.release()
	if err := s.notPendingDeletion(c, k); err != nil {
		return nil, err
	}
	if err := s.authorize(c, k, action, nil, nil); err != nil {
		return nil, err
	}
	return k.rec, nil
}

// aliasedKey checks that the key alias name points at allows action, and
// returns its id ("" when the alias does not exist).
func (s *Service) aliasedKey(ctx context.Context, c *Call, name, action string) (string, error) {
	a, err := s.getAlias(ctx, name)
	if err != nil || a == nil {
		return "", err
	}
	k, err := s.loadKeyByID(ctx, c, a.KeyID)
	if err != nil || k == nil {
		return "", err
	}
	defer k.release()
	return a.KeyID, s.authorize(c, k, action, nil, nil)
}

// CreateAliasRequest names a key: AliasName (alias/NAME) is to name
// TargetKeyID, a key id or key ARN.
type CreateAliasRequest struct {
	AliasName   string
	TargetKeyID string
}

// CreateAliasResponse is CreateAlias's answer: the key the alias names.
type CreateAliasResponse struct{ KeyRef }

// CreateAlias names a key. As in AWS, the key's policy must allow
// kms:CreateAlias on the key (authorize) and the caller's identity policy, if
// it has one, on the alias ARN (authorizeIdentity): no key policy governs an
// alias name.
func (s *Service) CreateAlias(ctx context.Context, c *Call, req *CreateAliasRequest) (*CreateAliasResponse, error) {
	return run(s, ctx, c, "CreateAlias", opChange, req, s.createAlias)
}

func (s *Service) createAlias(ctx context.Context, c *Call, req *CreateAliasRequest) (*CreateAliasResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	aliasName := req.AliasName
	if err := validateAliasName(aliasName); err != nil {
		return nil, err
	}
	if err := s.authorizeIdentity(c, s.accountFacts(c, "kms:CreateAlias", s.aliasARN(c, aliasName))); err != nil {
		return nil, err
	}
	target, err := s.aliasTarget(ctx, c, req.TargetKeyID, "kms:CreateAlias")
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Second)
	err = s.change(ctx, c, func(tx store.Txn) error {
		if err := s.roomForAlias(c, tx, target.ID); err != nil {
			return err
		}
		err := tx.CreateAlias(&store.Alias{Name: aliasName, KeyID: target.ID, CreatedAt: now, UpdatedAt: now})
		switch {
		case errors.Is(err, store.ErrExists):
			return errorf(ErrAlreadyExists, "An alias with the name %s already exists", s.aliasARN(c, aliasName))
		case errors.Is(err, store.ErrNotFound): // the key, deleted since it was loaded
			return errorf(ErrNotFound, "Key '%s' does not exist", s.keyARN(c, target.ID))
		}
		return err
	})
	if err != nil {
		return nil, asKMSError(err)
	}
	return &CreateAliasResponse{s.keyRef(c, target.ID)}, nil
}

// UpdateAliasRequest points AliasName at TargetKeyID, a key id or key ARN.
type UpdateAliasRequest struct {
	AliasName   string
	TargetKeyID string
}

// UpdateAliasResponse is UpdateAlias's answer: the key the alias names now.
type UpdateAliasResponse struct{ KeyRef }

// UpdateAlias points an existing alias at another key of the same kind and
// usage: kms:UpdateAlias on both keys (their policies) and, for a caller
// with an identity policy, on the alias ARN (authorizeIdentity).
func (s *Service) UpdateAlias(ctx context.Context, c *Call, req *UpdateAliasRequest) (*UpdateAliasResponse, error) {
	return run(s, ctx, c, "UpdateAlias", opChange, req, s.updateAlias)
}

func (s *Service) updateAlias(ctx context.Context, c *Call, req *UpdateAliasRequest) (*UpdateAliasResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	aliasName := req.AliasName
	if err := validateAliasName(aliasName); err != nil {
		return nil, err
	}
	if err := s.authorizeIdentity(c, s.accountFacts(c, "kms:UpdateAlias", s.aliasARN(c, aliasName))); err != nil {
		return nil, err
	}
	target, err := s.aliasTarget(ctx, c, req.TargetKeyID, "kms:UpdateAlias")
	if err != nil {
		return nil, err
	}
	oldID, err := s.aliasedKey(ctx, c, aliasName, "kms:UpdateAlias")
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Second)
	err = s.change(ctx, c, func(tx store.Txn) error {
		a, err := tx.Alias(aliasName)
		if errors.Is(err, store.ErrNotFound) {
			return errorf(ErrNotFound, "Alias %s is not found.", s.aliasARN(c, aliasName))
		} else if err != nil {
			return err
		}
		if a.KeyID != oldID {
			return errorf(ErrInvalidState, "Alias %s changed during the request; try again.", s.aliasARN(c, aliasName))
		}
		if old, err := tx.Key(a.KeyID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		} else if err == nil && (keySpecs[KeySpec(old.Spec)].symmetric != keySpecs[KeySpec(target.Spec)].symmetric || old.Usage != target.Usage) {
			return errorf(ErrValidation, "%s and %s are not the same kind of key: an alias moves only between keys of the same type and key usage", s.keyARN(c, old.ID), s.keyARN(c, target.ID))
		}
		if a.KeyID != target.ID { // an alias naming its key already takes no new place
			if err := s.roomForAlias(c, tx, target.ID); err != nil {
				return err
			}
		}
		a.KeyID, a.UpdatedAt = target.ID, now
		err = tx.PutAlias(a) // moves it, or ErrNotFound if the target is gone
		if errors.Is(err, store.ErrNotFound) {
			return errorf(ErrNotFound, "Key '%s' does not exist", s.keyARN(c, target.ID))
		}
		return err
	})
	if err != nil {
		return nil, asKMSError(err)
	}
	return &UpdateAliasResponse{s.keyRef(c, target.ID)}, nil
}

// DeleteAliasRequest names the alias to delete.
type DeleteAliasRequest struct {
	AliasName string
}

// DeleteAliasResponse is DeleteAlias's answer: the key the alias named.
type DeleteAliasResponse struct{ KeyRef }

// DeleteAlias removes an alias; the key is untouched: kms:DeleteAlias on the
// key (its policy) and, for a caller with an identity policy, on the alias
// ARN (authorizeIdentity).
func (s *Service) DeleteAlias(ctx context.Context, c *Call, req *DeleteAliasRequest) (*DeleteAliasResponse, error) {
	return run(s, ctx, c, "DeleteAlias", opChange, req, s.deleteAlias)
}

func (s *Service) deleteAlias(ctx context.Context, c *Call, req *DeleteAliasRequest) (*DeleteAliasResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	aliasName := req.AliasName
	if err := validateAliasName(aliasName); err != nil {
		return nil, err
	}
	if err := s.authorizeIdentity(c, s.accountFacts(c, "kms:DeleteAlias", s.aliasARN(c, aliasName))); err != nil {
		return nil, err
	}
	keyID, err := s.aliasedKey(ctx, c, aliasName, "kms:DeleteAlias")
	if err != nil {
		return nil, err
	}
	err = s.change(ctx, c, func(tx store.Txn) error {
		if a, err := tx.Alias(aliasName); errors.Is(err, store.ErrNotFound) {
			return errorf(ErrNotFound, "Alias %s is not found.", s.aliasARN(c, aliasName))
		} else if err != nil {
			return err
		} else if a.KeyID != keyID {
			return errorf(ErrInvalidState, "Alias %s changed during the request; try again.", s.aliasARN(c, aliasName))
		}
		return tx.DeleteAlias(aliasName)
	})
	if err != nil {
		return nil, asKMSError(err)
	}
	return &DeleteAliasResponse{s.keyRef(c, keyID)}, nil
}

// ListAliasesRequest asks for a page of aliases: all of them, or with KeyID
// those naming one key.
type ListAliasesRequest struct {
	KeyID string
	// Limit bounds the page: 1 to 100 aliases. Zero: 50.
	Limit int32
	// Marker is a previous page's NextMarker; "" starts at the first alias.
	Marker string
}

// ListAliasesResponse is ListAliases's answer: one page of aliases.
type ListAliasesResponse struct {
	Aliases []AliasListEntry
	// NextMarker continues the listing; "" when this page is the last.
	NextMarker string
}

// ListAliases lists aliases by name, all of them or those of one key. No key
// policy applies: the caller's identity policy must allow kms:ListAliases on
// "*", as an IAM policy must in AWS (authorizeIdentity).
func (s *Service) ListAliases(ctx context.Context, c *Call, req *ListAliasesRequest) (*ListAliasesResponse, error) {
	return run(s, ctx, c, "ListAliases", opRead, req, s.listAliases)
}

func (s *Service) listAliases(ctx context.Context, c *Call, req *ListAliasesRequest) (*ListAliasesResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	limit, err := pageLimit(req.Limit, 50, 100)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeIdentity(c, s.accountFacts(c, "kms:ListAliases", "*")); err != nil {
		return nil, err
	}
	filter := ""
	if req.KeyID != "" {
		k, err := s.loadKey(ctx, c, req.KeyID)
		if err != nil {
			return nil, err
		}
		filter = k.rec.ID
		k.release()
	}
	var resp ListAliasesResponse
	err = s.view(ctx, func(r store.Reader) error {
		entry := func(a *store.Alias) {
			resp.Aliases = append(resp.Aliases, AliasListEntry{
				AliasName: a.Name, AliasARN: s.aliasARN(c, a.Name), TargetKeyID: a.KeyID,
				CreationDate: a.CreatedAt, LastUpdatedDate: a.UpdatedAt,
			})
		}
		start, err := decodeMarker(req.Marker)
		if err != nil {
			return err
		}
		if filter == "" {
			resp.NextMarker, err = listPage(start, limit, r.Aliases, func(a *store.Alias) string { return a.Name }, func(a *store.Alias) (bool, error) { entry(a); return true, nil })
			return err
		}
		// One key's aliases: few, read at once, paged here.
		of, err := r.AliasesOf(filter)
		if err != nil {
			return err
		}
		for _, a := range of {
			if a.Name < start {
				continue
			}
			if len(resp.Aliases) == limit {
				resp.NextMarker = encodeMarker(a.Name)
				break
			}
			entry(a)
		}
		return nil
	})
	if err != nil {
		return nil, asKMSError(err)
	}
	return &resp, nil
}

// roomForAlias refuses an alias for key id if maxAliasesPerKey name it
// already (in the change: the records digest it locked keeps concurrent
// changes, on any node, from both taking the last place).
func (s *Service) roomForAlias(c *Call, tx store.Txn, id string) error {
	as, err := tx.AliasesOf(id)
	if err != nil {
		return err
	}
	if len(as) >= maxAliasesPerKey {
		return errorf(ErrLimitExceeded, "%d aliases name %s already, the most a key may have.", len(as), s.keyARN(c, id))
	}
	return nil
}
