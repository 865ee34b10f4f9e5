package attest

import (
	"errors"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Set is the server's trusted formats: it sends evidence to the verifiers
// Sniff chooses and returns the first claims that verify. Sniffing only
// chooses verifiers; it trusts nothing.
type Set struct {
	// COSE verifiers are tried in order for COSE_Sign1 documents (Sniff:
	// FormatCOSE): Nitro and Qingtian documents have the same shape and are
	// told apart by the root their chain reaches.
	COSE []Verifier

	// Envelopes verify evidence envelopes (a CBOR map, see package
	// attest/envelope) by the format Sniff reads in them; a format without
	// a verifier is ErrNoVerifier.
	Envelopes map[Format]Verifier
}

var _ Verifier = (*Set)(nil)

// MaxEvidence bounds any evidence before it is parsed.
const MaxEvidence = 16 << 10

// Verify implements Verifier.
func (s *Set) Verify(evidence []byte, now time.Time) (*Claims, error) {
	f, err := sniff(evidence)
	if err != nil {
		return nil, err
	}
	if f == FormatCOSE {
		return first(s.COSE, evidence, now, "COSE_Sign1 documents")
	}
	v, ok := s.Envelopes[f]
	if !ok || v == nil {
		return nil, fmt.Errorf("%w: this server trusts no %s evidence", ErrNoVerifier, f)
	}
	return v.Verify(evidence, now)
}

// FormatCOSE is what Sniff calls a COSE_Sign1 document: the shape of Nitro
// and Qingtian documents alike, which only the roots that verify one tell
// apart. No claims ever have this format.
const FormatCOSE Format = "cose-sign1"

// Sniff says which verifier evidence goes to, by its shape, and nothing
// else: it verifies and judges nothing, and its answer is not a claim.
// Reading a format tag before verification only chooses the verifier; that
// verifier decodes the evidence strictly and refuses evidence that is not of
// its format.
//
// A COSE_Sign1 document (first byte 0x84, untagged as the NSM and the QTSM
// return it, or 0xD2, tagged) is FormatCOSE. An evidence envelope (a
// definite-length CBOR map) is the format its "format" field names,
// FormatSEVSNP, FormatTPM2 or FormatTDX. Anything else, and anything larger than
// MaxEvidence, is "".
func Sniff(evidence []byte) Format {
	f, _ := sniff(evidence)
	return f
}

// sniff is Sniff, with the reason it names no format (an ErrMalformed).
func sniff(evidence []byte) (Format, error) {
	switch {
	case len(evidence) == 0:
		return "", fmt.Errorf("%w: empty", ErrMalformed)
	case len(evidence) > MaxEvidence:
		return "", fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(evidence), MaxEvidence)
	case evidence[0] == 0x84 || evidence[0] == 0xd2:
		return FormatCOSE, nil
	case evidence[0] >= 0xa0 && evidence[0] <= 0xbb:
		var tag struct {
			Format Format `cbor:"format"`
		}
		if err := tagDecoder.Unmarshal(evidence, &tag); err != nil {
			return "", fmt.Errorf("%w: evidence envelope: %v", ErrMalformed, err)
		}
		switch tag.Format {
		case FormatSEVSNP, FormatTPM2, FormatTDX:
			return tag.Format, nil
		case "":
			return "", fmt.Errorf("%w: evidence envelope: no format", ErrMalformed)
		}
		return "", fmt.Errorf("%w: evidence envelope: format %.64q is not %q, %q or %q", ErrMalformed, tag.Format, FormatSEVSNP, FormatTPM2, FormatTDX)
	}
	return "", fmt.Errorf("%w: neither a COSE_Sign1 attestation document nor an evidence envelope (first byte 0x%02x)", ErrMalformed, evidence[0])
}

// tagDecoder reads an envelope's format field only, ignoring the others
// (the verifier decodes them strictly), within the envelope decoder's
// bounds on nesting and lengths.
var tagDecoder = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:          cbor.DupMapKeyEnforcedAPF,
		IndefLength:        cbor.IndefLengthForbidden,
		TagsMd:             cbor.TagsForbidden,
		UTF8:               cbor.UTF8RejectInvalid,
		ByteStringToString: cbor.ByteStringToStringForbidden,
		FieldNameMatching:  cbor.FieldNameMatchingCaseSensitive,
		MaxNestedLevels:    4,
		MaxArrayElements:   16,
		MaxMapPairs:        32,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// first returns the first verifier's claims; if none verifies, the error of
// the verifier that got furthest: one whose chain reached its roots (any
// error but ErrChain) says more than "untrusted chain".
func first(vs []Verifier, evidence []byte, now time.Time, what string) (*Claims, error) {
	if len(vs) == 0 {
		return nil, fmt.Errorf("%w: this server trusts no %s", ErrNoVerifier, what)
	}
	var firstErr, best error
	for _, v := range vs {
		c, err := v.Verify(evidence, now)
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if best == nil && !errors.Is(err, ErrChain) {
			best = err
		}
	}
	if best != nil {
		return nil, best
	}
	return nil, firstErr
}
