package admin

import (
	"net/http"

	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/api/internal/secretjson"
	"github.com/attestkms/attestkms/kms"
)

// errorTable is the one table from kinds to the admin API's exceptions
// (__type) and HTTP statuses, AWS's names: kms's kinds, whose message is
// kms's, and the pipeline's, refused before kms, with AWS's message. A kind
// not in it is a KMSInternalException.
var errorTable = pipeline.Table{
	kms.ErrNotFound:          {Code: "NotFoundException", Status: http.StatusBadRequest},
	kms.ErrAlreadyExists:     {Code: "AlreadyExistsException", Status: http.StatusBadRequest},
	kms.ErrDisabled:          {Code: "DisabledException", Status: http.StatusBadRequest},
	kms.ErrInvalidState:      {Code: "KMSInvalidStateException", Status: http.StatusBadRequest},
	kms.ErrInvalidKeyUsage:   {Code: "InvalidKeyUsageException", Status: http.StatusBadRequest},
	kms.ErrInvalidCiphertext: {Code: "InvalidCiphertextException", Status: http.StatusBadRequest},
	kms.ErrIncorrectKey:      {Code: "IncorrectKeyException", Status: http.StatusBadRequest},
	kms.ErrValidation:        errValidation,
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
	kms.ErrInvalidRecipient:  errValidation,
	kms.ErrInternal:          {Code: "KMSInternalException", Status: http.StatusInternalServerError},
	kms.ErrCanceled:          {Code: "DependencyTimeoutException", Status: http.StatusServiceUnavailable},

	pipeline.ErrTooLarge:   {Code: "ValidationException", Status: http.StatusRequestEntityTooLarge, Message: "Request body is larger than 1 MiB."},
	pipeline.ErrUnreadable: {Code: "ValidationException", Status: http.StatusBadRequest, Message: "could not read the request body"},
	pipeline.ErrMissing:    {Code: "MissingAuthenticationTokenException", Status: http.StatusForbidden, Message: "Missing Authentication Token"},
	// Followed by what the verifier found wrong.
	pipeline.ErrMalformed: {Code: "IncompleteSignatureException", Status: http.StatusBadRequest, Message: "The request signature does not conform to AWS standards"},
	pipeline.ErrExpired: {Code: "InvalidSignatureException", Status: http.StatusBadRequest,
		Message: "Signature expired: the request's X-Amz-Date is more than 15 minutes from the server's time."},
	// An unknown access key, an expired or deleted credential and a wrong
	// signature get this same answer.
	pipeline.ErrSignature: {Code: "InvalidSignatureException", Status: http.StatusBadRequest,
		Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."},
	pipeline.ErrReplay: {Code: "InvalidSignatureException", Status: http.StatusBadRequest, Message: "Signature has already been used: this request is a replay."},
	// Over the node's budget, as the AWS dialect answers it: AWS's
	// ThrottlingException, which its SDKs retry with backoff.
	kms.ErrThrottled:      {Code: "ThrottlingException", Status: http.StatusBadRequest},
	pipeline.ErrThrottled: {Code: "ThrottlingException", Status: http.StatusBadRequest, Message: "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."},
}

// Errors of the dialect itself, before a request reaches kms.
var (
	errValidation    = pipeline.WireError{Code: "ValidationException", Status: http.StatusBadRequest}
	errUnknownTarget = pipeline.WireError{Code: "UnknownOperationException", Status: http.StatusBadRequest}
	errWrongRegion   = pipeline.WireError{Code: "InvalidSignatureException", Status: http.StatusBadRequest}
)

// writeError writes a refusal in AWS's shape.
func writeError(w http.ResponseWriter, _ string, we pipeline.WireError, msg string) error {
	w.Header().Set("X-Amzn-ErrorType", we.Code)
	return secretjson.Write(w, we.Status, contentType, struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{we.Code, msg})
}
