package aws

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/attestkms/attestkms/kms"
)

// decode reads one JSON object into v. Malformed JSON, a value of the wrong
// type and trailing data are ValidationException naming what is wrong.
// Unknown members are ignored, as AWS does for forward compatibility; members
// whose absence would change the meaning of a request (DryRun, Recipient) are
// decoded by every operation that has them.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return validation("the request body has data after its JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return validation(fmt.Sprintf("the request body is not valid JSON (at byte %d)", se.Offset))
	case errors.As(err, &te) && te.Field != "" && jsonKind(te.Type) == "a number" && strings.HasPrefix(te.Value, "number"):
		return validation(fmt.Sprintf("%s is out of range", te.Field))
	case errors.As(err, &te) && te.Field != "":
		return validation(fmt.Sprintf("%s must be %s, not a JSON %s", te.Field, jsonKind(te.Type), te.Value))
	case errors.As(err, &te):
		return validation(fmt.Sprintf("the request body must be a JSON object, not a JSON %s", te.Value))
	}
	return validation("the request body is not valid JSON")
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind().String() {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int32", "int64", "float64":
		return "a number"
	case "slice":
		return "a list"
	case "map", "struct", "ptr":
		return "an object"
	}
	return "of another type"
}

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
