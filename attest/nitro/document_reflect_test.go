package nitro

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/fxamacker/cbor/v2"
)

// parseDocumentReflect is parseDocument as it was before it read the
// payload by hand: fxamacker/cbor's Unmarshal into map[string]reflectItem,
// then again into each field's type (a string, a uint64, map[uint64]
// reflectItem, []reflectItem, []byte). It borrowed its fields from the
// payload as parseDocument does. The tests hold parseDocument to it
// (document_fast_test.go, FuzzParseDocumentFast): the same decisions and the
// same documents, borrowing the same bytes.
//
// It shares no code with parseDocument, only the schema's data (the
// bounds, the profiles, the suites): every value is decoded here by the
// decoder, with its own options, and checked by this file's own helpers,
// so that a mistake in a reader or helper of document.go (kind, bytesOf,
// byteContents, optionalBytes, the element names, the key list, the
// decoder's options) is a difference, not the same mistake twice.

// reflectDecoder is payloadDecoder's options, written again (and the
// default BinaryUnmarshaler, said aloud: bytesReflect depends on it).
var reflectDecoder = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:          cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:    maxNesting,
		MaxArrayElements:   maxArrayElements,
		MaxMapPairs:        maxMapPairs,
		IndefLength:        cbor.IndefLengthAllowed,
		TagsMd:             cbor.TagsForbidden,
		UTF8:               cbor.UTF8RejectInvalid,
		ByteStringToString: cbor.ByteStringToStringForbidden,
		IntDec:             cbor.IntDecConvertNone,
		BinaryUnmarshaler:  cbor.BinaryUnmarshalerByteString, // byteString
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// reflectKeys are the payload's keys, payloadKeys written again.
var reflectKeys = []string{"module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle", "public_key", "pubkey", "user_data", "nonce", "nitrotpm_pcrs"}

// reflectTPMModuleID is nitroTPMModuleID written again.
var reflectTPMModuleID = regexp.MustCompile(`^i-[0-9a-f]{8,32}-tpm[0-9a-f]{1,32}$`)

// The CBOR major types the reference checks for, its own.
const (
	majorUint  = 0
	majorBytes = 2
	majorText  = 3
	majorArray = 4
	majorMap   = 5
)

// reflectItem is rawItem as the decoder filled it.
type reflectItem []byte

// UnmarshalCBOR keeps data, the decoder's sub-slice of its input, capped.
func (r *reflectItem) UnmarshalCBOR(data []byte) error {
	*r = data[:len(data):len(data)]
	return nil
}

