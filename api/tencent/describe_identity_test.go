package tencent

import (
	"context"
	"testing"

	"github.com/attestkms/attestkms/kms"
)

// TestScopedDescribeKeyNeedsNoListAliases (review 2): since identity policies
// judge kms:ListAliases (merge identityfix), Tencent's DescribeKey, which
// looks the key's alias up with a ListAliases call of the caller's own and
// returns that call's error, refuses a credential whose identity policy
// allows kms:DescribeKey (and the key policy the account): it answers
// UnauthorizedOperation "no identity-based policy allows the
// kms:ListAliases action" for an action the caller was never asked to hold.
// Huawei's describe-key makes the same call but ignores its error.
func TestScopedDescribeKeyNeedsNoListAliases(t *testing.T) {
	env := newEnv(t)
	a, out := parseAnswer(t, env.send(t, "CreateKey", []byte(`{"Alias":"build"}`)))
	if a.Response.Error != nil {
		t.Fatal(a.Response.Error.Message)
	}
	id, _ := out["KeyId"].(string)
	resp, err := env.svc.Admin().CreateCredential(context.Background(), &kms.CreateCredentialRequest{Name: "reader", IdentityPolicy: `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"kms:DescribeKey","Resource":"*"}]}`})
	if err != nil {
		t.Fatal(err)
	}
	env.ak, env.sk = resp.AccessKeyID, string(resp.SecretAccessKey)
	a, out = parseAnswer(t, env.send(t, "DescribeKey", []byte(`{"KeyId":"`+id+`"}`)))
	if a.Response.Error != nil {
		t.Fatalf("DescribeKey allowed by the identity policy and the key policy: %s %s", a.Response.Error.Code, a.Response.Error.Message)
	}
	if md, _ := out["KeyMetadata"].(map[string]any); md == nil || md["KeyId"] != id {
		t.Fatalf("DescribeKey answered %v", out)
	}
}
