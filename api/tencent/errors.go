package tencent

import (
	"errors"

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
	codeCmkDisabled          = "ResourceUnavailable.CmkDisabled"
	codeCmkNotFound          = "ResourceUnavailable.CmkNotFound"
	codeCmkStateNotSupport   = "ResourceUnavailable.CmkStateNotSupport"
	codeUnauthorized         = "UnauthorizedOperation"
	codeUnknownParameter     = "UnknownParameter"
	codeUnsupported          = "UnsupportedOperation"
)

// kindErrors is the one table from kms kinds to Tencent's codes. A kind not in
// it is an InternalError. Where Tencent publishes no code for a kind (a key
// used against its usage, a refused attestation document), the nearest
// general one is used and the message says what failed.
var kindErrors = map[error]string{
	kms.ErrNotFound:          codeCmkNotFound,
	kms.ErrAlreadyExists:     codeAliasExists, // the only thing this dialect creates under a name
	kms.ErrDisabled:          codeCmkDisabled,
	kms.ErrInvalidState:      codeCmkStateNotSupport, // pending deletion, or not pending for CancelKeyDeletion
	kms.ErrInvalidKeyUsage:   codeUnsupported,        // e.g. Encrypt with a key-agreement key
	kms.ErrInvalidCiphertext: codeInvalidCiphertext,
	kms.ErrIncorrectKey:      codeInvalidCiphertext, // the blob is not under the key named
	kms.ErrValidation:        codeInvalidValue,
	kms.ErrUnsupported:       codeUnsupported,
	kms.ErrInvalidPublicKey:  codeInvalidValue, // EncryptionPublicKey
	kms.ErrInvalidAliasName:  codeInvalidAlias,
	kms.ErrInvalidArn:        codeInvalidKeyID,
	kms.ErrInvalidMarker:     codeInvalidValue,
	kms.ErrMalformedPolicy:   codeInvalidValue,
	kms.ErrTag:               codeInvalidValue,
	kms.ErrLimitExceeded:     codeLimitExceeded,
	kms.ErrAccessDenied:      codeUnauthorized,
	kms.ErrDryRun:            codeDryRun,
	kms.ErrInvalidRecipient:  codeInvalidValue, // the Recipient extension: the message says what failed
	kms.ErrInternal:          codeInternalError,
	// A request whose context ended (its client went away, the server is
	// stopping) did not complete. Tencent publishes no timeout or
	// cancellation code (ResourceUnavailable.* name a key's state, not the
	// service's): InternalError, the server-side failure its SDK counts
	// against the region, is the nearest.
	kms.ErrCanceled: codeInternalError,
}

// Errors of the dialect itself, before a request reaches kms.
var (
	// An unknown SecretId and a wrong signature get this same answer:
	// AuthFailure.SecretIdNotFound would say which SecretIds exist. The
	// message is Tencent's own.
	errBadSignature = &dialectError{codeSignatureFailure,
		"The provided credentials could not be validated. Please check your signature is correct."}
	errMissingAuth = &dialectError{codeInvalidAuthorization,
		"The request has no Authorization header: sign it with TC3-HMAC-SHA256."}
)

// dialectError is an error decided here rather than in kms.
type dialectError struct {
	code string
	msg  string
}

func (e *dialectError) Error() string { return e.msg }

func errorf(code, msg string) error { return &dialectError{code, msg} }

// toWire maps any error to its code and the message a client may see.
func toWire(err error) (code, msg string) {
	var de *dialectError
	if errors.As(err, &de) {
		return de.code, de.msg
	}
	code, ok := kindErrors[kms.Kind(err)]
	if !ok {
		code = codeInternalError
	}
	return code, kms.Message(err)
}
