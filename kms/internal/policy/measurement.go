package policy

import "strings"

// What a measurement condition must name for the safety check to count it.
//
// Genuine evidence proves that a vendor's platform runs something; only some
// of its fields say what. A condition on the others admits an enclave of any
// image, an attacker's own among them, as long as it runs on genuine
// hardware of that vendor:
//
//   - Format names a vendor, not a workload;
//   - TdxTcbStatus is the platform's patch level;
//   - SnpHostData, TdxMrConfigId and Nitro's and Qingtian's PCR3 and PCR4
//     (the parent instance's role and id) are chosen by whoever launches
//     the workload, not measured from it;
//   - registers the workload's own software extends (Nitro's and Qingtian's
//     PCR16–PCR31, TDX's RTMRs, TPM PCR8–PCR23) start from a known value, so
//     any workload can replay another's extensions into them: they mean
//     something only beside a measurement of the code that extended them;
//   - the remaining registers measure the platform or nothing: Nitro's PCR1
//     alone (the kernel, its command line and the bootstrap ramdisk with
//     /init: the same for every image nitro-cli builds with its own blobs),
//     PCR5–PCR7 and PCR9–PCR15 (unused, zero in every enclave), TPM
//     PCR0–PCR3, PCR5 and PCR6 (the firmware and its configuration), and
//     TPM PCR7 (Secure Boot's state: which keys may sign what boots, not
//     what booted; every image a trusted signer ever signed, a
//     distribution's shim and kernel among them, gives the same PCR7).
//
// The keys below measure the workload itself, or the key that signed it,
// and the platform sets them before the workload runs. Nitro's and
// Qingtian's PCR2 measure the application's ramdisks only: an enclave image
// built with its own kernel and /init (eif_build and nitro-cli take any
// blobs) before the genuine application ramdisks has the genuine PCR2 and
// need never run the application. So PCR2 binds an image only beside a
// condition that pins PCR1 too, in the same statement (pcr2NeedsPCR1), and
// a Deny on PCR2 excuses nothing (a Deny's conditions must all hold, and
// the attacker's image has the PCR2 it lists). A measurement key's
// format is the evidence format that gives it (attest.Claims.Measurements).
//
// A value of all zeros measures nothing and pins nothing (zeroValue): PCR8
// is zero for every unsigned image, a TPM PCR4 before a boot manager ran.
var imageKeys = map[string]string{
	"kms:RecipientAttestation:ImageSha384":    "nitro",    // = PCR0
	"kms:RecipientAttestation:PCR0":           "nitro",    // the enclave image file
	"kms:RecipientAttestation:PCR2":           "nitro",    // the application
	"kms:RecipientAttestation:PCR8":           "nitro",    // the image's signing certificate
	"kms:RecipientAttestation/PCR0":           "qingtian", // as Nitro's
	"kms:RecipientAttestation/PCR2":           "qingtian",
	"kms:RecipientAttestation/PCR8":           "qingtian",
	"kms:RecipientAttestation:SnpMeasurement": "sev-snp", // the guest's launch measurement
	"kms:RecipientAttestation:TdxMrTd":        "tdx",     // the TD's initial contents
	"kms:RecipientAttestation:TpmPCR4":        "tpm2",    // the boot manager (boot loader or unified kernel image) the firmware ran
	"kms:RecipientAttestation:NitroTPMPCR4":   "nitrotpm",
}

// carriedAlways are the image keys that every genuine evidence of their
// format gives, as its verifier takes it: a Nitro or Qingtian document's
// PCR0 (attest/nitro refuses a document without it as malformed, in
// every mode, --allow-debug-enclaves too; it requires no other PCR, so not
// PCR2 or PCR8, which a device could leave out), an SEV-SNP report's MEASUREMENT, a TDX quote's
// MRTD, a NitroTPM document's PCR4 (it holds all 24 registers). No TPM
// quote key: its PCR selection is the quoter's choice.
var carriedAlways = map[string]bool{
	"kms:RecipientAttestation:ImageSha384":    true,
	"kms:RecipientAttestation:PCR0":           true,
	"kms:RecipientAttestation/PCR0":           true,
	"kms:RecipientAttestation:SnpMeasurement": true,
	"kms:RecipientAttestation:TdxMrTd":        true,
	"kms:RecipientAttestation:NitroTPMPCR4":   true,
}

