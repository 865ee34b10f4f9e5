package nitro

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/fxamacker/cbor/v2"
)

// parseDocumentBefore is parseDocument as it was before the document
// borrowed its fields from the payload: every value copied out of the
// payload with cbor.RawMessage, then decoded again into a fresh []byte. The
// tests hold parseDocument to it (document_borrow_test.go).

// parseDocument decodes a payload strictly and applies the bounds of p.
func parseDocumentBefore(payload []byte, p *profile) (*document, error) {
	if len(payload) == 0 || payload[0]>>5 != cborMap {
		return nil, fmt.Errorf("%w: payload is not a CBOR map", attest.ErrMalformed)
	}
	// Each value stays encoded until its own decoder below checks its type.
	var raw map[string]cbor.RawMessage
	if err := payloadDecoder.Unmarshal(payload, &raw); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", attest.ErrMalformed, err)
	}
	for k := range raw {
		if !slices.Contains(payloadKeys[:], k) {
			return nil, fmt.Errorf("%w: payload has an unknown field %.40q", attest.ErrMalformed, k)
		}
	}
	d := &document{hasPublicKey: raw["public_key"] != nil, hasPubkey: raw["pubkey"] != nil}
	var err error
	if d.moduleID, err = textBefore("module_id", raw["module_id"], maxModuleID); err != nil {
		return nil, err
	}
	if d.moduleID == "" {
		return nil, fmt.Errorf("%w: module_id is empty", attest.ErrMalformed)
	}
	digest, err := textBefore("digest", raw["digest"], maxDigestName)
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
	if d.time, err = timestampBefore(raw["timestamp"]); err != nil {
		return nil, err
	}
	if raw["nitrotpm_pcrs"] != nil {
		// The field chooses the NitroTPM schema, nothing more: whether
		// this verifier takes NitroTPM documents profile.check says, after
		// the chain, so that another PKI's document is an untrusted chain.
		d.nitroTPM = true
		if err := parseNitroTPMBefore(d, raw); err != nil {
			return nil, err
		}
	} else if d.pcrs, err = pcrsBefore(raw["pcrs"], d.suite); err != nil {
		return nil, err
	}
	if d.certificate, err = certificateBefore("certificate", raw["certificate"], p.maxCert); err != nil {
		return nil, err
	}
	if d.cabundle, err = cabundleBefore(raw["cabundle"], p); err != nil {
		return nil, err
	}
	// The key's size is judged with the key, after the signature: an
	// oversized key (RSA-8192, say) is an unacceptable key, see enclaveKey.
	if d.publicKey, err = optionalBytesBefore("public_key", raw["public_key"], attest.MaxEvidence); err != nil {
		return nil, err
	}
	if d.hasPubkey {
		pk, err := optionalBytesBefore("pubkey", raw["pubkey"], attest.MaxEvidence)
		if err != nil {
			return nil, err
		}
		if !d.hasPublicKey {
			d.publicKey = pk
		}
	}
	if d.userData, err = optionalBytesBefore("user_data", raw["user_data"], p.maxUserData); err != nil {
		return nil, err
	}
	if d.nonce, err = optionalBytesBefore("nonce", raw["nonce"], p.maxNonce); err != nil {
		return nil, err
	}
	return d, nil
}

func textBefore(name string, raw cbor.RawMessage, max int) (string, error) {
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

func bytesOfBefore(name string, raw cbor.RawMessage, max int) ([]byte, error) {
	if err := kind(name, raw, cborBytes, "a byte string"); err != nil {
		return nil, err
	}
	var b []byte
	if err := payloadDecoder.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", attest.ErrMalformed, name, err)
	}
	if len(b) > max {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than %d", attest.ErrMalformed, name, len(b), max)
	}
	return b, nil
}

// certificate decodes a DER certificate's byte string; x509 parses it
// later, and only if it is part of the chain.
func certificateBefore(name string, raw cbor.RawMessage, max int) ([]byte, error) {
	b, err := bytesOfBefore(name, raw, max)
	if err == nil && len(b) == 0 {
		err = fmt.Errorf("%w: %s is empty", attest.ErrMalformed, name)
	}
	return b, err
}

