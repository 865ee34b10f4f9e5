package snp

import (
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/attesttest"
	"github.com/attestkms/attestkms/attest/envelope"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
)

// Test hooks.

// VerifyEnvelope is v.Verify on an envelope the test built, which may be
// one that envelope.Decode never returns.
func VerifyEnvelope(v *Verifier, e *envelope.Envelope, now time.Time) (*attest.Claims, error) {
	return v.verifyEnvelope(e, now)
}

// VerifyReport runs v's checks up to the binding: the report's structure,
// its certificate chain and signature. It returns the report AMD signed and
// the product line whose roots verified it.
func VerifyReport(v *Verifier, e *envelope.Envelope, now time.Time) (*spb.Report, string, error) {
	r, err := v.verifyReport(e, now)
	if err != nil {
		return nil, "", err
	}
	return r.proto, r.product, nil
}

// CheckPolicy runs v's checks except the binding, then its guest policy:
// what a report that bound its envelope would meet.
func CheckPolicy(v *Verifier, e *envelope.Envelope, now time.Time) error {
	r, err := v.verifyReport(e, now)
	if err != nil {
		return err
	}
	return v.checkPolicy(r)
}

// ParseAMDRoots is parseAMDRoots, to test its fingerprint check.
var ParseAMDRoots = parseAMDRoots

// ARKSHA256 are the pinned fingerprints.
var ARKSHA256 = arkSHA256

// Pairs describes r's pairs: product and signer of each.
func Pairs(r *Roots) []string {
	var s []string
	for _, p := range r.pairs {
		s = append(s, p.product+"/"+p.signer.String())
	}
	return s
}

// KindsOf lists the attest kinds err wraps; Verify's errors must wrap
// exactly one.
func KindsOf(err error) []error { return attesttest.KindsOf(err) }

// CacheLen is how many endorsement certificates v remembers.
func CacheLen(v *Verifier) int { return v.cache.Len() }

// ResetCache empties v's cache.
func ResetCache(v *Verifier) { v.cache.Reset() }
