package kms

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/kms/internal/store"
)

// TestScopedCredentialCannotCreateKeys: a credential whose identity policy
// allows only kms:Decrypt under alias/ci (the README's and docs/policy.md's
// `ci` example: "decrypts under the key alias/ci names, and nothing else")
// must not be able to create keys: CreateKey is not a keyed operation, so no
// key policy delegates to it, and the identity policy is the only thing that
// could allow it (as kms:CreateKey in AWS IAM; authorizeIdentity). Were
// createKey to authorize nothing, `ci` would create a key whose policy names
// its own ARN (which then grants it every action directly, rule 4 of the
// delegation rule) and whose alias it chooses: squatting alias/payments,
// every data key the account's other credentials make under that alias
// would be one `ci` decrypts. The test carries that attack through when the
// CreateKey is not refused.
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
// the same name"; authorizeIdentity). Without that, the README's `ci`
// credential ("decrypts under the key alias/ci names, and nothing else")
// would list every key id and every alias of the account, with the key each
// names. (GenerateRandom is documented as "no key, no policy" and left out.)
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

// TestScopedCredentialCannotNameAliases: an alias name has no key policy,
// so, as in AWS (kms:CreateAlias, kms:UpdateAlias, kms:DeleteAlias on the
// alias ARN in an IAM policy), a credential with an identity policy may
// create, move or delete an alias only if that policy allows it on the
// alias. A key policy that names the credential's own ARN (rule 4) lets it
// use that key, not take the account's alias names: without the check, `ci`
// points a freed alias/payments at a key of its own, or frees it.
func TestScopedCredentialCannotNameAliases(t *testing.T) {
	s, _ := newTestService(t)
	admin := s.adminCall(t)
	acct := s.Account().AccountID
	ci := mustCredential(t, s, &CreateCredentialRequest{Name: "ci", IdentityPolicy: `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/ci"}}}]}`})
	ciCall := s.callAs(t, ci.AccessKeyID)
	ciOwns := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:user/ci"},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:*","Resource":"*"}]}`
	k1, err := s.CreateKey(bg, admin, &CreateKeyRequest{Policy: ciOwns})
	if err != nil {
		t.Fatal(err)
	}
	k2, err := s.CreateKey(bg, admin, &CreateKeyRequest{Policy: ciOwns})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAlias(bg, admin, &CreateAliasRequest{AliasName: "alias/team", TargetKeyID: k1.KeyID}); err != nil {
		t.Fatal(err)
	}

	if _, err := s.CreateAlias(bg, ciCall, &CreateAliasRequest{AliasName: "alias/payments", TargetKeyID: k1.KeyID}); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("CreateAlias alias/payments by ci, whose identity policy allows only kms:Decrypt: err %v; want AccessDenied", err)
	}
	if _, err := s.UpdateAlias(bg, ciCall, &UpdateAliasRequest{AliasName: "alias/team", TargetKeyID: k2.KeyID}); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("UpdateAlias alias/team by ci: err %v; want AccessDenied", err)
	}
	if _, err := s.DeleteAlias(bg, ciCall, &DeleteAliasRequest{AliasName: "alias/team"}); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("DeleteAlias alias/team by ci: err %v; want AccessDenied", err)
	}
	la, err := s.ListAliases(bg, admin, &ListAliasesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(la.Aliases) != 1 || la.Aliases[0].AliasName != "alias/team" || la.Aliases[0].TargetKeyID != k1.KeyID {
		t.Errorf("aliases after ci's attempts: %+v; want alias/team naming %s only", la.Aliases, k1.KeyID)
	}
}

// TestIdentityPolicyAllowsAccountActions: what an identity policy allows
// of the actions no key policy governs, it gets; what it does not, it does
// not; a credential without one, and the root, keep every one.
func TestIdentityPolicyAllowsAccountActions(t *testing.T) {
	s, _ := newTestService(t)
	admin := s.adminCall(t)
	acct, region := s.Account().AccountID, s.Region()
	aliasARN := "arn:aws:kms:" + region + ":" + acct + ":alias/"
	ops := mustCredential(t, s, &CreateCredentialRequest{Name: "ops", IdentityPolicy: `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":["kms:CreateKey","kms:ListKeys"],"Resource":"*","Condition":{"StringEquals":{"kms:KeySpec":"SYMMETRIC_DEFAULT"}}},
	  {"Effect":"Allow","Action":["kms:ListKeys","kms:ListAliases"],"Resource":"*"},
	  {"Effect":"Allow","Action":["kms:CreateAlias","kms:DeleteAlias"],"Resource":["` + aliasARN + `ops-*","arn:aws:kms:` + region + `:` + acct + `:key/*"]},
	  {"Effect":"Deny","Action":"kms:ListAliases","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`})
	opsCall := s.callAs(t, ops.AccessKeyID)
	plain := mustCredential(t, s, &CreateCredentialRequest{Name: "plain"})
	plainCall := s.callAs(t, plain.AccessKeyID)

	k, err := s.CreateKey(bg, opsCall, &CreateKeyRequest{})
	if err != nil {
		t.Fatalf("CreateKey allowed by the identity policy: %v", err)
	}
	if _, err := s.CreateKey(bg, opsCall, &CreateKeyRequest{KeySpec: EccNistP256, KeyUsage: KeyAgreement}); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("CreateKey of a key spec the identity policy does not allow (kms:KeySpec): err %v; want AccessDenied", err)
	}
	if _, err := s.CreateKey(bg, opsCall, &CreateKeyRequest{Alias: "alias/ops-new"}); err != nil {
		t.Errorf("CreateKey with an alias the identity policy allows: %v", err)
	}
	if _, err := s.CreateKey(bg, opsCall, &CreateKeyRequest{Alias: "alias/payments"}); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("CreateKey with an alias the identity policy does not allow kms:CreateAlias on: err %v; want AccessDenied", err)
	}
	if _, err := s.CreateAlias(bg, opsCall, &CreateAliasRequest{AliasName: "alias/ops-1", TargetKeyID: k.KeyID}); err != nil {
		t.Errorf("CreateAlias alias/ops-1 (allowed on the alias and the key): %v", err)
	}
	if _, err := s.CreateAlias(bg, opsCall, &CreateAliasRequest{AliasName: "alias/other", TargetKeyID: k.KeyID}); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("CreateAlias alias/other (not allowed on the alias): err %v; want AccessDenied", err)
	}
	if _, err := s.DeleteAlias(bg, opsCall, &DeleteAliasRequest{AliasName: "alias/ops-1"}); err != nil {
		t.Errorf("DeleteAlias alias/ops-1: %v", err)
	}
	if _, err := s.ListKeys(bg, opsCall, &ListKeysRequest{}); err != nil {
		t.Errorf("ListKeys allowed by the identity policy: %v", err)
	}
	if _, err := s.ListAliases(bg, opsCall, &ListAliasesRequest{}); !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "explicit deny in an identity-based policy") {
		t.Errorf("ListAliases denied by the identity policy without TLS: err %v; want AccessDenied (explicit deny)", err)
	}
	tls := *opsCall
	tls.SecureTransport = true
	if _, err := s.ListAliases(bg, &tls, &ListAliasesRequest{}); err != nil {
		t.Errorf("ListAliases over TLS: %v", err)
	}

	for _, c := range []*Call{admin, plainCall} {
		name := c.Principal.Name
		k, err := s.CreateKey(bg, c, &CreateKeyRequest{KeySpec: EccNistP256, KeyUsage: KeyAgreement, Alias: "alias/by-" + name})
		if err != nil {
			t.Errorf("CreateKey by %s (no identity policy): %v", name, err)
			continue
		}
		if _, err := s.CreateAlias(bg, c, &CreateAliasRequest{AliasName: "alias/by-" + name + "-2", TargetKeyID: k.KeyID}); err != nil {
			t.Errorf("CreateAlias by %s: %v", name, err)
		}
		if _, err := s.ListKeys(bg, c, &ListKeysRequest{}); err != nil {
			t.Errorf("ListKeys by %s: %v", name, err)
		}
		if _, err := s.ListAliases(bg, c, &ListAliasesRequest{}); err != nil {
			t.Errorf("ListAliases by %s: %v", name, err)
		}
	}
}

