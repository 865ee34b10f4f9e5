package kms

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/kms/internal/policy"
)

// TestConditionFacts: each condition key the server evaluates takes its
// value from what the server verified or knows, as policy/keys.go lists:
// the connection, the clock, the key, and the alias the request used.
func TestConditionFacts(t *testing.T) {
	s, clk := newTestService(t)
	c := s.testCall()
	acct := s.Account().AccountID
	md := mustKey(t, s, "", "")
	if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/app", TargetKeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}
	admin := `{"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:PutKeyPolicy","kms:DescribeKey"]}`
	withPolicy := func(cond string) {
		t.Helper()
		pol := `{"Version":"2012-10-17","Statement":[` + admin + `,
		  {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:Encrypt","Condition":` + cond + `}]}`
		if _, err := s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: pol}); err != nil {
			t.Fatal(err)
		}
	}
	encrypt := func(call *Call, keyID string) error {
		_, err := s.Encrypt(bg, call, &EncryptRequest{KeyID: keyID, Plaintext: []byte("x")})
		return err
	}
	denied := func(err error) bool {
		return err != nil && strings.Contains(err.Error(), "no resource-based policy allows")
	}
	call := func(mod func(*Call)) *Call { cc := s.testCall(); mod(cc); return cc }

	withPolicy(`{"Bool":{"aws:SecureTransport":"true"}}`)
	if err := encrypt(call(func(cc *Call) { cc.SecureTransport = true }), md.KeyID); err != nil {
		t.Errorf("over TLS: %v", err)
	}
	if err := encrypt(c, md.KeyID); !denied(err) {
		t.Errorf("over plain HTTP: %v", err)
	}

	withPolicy(`{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`)
	if err := encrypt(call(func(cc *Call) { cc.SourceIP = "10.1.2.3" }), md.KeyID); err != nil {
		t.Errorf("from 10.1.2.3: %v", err)
	}
	if err := encrypt(call(func(cc *Call) { cc.SourceIP = "192.0.2.1" }), md.KeyID); !denied(err) {
		t.Errorf("from 192.0.2.1: %v", err)
	}
	if err := encrypt(c, md.KeyID); !denied(err) {
		t.Errorf("from an unknown peer: %v", err)
	}

	withPolicy(`{"DateLessThan":{"aws:CurrentTime":"2026-11-23T12:30:00Z"},"NumericLessThan":{"aws:EpochTime":"` + strconv.FormatInt(clk.now().Add(30*time.Minute).Unix(), 10) + `"}}`)
	if err := encrypt(c, md.KeyID); err != nil {
		t.Errorf("before the date: %v", err)
	}
	clk.add(time.Hour)
	if err := encrypt(c, md.KeyID); !denied(err) {
		t.Errorf("after the date: %v", err)
	}

	withPolicy(`{"StringEquals":{"kms:RequestAlias":"alias/app"}}`)
	if err := encrypt(s.testCall(), "alias/app"); err != nil {
		t.Errorf("by alias: %v", err)
	}
	if err := encrypt(s.testCall(), "arn:aws:kms:us-east-1:"+acct+":alias/app"); err != nil {
		t.Errorf("by alias ARN: %v", err)
	}
	if err := encrypt(s.testCall(), md.KeyID); !denied(err) {
		t.Errorf("by key id: %v", err)
	}

	// kms:ResourceAliases: every alias of the key, however the request
	// names it.
	withPolicy(`{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/app"}}`)
	if err := encrypt(c, md.KeyID); err != nil {
		t.Errorf("by key id, the key has the alias: %v", err)
	}
	aliasOp := func(op func() error) {
		t.Helper()
		if _, err := s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: defaultPolicy(s.Account())}); err != nil {
			t.Fatal(err)
		}
		if err := op(); err != nil {
			t.Fatal(err)
		}
	}
	aliasOp(func() error {
		return errOf(s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/second", TargetKeyID: md.KeyID}))
	})
	withPolicy(`{"ForAllValues:StringEquals":{"kms:ResourceAliases":["alias/app","alias/second"]},"Null":{"kms:ResourceAliases":"false"}}`)
	if err := encrypt(c, "alias/second"); err != nil {
		t.Errorf("both aliases: %v", err)
	}
	aliasOp(func() error { return errOf(s.DeleteAlias(bg, c, &DeleteAliasRequest{AliasName: "alias/app"})) })
	withPolicy(`{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/app"}}`)
	if err := encrypt(c, md.KeyID); !denied(err) {
		t.Errorf("the alias is gone: %v", err)
	}

	withPolicy(`{"StringEquals":{"kms:KeySpec":"SYMMETRIC_DEFAULT","kms:KeyUsage":"ENCRYPT_DECRYPT","kms:KeyOrigin":"AWS_KMS","kms:CallerAccount":"` + acct + `","aws:RequestedRegion":"us-east-1"},"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::` + acct + `:root"}}`)
	if err := encrypt(c, md.KeyID); err != nil {
		t.Errorf("the key's facts: %v", err)
	}
	withPolicy(`{"StringEquals":{"kms:KeySpec":"ECC_NIST_P256"}}`)
	if err := encrypt(c, md.KeyID); !denied(err) {
		t.Errorf("another key spec: %v", err)
	}
}

