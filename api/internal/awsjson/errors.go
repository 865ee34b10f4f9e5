// Package awsjson is AWS JSON 1.1 as attestkms serves it, shared by the
// AWS KMS dialect (api/aws) and the admin API (api/admin): routing by
// X-Amz-Target, SigV4 scoped to the service's region, the Content-Type, and
// one error table and shape. Written once, so that the two cannot drift.
package awsjson

import (
	"net/http"

	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/api/internal/secretjson"
	"github.com/attestkms/attestkms/kms"
)

// ErrorTable is the one table from kinds to AWS KMS exceptions (__type) and
// HTTP statuses: kms's kinds, whose message is kms's, and the pipeline's,
// refused before kms, with AWS's message. A kind not in it is a
// KMSInternalException.
var ErrorTable = pipeline.Table{
	kms.ErrNotFound:          {Code: "NotFoundException", Status: http.StatusBadRequest},
	kms.ErrAlreadyExists:     {Code: "AlreadyExistsException", Status: http.StatusBadRequest},
	kms.ErrDisabled:          {Code: "DisabledException", Status: http.StatusBadRequest},
	kms.ErrInvalidState:      {Code: "KMSInvalidStateException", Status: http.StatusBadRequest},
	kms.ErrInvalidKeyUsage:   {Code: "InvalidKeyUsageException", Status: http.StatusBadRequest},
	kms.ErrInvalidCiphertext: {Code: "InvalidCiphertextException", Status: http.StatusBadRequest},
	kms.ErrIncorrectKey:      {Code: "IncorrectKeyException", Status: http.StatusBadRequest},
	kms.ErrValidation:        ErrValidation,
	kms.ErrUnsupported:       {Code: "UnsupportedOperationException", Status: http.StatusBadRequest},
	kms.ErrInvalidPublicKey:  {Code: "InvalidPublicKeyException", Status: http.StatusBadRequest},
	kms.ErrInvalidAliasName:  {Code: "InvalidAliasNameException", Status: http.StatusBadRequest},
	kms.ErrInvalidArn:        {Code: "InvalidArnException", Status: http.StatusBadRequest},
	kms.ErrInvalidMarker:     {Code: "InvalidMarkerException", Status: http.StatusBadRequest},
	kms.ErrMalformedPolicy:   {Code: "MalformedPolicyDocumentException", Status: http.StatusBadRequest},
	kms.ErrTag:               {Code: "TagException", Status: http.StatusBadRequest},
	kms.ErrLimitExceeded:     {Code: "LimitExceededException", Status: http.StatusBadRequest},
	kms.ErrAccessDenied:      {Code: "AccessDeniedException", Status: http.StatusBadRequest},
	kms.ErrDryRun:            {Code: "DryRunOperationException", Status: http.StatusPreconditionFailed},
	kms.ErrInvalidRecipient:  ErrValidation,
	kms.ErrInternal:          {Code: "KMSInternalException", Status: http.StatusInternalServerError},
	// A request whose context ended (its client went away, the server is
	// stopping) did not complete and changed nothing it had not committed:
	// AWS KMS's answer for a request it could not complete in time is
	// DependencyTimeoutException, a 503 its SDKs retry.
	kms.ErrCanceled: {Code: "DependencyTimeoutException", Status: http.StatusServiceUnavailable},
	// AWS KMS's answer to a request over its rate ("Throttling AWS KMS
	// requests", docs.aws.amazon.com/kms/latest/developerguide/throttling.html):
	// ThrottlingException, 400, which its SDKs retry with backoff. kms's: the budget for new attestation chains.
	kms.ErrThrottled: ErrThrottling,

	pipeline.ErrTooLarge:   {Code: "ValidationException", Status: http.StatusRequestEntityTooLarge, Message: "Request body is larger than 1 MiB."},
	pipeline.ErrUnreadable: {Code: "ValidationException", Status: http.StatusBadRequest, Message: "could not read the request body"},
	pipeline.ErrMissing:    {Code: "MissingAuthenticationTokenException", Status: http.StatusForbidden, Message: "Missing Authentication Token"},
	// Followed by what the verifier found wrong.
	pipeline.ErrMalformed: {Code: "IncompleteSignatureException", Status: http.StatusBadRequest, Message: "The request signature does not conform to AWS standards"},
	pipeline.ErrExpired: {Code: "InvalidSignatureException", Status: http.StatusBadRequest,
		Message: "Signature expired: the request's X-Amz-Date is more than 15 minutes from the server's time."},
	// An unknown access key and a wrong signature get this same answer.
	pipeline.ErrSignature: {Code: "InvalidSignatureException", Status: http.StatusBadRequest,
		Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."},
	pipeline.ErrReplay: {Code: "InvalidSignatureException", Status: http.StatusBadRequest, Message: "Signature has already been used: this request is a replay."},
	// An access key's budget, or its address's budget for failed
	// authentications (this server's, per node: --rate-limit).
	pipeline.ErrThrottled: withMessage(ErrThrottling, "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."),
}

// ErrThrottling is AWS KMS's throttling error.
var ErrThrottling = pipeline.WireError{Code: "ThrottlingException", Status: http.StatusBadRequest}

// withMessage is w answering with msg.
func withMessage(w pipeline.WireError, msg string) pipeline.WireError {
	w.Message = msg
	return w
}

// Errors of the dialect itself, before a request reaches kms.
var (
	ErrValidation    = pipeline.WireError{Code: "ValidationException", Status: http.StatusBadRequest}
	ErrUnknownTarget = pipeline.WireError{Code: "UnknownOperationException", Status: http.StatusBadRequest}
	// AWS answers a credential scope of another region with this exception.
	ErrWrongRegion = pipeline.WireError{Code: "InvalidSignatureException", Status: http.StatusBadRequest}
)

// WriteError writes a refusal in the dialect's shape.
func WriteError(w http.ResponseWriter, _ string, we pipeline.WireError, msg string) error {
	w.Header().Set("X-Amzn-ErrorType", we.Code)
	return secretjson.Write(w, we.Status, ContentType, struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{we.Code, msg})
}

// ContentType is AWS JSON 1.1's, the only one a request may carry.
const ContentType = "application/x-amz-json-1.1"
