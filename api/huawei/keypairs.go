package huawei

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/attestkms/attestkms/kms"
)

// Data key pairs: create-ec-datakey-pair and create-rsa-datakey-pair, kms's
// GenerateDataKeyPair (GenerateDataKeyPairWithoutPlaintext when
// with_plain_text is false), as huaweicloud-sdk-go-v3's
// CreateEcDatakeyPairRequestBody / CreateRsaDatakeyPairRequestBody and their
// responses spell them:
//
//	request   key_id, key_spec (required), with_plain_text (default true),
//	          additional_authenticated_data, sequence, pin and pin_type (refused)
//	response  key_id, key_spec, public_key, private_key_cipher_text, and
//	          private_key_plain_text or ciphertext_recipient (Huawei: at most
//	          one of them, with wrapped_private_key, which is not served)
//
// Huawei does not publish the encodings; here public_key is base64 of the DER
// SubjectPublicKeyInfo (what get-publickey's PEM holds), private_key_plain_text
// base64 of the DER PKCS #8 private key (AWS's PrivateKeyPlaintext), and
// private_key_cipher_text base64 of the key's ciphertext blob, as
// encrypt-data's cipher_text, so that decrypt-data (with the same
// additional_authenticated_data) opens it, whatever its length, and the AWS
// dialect's Decrypt too (EncryptionContext {"additional_authenticated_data":
// aad}).
//
// recipient is attestkms's extension, as on create-datakey: the private key
// then never leaves in plaintext; ciphertext_recipient carries it (CMS, or
// the HPKE frame of docs/hpke.md, opened as GenerateDataKeyPair's), with
// attestkms_answer_signature. with_plain_text false asks for no private key
// at all, so it and a recipient exclude each other.

// pairSpecs are the key_spec values each operation takes; SM2, which
// Huawei also lists for EC pairs, is not made here.
var pairSpecs = map[string][]kms.DataKeyPairSpec{
	"create-ec-datakey-pair":  {kms.PairEccNistP256, kms.PairEccNistP384, kms.PairEccNistP521, kms.PairEccSecgP256k1},
	"create-rsa-datakey-pair": {kms.PairRSA2048, kms.PairRSA3072, kms.PairRSA4096},
}

type createDatakeyPairRequest struct {
	KeyID         string `json:"key_id"`
	KeySpec       string `json:"key_spec"`
	WithPlainText *bool  `json:"with_plain_text"`
	// Pin and PinType are the EC request's level-4 scenario members; the
	// RSA request has none, and either refuses them rather than ignore a
	// protection asked for.
	Pin     string `json:"pin"`
	PinType string `json:"pin_type"`
	aadField
	common
}

// toKMS checks the request for operation op and turns it into kms's; plain
// is with_plain_text.
func (req *createDatakeyPairRequest) toKMS(op string) (kreq *kms.GenerateDataKeyPairRequest, plain bool, err error) {
	if err := keyID("key_id", req.KeyID); err != nil {
		return nil, false, err
	}
	if req.Pin != "" || req.PinType != "" {
		return nil, false, unsupported("pin and pin_type (level-4 scenarios)")
	}
	if req.KeySpec == "" {
		return nil, false, missing("key_spec")
	}
	spec := kms.DataKeyPairSpec(req.KeySpec)
	if !specOf(op, spec) {
		names := make([]string, len(pairSpecs[op]))
		for i, s := range pairSpecs[op] {
			names[i] = string(s)
		}
		msg := "key_spec " + req.KeySpec + " is not supported by " + op + ": use " + strings.Join(names, ", ")
		for other := range pairSpecs {
			if other != op && specOf(other, spec) {
				msg += " (" + req.KeySpec + " is " + other + "'s)"
			}
		}
		return nil, false, invalid(msg)
	}
	plain = req.WithPlainText == nil || *req.WithPlainText
	ec, err := req.context()
	if err != nil {
		return nil, false, err
	}
	rcpt, err := req.recipient()
	if err != nil {
		return nil, false, err
	}
	if rcpt != nil && !plain {
		return nil, false, invalid("with_plain_text false asks for no private key, and a recipient for it wrapped to an enclave: give one or the other")
	}
	return &kms.GenerateDataKeyPairRequest{KeyID: req.KeyID, KeyPairSpec: spec, EncryptionContext: ec, Recipient: rcpt}, plain, nil
}

func specOf(op string, spec kms.DataKeyPairSpec) bool {
	for _, s := range pairSpecs[op] {
		if s == spec {
			return true
		}
	}
	return false
}

// pairAnswer is what every answer of the two operations has.
type pairAnswer struct {
	KeyID                string `json:"key_id"`
	KeySpec              string `json:"key_spec"`
	PublicKey            string `json:"public_key"`
	PrivateKeyCipherText string `json:"private_key_cipher_text"`
}

func createDatakeyPair(h *opCall, ctx context.Context, c *kms.Call, req *createDatakeyPairRequest) (*result, error) {
	kreq, plain, err := req.toKMS(h.name)
	if err != nil {
		return nil, err
	}
	b64 := base64.StdEncoding.EncodeToString
	if !plain {
		r, err := h.svc.GenerateDataKeyPairWithoutPlaintext(ctx, c, &kms.GenerateDataKeyPairWithoutPlaintextRequest{
			KeyID: kreq.KeyID, KeyPairSpec: kreq.KeyPairSpec, EncryptionContext: kreq.EncryptionContext,
		})
		if err != nil {
			return nil, err
		}
		return ok(pairAnswer{r.KeyID, string(r.KeyPairSpec), b64(r.PublicKey), b64(r.PrivateKeyCiphertextBlob)})
	}
	r, err := h.svc.GenerateDataKeyPair(ctx, c, kreq)
	if err != nil {
		return nil, err
	}
	a := pairAnswer{r.KeyID, string(r.KeyPairSpec), b64(r.PublicKey), b64(r.PrivateKeyCiphertextBlob)}
	if r.CiphertextForRecipient != nil {
		return ok(struct {
			pairAnswer
			ciphertextRecipient
		}{a, recipientAnswer(r.CiphertextForRecipient, r.AnswerSignature, r.KeyARN)})
	}
	pk := b64Secret(r.PrivateKeyPlaintext)
	clear(r.PrivateKeyPlaintext)
	return ok(struct {
		pairAnswer
		PrivateKeyPlainText rawString `json:"private_key_plain_text"`
	}{a, pk}, pk)
}
