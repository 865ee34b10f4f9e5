package attest

import "testing"

// TestNitroTPMConditionKeys: NitroTPMPCR0..23 exist, in any case, written
// canonically; 24 and leading zeros do not.
func TestNitroTPMConditionKeys(t *testing.T) {
	for key, want := range map[string]string{
		"kms:RecipientAttestation:NitroTPMPCR0":  "kms:RecipientAttestation:NitroTPMPCR0",
		"kms:RecipientAttestation:NitroTPMPCR23": "kms:RecipientAttestation:NitroTPMPCR23",
		"KMS:RECIPIENTATTESTATION:NITROTPMPCR4":  "kms:RecipientAttestation:NitroTPMPCR4",
		"kms:RecipientAttestation:NitroTPMPCR24": "",
		"kms:RecipientAttestation:NitroTPMPCR04": "",
		"kms:RecipientAttestation:NitroTPMPCR":   "",
		"kms:RecipientAttestation/NitroTPMPCR4":  "",
	} {
		got, ok := IsConditionKey(key)
		if got != want || ok != (want != "") {
			t.Errorf("IsConditionKey(%q) = %q, %v; want %q", key, got, ok, want)
		}
	}
}

// TestNitroTPMMeasurements: NitroTPM claims give their own keys only, and
// Nitro Enclave claims never NitroTPM's.
func TestNitroTPMMeasurements(t *testing.T) {
	tpm := &Claims{Format: FormatNitroTPM, NitroTPMPCRs: map[int][]byte{0: {0xab}, 4: {0xcd}}, PCRs: map[int][]byte{0: {1}}}
	m := tpm.Measurements()
	if len(m) != 3 || m[AttestationPrefix+"NitroTPMPCR4"] != "cd" || m[AttestationPrefix+"Format"] != "nitrotpm" {
		t.Fatalf("%v", m)
	}
	enc := &Claims{Format: FormatNitro, PCRs: map[int][]byte{0: {0xab}}, NitroTPMPCRs: map[int][]byte{0: {0xab}}}
	for k := range enc.Measurements() {
		if k == AttestationPrefix+"NitroTPMPCR0" {
			t.Fatal("an enclave document gives NitroTPMPCR0")
		}
	}
}
