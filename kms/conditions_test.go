package kms

import (
	"strconv"
	"strings"
	"testing"
	"time"
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
// the call records which checks it skipped, for the audit line.
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
	if c.BypassedChecks != nil {
		t.Errorf("a refusal records bypassed checks: %v", c.BypassedChecks)
	}
	if p, err := s.GetKeyPolicy(bg, c, &GetKeyPolicyRequest{KeyID: md.KeyID}); err != nil || p.Policy != defaultPolicy(s.Account()) {
		t.Fatal("a refused policy was stored")
	}
	if _, err := s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: unsafe, BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.BypassedChecks, ",") != CheckAttestationSafety {
		t.Errorf("bypassed checks %v", c.BypassedChecks)
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
	if strings.Join(c2.BypassedChecks, ",") != CheckLockout+","+CheckAttestationSafety {
		t.Errorf("bypassed checks %v", c2.BypassedChecks)
	}
	// A safe policy with the bypass flag records nothing.
	c3 := s.testCall()
	if _, err := s.CreateKey(bg, c3, &CreateKeyRequest{Policy: defaultPolicy(s.Account()), BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatal(err)
	}
	if c3.BypassedChecks != nil {
		t.Errorf("bypassed checks %v", c3.BypassedChecks)
	}
}

// A policy an older, laxer parser stored (here a condition on aws:TagKeys,
// which attestkms never evaluated) denies everything, is reported by
// PolicyProblems, and only the account's root credential may replace it.
func TestUnparseableStoredPolicy(t *testing.T) {
	s, _ := newTestService(t)
	c := s.testCall()
	acct := s.Account().AccountID
	md := mustKey(t, s, "", "")
	old := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:*",` +
		`"Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":"x"}}}]}`
	err := s.st.updateKey(bg, md.KeyID, func(rec *keyRecord) error { rec.Policy = old; return nil })
	if err != nil {
		t.Fatal(err)
	}
	problems, err := s.Admin().PolicyProblems(bg)
	if err != nil || len(problems) != 1 || !strings.HasPrefix(problems[0], md.KeyID+": ") || !strings.Contains(problems[0], "aws:TagKeys") {
		t.Fatalf("PolicyProblems = %q, %v", problems, err)
	}
	_, err = s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID})
	wantKind(t, err, ErrAccessDenied)
	if !strings.Contains(err.Error(), "no longer parses") {
		t.Errorf("DescribeKey: %v", err)
	}
	user := &Call{RequestID: "u", Principal: &Principal{ARN: "arn:aws:iam::" + acct + ":user/ci"}}
	wantKind(t, errOf(s.PutKeyPolicy(bg, user, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: defaultPolicy(s.Account())})), ErrAccessDenied)
	// The root may replace it, and the new policy passes the usual checks.
	wantKind(t, errOf(s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: old})), ErrMalformedPolicy)
	if _, err := s.PutKeyPolicy(bg, c, &PutKeyPolicyRequest{KeyID: md.KeyID, Policy: defaultPolicy(s.Account())}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DescribeKey(bg, c, &DescribeKeyRequest{KeyID: md.KeyID}); err != nil {
		t.Fatal(err)
	}
	if problems, _ := s.Admin().PolicyProblems(bg); len(problems) != 0 {
		t.Fatalf("PolicyProblems after the fix: %q", problems)
	}
}
