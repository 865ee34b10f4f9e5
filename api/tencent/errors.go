package tencent

import (
	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/kms"
)

// Tencent Cloud's error codes, as its API 3.0 publishes them: the common
// codes of every product ("公共错误码": AuthFailure.*, InvalidAction,
// InvalidParameter, MissingParameter, NoSuchVersion, …) and the KMS ones
// (tencentcloud-sdk-go kms/v20190118/errors.go: ResourceUnavailable.Cmk*,
// InvalidParameterValue.InvalidKeyId, …). Every answer is HTTP 200; the code
// is all a client branches on, and the SDK returns it as
// (*errors.TencentCloudSDKError).Code.
const (
	codeInvalidAuthorization = "AuthFailure.InvalidAuthorization"
	codeSignatureExpire      = "AuthFailure.SignatureExpire"
	codeSignatureFailure     = "AuthFailure.SignatureFailure"
	codeDryRun               = "DryRunOperation"
	codeInternalError        = "InternalError"
	codeInvalidAction        = "InvalidAction"
	codeInvalidParameter     = "InvalidParameter"
	codeInvalidPendingWindow = "InvalidParameter.InvalidPendingWindowInDays"
	codeInvalidValue         = "InvalidParameterValue"
	codeAliasExists          = "InvalidParameterValue.AliasAlreadyExists"
	codeInvalidAlias         = "InvalidParameterValue.InvalidAlias"
	codeInvalidCiphertext    = "InvalidParameterValue.InvalidCiphertext"
	codeInvalidHsmClusterID  = "InvalidParameterValue.InvalidHsmClusterId"
	codeInvalidKeyID         = "InvalidParameterValue.InvalidKeyId"
	codeInvalidKeyUsage      = "InvalidParameterValue.InvalidKeyUsage"
	codeInvalidPlaintext     = "InvalidParameterValue.InvalidPlaintext"
	codeInvalidType          = "InvalidParameterValue.InvalidType"
	codeLimitExceeded        = "LimitExceeded"
	codeMissingParameter     = "MissingParameter"
	codeNoSuchVersion        = "NoSuchVersion"
	codeRequestTooLarge      = "RequestSizeLimitExceeded"
	// The common code for a request over the rate limit ("请求的次数超过了
	// 频率限制"); tencentcloud-sdk-go's common client retries it
	// (ratelimitretry.go, ClientProfile.RateLimitExceededMaxRetries).
	codeRequestLimitExceeded = "RequestLimitExceeded"
	codeCmkDisabled          = "ResourceUnavailable.CmkDisabled"
	codeCmkNotFound          = "ResourceUnavailable.CmkNotFound"
	codeCmkStateNotSupport   = "ResourceUnavailable.CmkStateNotSupport"
	codeUnauthorized         = "UnauthorizedOperation"
	codeUnknownParameter     = "UnknownParameter"
	codeUnsupported          = "UnsupportedOperation"
)

// errorTable is the one table from kinds to Tencent's codes (every answer is
// HTTP 200): kms's kinds, whose message is kms's, and the pipeline's,
// refused before kms, with Tencent's message. A kind not in it is an
// InternalError. Where Tencent publishes no code for a kind (a key used
// against its usage, a refused attestation document), the nearest general
// one is used and the message says what failed.
var errorTable = pipeline.Table{
	kms.ErrNotFound:          {Code: codeCmkNotFound},
	kms.ErrAlreadyExists:     {Code: codeAliasExists}, // the only thing this dialect creates under a name
	kms.ErrDisabled:          {Code: codeCmkDisabled},
	kms.ErrInvalidState:      {Code: codeCmkStateNotSupport}, // pending deletion, or not pending for CancelKeyDeletion
	kms.ErrInvalidKeyUsage:   {Code: codeUnsupported},        // e.g. Encrypt with a key-agreement key
	kms.ErrInvalidCiphertext: {Code: codeInvalidCiphertext},
	kms.ErrIncorrectKey:      {Code: codeInvalidCiphertext}, // the blob is not under the key named
	kms.ErrValidation:        {Code: codeInvalidValue},
	kms.ErrUnsupported:       {Code: codeUnsupported},
	kms.ErrInvalidPublicKey:  {Code: codeInvalidValue}, // EncryptionPublicKey
	kms.ErrInvalidAliasName:  {Code: codeInvalidAlias},
	kms.ErrInvalidArn:        {Code: codeInvalidKeyID},
	kms.ErrInvalidMarker:     {Code: codeInvalidValue},
	kms.ErrMalformedPolicy:   {Code: codeInvalidValue},
	kms.ErrTag:               {Code: codeInvalidValue},
	kms.ErrLimitExceeded:     {Code: codeLimitExceeded},
	kms.ErrAccessDenied:      {Code: codeUnauthorized},
	kms.ErrDryRun:            {Code: codeDryRun},
	kms.ErrInvalidRecipient:  {Code: codeInvalidValue}, // the Recipient extension: the message says what failed
	kms.ErrInternal:          {Code: codeInternalError},
	// A request whose context ended (its client went away, the server is
	// stopping) did not complete. Tencent publishes no timeout or
	// cancellation code (ResourceUnavailable.* name a key's state, not the
	// service's): InternalError, the server-side failure its SDK counts
	// against the region, is the nearest.
	kms.ErrCanceled: {Code: codeInternalError},
	// The budget for new attestation chains, as a request over the rate.
	kms.ErrThrottled: {Code: codeRequestLimitExceeded},

	pipeline.ErrTooLarge:   {Code: codeRequestTooLarge, Message: "The request body is larger than 1 MiB."},
	pipeline.ErrUnreadable: {Code: codeInvalidParameter, Message: "could not read the request body"},
	pipeline.ErrMissing:    {Code: codeInvalidAuthorization, Message: "The request has no Authorization header: sign it with TC3-HMAC-SHA256."},
	// Followed by what the verifier found wrong.
	pipeline.ErrMalformed: {Code: codeInvalidAuthorization, Message: "The request's TC3-HMAC-SHA256 signature is not in Tencent Cloud's form"},
	pipeline.ErrExpired:   {Code: codeSignatureExpire, Message: "Signature expired: the request's X-TC-Timestamp is more than 5 minutes from the server's time."},
	// An unknown SecretId and a wrong signature get this same answer:
	// AuthFailure.SecretIdNotFound would say which SecretIds exist. The
	// message is Tencent's own.
	pipeline.ErrSignature: {Code: codeSignatureFailure, Message: "The provided credentials could not be validated. Please check your signature is correct."},
	pipeline.ErrReplay: {Code: codeSignatureExpire,
		Message: "This signature has already been used: the request is a replay (a signature is accepted again only within 2 seconds of its X-TC-Timestamp)."},
	// An access key's budget, or its address's budget for failed
	// authentications (this server's, per node: --rate-limit).
	pipeline.ErrThrottled: {Code: codeRequestLimitExceeded, Message: "The request rate exceeds this server's limit: reduce the frequency of your calls, and retry with backoff."},
}

// dialectError is an error decided here rather than in kms.
type dialectError = pipeline.Refusal

func errorf(code, msg string) error {
	return &dialectError{Wire: pipeline.WireError{Code: code}, Msg: msg}
}
