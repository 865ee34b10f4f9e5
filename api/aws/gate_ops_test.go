package aws

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/kms"
)

// gateSecretOps are the operations of this dialect that can release a
// plaintext secret of a key (or move one under another key), each with a
// request that asks for one without a Recipient; gateKeyless and gateNoSecret
// are all the others, with why the gate has nothing to say about them.
// TestGateEveryOperationOfTheDialect fails when the operations table gains
// an operation none of them names.
func gateSecretOps(sym, ka, unbound string, blob, peer []byte) map[string]string {
	b64 := base64.StdEncoding.EncodeToString
	return map[string]string{
		"Decrypt":             fmt.Sprintf(`{"CiphertextBlob":%q}`, b64(blob)),
		"ReEncrypt":           fmt.Sprintf(`{"CiphertextBlob":%q,"DestinationKeyId":%q}`, b64(blob), unbound),
		"GenerateDataKey":     fmt.Sprintf(`{"KeyId":%q,"KeySpec":"AES_256"}`, sym),
		"GenerateDataKeyPair": fmt.Sprintf(`{"KeyId":%q,"KeyPairSpec":"ECC_NIST_P256"}`, sym),
		"DeriveSharedSecret":  fmt.Sprintf(`{"KeyId":%q,"KeyAgreementAlgorithm":"ECDH","PublicKey":%q}`, ka, b64(peer)),
	}
}

var gateNoSecret = map[string]string{
	"CreateKey": "makes a key", "DescribeKey": "metadata", "ListKeys": "ids", "UpdateKeyDescription": "metadata",
	"EnableKey": "state", "DisableKey": "state", "ScheduleKeyDeletion": "state", "CancelKeyDeletion": "state",
	"CreateAlias": "names", "UpdateAlias": "names", "DeleteAlias": "names", "ListAliases": "names",
	"Encrypt":                             "ciphertext under the key only",
	"GenerateDataKeyWithoutPlaintext":     "ciphertext under the key only",
	"GenerateDataKeyPairWithoutPlaintext": "a public key, and the private key under the key only",
	"GenerateRandom":                      "random bytes of no key",
	"GetPublicKey":                        "public",
	"EnableKeyRotation":                   "state", "DisableKeyRotation": "state", "GetKeyRotationStatus": "state",
	"RotateKeyOnDemand": "state", "ListKeyRotations": "metadata",
	"PutKeyPolicy": "policy (its own safety check)", "GetKeyPolicy": "policy", "ListKeyPolicies": "policy",
	"TagResource": "tags", "UntagResource": "tags", "ListResourceTags": "tags",
}

// TestGateEveryOperationOfTheDialect: every operation of the AWS dialect
// that can release a secret is refused by the attestation gate on a bound
// key whose policy allows the account kms:*, when the request has no
// Recipient — with AccessDeniedException and nothing else in the answer.
func TestGateEveryOperationOfTheDialect(t *testing.T) {
	env := newEnv(t)
	_, p, _ := env.svc.Credentials().Lookup(env.ak)
	c := &kms.Call{RequestID: "setup", Principal: p}
	acct := env.svc.Account().AccountID
	pol := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:*","Resource":"*"},
	 {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:Decrypt","Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation:PCR0":"` + strings.Repeat("ab", 48) + `"}}}]}`
	mk := func(spec kms.KeySpec, usage kms.KeyUsage, policy string) string {
		md, err := env.svc.CreateKey(context.Background(), c, &kms.CreateKeyRequest{KeySpec: spec, KeyUsage: usage, Policy: policy, BypassPolicyLockoutSafetyCheck: policy != ""})
		if err != nil {
			t.Fatal(err)
		}
		return md.KeyID
	}
	sym, ka, unbound := mk("", "", pol), mk(kms.EccNistP256, kms.KeyAgreement, pol), mk("", "", "")
	enc, err := env.svc.Encrypt(context.Background(), c, &kms.EncryptRequest{KeyID: sym, Plaintext: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	peerKey, _ := ecdh.P256().GenerateKey(rand.Reader)
	peer, _ := x509.MarshalPKIXPublicKey(peerKey.PublicKey())
	secret := gateSecretOps(sym, ka, unbound, enc.CiphertextBlob, peer)

	var names []string
	for name := range operations {
		names = append(names, name)
		_, s := secret[name]
		_, n := gateNoSecret[name]
		if s == n {
			t.Errorf("operation %s: classified as releasing a secret %v, as not %v; classify it here (and gate it in kms if it releases one)", name, s, n)
		}
	}
	for name := range secret {
		if _, ok := operations[name]; !ok {
			t.Errorf("%s is not an operation of the dialect", name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		body, ok := secret[name]
		if !ok {
			continue
		}
		w := env.send(t, name, []byte(body))
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || w.Code != 400 || m["__type"] != "AccessDeniedException" || len(m) != 2 ||
			!strings.Contains(fmt.Sprint(m["message"]), "is attestation-bound") {
			t.Errorf("%s without a Recipient on a bound kms:* key: %d %s; want AccessDeniedException from the attestation gate and nothing else", name, w.Code, w.Body)
		}
	}
}
