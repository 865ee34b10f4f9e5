package huawei

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"

	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/api/internal/secretjson"
	"github.com/attestkms/attestkms/api/internal/strictjson"
	"github.com/attestkms/attestkms/kms"
)

// decode reads one JSON object into v (strictjson). Malformed JSON, another
// value than an object and trailing data are KMS.0202; a value of the wrong
// type is KMS.0308 naming the field. Unknown members are ignored, as
// Huawei's API does (the SDK sends members such as sequence and
// enterprise_project_id that change nothing here); members whose absence
// would change the meaning of a request (recipient) are decoded by every
// operation (common) and refused by those that do not take them.
func decode(body []byte, v any) error {
	err := strictjson.Decode(body, v, decodeOptions)
	var se *strictjson.Error
	if !errors.As(err, &se) {
		return err
	}
	if se.Kind == strictjson.Type || se.Kind == strictjson.Range {
		return invalid(se.Msg)
	}
	return pipeline.Refuse(codeBadJSON, se.Msg)
}

// decodeOptions are the dialect's strictjson options.
var decodeOptions = strictjson.Options{Integer: "a number"}

// requestTypes are the request types of every operation (op adds each): the
// tests hold strictjson's fast path to encoding/json over them.
var requestTypes []reflect.Type

// keyIDRE is Huawei's key_id pattern.
var keyIDRE = regexp.MustCompile(`^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$`)

// keyID checks a required key_id: present (KMS.0204) and a 36-byte key id
// (KMS.0205). Huawei takes no aliases or ARNs here.
func keyID(field, s string) error {
	switch {
	case s == "":
		return missing(field)
	case !keyIDRE.MatchString(s):
		return pipeline.Refuse(codeBadKeyID, field+" must be a 36-character key ID such as 0d0466b0-e727-4d9c-b35d-f84bb474a37f")
	}
	return nil
}