// parseDocumentReflect decodes a payload strictly and applies the bounds of
// p. The document's byte strings are sub-slices of payload.
func parseDocumentReflect(payload []byte, p *profile) (*document, error) {
	if len(payload) == 0 || payload[0]>>5 != majorMap {
		return nil, fmt.Errorf("%w: payload is not a CBOR map", attest.ErrMalformed)
	}
	// Each value stays encoded until its own decoder below checks its type.
	var raw map[string]reflectItem
	if err := reflectDecoder.Unmarshal(payload, &raw); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", attest.ErrMalformed, err)
	}
	var unknown oneOf
	for k := range raw {
		if !slices.Contains(reflectKeys, k) {
			unknown = append(unknown, fmt.Errorf("%w: payload has an unknown field %.40q", attest.ErrMalformed, k))
		}
	}
	if unknown != nil {
		return nil, unknown
	}
	d := &document{hasPublicKey: raw["public_key"] != nil, hasPubkey: raw["pubkey"] != nil}
	var err error
	if d.moduleID, err = textReflect("module_id", raw["module_id"], maxModuleID); err != nil {
		return nil, err
	}
	if d.moduleID == "" {
		return nil, fmt.Errorf("%w: module_id is empty", attest.ErrMalformed)
	}
	digest, err := textReflect("digest", raw["digest"], maxDigestName)
	if err != nil {
		return nil, err
	}
	for _, s := range suites {
		if digest == s.digest {
			d.suite = s
		}
	}
	if d.suite == nil {
		return nil, fmt.Errorf("%w: digest %q is not SHA256, SHA384 or SHA512", attest.ErrMalformed, digest)
	}
	if d.time, err = timestampReflect(raw["timestamp"]); err != nil {
		return nil, err
	}
	if raw["nitrotpm_pcrs"] != nil {
		// The field chooses the NitroTPM schema, nothing more: whether
		// this verifier takes NitroTPM documents profile.check says, after
		// the chain, so that another PKI's document is an untrusted chain.
		d.nitroTPM = true
		if err := parseNitroTPMReflect(d, raw); err != nil {
			return nil, err
		}
	} else if d.pcrs, err = pcrsReflect(raw["pcrs"], d.suite); err != nil {
		return nil, err
	}
	if d.certificate, err = certificateReflect(elem{"certificate", -1}, raw["certificate"], p.maxCert); err != nil {
		return nil, err
	}
	if d.cabundle, err = cabundleReflect(raw["cabundle"], p); err != nil {
		return nil, err
	}
	// The key's size is judged with the key, after the signature: an
	// oversized key (RSA-8192, say) is an unacceptable key, see enclaveKey.
	if d.publicKey, err = optionalReflect("public_key", raw["public_key"], attest.MaxEvidence); err != nil {
		return nil, err
	}
	if d.hasPubkey {
		pk, err := optionalReflect("pubkey", raw["pubkey"], attest.MaxEvidence)
		if err != nil {
			return nil, err
		}
		if !d.hasPublicKey {
			d.publicKey = pk
		}
	}
	if d.userData, err = optionalReflect("user_data", raw["user_data"], p.maxUserData); err != nil {
		return nil, err
	}
	if d.nonce, err = optionalReflect("nonce", raw["nonce"], p.maxNonce); err != nil {
		return nil, err
	}
	return d, nil
}

func textReflect(name string, raw reflectItem, max int) (string, error) {
	if err := kindReflect(name, raw, majorText, "a text string"); err != nil {
		return "", err
	}
	var s string
	if err := reflectDecoder.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s: %v", attest.ErrMalformed, name, err)
	}
	if len(s) > max {
		return "", fmt.Errorf("%w: %s is %d bytes, more than %d", attest.ErrMalformed, name, len(s), max)
	}
	return s, nil
}

func timestampReflect(raw reflectItem) (time.Time, error) {
	if err := kindReflect("timestamp", raw, majorUint, "an unsigned integer"); err != nil {
		return time.Time{}, err
	}
	var ms uint64
	if err := reflectDecoder.Unmarshal(raw, &ms); err != nil {
		return time.Time{}, fmt.Errorf("%w: timestamp: %v", attest.ErrMalformed, err)
	}
	if ms == 0 || ms > math.MaxInt64 {
		return time.Time{}, fmt.Errorf("%w: timestamp %d is out of range", attest.ErrMalformed, ms)
	}
	return time.UnixMilli(int64(ms)).UTC(), nil
}

func pcrsReflect(raw reflectItem, s *suite) (map[int][]byte, error) {
	if err := kindReflect("pcrs", raw, majorMap, "a map"); err != nil {
		return nil, err
	}
	var m map[uint64]reflectItem
	if err := reflectDecoder.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: pcrs: %v", attest.ErrMalformed, err)
	}
	switch {
	case len(m) == 0:
		return nil, fmt.Errorf("%w: pcrs is empty", attest.ErrMalformed)
	case len(m) > maxPCRs:
		return nil, fmt.Errorf("%w: %d pcrs, more than %d", attest.ErrMalformed, len(m), maxPCRs)
	}
	out := make(map[int][]byte, len(m))
	var bad oneOf
	for i, v := range m {
		b, err := pcrReflect(i, v, s)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		out[int(i)] = b
	}
	if bad != nil {
		return nil, bad
	}
	return out, nil
}

