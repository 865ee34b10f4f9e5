package tencent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"

	"github.com/attestkms/attestkms/kms"
)

// decode reads the body, one JSON object, into v, a pointer to an action's
// request struct. Unlike the AWS dialect it refuses members the action does
// not define (UnknownParameter, as Tencent's API and the SDK's own
// FromJsonString do): X-TC-Action is not signed, so a signed body must not be
// able to mean something under an action it was not written for. Names match
// exactly (encoding/json alone would match any case) and once. Malformed
// JSON, a value of the wrong type and trailing data are InvalidParameter;
// integers out of range are InvalidParameterValue; each names its member.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := checkMembers(body, fieldsOf(reflect.TypeOf(v).Elem())); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	return nil
}

// checkMembers reads the top-level object's member names, refusing any not
// in known, given twice, or followed by more data.
func checkMembers(body []byte, known map[string]bool) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return decodeError(err)
	}
	if tok != json.Delim('{') {
		return invalidParameter("the request body must be a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return decodeError(err)
		}
		name, _ := tok.(string)
		if !known[name] {
			return errorf(codeUnknownParameter, fmt.Sprintf("%.64q is not a parameter of this action", name))
		}
		if seen[name] {
			return invalidParameter(name + " is given twice")
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return decodeError(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalidParameter("the request body has data after its JSON object")
	}
	return nil
}

var fieldCache sync.Map // reflect.Type → map[string]bool

// fieldsOf lists the JSON member names of a request struct, its embedded
// structs' included.
func fieldsOf(t reflect.Type) map[string]bool {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]bool)
	}
	m := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			for k := range fieldsOf(f.Type) {
				m[k] = true
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		m[name] = true
	}
	fieldCache.Store(t, m)
	return m
}

func decodeError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return invalidParameter(fmt.Sprintf("the request body is not valid JSON (at byte %d)", se.Offset))
	case errors.As(err, &te) && te.Field != "" && strings.HasPrefix(te.Value, "number") && isIntKind(te.Type):
		if strings.ContainsAny(strings.TrimPrefix(te.Value, "number"), ".eE") {
			return invalidParameter(te.Field + " must be an integer")
		}
		return invalidValue(te.Field + " is out of range")
	case errors.As(err, &te) && te.Field != "":
		return invalidParameter(fmt.Sprintf("%s must be %s, not a JSON %s", te.Field, jsonKind(te.Type), te.Value))
	case errors.As(err, &te):
		return invalidParameter(fmt.Sprintf("the request body must be a JSON object, not a JSON %s", te.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errorf(codeUnknownParameter, strings.TrimPrefix(err.Error(), "json: unknown field ")+" is not a parameter of this action")
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return invalidParameter("the request body is not valid JSON (it ends early)")
	}
	return invalidParameter("the request body is not valid JSON")
}

func isIntKind(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint64:
		return true
	}
	return false
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint64:
		return "an integer"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "of another type"
}

func invalidParameter(msg string) error { return errorf(codeInvalidParameter, msg) }
func invalidValue(msg string) error     { return errorf(codeInvalidValue, msg) }
func missing(field string) error        { return errorf(codeMissingParameter, field+" is required") }

// blob decodes a base64 member; the code names what is wrong with it.
func blob(field, code, s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errorf(code, field+" is not valid base64")
	}
	return b, nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// maxKeyID bounds a KeyId as kms does.
const maxKeyID = 2048

// keyID checks a KeyId member's shape: a key id (a UUID, as Tencent's are),
// and, as attestkms extensions, alias/NAME or a key or alias ARN. Whether it
// names a key is kms's business.
func keyID(s string) (string, error) {
	switch {
	case s == "":
		return "", missing("KeyId")
	case len(s) > maxKeyID || !isUUID(s) && !strings.HasPrefix(s, "alias/") && !strings.HasPrefix(s, "arn:"):
		return "", errorf(codeInvalidKeyID, fmt.Sprintf("KeyId %.80q is not a key id (a UUID such as CreateKey returns) nor alias/NAME", s))
	}
	return s, nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// maxContext bounds EncryptionContext before it is parsed; kms bounds the
// parsed pairs again (64 pairs, 8 KiB).
const maxContext = 16 << 10

// encryptionContext parses Tencent's EncryptionContext, a JSON string holding
// a JSON object of string values ("{\"key1\":\"value1\"}"). Empty is none.
// The object binds the ciphertext as a set of pairs, not as the string: the
// same pairs in another order or spacing decrypt, and a context given through
// the AWS dialect as the same pairs matches. A key given twice is refused,
// since which value would be bound is not obvious.
func encryptionContext(s string) (kms.EncryptionContext, error) {
	if s == "" {
		return nil, nil
	}
	bad := invalidValue(`EncryptionContext must be a JSON object of string values, such as {"key1":"value1"}`)
	if len(s) > maxContext {
		return nil, bad
	}
	dec := json.NewDecoder(strings.NewReader(s))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, bad
	}
	ec := kms.EncryptionContext{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, bad
		}
		v, err := dec.Token()
		val, ok := v.(string)
		if err != nil || !ok {
			return nil, bad
		}
		key := k.(string)
		if _, dup := ec[key]; dup {
			return nil, invalidValue("EncryptionContext gives the key " + fmt.Sprintf("%.64q", key) + " twice")
		}
		ec[key] = val
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, bad
	}
	return ec, nil
}
