package admin

import (
	"context"
	"math"
	"time"

	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/api/internal/secretjson"
	"github.com/attestkms/attestkms/api/internal/strictjson"
	"github.com/attestkms/attestkms/kms"
)

// operations maps X-Amz-Target's operation names to their handlers.
var operations = map[string]opFunc{
	"CreateCredential": op(createCredential),
	"ListCredentials":  op(listCredentials),
	"DeleteCredential": op(deleteCredential),
	"RotateCredential": op(rotateCredential),
	"Backup":           op(backup),
	"RotateRootKey":    op(rotateRootKey),
	"RotateServiceKey": op(rotateServiceKey),
}

// decode reads one JSON object into v exactly: a member v does not define is
// refused (ValidationException naming it), never ignored.
func decode(body []byte, v any) error {
	if err := strictjson.Decode(body, v, strictjson.Options{Exact: true, Integer: "a number"}); err != nil {
		return &kms.Error{Kind: kms.ErrValidation, Msg: err.Error()}
	}
	return nil
}

// credential is one credential on the wire, without its secret: what
// credential list prints, in the API's names. Times are whole seconds since
// 1970.
type credential struct {
	AccessKeyId    string
	Name           string
	PrincipalArn   string
	Admin          bool
	IdentityPolicy string `json:",omitempty"`
	CreationDate   int64
	ExpirationDate *int64 `json:",omitempty"`
	Expired        bool   `json:",omitempty"`
}

func toCredential(ci *kms.CredentialInfo) credential {
	out := credential{
		AccessKeyId: ci.AccessKeyID, Name: ci.Name, PrincipalArn: ci.PrincipalARN, Admin: ci.Admin,
		IdentityPolicy: ci.IdentityPolicy, CreationDate: ci.CreatedAt.Unix(), Expired: ci.Expired,
	}
	if ci.ExpiresAt != nil {
		e := ci.ExpiresAt.Unix()
		out.ExpirationDate = &e
	}
	return out
}

// createCredentialRequest is CreateCredential's body. ExpiresInSeconds 0:
// the credential does not expire.
type createCredentialRequest struct {
	Name             string
	Admin            bool
	IdentityPolicy   string
	ExpiresInSeconds int64
}

// createCredentialResponse is the new credential with its secret, shown
// once, and the account it belongs to: all a credential file holds.
type createCredentialResponse struct {
	credential
	SecretAccessKey secretjson.RawString
	AccountId       string
	ProjectId       string
}

func (d *dialect) answerWithSecret(resp *kms.CreateCredentialResponse) createCredentialResponse {
	acct := d.svc.Account()
	return createCredentialResponse{
		credential: toCredential(&resp.CredentialInfo), SecretAccessKey: secretjson.Text(resp.SecretAccessKey),
		AccountId: acct.AccountID, ProjectId: acct.ProjectID,
	}
}

func createCredential(d *dialect, ctx context.Context, c *kms.Call, req *createCredentialRequest) (*pipeline.Result, error) {
	if req.ExpiresInSeconds < 0 || req.ExpiresInSeconds > math.MaxInt64/int64(time.Second) {
		return nil, &kms.Error{Kind: kms.ErrValidation, Msg: "ExpiresInSeconds must be 0 (never) or a number of seconds"}
	}
	resp, err := d.svc.CreateCredential(ctx, c, &kms.CreateCredentialRequest{
		Name: req.Name, Admin: req.Admin, IdentityPolicy: req.IdentityPolicy, ExpiresIn: time.Duration(req.ExpiresInSeconds) * time.Second,
	})
	if err != nil {
		return nil, err
	}
	out := d.answerWithSecret(resp)
	return pipeline.OK(out, resp.SecretAccessKey, out.SecretAccessKey)
}

// listCredentialsRequest is ListCredentials's body: nothing.
type listCredentialsRequest struct{}

// listCredentialsResponse is every credential, by name.
type listCredentialsResponse struct {
	Credentials []credential
}

func listCredentials(d *dialect, ctx context.Context, c *kms.Call, _ *listCredentialsRequest) (*pipeline.Result, error) {
	resp, err := d.svc.ListCredentials(ctx, c, &kms.ListCredentialsRequest{})
	if err != nil {
		return nil, err
	}
	out := listCredentialsResponse{Credentials: make([]credential, len(resp.Credentials))}
	for i := range resp.Credentials {
		out.Credentials[i] = toCredential(&resp.Credentials[i])
	}
	return pipeline.OK(out)
}

// accessKeyRequest names an access key: DeleteCredential's and
// RotateCredential's body.
type accessKeyRequest struct {
	AccessKeyId string
}

// deleteCredentialResponse is the credential deleted.
type deleteCredentialResponse struct {
	credential
}

func deleteCredential(d *dialect, ctx context.Context, c *kms.Call, req *accessKeyRequest) (*pipeline.Result, error) {
	resp, err := d.svc.DeleteCredential(ctx, c, &kms.DeleteCredentialRequest{AccessKeyID: req.AccessKeyId})
	if err != nil {
		return nil, err
	}
	return pipeline.OK(deleteCredentialResponse{toCredential(&resp.CredentialInfo)})
}