// A policy that fails a safety check is stored only with the bypass, and
// its audit record names which checks it skipped.
func TestBypassedChecksRecorded(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	acct := s.Account().AccountID
	md := mustKey(t, s, "", "")
	unsafe := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"manage","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"NotAction":["kms:Decrypt","kms:GenerateDataKey"]},
	  {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Decrypt","kms:GenerateDataKey"],
	   "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"ab"}}}]}`
	_, err := s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: unsafe})
	wantKind(t, err, ErrMalformedPolicy)
	for _, want := range []string{`statement 0 (Sid "manage")`, "kms:DeriveSharedSecret", "NotAction", "BypassPolicyLockoutSafetyCheck"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal does not say %q: %v", want, err)
		}
	}
	if r := lastRecord(t, s, "PutKeyPolicy"); r.BypassedChecks != nil || r.Outcome != "error" {
		t.Errorf("a refusal records bypassed checks: %+v", r)
	}
	if p, err := s.GetKeyPolicy(bg, c, &GetKeyPolicyRequest{KeyID: md.KeyID}); err != nil || p.Policy != defaultPolicy(s.Account()) {
		t.Fatal("a refused policy was stored")
	}
	if _, err := s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: unsafe, BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatal(err)
	}
	if r := lastRecord(t, s, "PutKeyPolicy"); strings.Join(r.BypassedChecks, ",") != CheckAttestationSafety || !r.Change {
		t.Errorf("bypassed checks %+v", r)
	}
	// The gate still holds.
	g, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256"})
	wantKind(t, err, ErrAccessDenied)
	if g != nil || !strings.Contains(err.Error(), "attestation-bound") {
		t.Errorf("GenerateDataKey: %v %v", g, err)
	}
	// A lockout and an unsafe policy at once: both named.
	c2 := s.testCall()
	both := strings.Replace(unsafe, `"NotAction":["kms:Decrypt","kms:GenerateDataKey"]`, `"NotAction":["kms:Decrypt","kms:GenerateDataKey","kms:PutKeyPolicy"]`, 1)
	if _, err := s.CreateKey(bg, c2, &CreateKeyRequest{Policy: both, BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatal(err)
	}
	if r := lastRecord(t, s, "CreateKey"); strings.Join(r.BypassedChecks, ",") != CheckLockout+","+CheckAttestationSafety {
		t.Errorf("bypassed checks %+v", r)
	}
	// A safe policy with the bypass flag records nothing.
	c3 := s.testCall()
	if _, err := s.CreateKey(bg, c3, &CreateKeyRequest{Policy: defaultPolicy(s.Account()), BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatal(err)
	}
	if r := lastRecord(t, s, "CreateKey"); r.BypassedChecks != nil {
		t.Errorf("bypassed checks %+v", r)
	}
}

func TestAttestationPolicy(t *testing.T) {
	x, y := newEnclave(t, 0xab), newEnclave(t, 0xcd)
	v := &fakeVerifier{enclaves: []*enclave{x, y}}
	s, _ := newAttestedService(t, v, false)
	c := s.testCall()
	acct := s.Account().AccountID
	// The admin may manage the key; Decrypt and GenerateDataKey only for
	// an enclave whose image is X (upper-case hex in the policy on purpose).
	pol := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},
	   "Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","kms:Encrypt"],"Resource":"*"},
	  {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},
	   "Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
	   "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + strings.Repeat("AB", 48) + `"}}}]}`
	md, err := s.CreateKey(bg, c, &CreateKeyRequest{Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	gdk := func(r *Recipient) error {
		_, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256", Recipient: r})
		return err
	}
	if err := gdk(x.recipient(0)); err != nil {
		t.Fatalf("enclave X refused: %v", err)
	}
	err = gdk(y.recipient(1))
	wantKind(t, err, ErrAccessDenied)
	if !strings.Contains(err.Error(), "kms:GenerateDataKey") {
		t.Fatalf("denial does not name the action: %v", err)
	}
	wantKind(t, gdk(nil), ErrAccessDenied) // no Recipient: no attestation keys, no match
	// Encrypt is allowed to the admin without attestation.
	enc, err := s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob})
	wantKind(t, err, ErrAccessDenied)
	if _, err := s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: enc.CiphertextBlob, Recipient: x.recipient(0)}); err != nil {
		t.Fatal(err)
	}

	// Another principal of the account is bound by the same policy; one
	// not named by it is denied everything.
	other := &Call{RequestID: "o", Principal: &Principal{ARN: "arn:aws:iam::" + acct + ":user/ci"}}
	if _, err := s.DescribeKey(bg, other, &DescribeKeyRequest{KeyID: md.KeyID}); err != nil {
		t.Fatalf("account user refused DescribeKey: %v", err)
	}
	stranger := &Call{RequestID: "s", Principal: &Principal{ARN: "arn:aws:iam::999999999999:root"}}
	_, err = s.DescribeKey(bg, stranger, &DescribeKeyRequest{KeyID: md.KeyID})
	wantKind(t, err, ErrAccessDenied)

	// An explicit Deny beats every Allow.
	deny := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*"}]}`
	if _, err := s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: deny}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Encrypt(bg, c, &EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("x")})
	wantKind(t, err, ErrAccessDenied)
	if !strings.Contains(err.Error(), "explicit deny") {
		t.Fatalf("explicit deny not said: %v", err)
	}
}

