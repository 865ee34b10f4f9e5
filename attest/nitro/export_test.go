package nitro

import (
	"crypto/x509"
	"errors"

	"github.com/attestkms/attestkms/attest"
)

// Test hooks.

// ChainVerifications is how many chains v verified in full (cache misses).
func ChainVerifications(v *Verifier) int64 { return v.chainVerifications.Load() }

// CacheLen is how many chains v remembers.
func CacheLen(v *Verifier) int { return v.cache.Len() }

// KnownLen is how many intermediates v knows to be genuine (firstlink.go).
func KnownLen(v *Verifier) int { return v.known.Len() }

// ResetCache empties v's cache and forgets the intermediates it knows.
func ResetCache(v *Verifier) { v.cache.Reset(); v.known.Reset() }

// ParseAWSRoot is parseAWSRoot, to test its fingerprint check.
func ParseAWSRoot(pem []byte) (*x509.Certificate, error) { return parseAWSRoot(pem) }

// AWSRootPEM is the embedded root.
var AWSRootPEM = awsRootPEM

// Kinds are the kinds Verify's errors wrap.
var Kinds = []error{attest.ErrMalformed, attest.ErrSignature, attest.ErrChain, attest.ErrExpired, attest.ErrKey, attest.ErrPolicy, attest.ErrThrottled}

// KindsOf lists the kinds err wraps; Verify's errors must wrap exactly one.
func KindsOf(err error) []error {
	var ks []error
	for _, k := range Kinds {
		if errors.Is(err, k) {
			ks = append(ks, k)
		}
	}
	return ks
}