// rotateCredentialResponse is the new credential, as CreateCredential
// answers it, and the access key id it replaced, which no longer exists.
type rotateCredentialResponse struct {
	createCredentialResponse
	ReplacedAccessKeyId string
}

func rotateCredential(d *dialect, ctx context.Context, c *kms.Call, req *accessKeyRequest) (*pipeline.Result, error) {
	resp, err := d.svc.RotateCredential(ctx, c, &kms.RotateCredentialRequest{AccessKeyID: req.AccessKeyId})
	if err != nil {
		return nil, err
	}
	out := rotateCredentialResponse{createCredentialResponse: d.answerWithSecret(&resp.CreateCredentialResponse), ReplacedAccessKeyId: resp.Replaced}
	return pipeline.OK(out, resp.SecretAccessKey, out.SecretAccessKey)
}

// backupRequest is Backup's body: nothing.
type backupRequest struct{}

// backupResponse is the backup (docs/backup.md), base64 in the JSON, and
// its header's counts. CreatedAt is whole seconds since 1970.
type backupResponse struct {
	Backup      []byte
	CreatedAt   int64
	Keys        int
	Aliases     int
	Credentials int
}

func backup(d *dialect, ctx context.Context, c *kms.Call, _ *backupRequest) (*pipeline.Result, error) {
	resp, err := d.svc.Backup(ctx, c, &kms.BackupRequest{})
	if err != nil {
		return nil, err
	}
	h := resp.Header
	return pipeline.OK(backupResponse{Backup: resp.Backup, CreatedAt: h.CreatedAt.Unix(), Keys: h.Keys, Aliases: h.Aliases, Credentials: h.Credentials})
}

// rotateRootKeyRequest is RotateRootKey's body: the new root key's spec
// (file:PATH, env:VAR, pkcs11:URI), as the server's host sees it. A token's
// PIN is never sent: the server uses its own (ATTESTKMS_PKCS11_PIN or
// serve's --pkcs11-pin-file).
type rotateRootKeyRequest struct {
	To string
}

// rotateRootKeyResponse is what the rotation did (kms.RotateRootKeyResponse).
type rotateRootKeyResponse struct {
	Keys, Materials, Credentials int
	Made, Compacted              bool
}

func rotateRootKey(d *dialect, ctx context.Context, c *kms.Call, req *rotateRootKeyRequest) (*pipeline.Result, error) {
	resp, err := d.svc.RotateRootKey(ctx, c, &kms.RotateRootKeyRequest{To: req.To})
	if err != nil {
		return nil, err
	}
	return pipeline.OK(rotateRootKeyResponse{Keys: resp.Keys, Materials: resp.Materials, Credentials: resp.Credentials, Made: resp.Made, Compacted: resp.Compacted})
}

// rotateServiceKeyRequest is RotateServiceKey's body: how many days the
// current answer-signing keys keep signing beside the new one (0: 30), or
// Revoke to drop them at once (with no GraceDays).
type rotateServiceKeyRequest struct {
	GraceDays int32
	Revoke    bool
}

// serviceKey is one answer-signing key as the admin API gives it: its
// fingerprint, PEM public key, and when its grace ends (0 for none).
type serviceKey struct {
	KeyId     string
	PublicKey string
	CreatedAt int64
	RetiredAt int64 `json:",omitempty"`
}

func wireServiceKey(k kms.ServiceKey) serviceKey {
	w := serviceKey{KeyId: k.ID, PublicKey: string(kms.FormatServiceKeys([]kms.ServiceKey{k})), CreatedAt: k.CreatedAt.Unix()}
	if k.RetiredAt != nil {
		w.RetiredAt = k.RetiredAt.Unix()
	}
	return w
}

// rotateServiceKeyResponse is the new key and the keys in their grace
// (kms.RotateServiceKeyResponse).
type rotateServiceKeyResponse struct {
	New      serviceKey
	Retiring []serviceKey
	Revoked  []serviceKey
}

func rotateServiceKey(d *dialect, ctx context.Context, c *kms.Call, req *rotateServiceKeyRequest) (*pipeline.Result, error) {
	resp, err := d.svc.RotateServiceKey(ctx, c, &kms.RotateServiceKeyRequest{GraceDays: req.GraceDays, Revoke: req.Revoke})
	if err != nil {
		return nil, err
	}
	out := rotateServiceKeyResponse{New: wireServiceKey(resp.New), Retiring: []serviceKey{}, Revoked: []serviceKey{}}
	for _, k := range resp.Retiring {
		out.Retiring = append(out.Retiring, wireServiceKey(k))
	}
	for _, k := range resp.Revoked {
		out.Revoked = append(out.Revoked, wireServiceKey(k))
	}
	return pipeline.OK(out)
}