func TestPolicyLockoutCheck(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	md := mustKey(t, s, "", "")
	lockout := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`
	wantKind(t, errOf(s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: lockout})), ErrMalformedPolicy)
	_, err := s.CreateKey(bg, c, &CreateKeyRequest{Policy: lockout})
	wantKind(t, err, ErrMalformedPolicy)
	wantKind(t, errOf(s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: `{"Statement":[{"Effect":"Allow","Action":"kms:*"}]}`})), ErrMalformedPolicy)
	// Bypassed, it is stored — and then the admin is locked out.
	if _, err := s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: lockout, BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatal(err)
	}
	_, err = s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID})
	wantKind(t, err, ErrAccessDenied)
	wantKind(t, errOf(s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: defaultPolicy(s.Account())})), ErrAccessDenied)
}

// TestAttestationPolicyAcrossFormats: each format's condition keys admit
// only evidence of that format with that value; a Nitro PCR0 condition is
// never met by a TPM's PCR0, nor an SNP measurement by anything else.
func TestAttestationPolicyAcrossFormats(t *testing.T) {
	nitroX := newEnclave(t, 0xab)
	snpOf := func(m byte) *enclave {
		e := newEnclave(t, 1)
		e.claims = &attest.Claims{Format: attest.FormatSEVSNP, PublicKey: e.claims.PublicKey, PublicKeyDER: e.claims.PublicKeyDER,
			SNP: &attest.SNPClaims{Measurement: bytes.Repeat([]byte{m}, 48), HostData: make([]byte, 32), ChipID: make([]byte, 64)}}
		return e
	}
	tpmOf := func(pcr7 byte) *enclave {
		e := newEnclave(t, 1)
		e.claims = &attest.Claims{Format: attest.FormatTPM2, PublicKey: e.claims.PublicKey, PublicKeyDER: e.claims.PublicKeyDER,
			TPM: &attest.TPMClaims{Bank: "SHA256", PCRs: map[int][]byte{0: bytes.Repeat([]byte{0xab}, 48), 7: bytes.Repeat([]byte{pcr7}, 32)}}}
		return e
	}
	// Index:            0       1             2             3            4
	encl := []*enclave{nitroX, snpOf(0x5e), snpOf(0x66), tpmOf(0x77), tpmOf(0x78)}
	v := &fakeVerifier{enclaves: encl}
	s, _ := newAttestedService(t, v, false)
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
	pcr0 := strings.Repeat("ab", 48)
	cases := []struct {
		cond  string
		admit []byte // enclave indices admitted; every other one is denied
	}{
		{`{"kms:RecipientAttestation:PCR0":"` + pcr0 + `"}`, []byte{0}},
		{`{"kms:RecipientAttestation:SnpMeasurement":"` + strings.Repeat("5E", 48) + `"}`, []byte{1}},
		{`{"kms:RecipientAttestation:SnpHostData":"` + strings.Repeat("00", 32) + `"}`, []byte{1, 2}},
		{`{"kms:RecipientAttestation:TpmPCR7":"` + strings.Repeat("77", 32) + `"}`, []byte{3}},
		{`{"kms:RecipientAttestation:TpmPCR0":"` + pcr0 + `"}`, []byte{3, 4}},
		{`{"kms:RecipientAttestation:Format":"sev-snp"}`, []byte{1, 2}},
		{`{"kms:RecipientAttestation:Format":"tpm2","kms:RecipientAttestation:TpmPCR7":"` + strings.Repeat("78", 32) + `"}`, []byte{4}},
	}
	for _, tc := range cases {
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
	call := s.testCall()
	if _, err := s.GenerateDataKey(bg, call, &GenerateDataKeyRequest{KeyID: keyWith(`{"kms:RecipientAttestation:TpmPCR7":"` + strings.Repeat("77", 32) + `"}`), KeySpec: "AES_256", Recipient: encl[3].recipient(3)}); err != nil {
		t.Fatal(err)
	}
	if a := lastRecord(t, s, "GenerateDataKey").Attestation; a == nil || a.Format != "tpm2" || a.TpmBank != "SHA256" || a.TpmPCRs[7] != strings.Repeat("77", 32) || !a.Time.IsZero() {
		t.Fatalf("tpm2 audit summary %+v", a)
	}
}

// BenchmarkAuthorize is the policy decision of one keyed request: the
// attestation gate, the request's condition context and Evaluate, on the
// default policy and on an enclave-only one; the raw cryptography of the
// cheapest operation it guards (one AES-GCM seal, BenchmarkSealBlob) is the
// yardstick.
func BenchmarkAuthorize(b *testing.B) {
	s, _ := newTestService(b)
	c := s.testCall()
	acct := s.Account().AccountID
	enclave := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"manage","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","kms:Encrypt"],"Resource":"*"},
	 {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"ab"}}}]}`
	for _, tc := range []struct{ name, policy, action string }{
		{"default", "", "kms:GenerateDataKey"},
		{"enclave-only/Encrypt", enclave, "kms:Encrypt"},
	} {
		md, err := s.CreateKey(bg, c, &CreateKeyRequest{Policy: tc.policy})
		if err != nil {
			b.Fatal(err)
		}
		k, err := s.loadKey(bg, c, md.KeyID)
		if err != nil {
			b.Fatal(err)
		}
		ec := EncryptionContext{"app": "bench"}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := s.authorize(c, k, tc.action, nil, ec); err != nil {
					b.Fatal(err)
				}
			}
		})
		k.release()
	}
}

