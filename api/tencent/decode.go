package tencent

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/attestkms/attestkms/api/internal/strictjson"
	"github.com/attestkms/attestkms/kms"
)

// decode reads the body, one JSON object, into v, a pointer to an action's
// request struct (strictjson). Unlike the AWS dialect it refuses members the
// action does not define (UnknownParameter, as Tencent's API and the SDK's
// own FromJsonString do): X-TC-Action is not signed, so a signed body must
// not be able to mean something under an action it was not written for.
// Names match exactly (encoding/json alone would match any case) and once.
// Malformed JSON, a value of the wrong type and trailing data are
// InvalidParameter; integers out of range are InvalidParameterValue; each
// names its member.
func decode(body []byte, v any) error {
	err := strictjson.Decode(body, v, decodeOptions)
	var se *strictjson.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Kind {
	case strictjson.Unknown:
		return errorf(codeUnknownParameter, se.Msg)
	case strictjson.Range:
		return invalidValue(se.Msg)
	}
	return invalidParameter(se.Msg)
}

// decodeOptions are the dialect's strictjson options.
var decodeOptions = strictjson.Options{Exact: true, Integer: "an integer", FractionIsType: true}

// requestTypes are the request types of every operation (op adds each): the
// tests hold strictjson's fast path to encoding/json over them.
var requestTypes []reflect.Type

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
