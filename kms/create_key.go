package kms

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/attestkms/attestkms/kms/internal/eckeys"
	"github.com/attestkms/attestkms/kms/internal/store"
)

// Tag is a key's tag.
type Tag struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

// CreateKeyRequest creates a key. Zero values: KeySpec SYMMETRIC_DEFAULT,
// KeyUsage ENCRYPT_DECRYPT, Policy the default policy (the account has full
// access), Origin AWS_KMS.
type CreateKeyRequest struct {
	KeySpec     KeySpec
	KeyUsage    KeyUsage
	Description string
	Policy      string
	Tags        []Tag
	// Alias, if given (alias/NAME), names the key in the same transaction
	// that creates it: ErrAlreadyExists and no key when the name is taken.
	Alias                          string
	Origin                         string
	MultiRegion                    bool
	CustomKeyStoreID               string
	BypassPolicyLockoutSafetyCheck bool
}

// CreateKeyResponse is CreateKey's answer: the new key's metadata.
type CreateKeyResponse struct{ KeyMetadata }

// KeyMetadata describes a key as CreateKey and DescribeKey return it.
type KeyMetadata struct {
	KeyRef
	AWSAccountID                string
	CreationDate                time.Time
	Enabled                     bool
	Description                 string
	KeyUsage                    KeyUsage
	KeyState                    KeyState
	DeletionDate                *time.Time
	PendingDeletionWindowInDays int32
	Origin                      string
	KeyManager                  string
	KeySpec                     KeySpec
	EncryptionAlgorithms        []string
	KeyAgreementAlgorithms      []string
	MultiRegion                 bool
	CurrentKeyMaterialID        string
}

const (
	maxDescription = 8192
	maxPolicy      = 32768
	maxTags        = 50
)

// CreateKey creates a key and answers only once it is on disk.
func (s *Service) CreateKey(ctx context.Context, c *Call, req *CreateKeyRequest) (*CreateKeyResponse, error) {
	return run(s, ctx, c, "CreateKey", opChange, req, s.createKey)
}

