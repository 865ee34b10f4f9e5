package tpm

import (
	"bytes"
	"fmt"
	"sync/atomic"

	"github.com/attestkms/attestkms/attest"
	"github.com/google/go-tpm/tpm2"
)

// decodePanics counts panics recovered from go-tpm's decoder, so that tests
// and the fuzz target can insist there are none.
var decodePanics atomic.Int64

// maxDetail bounds how much of go-tpm's error text an error repeats: its
// messages nest one clause per structure level and say little more than
// "this field did not parse".
const maxDetail = 160

// decodeStrict decodes a TPM structure (TPMS_ATTEST, TPMT_SIGNATURE,
// TPMT_PUBLIC) and insists that it is all of b, in the one encoding the TPM
// would have produced: tpm2.Unmarshal stops where the structure ends and
// would ignore trailing bytes, so the value is marshalled again and must give
// b back byte for byte. That also refuses anything go-tpm would accept but
// not reproduce (a union member it skips, say), so what we check is exactly
// what was signed. go-tpm's reflective decoder is not ours to trust with
// hostile bytes, so a panic in it is caught and reported as malformed input
// (and counted, for the tests).
func decodeStrict[T tpm2.Marshallable, P interface {
	*T
	tpm2.Unmarshallable
}](what string, b []byte) (v *T, err error) {
	defer func() {
		if r := recover(); r != nil {
			decodePanics.Add(1)
			v, err = nil, fmt.Errorf("%w: %s does not decode (%.*v)", attest.ErrMalformed, what, maxDetail, r)
		}
	}()
	v, err = tpm2.Unmarshal[T, P](b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not decode: %.*s", attest.ErrMalformed, what, maxDetail, err.Error())
	}
	again := tpm2.Marshal(P(v))
	switch {
	case bytes.Equal(again, b):
		return v, nil
	case len(again) < len(b) && bytes.HasPrefix(b, again):
		return nil, fmt.Errorf("%w: %s has %d bytes after its end", attest.ErrMalformed, what, len(b)-len(again))
	default:
		return nil, fmt.Errorf("%w: %s is not in the TPM's encoding", attest.ErrMalformed, what)
	}
}
