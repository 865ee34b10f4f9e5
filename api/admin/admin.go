// Package admin serves attestkms's admin API: credential management on the
// running server, so that a leaked access key is revoked, and a new one
// issued, without stopping it. It is one more pipeline.Dialect, in AWS's
// JSON 1.1 protocol: POST / with X-Amz-Target: AttestKMSAdmin.<Operation>,
// Content-Type application/x-amz-json-1.1, signed with AWS Signature
// Version 4 exactly as a KMS request is (api/aws/sigv4's Verifier, service
// kms, the credential scope's region the server's). So it is authenticated,
// replay-protected (the pipeline's one replay cache) and audited (one line
// per request, dialect "admin", naming the access key each operation
// created, rotated or deleted) like every other request. api.New routes it.
//
// Operations (operations.go; the wire shapes are there):
//
//	CreateCredential  {"Name", "Admin", "IdentityPolicy", "ExpiresInSeconds"}
//	                  -> the credential and its SecretAccessKey, AccountId, ProjectId
//	ListCredentials   {} -> {"Credentials": [...]}
//	DeleteCredential  {"AccessKeyId"} -> the credential deleted
//	RotateCredential  {"AccessKeyId"} -> the new credential, its secret, and
//	                  ReplacedAccessKeyId (deleted in the same transaction)
//	Backup            {} -> {"Backup": base64 of the backup file (docs/backup.md),
//	                  "CreatedAt", "Keys", "Aliases", "Credentials"}
//	RotateRootKey     {"To": SPEC} -> {"Keys", "Materials", "Credentials",
//	                  "Made", "Compacted"}: the store resealed under the root
//	                  key SPEC names on the server's host (kms/rootrotate.go)
//	RotateServiceKey  {"GraceDays", "Revoke"} -> {"New", "Retiring", "Revoked"}:
//	                  a new answer-signing key; the current ones keep
//	                  signing for GraceDays, or with "Revoke": true are
//	                  dropped at once (a leaked key) and the new one signs
//	                  now (kms/servicekey.go, docs/answers.md)
//
// Who may: only a credential with the admin permission (the one init makes,
// and those made with Admin); kms decides (kms.Service's credential
// operations), and anyone else gets AccessDeniedException. Errors are AWS's
// shape, {"__type","message"} with X-Amzn-ErrorType, from AWS JSON 1.1's
// one table (api/internal/awsjson), the AWS dialect's too.
//
// Threat model: as every dialect's, every byte is the attacker's until the
// signature verifies, and the body is hostile after. Here the body is
// decoded exactly (strictjson's Exact): a member this server does not know
// is refused, not ignored, because ignoring one (an identity policy a newer
// client sends) would issue a credential wider than asked. The secret of a
// new credential is written from a buffer the pipeline zeroes.
package admin

import (
	"context"
	"time"

	"github.com/attestkms/attestkms/api/aws/sigv4"
	"github.com/attestkms/attestkms/api/internal/awsjson"
	"github.com/attestkms/attestkms/api/internal/hmacauth"
	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/kms"
)

// TargetPrefix starts X-Amz-Target of every admin request; api.New routes
// such requests here.
const TargetPrefix = "AttestKMSAdmin."

// MaxSkew is how far a request's X-Amz-Date may be from the server's clock:
// the AWS dialect's.
const MaxSkew = 15 * time.Minute

// New returns the handler of the admin API; route POST / whose X-Amz-Target
// starts with TargetPrefix to its Handle. It is AWS JSON 1.1 as the AWS
// dialect speaks it (awsjson.New): SigV4 for service kms in the server's
// region, the same errors.
func New(opts pipeline.Options) *pipeline.Handler {
	d := &dialect{svc: opts.Service}
	auth := &sigv4.Verifier{Service: "kms", MaxSkew: MaxSkew, Keys: hmacauth.NewKeyCache(0)}
	// Each operation's closure is made once, not per request.
	bound := make(map[string]pipeline.Operation, len(operations))
	for name, op := range operations {
		bound[name] = func(ctx context.Context, c *kms.Call, body []byte) (*pipeline.Result, error) {
			return op(d, ctx, c, body)
		}
	}
	return awsjson.New(opts, "admin", TargetPrefix, auth, func(name string) (pipeline.Operation, bool) {
		op, ok := bound[name]
		return op, ok
	})
}

// dialect is what the operations see: the service.
type dialect struct {
	svc *kms.Service
}

type opFunc func(d *dialect, ctx context.Context, c *kms.Call, body []byte) (*pipeline.Result, error)

// op adapts a typed operation: it decodes the body into Req first.
func op[Req any](fn func(d *dialect, ctx context.Context, c *kms.Call, req *Req) (*pipeline.Result, error)) opFunc {
	return pipeline.Decoding(decode, fn)
}
