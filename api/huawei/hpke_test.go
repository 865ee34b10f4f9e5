package huawei_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/enclave"
	"github.com/attestkms/attestkms/recipient"
)

// TestHPKERecipients: create-datakey, decrypt-datakey and gen-random with
// each HPKE algorithm (requests made by hand, signed with the SDK's signer,
// as TestRecipientExtension), and derive-shared-secret through the SDK's own
// Recipient model for P-256: ciphertext_recipient is an HPKE frame that
// package enclave opens, under the key's ARN, to what the plaintext path
// gives. A key whose hash the document does not bind is KMS.0308.
func TestHPKERecipients(t *testing.T) {
	e := newAttestedEnv(t)
	c := newClient(t, e.srv)
	id := createKey(t, c, "hpke-data", "", "")
	arn := func(id string) string {
		return "arn:aws:kms:" + e.srv.Region + ":" + e.srv.Account.AccountID + ":key/" + id
	}
	ka := createAgreementKey(t, c, "hpke-agree", "EC_P256")
	spki, want := agreementCurves[0].peer(t, publicKey(t, c, ka))

	for _, typ := range []string{enclave.KeyTypeP256, enclave.KeyTypeMLKEM768X25519} {
		t.Run(typ, func(t *testing.T) {
			k, err := enclave.NewKeyOfType(typ, 0)
			if err != nil {
				t.Fatal(err)
			}
			doc := e.doc(t, nitrotest.Document{PublicKey: k.PublicKeyDER()})
			rj := fmt.Sprintf(`{"attestation_document":%q,"key_encryption_algorithm":%q`, base64.StdEncoding.EncodeToString(doc), k.Algorithm())
			if pub := k.RecipientPublicKey(); pub != nil {
				rj += fmt.Sprintf(`,"public_key":%q`, base64.StdEncoding.EncodeToString(pub))
			}
			rj += "}"
			open := func(op, keyARN, b64 string) []byte {
				t.Helper()
				cfr, _ := base64.StdEncoding.DecodeString(b64)
				pt, err := k.Unwrap(op, keyARN, doc, cfr)
				if err != nil {
					t.Fatalf("%s: ciphertext_recipient does not open: %v", op, err)
				}
				return pt
			}
			r := raw{op: "create-datakey", body: fmt.Sprintf(`{"key_id":%q,"datakey_length":"256","recipient":%s}`, id, rj)}.do(t, e.srv)
			if r.status != 200 || field(t, r.body, "plain_text") != "" {
				t.Fatalf("create-datakey: %d %s", r.status, r.body)
			}
			dk := open("GenerateDataKey", arn(id), field(t, r.body, "ciphertext_recipient"))
			ct := field(t, r.body, "cipher_text")
			dr, err := c.DecryptDatakey(&model.DecryptDatakeyRequest{Body: &model.DecryptDatakeyRequestBody{KeyId: id, CipherText: ct, DatakeyCipherLength: "32"}})
			if err != nil || *dr.DataKey != hex.EncodeToString(dk) || len(dk) != 32 {
				t.Fatalf("the wrapped data key is not decrypt-datakey's: %v", err)
			}
			r = raw{op: "decrypt-datakey", body: fmt.Sprintf(`{"key_id":%q,"cipher_text":%q,"datakey_cipher_length":"32","recipient":%s}`, id, ct, rj)}.do(t, e.srv)
			if r.status != 200 || field(t, r.body, "data_key") != "" || !bytes.Equal(open("Decrypt", arn(id), field(t, r.body, "ciphertext_recipient")), dk) {
				t.Fatalf("decrypt-datakey: %d %s", r.status, r.body)
			}
			r = raw{op: "gen-random", body: fmt.Sprintf(`{"random_data_length":"256","recipient":%s}`, rj)}.do(t, e.srv)
			if r.status != 200 || len(open("GenerateRandom", "", field(t, r.body, "ciphertext_recipient"))) != 32 {
				t.Fatalf("gen-random: %d %s", r.status, r.body)
			}
			if typ == enclave.KeyTypeP256 {
				docB64, alg := base64.StdEncoding.EncodeToString(doc), k.Algorithm()
				req := deriveReq(ka, base64.StdEncoding.EncodeToString(spki))
				req.Body.Recipient = &model.Recipient{AttestationDocument: &docB64, KeyEncryptionAlgorithm: &alg}
				ds, err := c.DeriveSharedSecret(req)
				if err != nil || ds.SharedSecret != nil || !bytes.Equal(open("DeriveSharedSecret", arn(ka), *ds.CiphertextRecipient), want) {
					t.Fatalf("derive-shared-secret: %v", err)
				}
			}
		})
	}
	// An ML-KEM key the document does not bind.
	k, _ := enclave.NewKeyOfType(enclave.KeyTypeMLKEM768X25519, 0)
	other, _ := enclave.NewKeyOfType(enclave.KeyTypeMLKEM768X25519, 0)
	doc := e.doc(t, nitrotest.Document{PublicKey: k.PublicKeyDER()})
	rj := fmt.Sprintf(`{"attestation_document":%q,"key_encryption_algorithm":%q,"public_key":%q}`, base64.StdEncoding.EncodeToString(doc), recipient.AlgHPKEMLKEM768X25519, base64.StdEncoding.EncodeToString(other.RecipientPublicKey()))
	r := raw{op: "create-datakey", body: fmt.Sprintf(`{"key_id":%q,"datakey_length":"256","recipient":%s}`, id, rj)}.do(t, e.srv)
	if r.status != 400 || !strings.Contains(string(r.body), `"error_code":"KMS.0308"`) || !strings.Contains(string(r.body), "does not bind Recipient.PublicKey") {
		t.Fatalf("an unbound ML-KEM key: %d %s", r.status, r.body)
	}
}