// TestUpdateAliasNeedsTheKeysToo: an identity policy that allows
// kms:UpdateAlias on an alias ARN alone does not move the alias: the move
// is judged on both keys as well (their policies delegate to the account,
// and so to the identity policy, which does not allow it on them). The same
// policy widened to the keys moves it: the refusal is the keys', not the
// alias's.
func TestUpdateAliasNeedsTheKeysToo(t *testing.T) {
	s, _ := newTestService(t)
	admin := s.adminCall(t)
	acct, region := s.Account().AccountID, s.Region()
	aliasARN := "arn:aws:kms:" + region + ":" + acct + ":alias/team"
	k1 := mustKey(t, s, "", "")
	k2 := mustKey(t, s, "", "")
	if _, err := s.CreateAlias(bg, admin, &CreateAliasRequest{AliasName: "alias/team", TargetKeyID: k1.KeyID}); err != nil {
		t.Fatal(err)
	}
	aliasOnly := mustCredential(t, s, &CreateCredentialRequest{Name: "alias-only", IdentityPolicy: `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"kms:UpdateAlias","Resource":"` + aliasARN + `"}]}`})
	_, err := s.UpdateAlias(bg, s.callAs(t, aliasOnly.AccessKeyID), &UpdateAliasRequest{AliasName: "alias/team", TargetKeyID: k2.KeyID})
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "key/") {
		t.Errorf("UpdateAlias allowed by the identity policy on the alias only: err %v; want AccessDenied on a key", err)
	}
	if got := aliasTargetOf(t, s, admin, "alias/team"); got != k1.KeyID {
		t.Fatalf("alias/team names %s after a refused move; want %s", got, k1.KeyID)
	}

	aliasAndKeys := mustCredential(t, s, &CreateCredentialRequest{Name: "alias-and-keys", IdentityPolicy: `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"kms:UpdateAlias","Resource":["` + aliasARN + `","arn:aws:kms:` + region + `:` + acct + `:key/*"]}]}`})
	if _, err := s.UpdateAlias(bg, s.callAs(t, aliasAndKeys.AccessKeyID), &UpdateAliasRequest{AliasName: "alias/team", TargetKeyID: k2.KeyID}); err != nil {
		t.Fatalf("UpdateAlias allowed on the alias and the keys: %v", err)
	}
	if got := aliasTargetOf(t, s, admin, "alias/team"); got != k2.KeyID {
		t.Fatalf("alias/team names %s after an allowed move; want %s", got, k2.KeyID)
	}
}

