package huawei

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/kms"
)

// Key management operations: wire shapes as huaweicloud-sdk-go-v3's
// services/kms/v2/model names them.

// keySpecs maps Huawei's key_spec to kms's.
var keySpecs = []struct {
	huawei string
	kms    kms.KeySpec
}{
	{"AES_256", kms.SymmetricDefault},
	{"EC_P256", kms.EccNistP256},
	{"EC_P384", kms.EccNistP384},
	{"SECP256K1", kms.EccSecgP256k1},
	{"SM2", kms.Sm2},
	{"EC_P521", kms.EccNistP521}, // not Huawei's; shown for keys made through another dialect
}

func kmsSpec(huawei string) (kms.KeySpec, bool) {
	for _, s := range keySpecs[:5] {
		if s.huawei == huawei {
			return s.kms, true
		}
	}
	return "", false
}

func huaweiSpec(spec kms.KeySpec) string {
	for _, s := range keySpecs {
		if s.kms == spec {
			return s.huawei
		}
	}
	return string(spec)
}

// Huawei's key_state codes.
const (
	stateEnabled         = "2"
	stateDisabled        = "3"
	statePendingDeletion = "4"
)

func huaweiState(s kms.KeyState) string {
	switch s {
	case kms.Enabled:
		return stateEnabled
	case kms.Disabled:
		return stateDisabled
	case kms.PendingDeletion:
		return statePendingDeletion
	}
	return ""
}

// millis is a time as Huawei sends it: milliseconds since the epoch, in a
// string.
func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// keyDetails is the SDK's KeyDetails.
type keyDetails struct {
	KeyID                  string `json:"key_id"`
	DomainID               string `json:"domain_id"`
	KeyAlias               string `json:"key_alias"`
	KeySpec                string `json:"key_spec"`
	KeyUsage               string `json:"key_usage"`
	KeyDescription         string `json:"key_description"`
	CreationDate           string `json:"creation_date"`
	ScheduledDeletionDate  string `json:"scheduled_deletion_date"`
	KeyState               string `json:"key_state"`
	DefaultKeyFlag         string `json:"default_key_flag"`
	KeyType                string `json:"key_type"`
	ExpirationTime         string `json:"expiration_time"`
	Origin                 string `json:"origin"`
	KeyRotationEnabled     string `json:"key_rotation_enabled"`
	SysEnterpriseProjectID string `json:"sys_enterprise_project_id"`
	KeystoreID             string `json:"keystore_id"`
}

// details describes a key as Huawei does, from a DescribeKey asked
// WithAlias (its alias comes under DescribeKey's authorization: a
// ListAliases would need kms:ListAliases, the account's whole list). Its
// rotation is looked up with a kms call of its own, audited as such.
func (h *dialect) details(ctx context.Context, aux kms.Call, dk *kms.DescribeKeyResponse) *keyDetails {
	md := &dk.KeyMetadata
	d := &keyDetails{
		KeyID: md.KeyID, DomainID: h.svc.Account().AccountID, KeySpec: huaweiSpec(md.KeySpec),
		KeyUsage: string(md.KeyUsage), KeyDescription: md.Description, CreationDate: millis(md.CreationDate),
		KeyState: huaweiState(md.KeyState), DefaultKeyFlag: "0", KeyType: "1", Origin: "kms",
		KeyRotationEnabled: "false", SysEnterpriseProjectID: "0", KeystoreID: "0",
	}
	if md.DeletionDate != nil {
		d.ScheduledDeletionDate = millis(*md.DeletionDate)
	}
	d.KeyAlias = strings.TrimPrefix(dk.Alias, "alias/")
	if md.KeyUsage == kms.EncryptDecrypt {
		if rs, err := h.svc.GetKeyRotationStatus(ctx, &aux, &kms.GetKeyRotationStatusRequest{KeyID: md.KeyID}); err == nil && rs.KeyRotationEnabled {
			d.KeyRotationEnabled = "true"
		}
	}
	return d
}

// keyAliasRE is Huawei's key_alias pattern, less ':' which kms's alias names
// do not allow, and at most 250 characters so that "alias/" + it fits kms's 256.
var keyAliasRE = regexp.MustCompile(`^[a-zA-Z0-9/_-]{1,250}$`)

type createKeyRequest struct {
	KeyAlias            string `json:"key_alias"`
	KeySpec             string `json:"key_spec"`
	KeyUsage            string `json:"key_usage"`
	KeyDescription      string `json:"key_description"`
	Origin              string `json:"origin"`
	EnterpriseProjectID string `json:"enterprise_project_id"`
	KeystoreID          string `json:"keystore_id"`
	VMID                string `json:"vm_id"`
	common
}

