package huawei

import (
	"errors"
	"net/http"

	"github.com/attestkms/attestkms/kms"
)

// wireError is an error as Huawei Cloud KMS sends it: the error_code and the
// HTTP status.
type wireError struct {
	code   string
	status int
}

// The codes are Huawei Cloud DEW's published KMS error codes ("Error Codes"
// in the DEW API reference, https://support.huaweicloud.com/api-dew/ErrorCode.html,
// and the KMS API reference's kms_02_0302 "Error Code" table). Statuses:
// Huawei lists the 02xx parameter codes as 400; the authentication (030x)
// and not-found codes get the statuses its API reference gives those classes
// (401 for a request that is not authenticated, 403 for one that is but may
// not do this, 404 for a resource that does not exist), and KMS.0101 is its
// documented 500.
var (
	codeInternal       = wireError{"KMS.0101", http.StatusInternalServerError} // KMS error.
	codeBadURL         = wireError{"KMS.0201", http.StatusBadRequest}          // Invalid request URL.
	codeBadJSON        = wireError{"KMS.0202", http.StatusBadRequest}          // The JSON format of the request message is invalid.
	codeTooLarge       = wireError{"KMS.0203", http.StatusRequestEntityTooLarge}
	codeMissing        = wireError{"KMS.0204", http.StatusBadRequest} // The request message lacks required parameters.
	codeBadKeyID       = wireError{"KMS.0205", http.StatusBadRequest} // Invalid key_id.
	codeBadSequence    = wireError{"KMS.0206", http.StatusBadRequest} // Invalid sequence.
	codeNotFound       = wireError{"KMS.0207", http.StatusNotFound}   // The key does not exist.
	codeDisabled       = wireError{"KMS.0209", http.StatusBadRequest} // The key has been disabled and cannot be used.
	codePending        = wireError{"KMS.0210", http.StatusBadRequest} // The key is in the Pending deletion status and cannot be used.
	codeAuth           = wireError{"KMS.0301", http.StatusUnauthorized}
	codeExpired        = wireError{"KMS.0303", http.StatusUnauthorized}
	codeProject        = wireError{"KMS.0305", http.StatusForbidden}
	codeNoPermission   = wireError{"KMS.0306", http.StatusForbidden}  // The user has no permission to access the key.
	codeInvalid        = wireError{"KMS.0308", http.StatusBadRequest} // Invalid XXX.
	codeBadAlias       = wireError{"KMS.1101", http.StatusBadRequest} // Invalid key_alias.
	codeBadDescription = wireError{"KMS.1103", http.StatusBadRequest} // Invalid key_description.
	codeAliasExists    = wireError{"KMS.1104", http.StatusBadRequest} // Existing CMK alias.
	codeTooManyKeys    = wireError{"KMS.1105", http.StatusBadRequest} // The number of keys has reached the upper limit.
	codeHashMismatch   = wireError{"KMS.2103", http.StatusBadRequest} // Hash verification of the data encryption key failed.
	codeBadCiphertext  = wireError{"KMS.2201", http.StatusBadRequest} // Invalid cipher_text.
)

// kindErrors is the one table from kms kinds to Huawei's error codes. A kind
// not in it is KMS.0101, an internal error. A refused Recipient (its
// evidence, its algorithm) reaches us as kms.ErrInvalidRecipient: a bad
// parameter, never a secret.
var kindErrors = map[error]wireError{
	kms.ErrNotFound:          codeNotFound,
	kms.ErrAlreadyExists:     codeAliasExists,
	kms.ErrDisabled:          codeDisabled,
	kms.ErrInvalidState:      codePending,
	kms.ErrInvalidKeyUsage:   codeInvalid,
	kms.ErrInvalidCiphertext: codeBadCiphertext,
	kms.ErrIncorrectKey:      codeBadKeyID,
	kms.ErrValidation:        codeInvalid,
	kms.ErrUnsupported:       codeInvalid,
	kms.ErrInvalidPublicKey:  codeInvalid,
	kms.ErrInvalidAliasName:  codeBadAlias,
	kms.ErrInvalidArn:        codeBadKeyID,
	kms.ErrInvalidMarker:     codeInvalid,
	kms.ErrMalformedPolicy:   codeInvalid,
	kms.ErrTag:               codeInvalid,
	kms.ErrLimitExceeded:     codeTooManyKeys,
	kms.ErrAccessDenied:      codeNoPermission,
	kms.ErrDryRun:            codeInvalid, // never asked for by this dialect
	kms.ErrInvalidRecipient:  codeInvalid,
	kms.ErrInternal:          codeInternal,
	// A request whose context ended (its client went away, the server is
	// stopping) did not complete. Huawei publishes no timeout or
	// cancellation code: KMS.0101 (500, "KMS error"), its one code for a
	// request the service failed to complete, is the nearest.
	kms.ErrCanceled: codeInternal,
}

// Errors of the dialect itself, before a request reaches kms.
var (
	errMissingAuth = &dialectError{codeAuth, "The request is not authenticated: sign it with an access key and secret key (SDK-HMAC-SHA256)."}
	errAuthToken   = &dialectError{codeAuth, "X-Auth-Token is not accepted here (there is no IAM): sign the request with an access key and secret key (SDK-HMAC-SHA256)."}
	// An unknown access key and a wrong signature get this same answer.
	errBadSignature = &dialectError{codeAuth, "The request signature does not match: check the access key, the secret key and the signing method (SDK-HMAC-SHA256)."}
	errReplay       = &dialectError{codeAuth, "The request signature has already been used: this request is a replay (a signature is accepted again only within 2 seconds of its X-Sdk-Date)."}
	errExpired      = &dialectError{codeExpired, "The request has expired: X-Sdk-Date is more than 15 minutes from the server's time."}
	errProject      = &dialectError{codeProject, "The project_id in the URL is not this account's project."}
	errTooLarge     = &dialectError{codeTooLarge, "The request message is larger than 1 MiB."}
)

// dialectError is an error decided here rather than in kms.
type dialectError struct {
	wire wireError
	msg  string
}

func (e *dialectError) Error() string { return e.msg }

func invalid(msg string) error { return &dialectError{codeInvalid, msg} }
func missing(field string) error {
	return &dialectError{codeMissing, field + " is required"}
}

// toWire maps any error to its code and the message a client may see.
func toWire(err error) (wireError, string) {
	var de *dialectError
	if errors.As(err, &de) {
		return de.wire, de.msg
	}
	w, ok := kindErrors[kms.Kind(err)]
	if !ok {
		w = codeInternal
	}
	return w, kms.Message(err)
}
