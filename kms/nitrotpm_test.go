package kms

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/attest"
)

// TestNitroTPMPolicy: NitroTPMPCRn conditions admit only NitroTPM documents
// with that register's value; a Nitro Enclave's PCRn with the same value
// never satisfies them, nor a NitroTPM register a Nitro Enclave's PCRn or
// ImageSha384.
func TestNitroTPMPolicy(t *testing.T) {
	x, y := bytes.Repeat([]byte{0x44}, 48), bytes.Repeat([]byte{0x45}, 48)
	enclaveWith := func(pcr4 []byte) *enclave {
		e := newEnclave(t, 0x44) // PCR0 = 44..44 too
		e.claims.PCRs[4] = pcr4
		return e
	}
	tpmWith := func(pcr4 []byte) *enclave {
		e := newEnclave(t, 1)
		regs := map[int][]byte{}
		for i := range 24 {
			regs[i] = bytes.Repeat([]byte{0x44}, 48) // register 0 = the enclave's PCR0
		}
		regs[4] = pcr4
		e.claims = &attest.Claims{Format: attest.FormatNitroTPM, PublicKey: e.claims.PublicKey, PublicKeyDER: e.claims.PublicKeyDER,
			ModuleID: "i-0123456789abcdef0-tpm0123456789abcdef", Digest: "SHA384", NitroTPMPCRs: regs, KeyType: "RSA-2048"}
		return e
	}
	// Index:            0               1           2
	encl := []*enclave{enclaveWith(x), tpmWith(x), tpmWith(y)}
	s, _ := newAttestedService(t, &fakeVerifier{enclaves: encl}, false)
	c := s.testCall()
	hexX, hexY := strings.Repeat("44", 48), strings.Repeat("45", 48)
	for _, tc := range []struct {
		cond  string
		admit []byte
	}{
		{`{"kms:RecipientAttestation:NitroTPMPCR4":"` + hexX + `"}`, []byte{1}},
		{`{"kms:RecipientAttestation:NitroTPMPCR4":"` + hexY + `"}`, []byte{2}},
		{`{"kms:RecipientAttestation:NitroTPMPCR0":"` + hexX + `"}`, []byte{1, 2}},
		{`{"kms:RecipientAttestation:PCR4":"` + hexX + `"}`, []byte{0}},
		{`{"kms:RecipientAttestation:PCR0":"` + hexX + `"}`, []byte{0}},
		{`{"kms:RecipientAttestation:ImageSha384":"` + hexX + `"}`, []byte{0}},
		{`{"kms:RecipientAttestation:Format":"nitrotpm"}`, []byte{1, 2}},
		{`{"kms:RecipientAttestation:TpmPCR4":"` + hexX + `"}`, nil},
	} {
		id := attestedKey(t, s, tc.cond)
		for i := range encl {
			_, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: id, KeySpec: "AES_256", Recipient: encl[i].recipient(byte(i))})
			if bytes.IndexByte(tc.admit, byte(i)) >= 0 {
				if err != nil {
					t.Errorf("%s: document %d (%s) refused: %v", tc.cond, i, encl[i].claims.Format, err)
				}
				continue
			}
			if !errors.Is(err, ErrAccessDenied) {
				t.Errorf("%s: document %d (%s) = %v; want AccessDenied", tc.cond, i, encl[i].claims.Format, err)
			}
		}
	}
	call := s.testCall()
	if _, err := s.GenerateDataKey(bg, call, &GenerateDataKeyRequest{KeyID: attestedKey(t, s, `{"kms:RecipientAttestation:Format":"nitrotpm"}`), KeySpec: "AES_256", Recipient: encl[1].recipient(1)}); err != nil {
		t.Fatal(err)
	}
	if a := lastRecord(t, s, "GenerateDataKey").Attestation; a == nil || a.Format != "nitrotpm" || a.NitroTPMPCRs[4] != hexX || a.PCR0 != "" {
		t.Fatalf("nitrotpm audit summary %+v", a)
	}
}

// TestNitroTPMKeyUnusable: genuine claims whose key cannot receive a secret
// (an EC P-256 key) are refused as a Recipient, with the reason, before any
// secret exists.
func TestNitroTPMKeyUnusable(t *testing.T) {
	e := newEnclave(t, 1)
	why := fmt.Errorf("%w: public_key is not an RSA key but ECDSA P-256; secrets are wrapped to RSA keys only", attest.ErrKey)
	e.claims = &attest.Claims{Format: attest.FormatNitroTPM, ModuleID: "i-0123456789abcdef0-tpm0123456789abcdef", Digest: "SHA384",
		NitroTPMPCRs: map[int][]byte{4: make([]byte, 48)}, KeyType: "EC P-256", KeyUnusable: why, PublicKeyDER: []byte{1}}
	s, _ := newAttestedService(t, &fakeVerifier{enclaves: []*enclave{e}}, false)
	id := attestedKey(t, s, `{"kms:RecipientAttestation:Format":"nitrotpm"}`)
	_, err := s.GenerateDataKey(bg, s.testCall(), &GenerateDataKeyRequest{KeyID: id, KeySpec: "AES_256", Recipient: e.recipient(0)})
	wantKind(t, err, ErrInvalidRecipient)
	if !errors.Is(err, attest.ErrKey) || !strings.Contains(err.Error(), "EC P-256") || !strings.Contains(err.Error(), "RSAES_OAEP_SHA_256") {
		t.Fatalf("error %v", err)
	}
}

// attestedKey makes a key whose policy allows GenerateDataKey under cond.
func attestedKey(t *testing.T, s *Service, cond string) string {
	t.Helper()
	acct := s.Account().AccountID
	pol := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":["kms:Create*","kms:Describe*","kms:Put*","kms:Get*"],"Resource":"*"},
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:GenerateDataKey","Resource":"*",
	   "Condition":{"StringEquals":` + cond + `}}]}`
	// Bypass: some conditions of the tests name no measurement of the
	// workload's image (Format, NitroTPMPCR0), which the safety check
	// refuses; these tests are about which evidence each admits.
	md, err := s.CreateKey(bg, s.testCall(), &CreateKeyRequest{Policy: pol, BypassPolicyLockoutSafetyCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	return md.KeyID
}
