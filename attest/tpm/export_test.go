package tpm

import (
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/envelope"
)

// Test hooks.

// VerifyEnvelope is v.Verify on an envelope the test built, which may be
// one that envelope.Decode never returns.
func VerifyEnvelope(v *Verifier, e *envelope.Envelope, now time.Time) (*attest.Claims, error) {
	return v.verifyEnvelope(e, now)
}

// DecodePanics is how many panics go-tpm's decoder has raised (and decode
// recovered) in this process.
func DecodePanics() int64 { return decodePanics.Load() }

// CheckTPMDirectoryName is checkTPMDirectoryName, to test it on DER alone.
func CheckTPMDirectoryName(der []byte) error { return checkTPMDirectoryName(der) }

// KindsOf lists the attest kinds err wraps; Verify's errors must wrap
// exactly one.
func KindsOf(err error) []error { return attesttest.KindsOf(err) }

// VerifyBound verifies e as VerifyEnvelope does, but wants the quote's
// extraData to be binding instead of e's Binding: so that a real quote,
// which binds a nonce of its own, can be verified to the end.
func VerifyBound(v *Verifier, e *envelope.Envelope, now time.Time, binding []byte) (*attest.Claims, error) {
	c, err := v.verify(e, now, binding)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// CacheLen is how many AK chains v remembers; ResetCache forgets them, and
// the intermediates v knows (KnownLen of them).
func CacheLen(v *Verifier) int { return v.cache.Len() }
func ResetCache(v *Verifier)   { v.cache.Reset(); v.known.Reset() }
func KnownLen(v *Verifier) int { return v.known.Len() }