// createKey creates a key and names it alias/<key_alias> (Huawei's key_alias
// is unique, as kms's aliases are, so the AWS dialect sees it as an alias).
func createKey(h *opCall, ctx context.Context, c *kms.Call, req *createKeyRequest) (*result, error) {
	switch {
	case req.KeyAlias == "":
		return nil, missing("key_alias")
	case !keyAliasRE.MatchString(req.KeyAlias):
		return nil, pipeline.Refuse(codeBadAlias, "key_alias must be 1-250 characters of a-z A-Z 0-9 / _ - (attestkms stores it as the alias alias/<key_alias>, which allows no ':')")
	case strings.HasSuffix(req.KeyAlias, "/default") || strings.HasPrefix(req.KeyAlias, "aws/"):
		return nil, pipeline.Refuse(codeBadAlias, "key_alias may not end in /default (default master keys) or start with aws/")
	case len(req.KeyDescription) > 255:
		return nil, pipeline.Refuse(codeBadDescription, "key_description must be at most 255 characters")
	case req.Origin != "" && req.Origin != "kms":
		return nil, invalid("origin " + req.Origin + " is not supported: only kms (key material made by the service)")
	case req.KeystoreID != "" && req.KeystoreID != "0":
		return nil, invalid("keystore_id " + req.KeystoreID + " is not supported: only 0, the default key store")
	case req.VMID != "":
		return nil, invalid("vm_id is not supported")
	}
	hs := req.KeySpec
	if hs == "" {
		hs = "AES_256"
	}
	spec, known := kmsSpec(hs)
	if !known {
		return nil, invalid(fmt.Sprintf("key_spec %.64s is not supported: use AES_256, EC_P256, EC_P384, SECP256K1 or SM2", hs)) // the client's: clipped
	}
	usage := kms.KeyUsage(req.KeyUsage)
	switch {
	case usage == "" && spec == kms.SymmetricDefault:
		usage = kms.EncryptDecrypt
	case usage == "":
		return nil, invalid("key_usage is required for key_spec " + hs + ": use KEY_AGREEMENT (SIGN_VERIFY is not supported)")
	case usage != kms.EncryptDecrypt && usage != kms.KeyAgreement:
		return nil, invalid(fmt.Sprintf("key_usage %.64s is not supported: use ENCRYPT_DECRYPT (AES_256) or KEY_AGREEMENT (EC_P256, EC_P384, SECP256K1, SM2)", req.KeyUsage))
	case usage == kms.EncryptDecrypt && spec != kms.SymmetricDefault, usage == kms.KeyAgreement && spec == kms.SymmetricDefault:
		return nil, invalid("key_usage " + req.KeyUsage + " is not valid for key_spec " + hs)
	}
	// The key and its alias are made in one transaction: a taken alias
	// leaves no key behind.
	ck, err := h.svc.CreateKey(ctx, c, &kms.CreateKeyRequest{KeySpec: spec, KeyUsage: usage, Description: req.KeyDescription, Alias: "alias/" + req.KeyAlias})
	if errors.Is(err, kms.ErrAlreadyExists) {
		return nil, pipeline.Refuse(codeAliasExists, "key_alias "+req.KeyAlias+" is already used by another key")
	}
	if err != nil {
		return nil, err
	}
	type kekInfo struct {
		KeyID    string `json:"key_id"`
		DomainID string `json:"domain_id"`
	}
	return ok(struct {
		KeyInfo kekInfo `json:"key_info"`
	}{kekInfo{ck.KeyID, h.svc.Account().AccountID}})
}

// keyIDRequest is the SDK's OperateKeyRequestBody.
type keyIDRequest struct {
	KeyID string `json:"key_id"`
	common
}

func describeKey(h *opCall, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	if err := keyID("key_id", req.KeyID); err != nil {
		return nil, err
	}
	r, err := h.svc.DescribeKey(ctx, c, &kms.DescribeKeyRequest{KeyID: req.KeyID, WithAlias: true})
	if err != nil {
		return nil, err
	}
	return ok(struct {
		KeyInfo *keyDetails `json:"key_info"`
	}{h.details(ctx, *c, r)})
}

type listKeysRequest struct {
	Limit               string `json:"limit"`
	Marker              string `json:"marker"`
	KeyState            string `json:"key_state"`
	KeySpec             string `json:"key_spec"`
	EnterpriseProjectID string `json:"enterprise_project_id"`
	common
}

