package nitro

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/attestkms/attestkms/attest"
)

// parseDocumentReflect is parseDocument as it was before it read the
// payload by hand: fxamacker/cbor's Unmarshal into map[string]reflectItem,
// then again into each field's type (a string, a uint64, map[uint64]
// reflectItem, []reflectItem). It borrowed its fields from the payload as
// parseDocument does. The tests hold parseDocument to it
// (document_fast_test.go, FuzzParseDocumentFast): the same decisions and the
// same documents, borrowing the same bytes.

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
	if len(payload) == 0 || payload[0]>>5 != cborMap {
		return nil, fmt.Errorf("%w: payload is not a CBOR map", attest.ErrMalformed)
	}
	// Each value stays encoded until its own decoder below checks its type.
	var raw map[string]reflectItem
	if err := payloadDecoder.Unmarshal(payload, &raw); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", attest.ErrMalformed, err)
	}
	var unknown oneOf
	for k := range raw {
		if !slices.Contains(payloadKeys[:], k) {
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
	if d.certificate, err = certificate("certificate", rawItem(raw["certificate"]), p.maxCert); err != nil {
		return nil, err
	}
	if d.cabundle, err = cabundleReflect(raw["cabundle"], p); err != nil {
		return nil, err
	}
	// The key's size is judged with the key, after the signature: an
	// oversized key (RSA-8192, say) is an unacceptable key, see enclaveKey.
	if d.publicKey, err = optionalBytes("public_key", rawItem(raw["public_key"]), attest.MaxEvidence); err != nil {
		return nil, err
	}
	if d.hasPubkey {
		pk, err := optionalBytes("pubkey", rawItem(raw["pubkey"]), attest.MaxEvidence)
		if err != nil {
			return nil, err
		}
		if !d.hasPublicKey {
			d.publicKey = pk
		}
	}
	if d.userData, err = optionalBytes("user_data", rawItem(raw["user_data"]), p.maxUserData); err != nil {
		return nil, err
	}
	if d.nonce, err = optionalBytes("nonce", rawItem(raw["nonce"]), p.maxNonce); err != nil {
		return nil, err
	}
	return d, nil
}

func textReflect(name string, raw reflectItem, max int) (string, error) {
	if err := kind(name, raw, cborText, "a text string"); err != nil {
		return "", err
	}
	var s string
	if err := payloadDecoder.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s: %v", attest.ErrMalformed, name, err)
	}
	if len(s) > max {
		return "", fmt.Errorf("%w: %s is %d bytes, more than %d", attest.ErrMalformed, name, len(s), max)
	}
	return s, nil
}

func timestampReflect(raw reflectItem) (time.Time, error) {
	if err := kind("timestamp", raw, cborUint, "an unsigned integer"); err != nil {
		return time.Time{}, err
	}
	var ms uint64
	if err := payloadDecoder.Unmarshal(raw, &ms); err != nil {
		return time.Time{}, fmt.Errorf("%w: timestamp: %v", attest.ErrMalformed, err)
	}
	if ms == 0 || ms > math.MaxInt64 {
		return time.Time{}, fmt.Errorf("%w: timestamp %d is out of range", attest.ErrMalformed, ms)
	}
	return time.UnixMilli(int64(ms)).UTC(), nil
}

func pcrsReflect(raw reflectItem, s *suite) (map[int][]byte, error) {
	if err := kind("pcrs", raw, cborMap, "a map"); err != nil {
		return nil, err
	}
	var m map[uint64]reflectItem
	if err := payloadDecoder.Unmarshal(raw, &m); err != nil {
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
	name := pcrNames[i]
	b, err := bytesOf(name, rawItem(v), s.pcrLen)
	if err != nil {
		return nil, err
	}
	if len(b) != s.pcrLen {
		return nil, fmt.Errorf("%w: %s is %d bytes; %s PCRs are %d", attest.ErrMalformed, name, len(b), s.digest, s.pcrLen)
	}
	return b, nil
}

func cabundleReflect(raw reflectItem, p *profile) ([][]byte, error) {
	if err := kind("cabundle", raw, cborArray, "an array"); err != nil {
		return nil, err
	}
	var a []reflectItem
	if err := payloadDecoder.Unmarshal(raw, &a); err != nil {
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
		b, err := certificate(cabundleNames[i], rawItem(v), p.maxCert)
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
	if !nitroTPMModuleID.MatchString(d.moduleID) {
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
	if err := kind("nitrotpm_pcrs", raw, cborMap, "a map"); err != nil {
		return nil, err
	}
	var m map[uint64]reflectItem
	if err := payloadDecoder.Unmarshal(raw, &m); err != nil {
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
	name := tpmPCRNames[i]
	b, err := bytesOf(name, rawItem(v), nitroTPMPCRLen)
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