// TestIdentityPolicyDelegation: a key policy Allow to the account delegates
// to a caller's identity policy; one to the caller's ARN does not; an
// explicit Deny in either wins; a credential without an identity policy is
// judged as before; the attestation gate is unchanged.
func TestIdentityPolicyDelegation(t *testing.T) {
	s, _ := newTestService(t)
	admin := s.adminCall(t)
	acct := s.Account().AccountID
	ciKey := mustKey(t, s, "", "")
	otherKey := mustKey(t, s, "", "")
	if _, err := s.CreateAlias(bg, admin, &CreateAliasRequest{AliasName: "alias/ci", TargetKeyID: ciKey.KeyID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAlias(bg, admin, &CreateAliasRequest{AliasName: "alias/zz-other", TargetKeyID: otherKey.KeyID}); err != nil {
		t.Fatal(err)
	}
	encrypt := func(keyID string) []byte {
		t.Helper()
		enc, err := s.Encrypt(bg, admin, &EncryptRequest{KeyID: keyID, Plaintext: []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		return enc.CiphertextBlob
	}
	ciBlob, otherBlob := encrypt(ciKey.KeyID), encrypt(otherKey.KeyID)

	ci := mustCredential(t, s, &CreateCredentialRequest{Name: "ci", IdentityPolicy: `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/ci"}}}]}`})
	ciCall := s.callAs(t, ci.AccessKeyID)
	plain := mustCredential(t, s, &CreateCredentialRequest{Name: "plain"})
	plainCall := s.callAs(t, plain.AccessKeyID)

	decrypt := func(c *Call, blob []byte, keyID string) error {
		return errOf(s.Decrypt(bg, c, &DecryptRequest{CiphertextBlob: blob, KeyID: keyID}))
	}
	says := func(err error, want string) bool {
		return errors.Is(err, ErrAccessDenied) && strings.Contains(err.Error(), want)
	}
	const noIdentity = "because no identity-based policy allows"

	// The default key policy allows the account: delegated.
	if err := decrypt(ciCall, ciBlob, ""); err != nil {
		t.Errorf("Decrypt under the alias's key, no KeyId: %v", err)
	}
	if err := decrypt(ciCall, ciBlob, "alias/ci"); err != nil {
		t.Errorf("Decrypt under the alias's key, by alias: %v", err)
	}
	if err := decrypt(ciCall, otherBlob, ""); !says(err, noIdentity) {
		t.Errorf("Decrypt under another key: %v", err)
	}
	if err := errOf(s.Encrypt(bg, ciCall, &EncryptRequest{KeyID: "alias/ci", Plaintext: []byte("x")})); !says(err, noIdentity) {
		t.Errorf("another action on the alias's key: %v", err)
	}
	if err := errOf(s.DescribeKey(bg, ciCall, &DescribeKeyRequest{KeyID: ciKey.KeyID})); !says(err, noIdentity) {
		t.Errorf("DescribeKey: %v", err)
	}
	// A key management action, judged in its write transaction, reads the
	// aliases too.
	if err := errOf(s.DisableKey(bg, ciCall, &DisableKeyRequest{KeyID: ciKey.KeyID})); !says(err, noIdentity) {
		t.Errorf("DisableKey: %v", err)
	}
	// Without an identity policy, the account's credentials are in.
	if err := decrypt(plainCall, otherBlob, ""); err != nil {
		t.Errorf("a credential without an identity policy: %v", err)
	}
	if err := errOf(s.Encrypt(bg, plainCall, &EncryptRequest{KeyID: otherKey.KeyID, Plaintext: []byte("x")})); err != nil {
		t.Errorf("a credential without an identity policy encrypts: %v", err)
	}

	// A key policy that names the caller itself needs no identity policy;
	// an explicit Deny in the identity policy beats it.
	ciARN := "arn:aws:iam::" + acct + ":user/ci"
	pol := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:*"},
	  {"Effect":"Allow","Principal":{"AWS":"` + ciARN + `"},"Action":["kms:Decrypt","kms:Encrypt"]}]}`
	if _, err := s.PutKeyPolicy(bg, admin, &PutKeyPolicyRequest{KeyID: otherKey.KeyID, Policy: pol}); err != nil {
		t.Fatal(err)
	}
	if err := decrypt(ciCall, otherBlob, ""); err != nil {
		t.Errorf("a key policy naming the caller: %v", err)
	}
	if err := errOf(s.Encrypt(bg, ciCall, &EncryptRequest{KeyID: otherKey.KeyID, Plaintext: []byte("x")})); err != nil {
		t.Errorf("a key policy naming the caller, Encrypt: %v", err)
	}
	denier := mustCredential(t, s, &CreateCredentialRequest{Name: "denier", IdentityPolicy: `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"kms:*","Resource":"*"},
	  {"Effect":"Deny","Action":"kms:Decrypt","Resource":"` + otherKey.KeyARN + `"}]}`})
	pol = `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:*"},
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:user/denier"},"Action":"kms:Decrypt"}]}`
	if _, err := s.PutKeyPolicy(bg, admin, &PutKeyPolicyRequest{KeyID: otherKey.KeyID, Policy: pol}); err != nil {
		t.Fatal(err)
	}
	denierCall := s.callAs(t, denier.AccessKeyID)
	if err := decrypt(denierCall, otherBlob, ""); !says(err, "with an explicit deny in an identity-based policy") {
		t.Errorf("an identity Deny against a key policy naming the caller: %v", err)
	}
	if err := decrypt(denierCall, ciBlob, ""); err != nil {
		t.Errorf("the identity policy allows the other key: %v", err)
	}
	// An explicit Deny in the key policy wins over the identity policy.
	pol = `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:*"},
	  {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::` + acct + `:user/denier"},"Action":"kms:Encrypt"}]}`
	if _, err := s.PutKeyPolicy(bg, admin, &PutKeyPolicyRequest{KeyID: otherKey.KeyID, Policy: pol}); err != nil {
		t.Fatal(err)
	}
	if err := errOf(s.Encrypt(bg, denierCall, &EncryptRequest{KeyID: otherKey.KeyID, Plaintext: []byte("x")})); !says(err, "explicit deny in a resource-based policy") {
		t.Errorf("a key policy Deny: %v", err)
	}
	// The identity policy cannot widen: a key policy that allows nothing
	// to the account allows nothing.
	pol = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:PutKeyPolicy","kms:Encrypt"]}]}`
	if _, err := s.PutKeyPolicy(bg, admin, &PutKeyPolicyRequest{KeyID: otherKey.KeyID, Policy: pol}); err != nil {
		t.Fatal(err)
	}
	wide := mustCredential(t, s, &CreateCredentialRequest{Name: "wide", IdentityPolicy: `{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`})
	if err := decrypt(s.callAs(t, wide.AccessKeyID), encrypt(otherKey.KeyID), ""); !says(err, "no resource-based policy allows") {
		t.Errorf("an identity policy allowing what the key policy does not: %v", err)
	}
}

