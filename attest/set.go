package attest

import (
	"errors"
	"fmt"
	"time"
)

// Set is the server's trusted formats: it sends evidence to the verifiers its
// shape selects and returns the first claims that verify. Reading the shape
// only chooses verifiers; it trusts nothing.
type Set struct {
	// COSE verifiers are tried in order for COSE_Sign1 documents (first byte
	// 0x84, untagged as the NSM returns them, or 0xD2, tagged): Nitro and
	// Qingtian documents have the same shape and are told apart by the root
	// their chain reaches.
	COSE []Verifier

	// Envelopes verify evidence envelopes (a CBOR map, see Envelope) by
	// their format; a format without a verifier is ErrNoVerifier.
	Envelopes map[Format]EnvelopeVerifier
}

// An EnvelopeVerifier verifies the evidence of one envelope format, already
// decoded by DecodeEnvelope (so strictly shaped, but not yet judged).
type EnvelopeVerifier interface {
	VerifyEnvelope(e *Envelope, now time.Time) (*Claims, error)
}

var _ Verifier = (*Set)(nil)

// MaxEvidence bounds any evidence before it is parsed.
const MaxEvidence = 16 << 10

// Verify implements Verifier.
func (s *Set) Verify(evidence []byte, now time.Time) (*Claims, error) {
	switch {
	case len(evidence) == 0:
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	case len(evidence) > MaxEvidence:
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(evidence), MaxEvidence)
	case evidence[0] == 0x84 || evidence[0] == 0xd2:
		return first(s.COSE, evidence, now, "COSE_Sign1 documents")
	case IsEnvelope(evidence):
		e, err := DecodeEnvelope(evidence)
		if err != nil {
			return nil, err
		}
		v, ok := s.Envelopes[e.Format]
		if !ok {
			return nil, fmt.Errorf("%w: this server trusts no %s evidence", ErrNoVerifier, e.Format)
		}
		return v.VerifyEnvelope(e, now)
	}
	return nil, fmt.Errorf("%w: neither a COSE_Sign1 attestation document nor an evidence envelope (first byte 0x%02x)", ErrMalformed, evidence[0])
}

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
