package aws

import (
	"context"

	"github.com/attestkms/attestkms/kms"
)

// Key management operations: wire shapes as the AWS KMS API reference names them.

type keyMetadata struct {
	AWSAccountId                string
	Arn                         string
	CreationDate                float64
	CurrentKeyMaterialId        string `json:",omitempty"`
	CustomerMasterKeySpec       string
	DeletionDate                *float64 `json:",omitempty"`
	Description                 string
	Enabled                     bool
	EncryptionAlgorithms        []string `json:",omitempty"`
	KeyAgreementAlgorithms      []string `json:",omitempty"`
	KeyId                       string
	KeyManager                  string
	KeySpec                     string
	KeyState                    string
	KeyUsage                    string
	MultiRegion                 bool
	Origin                      string
	PendingDeletionWindowInDays *int32 `json:",omitempty"`
}

func toKeyMetadata(m *kms.KeyMetadata) *keyMetadata {
	out := &keyMetadata{
		AWSAccountId: m.AWSAccountID, Arn: m.Arn, CreationDate: epoch(m.CreationDate),
		CurrentKeyMaterialId: m.CurrentKeyMaterialID, CustomerMasterKeySpec: string(m.KeySpec),
		DeletionDate: epochPtr(m.DeletionDate), Description: m.Description, Enabled: m.Enabled,
		EncryptionAlgorithms: m.EncryptionAlgorithms, KeyAgreementAlgorithms: m.KeyAgreementAlgorithms,
		KeyId: m.KeyID, KeyManager: m.KeyManager, KeySpec: string(m.KeySpec), KeyState: string(m.KeyState),
		KeyUsage: string(m.KeyUsage), MultiRegion: m.MultiRegion, Origin: m.Origin,
	}
	if m.PendingDeletionWindowInDays != 0 {
		out.PendingDeletionWindowInDays = &m.PendingDeletionWindowInDays
	}
	return out
}

type keyIDRequest struct{ KeyId string }

type keyIDResponse struct{ KeyId string }

type createKeyRequest struct {
	BypassPolicyLockoutSafetyCheck bool
	CustomerMasterKeySpec          string
	CustomKeyStoreId               string
	Description                    string
	KeySpec                        string
	KeyUsage                       string
	MultiRegion                    bool
	Origin                         string
	Policy                         string
	Tags                           []kms.Tag
	XksKeyId                       string
}

func createKey(h *Handler, ctx context.Context, c *kms.Call, req *createKeyRequest) (*result, error) {
	spec := req.KeySpec
	if spec == "" {
		spec = req.CustomerMasterKeySpec
	} else if req.CustomerMasterKeySpec != "" && req.CustomerMasterKeySpec != spec {
		return nil, validation("give KeySpec or CustomerMasterKeySpec, not both")
	}
	if req.XksKeyId != "" {
		return nil, &kms.Error{Kind: kms.ErrUnsupported, Msg: "external key stores are not supported"}
	}
	md, err := h.svc.CreateKey(ctx, c, &kms.CreateKeyRequest{
		KeySpec: kms.KeySpec(spec), KeyUsage: kms.KeyUsage(req.KeyUsage), Description: req.Description,
		Policy: req.Policy, Tags: req.Tags, Origin: req.Origin, MultiRegion: req.MultiRegion,
		CustomKeyStoreID: req.CustomKeyStoreId, BypassPolicyLockoutSafetyCheck: req.BypassPolicyLockoutSafetyCheck,
	})
	if err != nil {
		return nil, err
	}
	return ok(struct{ KeyMetadata *keyMetadata }{toKeyMetadata(md)})
}

func describeKey(h *Handler, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	md, err := h.svc.DescribeKey(ctx, c, req.KeyId)
	if err != nil {
		return nil, err
	}
	return ok(struct{ KeyMetadata *keyMetadata }{toKeyMetadata(md)})
}

type pageRequest struct {
	Limit  *int32
	Marker string
}

func (p pageRequest) page() kms.Page { return kms.Page{Limit: limit(p.Limit), Marker: p.Marker} }

