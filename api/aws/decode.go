package aws

import (
	"encoding/base64"
	"reflect"
	"time"

	"github.com/attestkms/attestkms/api/internal/strictjson"
	"github.com/attestkms/attestkms/kms"
)

// decode reads one JSON object into v (strictjson). Malformed JSON, a value
// of the wrong type or out of range and trailing data are
// ValidationException naming what is wrong. Unknown members are ignored, as
// AWS does for forward compatibility; members whose absence would change the
// meaning of a request (DryRun, Recipient) are decoded by every operation
// that has them.
func decode(body []byte, v any) error {
	if err := strictjson.Decode(body, v, decodeOptions); err != nil {
		return validation(err.Error())
	}
	return nil
}

// decodeOptions are the dialect's strictjson options.
var decodeOptions = strictjson.Options{Integer: "a number"}

// requestTypes are the request types of every operation (op adds each): the
// tests hold strictjson's fast path to encoding/json over them.
var requestTypes []reflect.Type

func validation(msg string) error {
	return &kms.Error{Kind: kms.ErrValidation, Msg: msg}
}

// blob decodes a base64 blob member; absent is nil.
func blob(field, s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, validation(field + " is not valid base64")
	}
	return b, nil
}

func b64(b []byte) string {
	if b == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}

// epoch is a timestamp as AWS JSON protocols send it: seconds since the epoch.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func epochPtr(t *time.Time) *float64 {
	if t == nil {
		return nil
	}
	e := epoch(*t)
	return &e
}

func limit(p *int32) int32 {
	if p == nil {
		return 0
	}
	if *p == 0 {
		return -1 // given but zero: out of range
	}
	return *p
}