func (s *Service) createKey(ctx context.Context, c *Call, req *CreateKeyRequest) (*CreateKeyResponse, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	spec, usage := req.KeySpec, req.KeyUsage
	if spec == "" {
		spec = SymmetricDefault
	}
	info, ok := keySpecs[spec]
	if !ok {
		return nil, errorf(ErrValidation, "KeySpec %q is not supported; use one of SYMMETRIC_DEFAULT, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SM2", spec)
	}
	if usage == "" {
		usage = EncryptDecrypt
		if !info.symmetric {
			return nil, errorf(ErrValidation, "KeyUsage is required for KeySpec %s: use KEY_AGREEMENT", spec)
		}
	}
	allowed := false
	for _, u := range info.usages {
		allowed = allowed || u == usage
	}
	if !allowed {
		return nil, errorf(ErrValidation, "KeyUsage %s is not valid for KeySpec %s", usage, spec)
	}
	if req.Origin != "" && req.Origin != OriginAWSKMS {
		return nil, errorf(ErrUnsupported, "Origin %s is not supported; only AWS_KMS", req.Origin)
	}
	if req.MultiRegion {
		return nil, errorf(ErrUnsupported, "multi-Region keys are not supported")
	}
	if req.CustomKeyStoreID != "" {
		return nil, errorf(ErrUnsupported, "custom key stores are not supported")
	}
	if len(req.Description) > maxDescription {
		return nil, errorf(ErrValidation, "Description is longer than %d characters", maxDescription)
	}
	if err := validateTags(req.Tags); err != nil {
		return nil, err
	}
	if req.Alias != "" {
		if err := validateAliasName(req.Alias); err != nil {
			return nil, err
		}
	}
	// No key policy exists yet: only the caller's identity policy can allow
	// kms:CreateKey, and kms:CreateAlias on the alias the new key is to get
	// (authorizeIdentity), as in AWS IAM. Without that check a credential
	// scoped to one key could create a key under a policy of its own and
	// take an alias name others encrypt under.
	f := s.accountFacts(c, "kms:CreateKey", "*")
	f.spec, f.usage, f.origin = spec, usage, OriginAWSKMS
	if err := s.authorizeIdentity(c, f); err != nil {
		return nil, err
	}
	if req.Alias != "" {
		if err := s.authorizeIdentity(c, s.accountFacts(c, "kms:CreateAlias", s.aliasARN(c, req.Alias))); err != nil {
			return nil, err
		}
	}
	id := newUUID()
	policy := req.Policy
	if policy == "" {
		policy = defaultPolicy(s.account)
	} else if err := validatePolicy(policy); err != nil {
		return nil, err
	} else if err := s.checkNewPolicy(c, id, policy, req.BypassPolicyLockoutSafetyCheck); err != nil {
		return nil, err
	}

	now := s.now().UTC().Truncate(time.Millisecond)
	rec := &store.Key{
		ID:          id,
		CreatedAt:   now,
		Description: req.Description,
		Spec:        string(spec),
		Usage:       string(usage),
		State:       string(Enabled),
		Policy:      policy,
		Tags:        mergeTags(nil, req.Tags),
	}
	var material []byte
	if info.symmetric {
		material = make([]byte, 32)
		rand.Read(material)
	} else {
		priv, err := eckeys.Generate(info.curve, rand.Reader)
		if err != nil {
			return nil, internal(err)
		}
		material, err = priv.MarshalPKCS8()
		if err == nil {
			rec.PublicKey, err = priv.Public().MarshalSPKI()
		}
		priv.Destroy()
		if err != nil {
			clear(material)
			return nil, internal(err)
		}
	}
	defer clear(material)
	err := s.change(ctx, c, func(tx store.Txn) error {
		// Sealed inside the change: under the root key the store has
		// when it commits (a root-key rotation is a change too).
		m, err := store.SealMaterial(s.sealer, rec.ID, 1, material)
		if err != nil {
			return internal(err)
		}
		m.CreatedAt = now
		rec.Materials = []store.Material{m}
		if n, ok := store.TxnCounts(tx); ok && n.Keys >= s.opts.maxKeys() {
			return errorf(ErrLimitExceeded, "The account holds %d KMS keys, the most this server allows (attestkms serve --max-keys); schedule the deletion of keys it no longer needs.", n.Keys)
		}
		if err := tx.CreateKey(rec); err != nil {
			return err
		}
		if req.Alias != "" {
			ts := now.Truncate(time.Second)
			err := tx.CreateAlias(&store.Alias{Name: req.Alias, KeyID: rec.ID, CreatedAt: ts, UpdatedAt: ts})
			if errors.Is(err, store.ErrExists) {
				return errorf(ErrAlreadyExists, "An alias with the name %s already exists", s.aliasARN(c, req.Alias))
			}
			if err != nil {
				return err
			}
		}
		c.noteKey(s.keyARN(c, rec.ID))
		return nil
	})
	if err != nil {
		return nil, asKMSError(err)
	}
	return &CreateKeyResponse{s.metadata(c, rec)}, nil
}

func (s *Service) metadata(c *Call, r *store.Key) KeyMetadata {
	md := KeyMetadata{
		KeyRef:               s.keyRef(c, r.ID),
		AWSAccountID:         s.account.AccountID,
		CreationDate:         r.CreatedAt,
		Enabled:              KeyState(r.State) == Enabled,
		Description:          r.Description,
		KeyUsage:             KeyUsage(r.Usage),
		KeyState:             KeyState(r.State),
		DeletionDate:         r.DeletionDate,
		Origin:               OriginAWSKMS,
		KeyManager:           KeyManagerCustomer,
		KeySpec:              KeySpec(r.Spec),
		CurrentKeyMaterialID: r.Current().ID,
	}
	if KeyState(r.State) == PendingDeletion {
		md.PendingDeletionWindowInDays = r.PendingWindowDays
	}
	switch KeyUsage(r.Usage) {
	case EncryptDecrypt:
		md.EncryptionAlgorithms = []string{AlgSymmetricDefault}
	case KeyAgreement:
		md.KeyAgreementAlgorithms = []string{AlgECDH}
	}
	return md
}
