package kms

import (
	"bytes"
	"errors"
	"testing"
)

// TestScopedCredentialCannotCreateKeys: a credential whose identity policy
// allows only kms:Decrypt under alias/ci (the README's and docs/policy.md's
// `ci` example: "decrypts under the key alias/ci names, and nothing else")
// must not be able to create keys: CreateKey is not a keyed operation, so no
// key policy delegates to it, and the identity policy is the only thing that
// could allow it (as kms:CreateKey in AWS IAM). Today createKey authorizes
// nothing at all, so `ci` creates a key whose policy names its own ARN (which
// then grants it every action directly, rule 4 of the delegation rule) and
// whose alias it chooses: squatting alias/payments, every data key the
// account's other credentials make under that alias is one `ci` decrypts.
func TestScopedCredentialCannotCreateKeys(t *testing.T) {
	s, _ := newTestService(t)
	acct := s.Account().AccountID
	ci := mustCredential(t, s, &CreateCredentialRequest{Name: "ci", IdentityPolicy: `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/ci"}}}]}`})
	ciCall := s.callAs(t, ci.AccessKeyID)
	victim := mustCredential(t, s, &CreateCredentialRequest{Name: "app"})
	victimCall := s.callAs(t, victim.AccessKeyID)

	ciARN := "arn:aws:iam::" + acct + ":user/ci"
	trap := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"` + ciARN + `"},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Encrypt","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"}]}`
	_, err := s.CreateKey(bg, ciCall, &CreateKeyRequest{Policy: trap, Alias: "alias/payments"})
	if errors.Is(err, ErrAccessDenied) {
		return // fixed
	}
	if err != nil {
		t.Fatalf("CreateKey by the scoped credential: %v", err)
	}
	t.Errorf("a credential whose identity policy allows only kms:Decrypt under alias/ci created a key (and the alias alias/payments): CreateKey consults no identity policy")

	// What that buys: the account's application asks for a data key under
	// alias/payments, and `ci` decrypts its blob.
	dk, err := s.GenerateDataKey(bg, victimCall, &GenerateDataKeyRequest{KeyID: "alias/payments", KeySpec: "AES_256"})
	if err != nil {
		t.Fatalf("victim GenerateDataKey: %v", err)
	}
	got, err := s.Decrypt(bg, ciCall, &DecryptRequest{CiphertextBlob: dk.CiphertextBlob})
	if err != nil {
		t.Fatalf("ci Decrypt of the victim's data key: %v", err)
	}
	if bytes.Equal(got.Plaintext, dk.Plaintext) {
		t.Errorf("the scoped credential `ci` decrypted another credential's data key through the alias it squatted")
	}
}

// TestScopedCredentialKeylessOperations: the listings that name no key
// (ListKeys, ListAliases) are not judged by any key policy, so a
// credential's identity policy is all that could allow them (AWS IAM's
// kms:ListKeys, kms:ListAliases; docs/policy.md lists them under "kms:… of
// the same name"). Today they consult none: the README's `ci` credential
// ("decrypts under the key alias/ci names, and nothing else") lists every
// key id and every alias of the account, with the key each names.
// (GenerateRandom is documented as "no key, no policy" and left out.)
func TestScopedCredentialKeylessOperations(t *testing.T) {
	s, _ := newTestService(t)
	admin := s.adminCall(t)
	secretKey := mustKey(t, s, "", "")
	if _, err := s.CreateAlias(bg, admin, &CreateAliasRequest{AliasName: "alias/payroll-2027", TargetKeyID: secretKey.KeyID}); err != nil {
		t.Fatal(err)
	}
	ci := mustCredential(t, s, &CreateCredentialRequest{Name: "ci", IdentityPolicy: `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/ci"}}}]}`})
	ciCall := s.callAs(t, ci.AccessKeyID)

	if lk, err := s.ListKeys(bg, ciCall, &ListKeysRequest{}); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("ListKeys by a credential whose identity policy allows only kms:Decrypt: %d keys, err %v; want AccessDenied", len(lkKeys(lk)), err)
	}
	if la, err := s.ListAliases(bg, ciCall, &ListAliasesRequest{}); !errors.Is(err, ErrAccessDenied) {
		n := 0
		if la != nil {
			n = len(la.Aliases)
		}
		t.Errorf("ListAliases by the same credential: %d aliases (alias/payroll-2027 among them), err %v; want AccessDenied", n, err)
	}
}

func lkKeys(r *ListKeysResponse) []KeyListEntry {
	if r == nil {
		return nil
	}
	return r.Keys
}