// TestDecideTable is the delegation rule, case by case.
func TestDecideTable(t *testing.T) {
	d := func(x policy.Decision) *policy.Decision { return &x }
	for _, tc := range []struct {
		key      policy.Decision
		grant    policy.Grant
		identity *policy.Decision
		want     verdict
	}{
		{policy.Allow, policy.GrantAccount, nil, allowed},
		{policy.Allow, policy.GrantCaller, nil, allowed},
		{policy.Deny, policy.GrantNone, nil, keyPolicyDoesNotAllow},
		{policy.ExplicitDeny, policy.GrantNone, nil, keyPolicyDenies},
		{policy.Allow, policy.GrantAccount, d(policy.Allow), allowed},
		{policy.Allow, policy.GrantAccount, d(policy.Deny), identityPolicyDoesNotAllow},
		{policy.Allow, policy.GrantAccount, d(policy.ExplicitDeny), identityPolicyDenies},
		{policy.Allow, policy.GrantCaller, d(policy.Deny), allowed},
		{policy.Allow, policy.GrantCaller, d(policy.ExplicitDeny), identityPolicyDenies},
		{policy.Deny, policy.GrantNone, d(policy.Allow), keyPolicyDoesNotAllow},
		{policy.Deny, policy.GrantNone, d(policy.ExplicitDeny), identityPolicyDenies},
		{policy.ExplicitDeny, policy.GrantNone, d(policy.Allow), keyPolicyDenies},
	} {
		if got := decide(tc.key, tc.grant, tc.identity); got != tc.want {
			t.Errorf("decide(%v, %v, %v) = %v, want %v", tc.key, tc.grant, tc.identity, got, tc.want)
		}
	}
}

