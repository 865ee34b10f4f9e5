package admin

import "github.com/attestkms/attestkms/api/aws"

// The admin API speaks AWS JSON 1.1: its errors are the AWS dialect's, the
// same table (kms's kinds, and the pipeline's refused before kms, with
// AWS's messages; a kind not in it is a KMSInternalException) and the same
// shape, {"__type","message"} with X-Amzn-ErrorType.
var (
	errorTable = aws.ErrorTable
	writeError = aws.WriteError

	errValidation    = aws.ErrValidation
	errUnknownTarget = aws.ErrUnknownTarget
	errWrongRegion   = aws.ErrWrongRegion
)
