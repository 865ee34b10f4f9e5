package aws

import (
	"errors"
	"net/http"

	"github.com/attestkms/attestkms/kms"
)

// wireError is an error as AWS KMS sends it: the exception name (__type) and
// the HTTP status.
type wireError struct {
	code   string
	status int
}

// kindErrors is the one table from kms kinds to AWS KMS exceptions. A kind not
// in it is a KMSInternalException.
var kindErrors = map[error]wireError{
	kms.ErrNotFound:          {"NotFoundException", http.StatusBadRequest},
	kms.ErrAlreadyExists:     {"AlreadyExistsException", http.StatusBadRequest},
	kms.ErrDisabled:          {"DisabledException", http.StatusBadRequest},
	kms.ErrInvalidState:      {"KMSInvalidStateException", http.StatusBadRequest},
	kms.ErrInvalidKeyUsage:   {"InvalidKeyUsageException", http.StatusBadRequest},
	kms.ErrInvalidCiphertext: {"InvalidCiphertextException", http.StatusBadRequest},
	kms.ErrIncorrectKey:      {"IncorrectKeyException", http.StatusBadRequest},
	kms.ErrValidation:        {"ValidationException", http.StatusBadRequest},
	kms.ErrUnsupported:       {"UnsupportedOperationException", http.StatusBadRequest},
	kms.ErrInvalidPublicKey:  {"InvalidPublicKeyException", http.StatusBadRequest},
	kms.ErrInvalidAliasName:  {"InvalidAliasNameException", http.StatusBadRequest},
	kms.ErrInvalidArn:        {"InvalidArnException", http.StatusBadRequest},
	kms.ErrInvalidMarker:     {"InvalidMarkerException", http.StatusBadRequest},
	kms.ErrMalformedPolicy:   {"MalformedPolicyDocumentException", http.StatusBadRequest},
	kms.ErrTag:               {"TagException", http.StatusBadRequest},
	kms.ErrLimitExceeded:     {"LimitExceededException", http.StatusBadRequest},
	kms.ErrAccessDenied:      {"AccessDeniedException", http.StatusBadRequest},
	kms.ErrDryRun:            {"DryRunOperationException", http.StatusPreconditionFailed},
	kms.ErrInvalidRecipient:  {"ValidationException", http.StatusBadRequest},
	kms.ErrInternal:          {"KMSInternalException", http.StatusInternalServerError},
	// A request whose context ended (its client went away, the server is
	// stopping) did not complete and changed nothing it had not committed:
	// AWS KMS's answer for a request it could not complete in time is
	// DependencyTimeoutException, a 503 its SDKs retry.
	kms.ErrCanceled: {"DependencyTimeoutException", http.StatusServiceUnavailable},
}

// Errors of the dialect itself, before a request reaches kms.
var (
	errMissingAuth   = &dialectError{wireError{"MissingAuthenticationTokenException", http.StatusForbidden}, "Missing Authentication Token"}
	errUnknownTarget = wireError{"UnknownOperationException", http.StatusBadRequest}
	errTooLarge      = wireError{"ValidationException", http.StatusRequestEntityTooLarge}
	// An unknown access key and a wrong signature get this same answer.
	errBadSignature = &dialectError{wireError{"InvalidSignatureException", http.StatusBadRequest},
		"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}
	errIncompleteSignature = wireError{"IncompleteSignatureException", http.StatusBadRequest}
	errExpiredSignature    = wireError{"InvalidSignatureException", http.StatusBadRequest}
	// AWS answers a credential scope of another region with this exception.
	errWrongRegion = wireError{"InvalidSignatureException", http.StatusBadRequest}
)

// dialectError is an error decided here rather than in kms.
type dialectError struct {
	wire wireError
	msg  string
}

func (e *dialectError) Error() string { return e.msg }

// toWire maps any error to its exception and the message a client may see.
func toWire(err error) (wireError, string) {
	var de *dialectError
	if errors.As(err, &de) {
		return de.wire, de.msg
	}
	w, ok := kindErrors[kms.Kind(err)]
	if !ok {
		w = kindErrors[kms.ErrInternal]
	}
	return w, kms.Message(err)
}