// TestIdentityPolicyAndTheGate: an identity policy cannot open the
// attestation gate, and its own attestation conditions only narrow.
func TestIdentityPolicyAndTheGate(t *testing.T) {
	e := newEnclave(t, 0xab)
	v := &fakeVerifier{enclaves: []*enclave{e}}
	s, _ := newAttestedService(t, v, false)
	admin := s.adminCall(t)
	acct := s.Account().AccountID
	bound := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:PutKeyPolicy","kms:Encrypt","kms:DescribeKey"]},
	  {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:GenerateDataKey",
	   "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + strings.Repeat("ab", 48) + `"}}}]}`
	md, err := s.CreateKey(bg, admin, &CreateKeyRequest{Policy: bound})
	if err != nil {
		t.Fatal(err)
	}
	ci := mustCredential(t, s, &CreateCredentialRequest{Name: "ci", IdentityPolicy: `{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`})
	c := s.callAs(t, ci.AccessKeyID)
	_, err = s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256"})
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "attestation-bound") {
		t.Fatalf("an identity policy allowing kms:* opened the gate: %v", err)
	}
	if _, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256", Recipient: e.recipient(0)}); err != nil {
		t.Fatalf("with a Recipient: %v", err)
	}
	// An identity policy that wants another image narrows it away.
	other := mustCredential(t, s, &CreateCredentialRequest{Name: "other", IdentityPolicy: `{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + strings.Repeat("cd", 48) + `"}}}]}`})
	_, err = s.GenerateDataKey(bg, s.callAs(t, other.AccessKeyID), &GenerateDataKeyRequest{KeyID: md.KeyID, KeySpec: "AES_256", Recipient: e.recipient(0)})
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "no identity-based policy allows") {
		t.Fatalf("an identity policy wanting another image: %v", err)
	}
}
