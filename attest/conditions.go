package attest

import "strconv"

// Condition keys. A key policy names a verified measurement by a condition
// key, and Claims.Measurements puts each format's measurements under its own
// keys only. The set is closed: IsConditionKey says which keys exist, so that
// a policy naming any other kms:RecipientAttestation key (a misspelling that
// would never be present) is refused rather than silently never matching.
const (
	// AttestationPrefix begins attestkms's measurement keys and AWS's:
	// Format (every format); ImageSha384 and PCR0..PCR31 (AWS Nitro Enclaves,
	// as AWS KMS names them); SnpMeasurement and SnpHostData (AMD SEV-SNP);
	// TpmPCR0..TpmPCR23 (TPM 2.0); NitroTPMPCR0..NitroTPMPCR23 (AWS NitroTPM
	// documents, as AWS KMS names them).
	AttestationPrefix = "kms:RecipientAttestation:"
	// HuaweiAttestationPrefix begins the keys of Huawei Qingtian documents,
	// PCR0..PCR31, written with a slash as Huawei's IAM policies write them
	// ("kms:RecipientAttestation/PCR0"). Nitro's keys never match a Qingtian
	// document, nor these a Nitro one: two vendors' roots, two names.
	HuaweiAttestationPrefix = "kms:RecipientAttestation/"
)

// Bounds of the indexed keys: a Nitro or Qingtian NSM has 32 PCRs, a TPM's
// banks 24.
const (
	maxEnclavePCR = 31
	maxTPMPCR     = 23
	maxTDXRTMR    = 3 // a TD has four RTMRs
	// maxNitroTPMPCR: a NitroTPM document carries the SHA-384 bank, 0..23.
	maxNitroTPMPCR = 23
)

// IsConditionKey reports whether key, compared without regard to ASCII case
// as condition keys are, is one of the measurement keys above, and returns its
// canonical spelling.
func IsConditionKey(key string) (canonical string, ok bool) {
	switch {
	case hasPrefixFold(key, AttestationPrefix):
		name := key[len(AttestationPrefix):]
		for _, fixed := range []string{"Format", "ImageSha384", "SnpMeasurement", "SnpHostData"} {
			if equalFold(name, fixed) {
				return AttestationPrefix + fixed, true
			}
		}
		if n, ok := indexed(name, "PCR", maxEnclavePCR); ok {
			return AttestationPrefix + "PCR" + strconv.Itoa(n), true
		}
		if n, ok := indexed(name, "TpmPCR", maxTPMPCR); ok {
			return AttestationPrefix + "TpmPCR" + strconv.Itoa(n), true
		}
		// Intel TDX (attest/tdx): set only by TDX claims.
		for _, fixed := range []string{"TdxMrTd", "TdxMrConfigId", "TdxTcbStatus"} {
			if equalFold(name, fixed) {
				return AttestationPrefix + fixed, true
			}
		}
		if n, ok := indexed(name, "TdxRtmr", maxTDXRTMR); ok {
			return AttestationPrefix + "TdxRtmr" + strconv.Itoa(n), true
		}
		// AWS NitroTPM documents: their own 24 registers, never PCRn.
		if n, ok := indexed(name, "NitroTPMPCR", maxNitroTPMPCR); ok {
			return AttestationPrefix + "NitroTPMPCR" + strconv.Itoa(n), true
		}
	case hasPrefixFold(key, HuaweiAttestationPrefix):
		if n, ok := indexed(key[len(HuaweiAttestationPrefix):], "PCR", maxEnclavePCR); ok {
			return HuaweiAttestationPrefix + "PCR" + strconv.Itoa(n), true
		}
	}
	return "", false
}

// IsAttestationKey reports whether key begins with either attestation prefix
// (any case), known or not: a policy that names one expects attested callers.
func IsAttestationKey(key string) bool {
	return hasPrefixFold(key, AttestationPrefix) || hasPrefixFold(key, HuaweiAttestationPrefix)
}

// indexed parses name as prefix followed by a decimal 0..max written without
// leading zeros ("PCR7", not "PCR07"), the prefix in any case.
func indexed(name, prefix string, max int) (int, bool) {
	if !hasPrefixFold(name, prefix) {
		return 0, false
	}
	digits := name[len(prefix):]
	if digits == "" || len(digits) > 2 || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
		n = n*10 + int(digits[i]-'0')
	}
	return n, n <= max
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && equalFold(s[:len(prefix)], prefix)
}

// equalFold compares with ASCII case folding only: condition keys are ASCII,
// and Unicode folding would let "K" (U+212A, Kelvin) stand for "k".
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
