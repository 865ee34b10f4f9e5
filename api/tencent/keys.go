package tencent

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/attestkms/attestkms/kms"
)

// Key management actions: members as tencentcloud-sdk-go kms/v20190118
// models.go names and types them.

// keyIDRequest is the body of the actions that take a key and nothing else.
type keyIDRequest struct{ KeyId string }

type empty struct{ meta }

const (
	// maxDescription is Tencent's bound ("CMK 的描述，最大1024字节").
	maxDescription = 1024
	// maxListPages bounds ListKeys's walk through kms's pages of 1000 keys:
	// it must count every key for TotalCount.
	maxListPages = 100
	listPageSize = 1000
	// Tencent's ListKeys Limit: "缺省值为10，最大值为200".
	defaultListLimit = 10
	maxListLimit     = 200
)

// aliasRE is Tencent's alias rule: "1-60个字母数字 - _ 的组合，首字符必须为字母或者数字".
var aliasRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$`)

// asymmetricUsages are Tencent's other key usages: RSA and SM2 encryption and
// signing keys, none of which attestkms holds (its asymmetric keys are for
// key agreement, which Tencent's API has no usage for).
var asymmetricUsages = map[string]bool{
	"ASYMMETRIC_DECRYPT_RSA_2048": true, "ASYMMETRIC_DECRYPT_SM2": true,
	"ASYMMETRIC_SIGN_VERIFY_SM2": true, "ASYMMETRIC_SIGN_VERIFY_RSA_2048": true,
	"ASYMMETRIC_SIGN_VERIFY_ECC": true, "ASYMMETRIC_SIGN_VERIFY_ECDSA384": true,
}

type tagParam struct{ TagKey, TagValue *string }

type createKeyRequest struct {
	Alias        string
	Description  string
	KeyUsage     string
	Type         *int64
	Tags         []tagParam
	HsmClusterId string
}

func (req *createKeyRequest) check() ([]kms.Tag, error) {
	switch {
	case req.Alias == "":
		return nil, missing("Alias")
	case !aliasRE.MatchString(req.Alias):
		return nil, errorf(codeInvalidAlias, "Alias must be 1-60 letters, digits, - and _, beginning with a letter or digit")
	case strings.HasPrefix(strings.ToLower(req.Alias), "kms-"):
		return nil, errorf(codeInvalidAlias, "the kms- prefix of Alias is reserved for cloud products")
	case len(req.Description) > maxDescription:
		return nil, invalidValue(fmt.Sprintf("Description is longer than %d bytes", maxDescription))
	case req.HsmClusterId != "":
		return nil, errorf(codeInvalidHsmClusterID, "there are no HSM clusters here: leave HsmClusterId out")
	}
	switch {
	case req.KeyUsage == "" || req.KeyUsage == string(kms.EncryptDecrypt):
	case asymmetricUsages[req.KeyUsage]:
		return nil, errorf(codeUnsupported, "KeyUsage "+req.KeyUsage+" is not supported: attestkms holds symmetric ENCRYPT_DECRYPT keys and, through its other dialects, key-agreement keys; not RSA or SM2 encryption or signing keys")
	default:
		return nil, errorf(codeInvalidKeyUsage, fmt.Sprintf("KeyUsage %.64q is not a key usage; use ENCRYPT_DECRYPT", req.KeyUsage))
	}
	if req.Type != nil {
		switch *req.Type {
		case 1:
		case 2:
			return nil, errorf(codeUnsupported, "Type 2 (EXTERNAL, imported key material) is not supported")
		default:
			return nil, errorf(codeInvalidType, "Type must be 1 (key material made by the service)")
		}
	}
	var tags []kms.Tag
	for i, t := range req.Tags {
		if t.TagKey == nil {
			return nil, missing(fmt.Sprintf("Tags.%d.TagKey", i))
		}
		v := ""
		if t.TagValue != nil {
			v = *t.TagValue
		}
		tags = append(tags, kms.Tag{TagKey: *t.TagKey, TagValue: v})
	}
	return tags, nil
}

// createKey makes a key and names it alias/<Alias>. kms has no CreateKey
// with an alias, so it takes three steps: see that the alias is free,
// create the key, create the alias. Should another request take the alias
// between the first and the last, the new key is scheduled for deletion
// (the shortest window) and the answer is AliasAlreadyExists.
func createKey(h *dialect, ctx context.Context, c *kms.Call, req *createKeyRequest) (*result, error) {
	tags, err := req.check()
	if err != nil {
		return nil, err
	}
	// The key and its alias are made in one transaction: a taken alias
	// leaves no key behind.
	md, err := h.svc.CreateKey(ctx, c, &kms.CreateKeyRequest{Description: req.Description, Tags: tags, Alias: "alias/" + req.Alias})
	if errors.Is(err, kms.ErrAlreadyExists) {
		return nil, errorf(codeAliasExists, "The alias "+req.Alias+" already names a key.")
	}
	if err != nil {
		return nil, err
	}
	out := &struct {
		KeyId       string
		Alias       string
		CreateTime  int64
		Description string
		KeyState    string
		KeyUsage    string
		TagCode     *int64  `json:",omitempty"`
		TagMsg      *string `json:",omitempty"`
		meta
	}{KeyId: md.KeyID, Alias: req.Alias, CreateTime: md.CreationDate.Unix(), Description: md.Description,
		KeyState: keyState(md.KeyState), KeyUsage: string(md.KeyUsage)}
	if len(tags) > 0 {
		code, msg := int64(0), ""
		out.TagCode, out.TagMsg = &code, &msg
	}
	return ok(out)
}

// keyState is a kms state as Tencent names it.
func keyState(s kms.KeyState) string {
	if s == kms.PendingDeletion {
		return "PendingDelete"
	}
	return string(s) // Enabled, Disabled
}

// keyType is Tencent's KeyMetadata.Type: 4 for the Chinese SM family of
// algorithms, 2 for the FIPS one (AES, NIST curves; secp256k1 is neither and
// is counted here).
func keyType(spec kms.KeySpec) int64 {
	if strings.Contains(string(spec), "SM2") {
		return 4
	}
	return 2
}

// keyMetadata is Tencent's KeyMetadata.
type keyMetadata struct {
	KeyId              string
	Alias              string
	CreateTime         int64
	Description        string
	KeyState           string
	KeyUsage           string
	Type               int64
	CreatorUin         uint64
	KeyRotationEnabled bool
	Owner              string
	NextRotateTime     int64
	DeletionDate       *int64 `json:",omitempty"`
	Origin             string
	ResourceId         string
}

func describeKey(h *dialect, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	dk, err := h.svc.DescribeKey(ctx, c, &kms.DescribeKeyRequest{KeyID: id, WithAlias: true})
	if err != nil {
		return nil, err
	}
	md := &dk.KeyMetadata
	uin, _ := strconv.ParseUint(h.svc.Account().AccountID, 10, 64)
	out := keyMetadata{
		KeyId: md.KeyID, CreateTime: md.CreationDate.Unix(), Description: md.Description,
		KeyState: keyState(md.KeyState), KeyUsage: string(md.KeyUsage),
		Type:       keyType(md.KeySpec),
		CreatorUin: uin, Owner: "user", Origin: "TENCENT_KMS",
		ResourceId: fmt.Sprintf("creatorUin/%d/%s", uin, md.KeyID),
	}
	if md.DeletionDate != nil {
		d := md.DeletionDate.Unix()
		out.DeletionDate = &d
	}
	// The alias comes with the key's description, under its authorization
	// (a ListAliases would need kms:ListAliases, the account's whole list).
	out.Alias = strings.TrimPrefix(dk.Alias, "alias/")
	probe := *c
	// Rotation, where the key has it and its policy lets the caller see it.
	if md.KeyUsage == kms.EncryptDecrypt {
		if st, err := h.svc.GetKeyRotationStatus(ctx, &probe, &kms.GetKeyRotationStatusRequest{KeyID: md.KeyID}); err == nil && st.KeyRotationEnabled {
			out.KeyRotationEnabled = true
			if st.NextRotationDate != nil {
				out.NextRotateTime = st.NextRotationDate.Unix()
			}
		}
	}
	return ok(&struct {
		KeyMetadata keyMetadata
		meta
	}{KeyMetadata: out})
}

func listKeys(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	Offset, Limit, Role *int64
	HsmClusterId        string
}) (*result, error) {
	offset, limit := int64(0), int64(defaultListLimit)
	if req.Offset != nil {
		if offset = *req.Offset; offset < 0 {
			return nil, invalidValue("Offset must not be negative")
		}
	}
	if req.Limit != nil {
		if limit = *req.Limit; limit < 1 || limit > maxListLimit {
			return nil, invalidValue(fmt.Sprintf("Limit must be between 1 and %d", maxListLimit))
		}
	}
	if req.HsmClusterId != "" {
		return nil, errorf(codeInvalidHsmClusterID, "there are no HSM clusters here: leave HsmClusterId out")
	}
	type key struct{ KeyId string }
	out := &struct {
		Keys       []key
		TotalCount int64
		meta
	}{Keys: []key{}}
	if req.Role != nil {
		switch *req.Role {
		case 0:
		case 1: // keys made by other cloud products for the user: none here
			return ok(out)
		default:
			return nil, invalidValue("Role must be 0 (keys the user created) or 1 (keys cloud products created)")
		}
	}
	// kms pages by marker; Tencent by offset, with a total: walk every page.
	marker := ""
	for page := 0; ; page++ {
		if page == maxListPages {
			return nil, errorf(codeLimitExceeded, fmt.Sprintf("there are more than %d keys: ListKeys cannot count them", maxListPages*listPageSize))
		}
		lk, err := h.svc.ListKeys(ctx, c, &kms.ListKeysRequest{Limit: listPageSize, Marker: marker})
		if err != nil {
			return nil, err
		}
		keys, next := lk.Keys, lk.NextMarker
		for _, k := range keys {
			if out.TotalCount >= offset && int64(len(out.Keys)) < limit {
				out.Keys = append(out.Keys, key{k.KeyID})
			}
			out.TotalCount++
		}
		if next == "" {
			return ok(out)
		}
		marker = next
	}
}

func enableKey(h *dialect, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	if _, err := h.svc.EnableKey(ctx, c, &kms.EnableKeyRequest{KeyID: id}); err != nil {
		return nil, err
	}
	return ok(&empty{})
}

func disableKey(h *dialect, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	if _, err := h.svc.DisableKey(ctx, c, &kms.DisableKeyRequest{KeyID: id}); err != nil {
		return nil, err
	}
	return ok(&empty{})
}

func scheduleKeyDeletion(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	KeyId               string
	PendingWindowInDays *int64
}) (*result, error) {
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	if req.PendingWindowInDays == nil {
		return nil, missing("PendingWindowInDays")
	}
	if d := *req.PendingWindowInDays; d < 7 || d > 30 {
		return nil, errorf(codeInvalidPendingWindow, "PendingWindowInDays must be between 7 and 30")
	}
	r, err := h.svc.ScheduleKeyDeletion(ctx, c, &kms.ScheduleKeyDeletionRequest{KeyID: id, PendingWindowInDays: int32(*req.PendingWindowInDays)})
	if err != nil {
		return nil, err
	}
	return ok(&struct {
		DeletionDate int64
		KeyId        string
		meta
	}{DeletionDate: r.DeletionDate.Unix(), KeyId: r.KeyID})
}

func cancelKeyDeletion(h *dialect, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	r, err := h.svc.CancelKeyDeletion(ctx, c, &kms.CancelKeyDeletionRequest{KeyID: id})
	if err != nil {
		return nil, err
	}
	return ok(&struct {
		KeyId string
		meta
	}{KeyId: r.KeyID})
}

// getPublicKey returns the public key of a key made through another dialect
// (attestkms's asymmetric keys are key-agreement keys; Tencent's own
// CreateKey here makes only symmetric ones, which have none).
func getPublicKey(h *dialect, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	r, err := h.svc.GetPublicKey(ctx, c, &kms.GetPublicKeyRequest{KeyID: id})
	if err != nil {
		return nil, err
	}
	return ok(&struct {
		KeyId        string
		PublicKey    string
		PublicKeyPem string
		meta
	}{KeyId: r.KeyID, PublicKey: b64(r.PublicKey),
		PublicKeyPem: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: r.PublicKey}))})
}