func aliasTargetOf(t *testing.T, s *Service, c *Call, name string) string {
	t.Helper()
	la, err := s.ListAliases(bg, c, &ListAliasesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range la.Aliases {
		if a.AliasName == name {
			return a.TargetKeyID
		}
	}
	t.Fatalf("no alias %s", name)
	return ""
}

// TestIdentityPolicyNoLongerParses: a credential whose stored identity
// policy no longer parses (one an older, laxer parser accepted) is allowed
// nothing — no key use, though the key policy delegates to the account, no
// account action, no alias change — and each refusal says why; a credential
// without an identity policy, beside it, keeps working.
func TestIdentityPolicyNoLongerParses(t *testing.T) {
	s, _ := newTestService(t)
	admin := s.adminCall(t)
	k := mustKey(t, s, "", "")
	if _, err := s.CreateAlias(bg, admin, &CreateAliasRequest{AliasName: "alias/team", TargetKeyID: k.KeyID}); err != nil {
		t.Fatal(err)
	}
	cr := mustCredential(t, s, &CreateCredentialRequest{Name: "old", IdentityPolicy: `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`})
	// The principal as the credentials' cache makes it from a stored record
	// whose policy the parser now refuses.
	rec := store.Credential{AccessKeyID: cr.AccessKeyID, Name: "old", IdentityPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Unknown":1}]}`}
	p := cache(s.Account(), &rec, nil).principal
	if p.identity == nil || p.identity.err == nil {
		t.Fatal("the test's stored policy parses; it must not")
	}
	c := &Call{RequestID: "test-old", Principal: p}
	const why = "no longer parses"
	if _, err := s.GenerateDataKey(bg, c, &GenerateDataKeyRequest{KeyID: k.KeyID, KeySpec: "AES_256"}); !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), why) {
		t.Errorf("GenerateDataKey: err %v; want AccessDenied saying the identity policy %s", err, why)
	}
	if _, err := s.ListKeys(bg, c, &ListKeysRequest{}); !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), why) {
		t.Errorf("ListKeys: err %v; want AccessDenied saying the identity policy %s", err, why)
	}
	if _, err := s.CreateKey(bg, c, &CreateKeyRequest{}); !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), why) {
		t.Errorf("CreateKey: err %v; want AccessDenied saying the identity policy %s", err, why)
	}
	if _, err := s.DeleteAlias(bg, c, &DeleteAliasRequest{AliasName: "alias/team"}); !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), why) {
		t.Errorf("DeleteAlias: err %v; want AccessDenied saying the identity policy %s", err, why)
	}
	if got := aliasTargetOf(t, s, admin, "alias/team"); got != k.KeyID {
		t.Fatalf("alias/team names %q after refused changes; want %s", got, k.KeyID)
	}
	plain := mustCredential(t, s, &CreateCredentialRequest{Name: "plain"})
	if _, err := s.GenerateDataKey(bg, s.callAs(t, plain.AccessKeyID), &GenerateDataKeyRequest{KeyID: k.KeyID, KeySpec: "AES_256"}); err != nil {
		t.Errorf("GenerateDataKey by a credential without an identity policy: %v", err)
	}
}