// pcrReflect decodes one register of pcrs, index i.
func pcrReflect(i uint64, v reflectItem, s *suite) ([]byte, error) {
	if i > maxPCRIndex {
		return nil, fmt.Errorf("%w: pcr index %d is more than %d", attest.ErrMalformed, i, maxPCRIndex)
	}
	name := elem{"pcrs", int(i)}
	b, err := bytesReflect(name, v, s.pcrLen)
	if err != nil {
		return nil, err
	}
	if len(b) != s.pcrLen {
		return nil, fmt.Errorf("%w: %s is %d bytes; %s PCRs are %d", attest.ErrMalformed, name, len(b), s.digest, s.pcrLen)
	}
	return b, nil
}

func cabundleReflect(raw reflectItem, p *profile) ([][]byte, error) {
	if err := kindReflect("cabundle", raw, majorArray, "an array"); err != nil {
		return nil, err
	}
	var a []reflectItem
	if err := reflectDecoder.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("%w: cabundle: %v", attest.ErrMalformed, err)
	}
	switch {
	case len(a) == 0:
		return nil, fmt.Errorf("%w: cabundle is empty", attest.ErrMalformed)
	case len(a) > p.maxCABundle:
		return nil, fmt.Errorf("%w: cabundle has %d certificates, more than %d", attest.ErrMalformed, len(a), p.maxCABundle)
	}
	out := make([][]byte, len(a))
	for i, v := range a {
		b, err := certificateReflect(elem{"cabundle", i}, v, p.maxCert)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// parseNitroTPMReflect fills d from a NitroTPM payload's own fields; the
// common ones are parseDocumentReflect's.
func parseNitroTPMReflect(d *document, raw map[string]reflectItem) error {
	if raw["pcrs"] != nil {
		return fmt.Errorf("%w: both \"pcrs\" and \"nitrotpm_pcrs\" are present; a NitroTPM document carries nitrotpm_pcrs only", attest.ErrMalformed)
	}
	if !reflectTPMModuleID.MatchString(d.moduleID) {
		return fmt.Errorf("%w: module_id %.64q is not a NitroTPM module id (i-<instance>-tpm<hex>)", attest.ErrMalformed, d.moduleID)
	}
	if d.suite != es384 {
		return fmt.Errorf("%w: NitroTPM documents are SHA384, not %s", attest.ErrMalformed, d.suite.digest)
	}
	p, err := tpmPCRsReflect(raw["nitrotpm_pcrs"])
	if err != nil {
		return err
	}
	d.tpmPCRs = p
	return nil
}

// tpmPCRsReflect decodes nitrotpm_pcrs: exactly the registers 0..23, 48
// bytes each.
func tpmPCRsReflect(raw reflectItem) (map[int][]byte, error) {
	if err := kindReflect("nitrotpm_pcrs", raw, majorMap, "a map"); err != nil {
		return nil, err
	}
	var m map[uint64]reflectItem
	if err := reflectDecoder.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: nitrotpm_pcrs: %v", attest.ErrMalformed, err)
	}
	out := make(map[int][]byte, len(m))
	var bad oneOf
	for i, v := range m {
		b, err := tpmPCRReflect(i, v)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		out[int(i)] = b
	}
	if bad != nil {
		return nil, bad
	}
	if len(out) != nitroTPMPCRs {
		for i := range nitroTPMPCRs {
			if _, ok := out[i]; !ok {
				return nil, fmt.Errorf("%w: nitrotpm_pcrs has %d registers, not %d: register %d is missing", attest.ErrMalformed, len(out), nitroTPMPCRs, i)
			}
		}
	}
	return out, nil
}

// tpmPCRReflect decodes one register of nitrotpm_pcrs, index i.
func tpmPCRReflect(i uint64, v reflectItem) ([]byte, error) {
	if i >= nitroTPMPCRs {
		return nil, fmt.Errorf("%w: nitrotpm_pcrs index %d is more than %d", attest.ErrMalformed, i, nitroTPMPCRs-1)
	}
	name := elem{"nitrotpm_pcrs", int(i)}
	b, err := bytesReflect(name, v, nitroTPMPCRLen)
	if err != nil {
		return nil, err
	}
	if len(b) != nitroTPMPCRLen {
		return nil, fmt.Errorf("%w: %s is %d bytes; NitroTPM registers are SHA-384, %d", attest.ErrMalformed, name, len(b), nitroTPMPCRLen)
	}
	return b, nil
}

