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
		AWSAccountId: m.AWSAccountID, Arn: m.KeyARN, CreationDate: epoch(m.CreationDate),
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

func createKey(h *dialect, ctx context.Context, c *kms.Call, req *createKeyRequest) (*result, error) {
	spec := req.KeySpec
	if spec == "" {
		spec = req.CustomerMasterKeySpec
	} else if req.CustomerMasterKeySpec != "" && req.CustomerMasterKeySpec != spec {
		return nil, validation("give KeySpec or CustomerMasterKeySpec, not both")
	}
	if req.XksKeyId != "" {
		return nil, &kms.Error{Kind: kms.ErrUnsupported, Msg: "external key stores are not supported"}
	}
	r, err := h.svc.CreateKey(ctx, c, &kms.CreateKeyRequest{
		KeySpec: kms.KeySpec(spec), KeyUsage: kms.KeyUsage(req.KeyUsage), Description: req.Description,
		Policy: req.Policy, Tags: req.Tags, Origin: req.Origin, MultiRegion: req.MultiRegion,
		CustomKeyStoreID: req.CustomKeyStoreId, BypassPolicyLockoutSafetyCheck: req.BypassPolicyLockoutSafetyCheck,
	})
	if err != nil {
		return nil, err
	}
	return ok(struct{ KeyMetadata *keyMetadata }{toKeyMetadata(&r.KeyMetadata)})
}

func describeKey(h *dialect, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	r, err := h.svc.DescribeKey(ctx, c, &kms.DescribeKeyRequest{KeyID: req.KeyId})
	if err != nil {
		return nil, err
	}
	return ok(struct{ KeyMetadata *keyMetadata }{toKeyMetadata(&r.KeyMetadata)})
}

type pageRequest struct {
	Limit  *int32
	Marker string
}

func listKeys(h *dialect, ctx context.Context, c *kms.Call, req *pageRequest) (*result, error) {
	r, err := h.svc.ListKeys(ctx, c, &kms.ListKeysRequest{Limit: limit(req.Limit), Marker: req.Marker})
	if err != nil {
		return nil, err
	}
	keys, next := r.Keys, r.NextMarker
	type entry struct{ KeyArn, KeyId string }
	out := struct {
		Keys       []entry
		NextMarker string `json:",omitempty"`
		Truncated  bool
	}{Keys: []entry{}, NextMarker: next, Truncated: next != ""}
	for _, k := range keys {
		out.Keys = append(out.Keys, entry{k.KeyARN, k.KeyID})
	}
	return ok(out)
}