// listKeys lists a page of keys. Huawei filters by key_spec (default
// AES_256; ALL for every key) and key_state; here the filter applies to the
// page kms returns, so a page may hold fewer than limit keys and still be
// truncated. total is not given: counting every key would read them all.
func listKeys(h *opCall, ctx context.Context, c *kms.Call, req *listKeysRequest) (*result, error) {
	limit, err := decimal("limit", req.Limit, 1, 1000, false)
	if err != nil {
		return nil, err
	}
	wantSpec := req.KeySpec
	switch wantSpec {
	case "":
		wantSpec = "AES_256"
	case "ALL":
	default:
		if _, known := kmsSpec(wantSpec); !known {
			return nil, invalid("key_spec " + wantSpec + " is not one of AES_256, EC_P256, EC_P384, SECP256K1, SM2, ALL")
		}
	}
	switch req.KeyState {
	case "", "1", "2", "3", "4", "5":
	default:
		return nil, invalid("key_state must be 1 to 5")
	}
	lk, err := h.svc.ListKeys(ctx, c, &kms.ListKeysRequest{Limit: int32(limit), Marker: req.Marker})
	if err != nil {
		return nil, err
	}
	keys, next := lk.Keys, lk.NextMarker
	out := struct {
		Keys       []string      `json:"keys"`
		KeyDetails []*keyDetails `json:"key_details"`
		NextMarker string        `json:"next_marker"`
		Truncated  string        `json:"truncated"`
	}{Keys: []string{}, KeyDetails: []*keyDetails{}, NextMarker: next, Truncated: strconv.FormatBool(next != "")}
	for _, k := range keys {
		aux := *c
		dk, err := h.svc.DescribeKey(ctx, &aux, &kms.DescribeKeyRequest{KeyID: k.KeyID, WithAlias: true})
		if err != nil {
			continue // gone meanwhile, or its policy hides it
		}
		d := h.details(ctx, aux, dk)
		if wantSpec != "ALL" && d.KeySpec != wantSpec || req.KeyState != "" && d.KeyState != req.KeyState {
			continue
		}
		out.Keys = append(out.Keys, d.KeyID)
		out.KeyDetails = append(out.KeyDetails, d)
	}
	return ok(out)
}

// keyStatus is the SDK's KeyStatusInfo.
type keyStatus struct {
	KeyID    string `json:"key_id"`
	KeyState string `json:"key_state"`
}

func enableKey(h *opCall, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	if err := keyID("key_id", req.KeyID); err != nil {
		return nil, err
	}
	if _, err := h.svc.EnableKey(ctx, c, &kms.EnableKeyRequest{KeyID: req.KeyID}); err != nil {
		return nil, err
	}
	return ok(struct {
		KeyInfo keyStatus `json:"key_info"`
	}{keyStatus{req.KeyID, stateEnabled}})
}

func disableKey(h *opCall, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	if err := keyID("key_id", req.KeyID); err != nil {
		return nil, err
	}
	if _, err := h.svc.DisableKey(ctx, c, &kms.DisableKeyRequest{KeyID: req.KeyID}); err != nil {
		return nil, err
	}
	return ok(struct {
		KeyInfo keyStatus `json:"key_info"`
	}{keyStatus{req.KeyID, stateDisabled}})
}

// Deletion windows: Huawei allows 7 to 1096 days, kms 7 to 30; attestkms
// takes the days both allow and names that range when refusing others.
const (
	minPendingDays = 7
	maxPendingDays = 30
)

// scheduleKeyDeletion is the SDK's DeleteKey.
func scheduleKeyDeletion(h *opCall, ctx context.Context, c *kms.Call, req *struct {
	KeyID       string `json:"key_id"`
	PendingDays string `json:"pending_days"`
	common
}) (*result, error) {
	if err := keyID("key_id", req.KeyID); err != nil {
		return nil, err
	}
	days, err := decimal("pending_days", req.PendingDays, minPendingDays, maxPendingDays, true)
	if err != nil {
		if de := (*dialectError)(nil); errors.As(err, &de) && de.Wire == codeInvalid {
			return nil, invalid("pending_days must be between 7 and 30 here (Huawei allows up to 1096 days; attestkms keeps a key pending deletion for at most 30)")
		}
		return nil, err
	}
	if _, err := h.svc.ScheduleKeyDeletion(ctx, c, &kms.ScheduleKeyDeletionRequest{KeyID: req.KeyID, PendingWindowInDays: int32(days)}); err != nil {
		return nil, err
	}
	return ok(keyStatus{req.KeyID, statePendingDeletion})
}

func cancelKeyDeletion(h *opCall, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	if err := keyID("key_id", req.KeyID); err != nil {
		return nil, err
	}
	if _, err := h.svc.CancelKeyDeletion(ctx, c, &kms.CancelKeyDeletionRequest{KeyID: req.KeyID}); err != nil {
		return nil, err
	}
	// As in Huawei and AWS, a key whose deletion is cancelled is disabled.
	return ok(keyStatus{req.KeyID, stateDisabled})
}