// decimal parses a number Huawei sends as a decimal string: only digits, no
// sign, no leading zeros, in [lo, hi]. Empty is KMS.0204 when required, else
// (0, nil).
func decimal(field, s string, lo, hi int, required bool) (int, error) {
	if s == "" {
		if required {
			return 0, missing(field)
		}
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || len(s) > 1 && s[0] == '0' || s[0] < '0' || s[0] > '9' || len(s) > 10 {
		return 0, invalid(fmt.Sprintf("%s must be a decimal number between %d and %d, in a string", field, lo, hi))
	}
	if n < lo || n > hi {
		return 0, invalid(fmt.Sprintf("%s must be between %d and %d", field, lo, hi))
	}
	return n, nil
}

// bits parses a length in bits that must be a whole number of bytes in
// [8, 8192] (gen-random, create-datakey) and returns the bytes.
func bits(field, s string, required bool) (int, error) {
	n, err := decimal(field, s, 8, 8192, required)
	if err != nil {
		return 0, err
	}
	if n%8 != 0 {
		return 0, invalid(fmt.Sprintf("%s is a length in bits and must be a multiple of 8 (8 to 8192)", field))
	}
	return n / 8, nil
}

// hexBytes decodes a required hex member (either case). The caller zeroes
// what it holds a secret.
func hexBytes(field, s string) ([]byte, error) {
	if s == "" {
		return nil, missing(field)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, invalid(field + " is not valid hex")
	}
	return b, nil
}

// b64 decodes a required standard-base64 member.
func b64(field, s string) ([]byte, error) {
	if s == "" {
		return nil, missing(field)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, invalid(field + " is not valid base64")
	}
	return b, nil
}

// hexSecret is a secret's hex encoding, zeroed after sending.
func hexSecret(b []byte) secretjson.RawString { return secretjson.Hex(b) }

// b64Secret is a secret's base64 encoding, zeroed after sending.
func b64Secret(b []byte) secretjson.RawString { return secretjson.Base64(b) }

// jsonSecret is a secret as a JSON string (decrypt-data's plain_text): its
// bytes escaped as encoding/json escapes a string, invalid UTF-8 as U+FFFD,
// in a buffer zeroed after sending.
type jsonSecret []byte

// MarshalJSON implements json.Marshaler.
func (s jsonSecret) MarshalJSON() ([]byte, error) { return s, nil }

func newJSONSecret(b []byte) jsonSecret {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(rawText(b))
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	res := bytes.Clone(out)
	clear(buf.Bytes())
	return res
}

// rawText marshals b as a JSON string without a Go string copy that could
// not be zeroed.
type rawText []byte

// MarshalText implements encoding.TextMarshaler.
func (t rawText) MarshalText() ([]byte, error) { return t, nil }

// common are the members every request may carry, and every operation
// decodes:
//
// sequence: Huawei's 36-byte request serial number (KMS.0206 otherwise),
// checked and otherwise ignored.
//
// recipient: derive-shared-secret's, as Huawei's API reference documents
// it, and an attestkms extension on create-datakey, decrypt-datakey,
// gen-random, create-ec-datakey-pair and create-rsa-datakey-pair (the
// private key; keypairs.go). With it the secret comes back only as ciphertext_recipient:
// base64 of CMS EnvelopedData wrapped to the attested enclave's RSA key, as
// AWS's CiphertextForRecipient, or of an HPKE frame with an HPKE
// key_encryption_algorithm (docs/hpke.md; public_key is then attestkms's
// extension for the ML-KEM key). Every other operation refuses it (checked
// on the decoded request, op) rather than answer in plaintext a caller who
// asked for a wrapped secret.
type common struct {
	Sequence  string `json:"sequence"`
	Recipient *struct {
		AttestationDocument    string `json:"attestation_document"`
		KeyEncryptionAlgorithm string `json:"key_encryption_algorithm"`
		// PublicKey: attestkms's extension, base64 of the ML-KEM-768+X25519
		// key for HPKE_MLKEM768X25519_SHA256_AES256GCM (docs/hpke.md).
		PublicKey string `json:"public_key"`
	} `json:"recipient"`
}

func (c *common) checkSequence() error {
	if c.Sequence != "" && len(c.Sequence) != 36 {
		return pipeline.Refuse(codeBadSequence, "sequence must be a 36-byte serial number such as 919c82d4-8046-4722-9094-35c3c6524cff")
	}
	return nil
}

func (c *common) recipientGiven() bool { return c.Recipient != nil }

// keyEncryptionAlgorithm is Huawei's default key_encryption_algorithm; kms
// also takes the HPKE ones (docs/hpke.md) and refuses any other (KMS.0308).
const keyEncryptionAlgorithm = "RSAES_OAEP_SHA_256"

// recipient is the recipient member as kms takes it; nil for none.
func (c *common) recipient() (*kms.Recipient, error) {
	if c.Recipient == nil {
		return nil, nil
	}
	doc, err := b64("recipient.attestation_document", c.Recipient.AttestationDocument)
	if err != nil {
		return nil, err
	}
	alg := c.Recipient.KeyEncryptionAlgorithm
	if alg == "" {
		alg = keyEncryptionAlgorithm
	}
	var pub []byte
	if c.Recipient.PublicKey != "" {
		if pub, err = b64("recipient.public_key", c.Recipient.PublicKey); err != nil {
			return nil, err
		}
	}
	return &kms.Recipient{AttestationDocument: doc, KeyEncryptionAlgorithm: alg, PublicKey: pub}, nil
}

// aadField is additional_authenticated_data: non-sensitive data bound to a
// ciphertext, at most 128 bytes. kms binds it as the encryption context
// {"additional_authenticated_data": aad}, so the AWS dialect decrypts such a
// ciphertext with that EncryptionContext.
type aadField struct {
	AAD string `json:"additional_authenticated_data"`
}

const aadContextKey = "additional_authenticated_data"

func (a aadField) context() (kms.EncryptionContext, error) {
	switch {
	case a.AAD == "":
		return nil, nil
	case len(a.AAD) > 128:
		return nil, invalid("additional_authenticated_data must be at most 128 bytes")
	}
	return kms.EncryptionContext{aadContextKey: a.AAD}, nil
}
