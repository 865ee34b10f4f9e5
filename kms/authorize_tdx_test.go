package kms

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/attest"
)

// TestAttestationPolicyTDX: TdxMrTd, TdxRtmr3, TdxMrConfigId and
// TdxTcbStatus admit only TDX evidence with those values; a TDX quote never
// meets a Nitro, SEV-SNP or TPM condition, nor they a TDX one.
func TestAttestationPolicyTDX(t *testing.T) {
	nitroX := newEnclave(t, 0xab)
	tdxOf := func(mrtd, rtmr3 byte, status string) *enclave {
		e := newEnclave(t, 1)
		e.claims = &attest.Claims{Format: attest.FormatTDX, PublicKey: e.claims.PublicKey, PublicKeyDER: e.claims.PublicKeyDER,
			TDX: &attest.TDXClaims{MRTD: bytes.Repeat([]byte{mrtd}, 48), RTMR: [4][]byte{make([]byte, 48), make([]byte, 48), make([]byte, 48), bytes.Repeat([]byte{rtmr3}, 48)},
				MRConfigID: make([]byte, 48), TCBStatus: status}}
		return e
	}
	snp := newEnclave(t, 1)
	snp.claims = &attest.Claims{Format: attest.FormatSEVSNP, PublicKey: snp.claims.PublicKey, PublicKeyDER: snp.claims.PublicKeyDER,
		SNP: &attest.SNPClaims{Measurement: bytes.Repeat([]byte{0xab}, 48), HostData: make([]byte, 32), ChipID: make([]byte, 64)}}
	// Index:            0       1                              2                              3                                       4
	encl := []*enclave{nitroX, tdxOf(0xab, 0x33, "UpToDate"), tdxOf(0xab, 0x34, "UpToDate"), tdxOf(0xcd, 0x33, "SWHardeningNeeded"), snp}
	s, _ := newAttestedService(t, &fakeVerifier{enclaves: encl}, false)
	c := s.testCall()
	acct := s.Account().AccountID
	keyWith := func(cond string) string {
		pol := `{"Version":"2012-10-17","Statement":[
		  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","kms:Encrypt"],"Resource":"*"},
		  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:GenerateDataKey","Resource":"*",
		   "Condition":{"StringEquals":` + cond + `}}]}`
		// Bypass: some conditions below name no measurement of the workload's
		// image (Format, SnpHostData, TdxRtmr3, TdxTcbStatus, ...), which the
		// safety check refuses; this test is about which evidence each admits.
		md, err := s.CreateKey(bg, c, &CreateKeyRequest{Policy: pol, BypassPolicyLockoutSafetyCheck: true})
		if err != nil {
			t.Fatal(err)
		}
		return md.KeyID
	}
	ab := strings.Repeat("ab", 48)
	for _, tc := range []struct {
		cond  string
		admit []byte
	}{
		{`{"kms:RecipientAttestation:TdxMrTd":"` + ab + `"}`, []byte{1, 2}},
		{`{"kms:RecipientAttestation:TdxMrTd":"` + strings.ToUpper(ab) + `","kms:RecipientAttestation:TdxRtmr3":"` + strings.Repeat("33", 48) + `"}`, []byte{1}},
		{`{"kms:RecipientAttestation:TdxRtmr3":"` + strings.Repeat("33", 48) + `"}`, []byte{1, 3}},
		{`{"kms:RecipientAttestation:TdxMrConfigId":"` + strings.Repeat("00", 48) + `"}`, []byte{1, 2, 3}},
		{`{"kms:RecipientAttestation:TdxTcbStatus":"UpToDate"}`, []byte{1, 2}},
		{`{"kms:RecipientAttestation:Format":"tdx"}`, []byte{1, 2, 3}},
		{`{"kms:RecipientAttestation:PCR0":"` + ab + `"}`, []byte{0}},
		{`{"kms:RecipientAttestation:SnpMeasurement":"` + ab + `"}`, []byte{4}},
	} {
		id := keyWith(tc.cond)
		for i := range encl {
			_, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: id, KeySpec: "AES_256", Recipient: encl[i].recipient(byte(i))})
			if bytes.IndexByte(tc.admit, byte(i)) >= 0 {
				if err != nil {
					t.Errorf("%s: enclave %d (%s) refused: %v", tc.cond, i, encl[i].claims.Format, err)
				}
				continue
			}
			if !errors.Is(err, ErrAccessDenied) {
				t.Errorf("%s: enclave %d (%s) = %v; want AccessDenied", tc.cond, i, encl[i].claims.Format, err)
			}
		}
	}
	// The audit summary names what the policy judged.
	if _, err := s.GenerateDataKey(bg, s.testCall(), &GenerateDataKeyRequest{KeyID: keyWith(`{"kms:RecipientAttestation:TdxMrTd":"` + ab + `"}`), KeySpec: "AES_256", Recipient: encl[1].recipient(1)}); err != nil {
		t.Fatal(err)
	}
	if a := lastRecord(t, s, "GenerateDataKey").Attestation; a == nil || a.Format != "tdx" || a.TdxMrTd != ab || a.TdxTcbStatus != "UpToDate" {
		t.Fatalf("tdx audit summary %+v", a)
	}
}

// TestAuditTDXStatuses: TdxTcbStatus is the worse of the platform's and the
// QE's statuses, so the audit record names both: an auditor sees why a key
// pinning SWHardeningNeeded admitted a platform that is UpToDate.
func TestAuditTDXStatuses(t *testing.T) {
	e := newEnclave(t, 1)
	e.claims = &attest.Claims{Format: attest.FormatTDX, PublicKey: e.claims.PublicKey, PublicKeyDER: e.claims.PublicKeyDER,
		TDX: &attest.TDXClaims{MRTD: make([]byte, 48), MRConfigID: make([]byte, 48), TCBStatus: "UpToDate", QETCBStatus: "SWHardeningNeeded"}}
	s, _ := newAttestedService(t, &fakeVerifier{enclaves: []*enclave{newEnclave(t, 0), e}}, false)
	c := s.testCall()
	acct := s.Account().AccountID
	pol := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":["kms:Create*","kms:Describe*","kms:Put*"],"Resource":"*"},
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:GenerateDataKey","Resource":"*",
	   "Condition":{"StringEquals":{"kms:RecipientAttestation:TdxTcbStatus":"SWHardeningNeeded"}}}]}`
	// Bypass: TdxTcbStatus is no measurement of the workload's image, which
	// the safety check refuses; this test is about the status audited.
	md, err := s.CreateKey(bg, c, &CreateKeyRequest{Policy: pol, BypassPolicyLockoutSafetyCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256", Recipient: e.recipient(1)}); err != nil {
		t.Fatal(err)
	}
	a := lastRecord(t, s, "GenerateDataKey").Attestation
	if a == nil || a.TdxTcbStatus != "UpToDate" || a.TdxQeTcbStatus != "SWHardeningNeeded" {
		t.Fatalf("tdx audit summary %+v; want the platform's status UpToDate and the QE's SWHardeningNeeded", a)
	}
}