func listKeys(h *Handler, ctx context.Context, c *kms.Call, req *pageRequest) (*result, error) {
	keys, next, err := h.svc.ListKeys(ctx, c, req.page())
	if err != nil {
		return nil, err
	}
	type entry struct{ KeyArn, KeyId string }
	out := struct {
		Keys       []entry
		NextMarker string `json:",omitempty"`
		Truncated  bool
	}{Keys: []entry{}, NextMarker: next, Truncated: next != ""}
	for _, k := range keys {
		out.Keys = append(out.Keys, entry{k.KeyArn, k.KeyID})
	}
	return ok(out)
}

func updateKeyDescription(h *Handler, ctx context.Context, c *kms.Call, req *struct{ KeyId, Description string }) (*result, error) {
	if err := h.svc.UpdateKeyDescription(ctx, c, req.KeyId, req.Description); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func enableKey(h *Handler, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	if err := h.svc.EnableKey(ctx, c, req.KeyId); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func disableKey(h *Handler, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	if err := h.svc.DisableKey(ctx, c, req.KeyId); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func scheduleKeyDeletion(h *Handler, ctx context.Context, c *kms.Call, req *struct {
	KeyId               string
	PendingWindowInDays *int32
}) (*result, error) {
	days := int32(0)
	if req.PendingWindowInDays != nil {
		if days = *req.PendingWindowInDays; days == 0 {
			return nil, validation("PendingWindowInDays must be between 7 and 30")
		}
	}
	r, err := h.svc.ScheduleKeyDeletion(ctx, c, req.KeyId, days)
	if err != nil {
		return nil, err
	}
	return ok(struct {
		DeletionDate        float64
		KeyId               string
		KeyState            string
		PendingWindowInDays int32
	}{epoch(r.DeletionDate), r.KeyID, string(r.KeyState), r.PendingWindowInDays})
}

func cancelKeyDeletion(h *Handler, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	arn, err := h.svc.CancelKeyDeletion(ctx, c, req.KeyId)
	if err != nil {
		return nil, err
	}
	return ok(keyIDResponse{arn})
}

type aliasRequest struct{ AliasName, TargetKeyId string }

func createAlias(h *Handler, ctx context.Context, c *kms.Call, req *aliasRequest) (*result, error) {
	if err := h.svc.CreateAlias(ctx, c, req.AliasName, req.TargetKeyId); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func updateAlias(h *Handler, ctx context.Context, c *kms.Call, req *aliasRequest) (*result, error) {
	if err := h.svc.UpdateAlias(ctx, c, req.AliasName, req.TargetKeyId); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func deleteAlias(h *Handler, ctx context.Context, c *kms.Call, req *aliasRequest) (*result, error) {
	if err := h.svc.DeleteAlias(ctx, c, req.AliasName); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func listAliases(h *Handler, ctx context.Context, c *kms.Call, req *struct {
	KeyId string
	pageRequest
}) (*result, error) {
	aliases, next, err := h.svc.ListAliases(ctx, c, req.KeyId, req.page())
	if err != nil {
		return nil, err
	}
	type entry struct {
		AliasArn        string
		AliasName       string
		CreationDate    float64
		LastUpdatedDate float64
		TargetKeyId     string
	}
	out := struct {
		Aliases    []entry
		NextMarker string `json:",omitempty"`
		Truncated  bool
	}{Aliases: []entry{}, NextMarker: next, Truncated: next != ""}
	for _, a := range aliases {
		out.Aliases = append(out.Aliases, entry{a.AliasArn, a.AliasName, epoch(a.CreationDate), epoch(a.LastUpdatedDate), a.TargetKeyID})
	}
	return ok(out)
}

func enableKeyRotation(h *Handler, ctx context.Context, c *kms.Call, req *struct {
	KeyId                string
	RotationPeriodInDays *int32
}) (*result, error) {
	days := int32(0)
	if req.RotationPeriodInDays != nil {
		if days = *req.RotationPeriodInDays; days == 0 {
			return nil, validation("RotationPeriodInDays must be between 90 and 2560")
		}
	}
	if err := h.svc.EnableKeyRotation(ctx, c, req.KeyId, days); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func disableKeyRotation(h *Handler, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	if err := h.svc.DisableKeyRotation(ctx, c, req.KeyId); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func getKeyRotationStatus(h *Handler, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	st, err := h.svc.GetKeyRotationStatus(ctx, c, req.KeyId)
	if err != nil {
		return nil, err
	}
	out := struct {
		KeyId                string
		KeyRotationEnabled   bool
		NextRotationDate     *float64 `json:",omitempty"`
		RotationPeriodInDays *int32   `json:",omitempty"`
	}{KeyId: st.KeyID, KeyRotationEnabled: st.KeyRotationEnabled, NextRotationDate: epochPtr(st.NextRotationDate)}
	if st.KeyRotationEnabled {
		out.RotationPeriodInDays = &st.RotationPeriodInDays
	}
	return ok(out)
}

func rotateKeyOnDemand(h *Handler, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	arn, err := h.svc.RotateKeyOnDemand(ctx, c, req.KeyId)
	if err != nil {
		return nil, err
	}
	return ok(keyIDResponse{arn})
}

func listKeyRotations(h *Handler, ctx context.Context, c *kms.Call, req *struct {
	KeyId              string
	IncludeKeyMaterial string
	pageRequest
}) (*result, error) {
	all := false
	switch req.IncludeKeyMaterial {
	case "", "ROTATIONS_ONLY":
	case "ALL_KEY_MATERIAL":
		all = true
	default:
		return nil, validation("IncludeKeyMaterial must be ALL_KEY_MATERIAL or ROTATIONS_ONLY")
	}
	rs, next, err := h.svc.ListKeyRotations(ctx, c, req.KeyId, all, req.page())
	if err != nil {
		return nil, err
	}
	type entry struct {
		KeyId            string
		KeyMaterialId    string
		KeyMaterialState string
		RotationDate     float64
		RotationType     string `json:",omitempty"`
	}
	out := struct {
		NextMarker string `json:",omitempty"`
		Rotations  []entry
		Truncated  bool
	}{NextMarker: next, Rotations: []entry{}, Truncated: next != ""}
	for _, r := range rs {
		out.Rotations = append(out.Rotations, entry{r.KeyID, r.KeyMaterialID, r.KeyMaterialState, epoch(r.RotationDate), r.RotationType})
	}
	return ok(out)
}

func putKeyPolicy(h *Handler, ctx context.Context, c *kms.Call, req *struct {
	KeyId, Policy, PolicyName      string
	BypassPolicyLockoutSafetyCheck bool
}) (*result, error) {
	if err := h.svc.PutKeyPolicy(ctx, c, req.KeyId, req.PolicyName, req.Policy, req.BypassPolicyLockoutSafetyCheck); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func getKeyPolicy(h *Handler, ctx context.Context, c *kms.Call, req *struct{ KeyId, PolicyName string }) (*result, error) {
	p, err := h.svc.GetKeyPolicy(ctx, c, req.KeyId, req.PolicyName)
	if err != nil {
		return nil, err
	}
	return ok(struct{ Policy, PolicyName string }{p, kms.DefaultPolicyName})
}

func listKeyPolicies(h *Handler, ctx context.Context, c *kms.Call, req *struct {
	KeyId string
	pageRequest
}) (*result, error) {
	names, err := h.svc.ListKeyPolicies(ctx, c, req.KeyId, req.page())
	if err != nil {
		return nil, err
	}
	return ok(struct {
		PolicyNames []string
		Truncated   bool
	}{names, false})
}

func tagResource(h *Handler, ctx context.Context, c *kms.Call, req *struct {
	KeyId string
	Tags  []kms.Tag
}) (*result, error) {
	if err := h.svc.TagResource(ctx, c, req.KeyId, req.Tags); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func untagResource(h *Handler, ctx context.Context, c *kms.Call, req *struct {
	KeyId   string
	TagKeys []string
}) (*result, error) {
	if err := h.svc.UntagResource(ctx, c, req.KeyId, req.TagKeys); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func listResourceTags(h *Handler, ctx context.Context, c *kms.Call, req *struct {
	KeyId string
	pageRequest
}) (*result, error) {
	tags, next, err := h.svc.ListResourceTags(ctx, c, req.KeyId, req.page())
	if err != nil {
		return nil, err
	}
	if tags == nil {
		tags = []kms.Tag{}
	}
	return ok(struct {
		NextMarker string `json:",omitempty"`
		Tags       []kms.Tag
		Truncated  bool
	}{next, tags, next != ""})
}