// oneOf is the reference's refusal where more than one is right: it finds
// the unknown keys of the payload, and the bad registers of a map of PCRs,
// in Go's map order, the walker in the payload's, and names the first it
// meets. oneOf holds every refusal the reference found (never none); the
// walker's message must be one of them, word for word (sameMessage).
type oneOf []error

func (e oneOf) Error() string {
	if len(e) == 1 {
		return e[0].Error()
	}
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = strconv.Quote(err.Error())
	}
	return "one of " + strings.Join(msgs, ", ")
}

func (e oneOf) Unwrap() []error { return e }

// elem names a field, or its element index when index >= 0, in a message:
// "certificate", "cabundle[2]".
type elem struct {
	field string
	index int
}

func (e elem) String() string {
	if e.index < 0 {
		return e.field
	}
	return fmt.Sprintf("%s[%d]", e.field, e.index)
}

// kindReflect checks that a value (named by a string or an elem) is
// present, of CBOR major type major (read from its first byte: the decoder
// would convert some types into others), and not an indefinite-length
// string (which the decoder takes).
func kindReflect(name any, raw reflectItem, major byte, what string) error {
	switch {
	case raw == nil:
		return fmt.Errorf("%w: %v is missing", attest.ErrMalformed, name)
	case raw[0]>>5 != major:
		return fmt.Errorf("%w: %v is not %s", attest.ErrMalformed, name, what)
	case (major == majorBytes || major == majorText) && raw[0]&0x1f == 31:
		return fmt.Errorf("%w: %v is an indefinite-length string", attest.ErrMalformed, name)
	}
	return nil
}

// bytesReflect decodes a byte string of at most max bytes and returns its
// contents borrowed from raw: byteString checks that what the decoder
// decoded is raw's last bytes, and the document keeps those.
func bytesReflect(name any, raw reflectItem, max int) ([]byte, error) {
	if err := kindReflect(name, raw, majorBytes, "a byte string"); err != nil {
		return nil, err
	}
	b := byteString{item: raw}
	if err := reflectDecoder.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("%w: %v: %v", attest.ErrMalformed, name, err)
	}
	if !b.tail {
		return nil, fmt.Errorf("%w: %v: the decoded bytes are not the string's last ones", attest.ErrMalformed, name)
	}
	if b.n > max {
		return nil, fmt.Errorf("%w: %v is %d bytes, more than %d", attest.ErrMalformed, name, b.n, max)
	}
	return raw[len(raw)-b.n:], nil
}

// byteString is what the decoder decodes a byte string item into: its
// contents' length, and whether they are item's last bytes. The decoder
// hands them to UnmarshalBinary, whose contract forbids keeping them (and
// an Unmarshal into []byte would copy them): the document borrows them from
// the payload instead, as parseDocument does.
type byteString struct {
	item reflectItem
	n    int
	tail bool
}

func (b *byteString) UnmarshalBinary(data []byte) error {
	b.n = len(data)
	b.tail = len(data) <= len(b.item) && bytes.Equal(data, b.item[len(b.item)-len(data):])
	return nil
}

// certificateReflect decodes a non-empty byte string, a DER certificate.
func certificateReflect(name elem, raw reflectItem, max int) ([]byte, error) {
	b, err := bytesReflect(name, raw, max)
	if err == nil && len(b) == 0 {
		err = fmt.Errorf("%w: %v is empty", attest.ErrMalformed, name)
	}
	return b, err
}

// optionalReflect decodes a byte string that may be absent or null (nil);
// present and empty, it is empty but not nil.
func optionalReflect(name string, raw reflectItem, max int) ([]byte, error) {
	if raw == nil || bytes.Equal(raw, []byte{0xf6}) {
		return nil, nil
	}
	if err := kindReflect(name, raw, majorBytes, "a byte string or null"); err != nil {
		return nil, err
	}
	return bytesReflect(name, raw, max)
}
