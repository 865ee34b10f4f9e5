package huawei

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/kms"
)

// gateSecretOps are the operations of this dialect that can release a
// plaintext secret of a key, each with a request that asks for one without a
// recipient; gateNoSecret are all the others, with why the gate has nothing
// to say about them. TestGateEveryOperationOfTheDialect fails when the
// operations table gains an operation neither names.
func gateSecretOps(sym, ka string, blob, peer []byte) map[string]string {
	return map[string]string{
		"create-datakey":       fmt.Sprintf(`{"key_id":%q}`, sym),
		"decrypt-datakey":      fmt.Sprintf(`{"key_id":%q,"cipher_text":%q,"datakey_cipher_length":"6"}`, sym, hex.EncodeToString(blob)),
		"decrypt-data":         fmt.Sprintf(`{"cipher_text":%q}`, base64.StdEncoding.EncodeToString(blob)),
		"derive-shared-secret": fmt.Sprintf(`{"key_id":%q,"key_agreement_algorithm":"ECDH","public_key":%q}`, ka, base64.StdEncoding.EncodeToString(peer)),
		// The private key in plaintext (with_plain_text defaults to true);
		// with_plain_text false is GenerateDataKeyPairWithoutPlaintext,
		// ciphertext only (TestDatakeyPairPolicy).
		"create-ec-datakey-pair":  fmt.Sprintf(`{"key_id":%q,"key_spec":"ECC_NIST_P256"}`, sym),
		"create-rsa-datakey-pair": fmt.Sprintf(`{"key_id":%q,"key_spec":"RSA_2048"}`, sym),
	}
}

var gateNoSecret = map[string]string{
	"create-key": "makes a key", "describe-key": "metadata", "list-keys": "ids",
	"enable-key": "state", "disable-key": "state", "schedule-key-deletion": "state", "cancel-key-deletion": "state",
	"create-datakey-without-plaintext": "ciphertext under the key only",
	"encrypt-datakey":                  "ciphertext under the key of the caller's own data key",
	"encrypt-data":                     "ciphertext under the key only",
	"gen-random":                       "random bytes of no key",
	"get-publickey":                    "public",
}

// TestGateEveryOperationOfTheDialect: every Huawei operation that can
// release a secret is refused by the attestation gate on a bound key whose
// policy allows the account kms:*, when the request has no recipient — with
// KMS.0306 and nothing else in the answer.
func TestGateEveryOperationOfTheDialect(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	_, p, _ := env.svc.Credentials().Lookup(env.ak)
	c := &kms.Call{RequestID: "setup", Principal: p}
	acct := env.svc.Account().AccountID
	pol := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:*","Resource":"*"},
	 {"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"kms:Decrypt","Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation/PCR0":"` + strings.Repeat("ab", 48) + `"}}}]}`
	mk := func(spec kms.KeySpec, usage kms.KeyUsage) string {
		md, err := env.svc.CreateKey(ctx, c, &kms.CreateKeyRequest{KeySpec: spec, KeyUsage: usage, Policy: pol, BypassPolicyLockoutSafetyCheck: true})
		if err != nil {
			t.Fatal(err)
		}
		return md.KeyID
	}
	sym, ka := mk("", ""), mk(kms.EccNistP256, kms.KeyAgreement)
	enc, err := env.svc.Encrypt(ctx, c, &kms.EncryptRequest{KeyID: sym, Plaintext: []byte("secret")})
	if err != nil {
		t.Fatal(err)
	}
	peerKey, _ := ecdh.P256().GenerateKey(rand.Reader)
	peer, _ := x509.MarshalPKIXPublicKey(peerKey.PublicKey())
	secret := gateSecretOps(sym, ka, enc.CiphertextBlob, peer)

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
		var m map[string]map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || w.Code != 403 || len(m) != 1 || m["error"]["error_code"] != "KMS.0306" ||
			!strings.Contains(fmt.Sprint(m["error"]["error_msg"]), "is attestation-bound") {
			t.Errorf("%s without a recipient on a bound kms:* key: %d %s; want KMS.0306 from the attestation gate and nothing else", name, w.Code, w.Body)
		}
	}
}