// pcr2NeedsPCR1 maps each application register to the register that
// measures what ran before it (see imageKeys): it binds only beside a pin
// on that one.
var pcr2NeedsPCR1 = map[string]string{
	"kms:RecipientAttestation:PCR2": "kms:RecipientAttestation:PCR1",
	"kms:RecipientAttestation/PCR2": "kms:RecipientAttestation/PCR1",
}

// imageKeyNames lists the image keys for messages.
const imageKeyNames = "kms:RecipientAttestation:ImageSha384, :PCR0, :PCR8 or :PCR2 with :PCR1 (Nitro), kms:RecipientAttestation/PCR0, /PCR8 or /PCR2 with /PCR1 (Qingtian), " +
	":SnpMeasurement (SEV-SNP), :TdxMrTd (TDX), :TpmPCR4 (TPM 2.0), :NitroTPMPCR4 (NitroTPM)"

// pins reports whether the condition, when the request carries its key,
// holds only for the measurements it lists: a String operator, not negated,
// no value of all zeros (zeroValue), and for StringLike no wildcard (a
// hash's prefix is found by trying images).
func (c *condition) pins() bool {
	return !c.negated && c.listsMeasurements()
}

// listsMeasurements reports whether the condition's values are measurements
// a workload must match exactly: a StringEquals or StringLike operator
// (negated or not) whose values are neither all zeros (zeroValue) nor, for
// StringLike, wildcards.
func (c *condition) listsMeasurements() bool {
	if c.op != opEquals && c.op != opLike {
		return false
	}
	for _, v := range c.values {
		if zeroValue(v) || c.op == opLike && strings.ContainsAny(v, "*?") {
			return false
		}
	}
	return true
}

// zeroValue reports whether v is a register of all zeros, in hex: it
// measured nothing, so every workload that leaves it untouched has it
// (Nitro's and Qingtian's PCR8 for any unsigned image). A policy that
// lists it admits them all.
func zeroValue(v string) bool {
	return v != "" && strings.Trim(v, "0") == ""
}

// requiresFormat reports whether the statement applies only to evidence of
// format f: some condition on kms:RecipientAttestation:Format that does not
// hold without evidence and whose every value is f.
func (s *statement) requiresFormat(f string) bool {
	for i := range s.conditions {
		c := &s.conditions[i]
		if c.key != "kms:RecipientAttestation:Format" || c.op != opEquals || c.negated || c.holdsWhenAbsent() || len(c.values) == 0 {
			continue
		}
		all := true
		for _, v := range c.values {
			all = all && strings.EqualFold(v, f)
		}
		if all {
			return true
		}
	}
	return false
}

// bindsImage reports whether condition c of s admits only evidence that
// measures a workload image the policy names: it is on an image key, holds
// only for the values it lists, and either fails when the key is absent,
// or is an …IfExists condition in a statement that requires the format
// whose evidence always gives the key (carriedAlways).
func (s *statement) bindsImage(c *condition) bool {
	f, ok := imageKeys[c.key]
	if !ok || !c.pins() {
		return false
	}
	if pcr1, ok := pcr2NeedsPCR1[c.key]; ok && !s.pinsPresent(pcr1) {
		return false
	}
	return !c.holdsWhenAbsent() || c.ifExists && carriedAlways[c.key] && s.requiresFormat(f)
}

// pinsPresent reports whether some condition of s on key holds only for the
// values it lists and fails when the key is absent.
func (s *statement) pinsPresent(key string) bool {
	for i := range s.conditions {
		if c := &s.conditions[i]; c.key == key && c.pins() && !c.holdsWhenAbsent() {
			return true
		}
	}
	return false
}

// measuresImage reports whether some condition of the statement binds it to
// a workload image (bindsImage): then it applies neither to a caller without
// evidence nor to an enclave of an image the policy does not name.
func (s *statement) measuresImage() bool {
	for i := range s.conditions {
		if s.bindsImage(&s.conditions[i]) {
			return true
		}
	}
	return false
}

// deniesOtherImages reports whether a condition of a Deny holds for every
// request that does not carry one of the image measurements it lists,
// including one without evidence: a negated String condition on an image key
// that holds when the key is absent, with no wildcard and no zero value.
func (c *condition) deniesOtherImages() bool {
	// StringNotLike "*" lists every image, "ab*" every image whose hash a
	// forger finds by trying images, StringNotEquals zeros every unsigned
	// image: as in pins, no wildcard and no zero value.
	_, ok := imageKeys[c.key]
	_, app := pcr2NeedsPCR1[c.key] // an attacker's image has the genuine PCR2
	return ok && !app && c.negated && c.holdsWhenAbsent() && c.listsMeasurements()
}
