package attest

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// TestSummaryJSON pins the audit log's "attestation" object for each format
// byte for byte: audit lines are read by tools and tests.
func TestSummaryJSON(t *testing.T) {
	key := []byte("not really a key")
	at := time.Date(2024, 1, 24, 18, 14, 26, 500, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		c    *Claims
		want string
	}{
		{&Claims{Format: FormatNitro, Time: at, PublicKeyDER: key, ModuleID: "i-0123-enc0123", Digest: "SHA384",
			PCRs: map[int][]byte{0: {0xab, 0xcd}, 1: {0}}, UserData: []byte("secret?"), Nonce: []byte{1, 2}},
			`{"format":"nitro","module_id":"i-0123-enc0123","pcr0":"abcd","nonce":"0102","public_key_sha256":"d592d30f949df77f9015029414b25c1fc2e7aee460846349d8f2dcd4849b79f7","time":"2024-01-24T17:14:26.0000005Z"}`},
		{&Claims{Format: FormatQingtian, Time: at, PublicKeyDER: key, PCRs: map[int][]byte{0: make([]byte, 2)}, Debug: true},
			`{"format":"qingtian","pcr0":"0000","public_key_sha256":"d592d30f949df77f9015029414b25c1fc2e7aee460846349d8f2dcd4849b79f7","time":"2024-01-24T17:14:26.0000005Z","debug":true}`},
		{&Claims{Format: FormatSEVSNP, PublicKeyDER: key, SNP: &SNPClaims{Measurement: []byte{1}, HostData: []byte{2}, ChipID: []byte{3}, VMPL: 1}, Debug: true},
			`{"format":"sev-snp","snp_measurement":"01","snp_chip_id":"03","public_key_sha256":"d592d30f949df77f9015029414b25c1fc2e7aee460846349d8f2dcd4849b79f7","debug":true}`},
		{&Claims{Format: FormatTPM2, PublicKeyDER: key, TPM: &TPMClaims{Bank: "SHA256", PCRs: map[int][]byte{7: {7}, 10: {0x10}}}},
			`{"format":"tpm2","tpm_bank":"SHA256","tpm_pcrs":{"10":"10","7":"07"},"public_key_sha256":"d592d30f949df77f9015029414b25c1fc2e7aee460846349d8f2dcd4849b79f7"}`},
		{&Claims{Format: FormatTDX, PublicKeyDER: key, TDX: &TDXClaims{MRTD: []byte{0xab}, TCBStatus: "UpToDate", QETCBStatus: "OutOfDate"}},
			`{"format":"tdx","tdx_mrtd":"ab","tdx_tcb_status":"UpToDate","tdx_qe_tcb_status":"OutOfDate","public_key_sha256":"d592d30f949df77f9015029414b25c1fc2e7aee460846349d8f2dcd4849b79f7"}`},
	} {
		got, err := json.Marshal(tc.c.Summary())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, []byte(tc.want)) {
			t.Errorf("%s:\n got %s\nwant %s", tc.c.Format, got, tc.want)
		}
	}
}
