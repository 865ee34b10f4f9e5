package tencent

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/kms"
)

// gateSecretActions are the actions of this dialect that can release a
// plaintext secret of a key, each with the requests that ask for one
// without a Recipient (in the clear, and to a public key the caller holds);
// gateNoSecret are all the others, with why the gate has nothing to say
// about them. TestGateEveryActionOfTheDialect fails when the actions table
// gains one neither names.
func gateSecretActions(sym string, blob []byte, pubPEM string) map[string][]string {
	b := base64.StdEncoding.EncodeToString(blob)
	return map[string][]string{
		"GenerateDataKey": {
			fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256"}`, sym),
			fmt.Sprintf(`{"KeyId":%q,"NumberOfBytes":32,"EncryptionPublicKey":%q,"EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}`, sym, pubPEM),
		},
		"Decrypt": {
			fmt.Sprintf(`{"CiphertextBlob":%q}`, b),
			fmt.Sprintf(`{"CiphertextBlob":%q,"EncryptionPublicKey":%q,"EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}`, b, pubPEM),
		},
	}
}

var gateNoSecret = map[string]string{
	"CreateKey": "makes a key", "DescribeKey": "metadata", "ListKeys": "ids",
	"EnableKey": "state", "DisableKey": "state", "ScheduleKeyDeletion": "state", "CancelKeyDeletion": "state",
	"Encrypt":        "ciphertext under the key only",
	"GenerateRandom": "random bytes of no key",
	"GetPublicKey":   "public",
}

// TestGateEveryActionOfTheDialect: every Tencent action that can release a
// secret is refused by the attestation gate on a bound key whose policy
// allows the account kms:*, when the request has no Recipient — with
// UnauthorizedOperation and nothing else in the answer.
func TestGateEveryActionOfTheDialect(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	_, p, _ := env.svc.Credentials().Lookup(env.ak)
	c := &kms.Call{RequestID: "setup", Principal: p}
	acct := env.svc.Account().AccountID
	pol := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:*","Resource":"*"},
	 {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:Decrypt","Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + strings.Repeat("ab", 48) + `"}}}]}`
	md, err := env.svc.CreateKey(ctx, c, &kms.CreateKeyRequest{Policy: pol, BypassPolicyLockoutSafetyCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := env.svc.Encrypt(ctx, c, &kms.EncryptRequest{KeyID: md.KeyID, Plaintext: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&attacker.PublicKey)
	secret := gateSecretActions(md.KeyID, enc.CiphertextBlob, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))

	var names []string
	for name := range actions {
		names = append(names, name)
		_, s := secret[name]
		_, n := gateNoSecret[name]
		if s == n {
			t.Errorf("action %s: classified as releasing a secret %v, as not %v; classify it here (and gate it in kms if it releases one)", name, s, n)
		}
	}
	for name := range secret {
		if _, ok := actions[name]; !ok {
			t.Errorf("%s is not an action of the dialect", name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		for _, body := range secret[name] {
			a, raw := parseAnswer(t, env.send(t, name, []byte(body)))
			if a.Response.Error == nil || a.Response.Error.Code != "UnauthorizedOperation" || !strings.Contains(a.Response.Error.Message, "is attestation-bound") || len(raw) != 2 {
				t.Errorf("%s %s without a Recipient on a bound kms:* key: %v; want UnauthorizedOperation from the attestation gate and nothing else", name, body[:min(len(body), 60)], raw)
			}
		}
	}
}