// optionalBytes decodes a field that may be absent or null (then nil).
func optionalBytesBefore(name string, raw cbor.RawMessage, max int) ([]byte, error) {
	if raw == nil || (len(raw) == 1 && raw[0] == cborNull) {
		return nil, nil
	}
	if err := kind(name, raw, cborBytes, "a byte string or null"); err != nil {
		return nil, err
	}
	b, err := bytesOfBefore(name, raw, max)
	if b == nil && err == nil {
		b = []byte{} // present but empty: not the same as null
	}
	return b, err
}

func timestampBefore(raw cbor.RawMessage) (time.Time, error) {
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

func pcrsBefore(raw cbor.RawMessage, s *suite) (map[int][]byte, error) {
	if err := kind("pcrs", raw, cborMap, "a map"); err != nil {
		return nil, err
	}
	var m map[uint64]cbor.RawMessage
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
	for i, v := range m {
		if i > maxPCRIndex {
			return nil, fmt.Errorf("%w: pcr index %d is more than %d", attest.ErrMalformed, i, maxPCRIndex)
		}
		name := fmt.Sprintf("pcrs[%d]", i)
		b, err := bytesOfBefore(name, v, s.pcrLen)
		if err != nil {
			return nil, err
		}
		if len(b) != s.pcrLen {
			return nil, fmt.Errorf("%w: %s is %d bytes; %s PCRs are %d", attest.ErrMalformed, name, len(b), s.digest, s.pcrLen)
		}
		out[int(i)] = b
	}
	return out, nil
}

func cabundleBefore(raw cbor.RawMessage, p *profile) ([][]byte, error) {
	if err := kind("cabundle", raw, cborArray, "an array"); err != nil {
		return nil, err
	}
	var a []cbor.RawMessage
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
		b, err := certificateBefore(fmt.Sprintf("cabundle[%d]", i), v, p.maxCert)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func parseNitroTPMBefore(d *document, raw map[string]cbor.RawMessage) error {
	if raw["pcrs"] != nil {
		return fmt.Errorf("%w: both \"pcrs\" and \"nitrotpm_pcrs\" are present; a NitroTPM document carries nitrotpm_pcrs only", attest.ErrMalformed)
	}
	if !nitroTPMModuleID.MatchString(d.moduleID) {
		return fmt.Errorf("%w: module_id %.64q is not a NitroTPM module id (i-<instance>-tpm<hex>)", attest.ErrMalformed, d.moduleID)
	}
	if d.suite != es384 {
		return fmt.Errorf("%w: NitroTPM documents are SHA384, not %s", attest.ErrMalformed, d.suite.digest)
	}
	p, err := tpmPCRsBefore(raw["nitrotpm_pcrs"])
	if err != nil {
		return err
	}
	d.tpmPCRs = p
	return nil
}

// tpmPCRs decodes nitrotpm_pcrs: exactly the registers 0..23, 48 bytes each.
func tpmPCRsBefore(raw cbor.RawMessage) (map[int][]byte, error) {
	if err := kind("nitrotpm_pcrs", raw, cborMap, "a map"); err != nil {
		return nil, err
	}
	var m map[uint64]cbor.RawMessage
	if err := payloadDecoder.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: nitrotpm_pcrs: %v", attest.ErrMalformed, err)
	}
	out := make(map[int][]byte, len(m))
	for i, v := range m {
		if i >= nitroTPMPCRs {
			return nil, fmt.Errorf("%w: nitrotpm_pcrs index %d is more than %d", attest.ErrMalformed, i, nitroTPMPCRs-1)
		}
		name := fmt.Sprintf("nitrotpm_pcrs[%d]", i)
		b, err := bytesOfBefore(name, v, nitroTPMPCRLen)
		if err != nil {
			return nil, err
		}
		if len(b) != nitroTPMPCRLen {
			return nil, fmt.Errorf("%w: %s is %d bytes; NitroTPM registers are SHA-384, %d", attest.ErrMalformed, name, len(b), nitroTPMPCRLen)
		}
		out[int(i)] = b
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

// nitroTPMKey judges a NitroTPM document's key as a Recipient's: the RSA
// key, or why there is none.
