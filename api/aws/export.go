package aws

// What the admin API (api/admin), AWS JSON 1.1 too, answers with: this
// dialect's one error table and its error shape, not a copy of them.

// ErrorTable is the AWS dialect's table from kinds to exceptions and HTTP
// statuses (errors.go).
var ErrorTable = errorTable

// WriteError writes a refusal in AWS's shape: {"__type","message"} with
// X-Amzn-ErrorType.
var WriteError = writeError

// The dialect's own refusals, before a request reaches kms.
var (
	ErrValidation    = errValidation
	ErrUnknownTarget = errUnknownTarget
	ErrWrongRegion   = errWrongRegion
)
