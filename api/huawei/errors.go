package huawei

import (
	"net/http"

	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/api/internal/secretjson"
	"github.com/attestkms/attestkms/kms"
)

// The codes are Huawei Cloud DEW's published KMS error codes ("Error Codes"
// in the DEW API reference, https://support.huaweicloud.com/api-dew/ErrorCode.html,
// and the KMS API reference's kms_02_0302 "Error Code" table). Statuses:
// Huawei lists the 02xx parameter codes as 400; the authentication (030x)
// and not-found codes get the statuses its API reference gives those classes
// (401 for a request that is not authenticated, 403 for one that is but may
// not do this, 404 for a resource that does not exist), and KMS.0101 is its
// documented 500.
var (
	codeInternal       = pipeline.WireError{Code: "KMS.0101", Status: http.StatusInternalServerError} // KMS error.
	codeBadURL         = pipeline.WireError{Code: "KMS.0201", Status: http.StatusBadRequest}          // Invalid request URL.
	codeBadJSON        = pipeline.WireError{Code: "KMS.0202", Status: http.StatusBadRequest}          // The JSON format of the request message is invalid.
	codeTooLarge       = pipeline.WireError{Code: "KMS.0203", Status: http.StatusRequestEntityTooLarge}
	codeMissing        = pipeline.WireError{Code: "KMS.0204", Status: http.StatusBadRequest} // The request message lacks required parameters.
	codeBadKeyID       = pipeline.WireError{Code: "KMS.0205", Status: http.StatusBadRequest} // Invalid key_id.
	codeBadSequence    = pipeline.WireError{Code: "KMS.0206", Status: http.StatusBadRequest} // Invalid sequence.
	codeNotFound       = pipeline.WireError{Code: "KMS.0207", Status: http.StatusNotFound}   // The key does not exist.
	codeDisabled       = pipeline.WireError{Code: "KMS.0209", Status: http.StatusBadRequest} // The key has been disabled and cannot be used.
	codePending        = pipeline.WireError{Code: "KMS.0210", Status: http.StatusBadRequest} // The key is in the Pending deletion status and cannot be used.
	codeAuth           = pipeline.WireError{Code: "KMS.0301", Status: http.StatusUnauthorized}
	codeExpired        = pipeline.WireError{Code: "KMS.0303", Status: http.StatusUnauthorized}
	codeProject        = pipeline.WireError{Code: "KMS.0305", Status: http.StatusForbidden}
	codeNoPermission   = pipeline.WireError{Code: "KMS.0306", Status: http.StatusForbidden}  // The user has no permission to access the key.
	codeInvalid        = pipeline.WireError{Code: "KMS.0308", Status: http.StatusBadRequest} // Invalid XXX.
	codeBadAlias       = pipeline.WireError{Code: "KMS.1101", Status: http.StatusBadRequest} // Invalid key_alias.
	codeBadDescription = pipeline.WireError{Code: "KMS.1103", Status: http.StatusBadRequest} // Invalid key_description.
	codeAliasExists    = pipeline.WireError{Code: "KMS.1104", Status: http.StatusBadRequest} // Existing CMK alias.
	codeTooManyKeys    = pipeline.WireError{Code: "KMS.1105", Status: http.StatusBadRequest} // The number of keys has reached the upper limit.
	codeHashMismatch   = pipeline.WireError{Code: "KMS.2103", Status: http.StatusBadRequest} // Hash verification of the data encryption key failed.
	codeBadCiphertext  = pipeline.WireError{Code: "KMS.2201", Status: http.StatusBadRequest} // Invalid cipher_text.
	// DEW's KMS error table has no rate-limit code: Huawei Cloud throttles
	// KMS, as every API, at its API gateway, whose answer is APIG.0308 "The
	// throttling threshold has been reached" (Huawei Cloud help center,
	// "How Do I Handle the Error APIG.0308?": support.huaweicloud.com
	// ocr_faq/ocr_01_0041 and bpconsole_faq/csdp_apifaq_00001), with 429,
	// the status DEW's best practice "Retrying Failed DEW Requests by Using
	// Exponential Backoff" (bestpractice-dew/dew_06_0028) tells KMS clients
	// to retry.
	codeThrottled = pipeline.WireError{Code: "APIG.0308", Status: http.StatusTooManyRequests}
)

// errorTable is the one table from kinds to Huawei's error codes: kms's
// kinds, whose message is kms's, and the pipeline's, refused before kms,
// with Huawei's message. A kind not in it is KMS.0101, an internal error. A
// refused Recipient reaches us as kms.ErrInvalidRecipient (its evidence) or
// kms.ErrValidation (its algorithm, or no document): a bad parameter, never
// a secret.
var errorTable = pipeline.Table{
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
	// The budget for new attestation chains: the gateway's throttling
	// answer, as for a request over its rate.
	kms.ErrThrottled: codeThrottled,

	pipeline.ErrTooLarge:   withMessage(codeTooLarge, "The request message is larger than 1 MiB."),
	pipeline.ErrUnreadable: withMessage(codeBadJSON, "could not read the request body"),
	pipeline.ErrMissing:    withMessage(codeAuth, "The request is not authenticated: sign it with an access key and secret key (SDK-HMAC-SHA256)."),
	// Followed by what the verifier found wrong.
	pipeline.ErrMalformed: withMessage(codeAuth, "The request signature is malformed"),
	pipeline.ErrExpired:   withMessage(codeExpired, "The request has expired: X-Sdk-Date is more than 15 minutes from the server's time."),
	// An unknown access key and a wrong signature get this same answer.
	pipeline.ErrSignature: withMessage(codeAuth, "The request signature does not match: check the access key, the secret key and the signing method (SDK-HMAC-SHA256)."),
	pipeline.ErrReplay:    withMessage(codeAuth, "The request signature has already been used: this request is a replay (a signature is accepted again only within 2 seconds of its X-Sdk-Date)."),
	// An access key's budget, or its address's budget for failed
	// authentications (this server's, per node: --rate-limit).
	pipeline.ErrThrottled: withMessage(codeThrottled, "The throttling threshold has been reached: reduce the frequency of your calls, and retry with backoff."),
}

// withMessage is w answering with msg.
func withMessage(w pipeline.WireError, msg string) pipeline.WireError {
	w.Message = msg
	return w
}

// Errors of the dialect itself, before a request reaches kms.
var (
	errAuthToken = pipeline.Refuse(codeAuth, "X-Auth-Token is not accepted here (there is no IAM): sign the request with an access key and secret key (SDK-HMAC-SHA256).")
	errProject   = pipeline.Refuse(codeProject, "The project_id in the URL is not this account's project.")
)

// dialectError is an error decided here rather than in kms.
type dialectError = pipeline.Refusal

func invalid(msg string) error { return pipeline.Refuse(codeInvalid, msg) }
func missing(field string) error {
	return pipeline.Refuse(codeMissing, field+" is required")
}

// writeError writes a refusal in the dialect's shape.
func writeError(w http.ResponseWriter, _ string, we pipeline.WireError, msg string) error {
	type detail struct {
		Code string `json:"error_code"`
		Msg  string `json:"error_msg"`
	}
	return secretjson.Write(w, we.Status, contentType, struct {
		Error detail `json:"error"`
	}{detail{we.Code, msg}})
}