func updateKeyDescription(h *dialect, ctx context.Context, c *kms.Call, req *struct{ KeyId, Description string }) (*result, error) {
	if _, err := h.svc.UpdateKeyDescription(ctx, c, &kms.UpdateKeyDescriptionRequest{KeyID: req.KeyId, Description: req.Description}); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func enableKey(h *dialect, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	if _, err := h.svc.EnableKey(ctx, c, &kms.EnableKeyRequest{KeyID: req.KeyId}); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func disableKey(h *dialect, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	if _, err := h.svc.DisableKey(ctx, c, &kms.DisableKeyRequest{KeyID: req.KeyId}); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func scheduleKeyDeletion(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	KeyId               string
	PendingWindowInDays *int32
}) (*result, error) {
	days := int32(0)
	if req.PendingWindowInDays != nil {
		if days = *req.PendingWindowInDays; days == 0 {
			return nil, validation("PendingWindowInDays must be between 7 and 30")
		}
	}
	r, err := h.svc.ScheduleKeyDeletion(ctx, c, &kms.ScheduleKeyDeletionRequest{KeyID: req.KeyId, PendingWindowInDays: days})
	if err != nil {
		return nil, err
	}
	return ok(struct {
		DeletionDate        float64
		KeyId               string
		KeyState            string
		PendingWindowInDays int32
	}{epoch(r.DeletionDate), r.KeyARN, string(r.KeyState), r.PendingWindowInDays})
}

func cancelKeyDeletion(h *dialect, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	r, err := h.svc.CancelKeyDeletion(ctx, c, &kms.CancelKeyDeletionRequest{KeyID: req.KeyId})
	if err != nil {
		return nil, err
	}
	return ok(keyIDResponse{r.KeyARN})
}

type aliasRequest struct{ AliasName, TargetKeyId string }

func createAlias(h *dialect, ctx context.Context, c *kms.Call, req *aliasRequest) (*result, error) {
	if _, err := h.svc.CreateAlias(ctx, c, &kms.CreateAliasRequest{AliasName: req.AliasName, TargetKeyID: req.TargetKeyId}); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func updateAlias(h *dialect, ctx context.Context, c *kms.Call, req *aliasRequest) (*result, error) {
	if _, err := h.svc.UpdateAlias(ctx, c, &kms.UpdateAliasRequest{AliasName: req.AliasName, TargetKeyID: req.TargetKeyId}); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func deleteAlias(h *dialect, ctx context.Context, c *kms.Call, req *aliasRequest) (*result, error) {
	if _, err := h.svc.DeleteAlias(ctx, c, &kms.DeleteAliasRequest{AliasName: req.AliasName}); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func listAliases(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	KeyId string
	pageRequest
}) (*result, error) {
	r, err := h.svc.ListAliases(ctx, c, &kms.ListAliasesRequest{KeyID: req.KeyId, Limit: limit(req.Limit), Marker: req.Marker})
	if err != nil {
		return nil, err
	}
	aliases, next := r.Aliases, r.NextMarker
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
		out.Aliases = append(out.Aliases, entry{a.AliasARN, a.AliasName, epoch(a.CreationDate), epoch(a.LastUpdatedDate), a.TargetKeyID})
	}
	return ok(out)
}

func enableKeyRotation(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	KeyId                string
	RotationPeriodInDays *int32
}) (*result, error) {
	days := int32(0)
	if req.RotationPeriodInDays != nil {
		if days = *req.RotationPeriodInDays; days == 0 {
			return nil, validation("RotationPeriodInDays must be between 90 and 2560")
		}
	}
	if _, err := h.svc.EnableKeyRotation(ctx, c, &kms.EnableKeyRotationRequest{KeyID: req.KeyId, RotationPeriodInDays: days}); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func disableKeyRotation(h *dialect, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	if _, err := h.svc.DisableKeyRotation(ctx, c, &kms.DisableKeyRotationRequest{KeyID: req.KeyId}); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func getKeyRotationStatus(h *dialect, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	st, err := h.svc.GetKeyRotationStatus(ctx, c, &kms.GetKeyRotationStatusRequest{KeyID: req.KeyId})
	if err != nil {
		return nil, err
	}
	out := struct {
		KeyId                string
		KeyRotationEnabled   bool
		NextRotationDate     *float64 `json:",omitempty"`
		RotationPeriodInDays *int32   `json:",omitempty"`
	}{KeyId: st.KeyARN, KeyRotationEnabled: st.KeyRotationEnabled, NextRotationDate: epochPtr(st.NextRotationDate)}
	if st.KeyRotationEnabled {
		out.RotationPeriodInDays = &st.RotationPeriodInDays
	}
	return ok(out)
}

func rotateKeyOnDemand(h *dialect, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	r, err := h.svc.RotateKeyOnDemand(ctx, c, &kms.RotateKeyOnDemandRequest{KeyID: req.KeyId})
	if err != nil {
		return nil, err
	}
	return ok(keyIDResponse{r.KeyARN})
}

func listKeyRotations(h *dialect, ctx context.Context, c *kms.Call, req *struct {
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
	r, err := h.svc.ListKeyRotations(ctx, c, &kms.ListKeyRotationsRequest{KeyID: req.KeyId, AllKeyMaterial: all, Limit: limit(req.Limit), Marker: req.Marker})
	if err != nil {
		return nil, err
	}
	rs, next := r.Rotations, r.NextMarker
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
		out.Rotations = append(out.Rotations, entry{r.KeyARN, r.KeyMaterialID, r.KeyMaterialState, epoch(r.RotationDate), r.RotationType})
	}
	return ok(out)
}

func putKeyPolicy(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	KeyId, Policy, PolicyName      string
	BypassPolicyLockoutSafetyCheck bool
}) (*result, error) {
	if _, err := h.svc.PutKeyPolicy(ctx, c, &kms.PutKeyPolicyRequest{
		KeyID: req.KeyId, PolicyName: req.PolicyName, Policy: req.Policy, BypassPolicyLockoutSafetyCheck: req.BypassPolicyLockoutSafetyCheck,
	}); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func getKeyPolicy(h *dialect, ctx context.Context, c *kms.Call, req *struct{ KeyId, PolicyName string }) (*result, error) {
	r, err := h.svc.GetKeyPolicy(ctx, c, &kms.GetKeyPolicyRequest{KeyID: req.KeyId, PolicyName: req.PolicyName})
	if err != nil {
		return nil, err
	}
	return ok(struct{ Policy, PolicyName string }{r.Policy, r.PolicyName})
}

func listKeyPolicies(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	KeyId string
	pageRequest
}) (*result, error) {
	r, err := h.svc.ListKeyPolicies(ctx, c, &kms.ListKeyPoliciesRequest{KeyID: req.KeyId, Limit: limit(req.Limit), Marker: req.Marker})
	if err != nil {
		return nil, err
	}
	return ok(struct {
		PolicyNames []string
		Truncated   bool
	}{r.PolicyNames, r.NextMarker != ""})
}

func tagResource(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	KeyId string
	Tags  []kms.Tag
}) (*result, error) {
	if _, err := h.svc.TagResource(ctx, c, &kms.TagResourceRequest{KeyID: req.KeyId, Tags: req.Tags}); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func untagResource(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	KeyId   string
	TagKeys []string
}) (*result, error) {
	if _, err := h.svc.UntagResource(ctx, c, &kms.UntagResourceRequest{KeyID: req.KeyId, TagKeys: req.TagKeys}); err != nil {
		return nil, err
	}
	return ok(struct{}{})
}

func listResourceTags(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	KeyId string
	pageRequest
}) (*result, error) {
	r, err := h.svc.ListResourceTags(ctx, c, &kms.ListResourceTagsRequest{KeyID: req.KeyId, Limit: limit(req.Limit), Marker: req.Marker})
	if err != nil {
		return nil, err
	}
	tags, next := r.Tags, r.NextMarker
	if tags == nil {
		tags = []kms.Tag{}
	}
	return ok(struct {
		NextMarker string `json:",omitempty"`
		Tags       []kms.Tag
		Truncated  bool
	}{next, tags, next != ""})
}
