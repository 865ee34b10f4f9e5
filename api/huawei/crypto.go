package huawei

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/pem"
	"strconv"

	"github.com/attestkms/attestkms/api/internal/pipeline"
	"github.com/attestkms/attestkms/api/internal/secretjson"
	"github.com/attestkms/attestkms/kms"
)

// Cryptographic operations. Secrets in an answer (data keys, random bytes,
// plaintext, shared secrets) are listed in its result so the handler zeroes
// them once the answer is written; decoded secrets in requests are zeroed
// when the operation returns.

// ciphertextRecipient is the answer's member for a secret wrapped to a
// Recipient: base64 of kms's CiphertextForRecipient, CMS EnvelopedData
// (RSAES_OAEP_SHA_256) or an HPKE frame (the HPKE algorithms, docs/hpke.md).
type ciphertextRecipient struct {
	CiphertextRecipient string `json:"ciphertext_recipient"`
	// Signature is kms's AnswerSignature (docs/answers.md), an extension
	// member Huawei's SDKs skip; absent when there is none.
	Signature *answerSignature `json:"attestkms_answer_signature,omitempty"`
}

// answerSignature is an answer's signature in this dialect's casing.
// KeyARN is the key ARN it signs, which this dialect's answers do not
// otherwise name (they give the bare key_id); "" for GenerateRandom.
type answerSignature struct {
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"`
	Signature string `json:"signature"`
	KeyARN    string `json:"key_arn"`
}

// recipientAnswer is the member for cfr and its signature sig over an
// answer under keyARN.
func recipientAnswer(cfr []byte, sig *kms.AnswerSignature, keyARN string) ciphertextRecipient {
	r := ciphertextRecipient{CiphertextRecipient: base64.StdEncoding.EncodeToString(cfr)}
	if sig != nil {
		r.Signature = &answerSignature{KeyID: sig.KeyID, PublicKey: base64.StdEncoding.EncodeToString(sig.PublicKey), Signature: base64.StdEncoding.EncodeToString(sig.Signature), KeyARN: keyARN}
	}
	return r
}

func unsupported(field string) error {
	return invalid(field + " is not supported")
}

type createDatakeyRequest struct {
	KeyID         string `json:"key_id"`
	KeySpec       string `json:"key_spec"`
	DatakeyLength string `json:"datakey_length"`
	Pin           string `json:"pin"`
	PinType       string `json:"pin_type"`
	aadField
	common
}

// toKMS turns the request into kms's: datakey_length (bits, 8 to 8192, a
// multiple of 8) wins over key_spec (AES_256, AES_128) as Huawei documents;
// neither means 256 bits.
func (req *createDatakeyRequest) toKMS() (*kms.GenerateDataKeyRequest, error) {
	if err := keyID("key_id", req.KeyID); err != nil {
		return nil, err
	}
	if req.Pin != "" || req.PinType != "" {
		return nil, unsupported("pin")
	}
	n, err := bits("datakey_length", req.DatakeyLength, false)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		switch req.KeySpec {
		case "", "AES_256":
			n = 32
		case "AES_128":
			n = 16
		default:
			return nil, invalid("key_spec " + req.KeySpec + " is not supported: use AES_256 or AES_128, or datakey_length")
		}
	}
	ec, err := req.context()
	if err != nil {
		return nil, err
	}
	rcpt, err := req.recipient()
	if err != nil {
		return nil, err
	}
	return &kms.GenerateDataKeyRequest{KeyID: req.KeyID, NumberOfBytes: int32(n), EncryptionContext: ec, Recipient: rcpt}, nil
}

func createDatakey(h *opCall, ctx context.Context, c *kms.Call, req *createDatakeyRequest) (*result, error) {
	kreq, err := req.toKMS()
	if err != nil {
		return nil, err
	}
	r, err := h.svc.GenerateDataKey(ctx, c, kreq)
	if err != nil {
		return nil, err
	}
	blob := hexSecret(r.CiphertextBlob) // not secret, but the same encoder
	if r.CiphertextForRecipient != nil {
		return ok(struct {
			KeyID      string    `json:"key_id"`
			CipherText rawString `json:"cipher_text"`
			ciphertextRecipient
		}{r.KeyID, blob, recipientAnswer(r.CiphertextForRecipient, r.AnswerSignature, r.KeyARN)})
	}
	pt := hexSecret(r.Plaintext)
	clear(r.Plaintext)
	return ok(struct {
		KeyID      string    `json:"key_id"`
		PlainText  rawString `json:"plain_text"`
		CipherText rawString `json:"cipher_text"`
	}{r.KeyID, pt, blob}, pt)
}

func createDatakeyWithoutPlaintext(h *opCall, ctx context.Context, c *kms.Call, req *createDatakeyRequest) (*result, error) {
	kreq, err := req.toKMS()
	if err != nil {
		return nil, err
	}
	// The handler refused a recipient already (operations: no recipient here).
	r, err := h.svc.GenerateDataKeyWithoutPlaintext(ctx, c, &kms.GenerateDataKeyWithoutPlaintextRequest{
		KeyID: kreq.KeyID, KeySpec: kreq.KeySpec, NumberOfBytes: kreq.NumberOfBytes, EncryptionContext: kreq.EncryptionContext, DryRun: kreq.DryRun,
	})
	if err != nil {
		return nil, err
	}
	return ok(struct {
		KeyID      string    `json:"key_id"`
		CipherText rawString `json:"cipher_text"`
	}{r.KeyID, hexSecret(r.CiphertextBlob)})
}

// maxDatakey is the largest data key, in bytes, Huawei encrypts or decrypts.
const maxDatakey = 1024

// encryptDatakey encrypts a data key the caller made. plain_text is the key
// followed by its SHA-256, in hex; datakey_plain_length is the key's length
// in bytes. The digest is checked (KMS.2103) and only the key is encrypted,
// so that the ciphertext decrypts to it through every dialect.
func encryptDatakey(h *opCall, ctx context.Context, c *kms.Call, req *struct {
	KeyID              string `json:"key_id"`
	PlainText          string `json:"plain_text"`
	DatakeyPlainLength string `json:"datakey_plain_length"`
	Pin                string `json:"pin"`
	PinType            string `json:"pin_type"`
	KeySpec            string `json:"key_spec"`
	aadField
	common
}) (*result, error) {
	if err := keyID("key_id", req.KeyID); err != nil {
		return nil, err
	}
	if req.Pin != "" || req.PinType != "" || req.KeySpec != "" {
		return nil, unsupported("pin, pin_type and key_spec (level-4 scenarios)")
	}
	n, err := decimal("datakey_plain_length", req.DatakeyPlainLength, 1, maxDatakey, true)
	if err != nil {
		return nil, err
	}
	ec, err := req.context()
	if err != nil {
		return nil, err
	}
	pt, err := hexBytes("plain_text", req.PlainText)
	defer clear(pt)
	if err != nil {
		return nil, err
	}
	if len(pt) != n+sha256.Size {
		return nil, invalid("plain_text must be the " + strconv.Itoa(n) + "-byte data key (datakey_plain_length) followed by its 32-byte SHA-256, in hex: " +
			strconv.Itoa(n+sha256.Size) + " bytes, not " + strconv.Itoa(len(pt)))
	}
	sum := sha256.Sum256(pt[:n])
	defer clear(sum[:])
	if subtle.ConstantTimeCompare(sum[:], pt[n:]) != 1 {
		return nil, pipeline.Refuse(codeHashMismatch, "plain_text's last 32 bytes are not the SHA-256 of its data key")
	}
	r, err := h.svc.Encrypt(ctx, c, &kms.EncryptRequest{KeyID: req.KeyID, Plaintext: pt[:n], EncryptionContext: ec})
	if err != nil {
		return nil, err
	}
	return ok(struct {
		KeyID         string    `json:"key_id"`
		CipherText    rawString `json:"cipher_text"`
		DatakeyLength string    `json:"datakey_length"`
	}{r.KeyID, hexSecret(r.CiphertextBlob), strconv.Itoa(n)})
}

// decryptDatakey decrypts a data key's ciphertext and returns the key with
// its SHA-256 (datakey_dgst). datakey_cipher_length is the key's length in
// bytes and must be it (with a recipient, which gets the key wrapped, it is
// only range-checked).
func decryptDatakey(h *opCall, ctx context.Context, c *kms.Call, req *struct {
	KeyID               string `json:"key_id"`
	CipherText          string `json:"cipher_text"`
	DatakeyCipherLength string `json:"datakey_cipher_length"`
	aadField
	common
}) (*result, error) {
	if err := keyID("key_id", req.KeyID); err != nil {
		return nil, err
	}
	blob, err := hexBytes("cipher_text", req.CipherText)
	if err != nil {
		return nil, err
	}
	n, err := decimal("datakey_cipher_length", req.DatakeyCipherLength, 1, maxDatakey, true)
	if err != nil {
		return nil, err
	}
	ec, err := req.context()
	if err != nil {
		return nil, err
	}
	rcpt, err := req.recipient()
	if err != nil {
		return nil, err
	}
	r, err := h.svc.Decrypt(ctx, c, &kms.DecryptRequest{CiphertextBlob: blob, KeyID: req.KeyID, EncryptionContext: ec, Recipient: rcpt})
	if err != nil {
		return nil, err
	}
	if r.CiphertextForRecipient != nil {
		return ok(recipientAnswer(r.CiphertextForRecipient, r.AnswerSignature, r.KeyARN))
	}
	defer clear(r.Plaintext)
	if len(r.Plaintext) != n {
		return nil, invalid("datakey_cipher_length is " + strconv.Itoa(n) + " but the data key has " + strconv.Itoa(len(r.Plaintext)) + " bytes")
	}
	sum := sha256.Sum256(r.Plaintext)
	dk, dgst := hexSecret(r.Plaintext), hexSecret(sum[:])
	clear(sum[:])
	return ok(struct {
		DataKey       rawString `json:"data_key"`
		DatakeyLength string    `json:"datakey_length"`
		DatakeyDgst   rawString `json:"datakey_dgst"`
	}{dk, strconv.Itoa(n), dgst}, dk, dgst)
}

// maxData is encrypt-data's plaintext bound.
const maxData = 4096

// symmetricOnly checks encryption_algorithm: only SYMMETRIC_DEFAULT (the
// default); RSAES_OAEP_SHA_256 and SM2_ENCRYPT need asymmetric encryption
// keys, which attestkms does not have.
func symmetricOnly(alg string) error {
	if alg != "" && alg != kms.AlgSymmetricDefault {
		return invalid("encryption_algorithm " + alg + " is not supported: only SYMMETRIC_DEFAULT")
	}
	return nil
}

// encryptData encrypts up to 4096 bytes of text; the ciphertext is base64.
func encryptData(h *opCall, ctx context.Context, c *kms.Call, req *struct {
	KeyID               string `json:"key_id"`
	PlainText           string `json:"plain_text"`
	EncryptionAlgorithm string `json:"encryption_algorithm"`
	aadField
	common
}) (*result, error) {
	if err := keyID("key_id", req.KeyID); err != nil {
		return nil, err
	}
	switch {
	case req.PlainText == "":
		return nil, missing("plain_text")
	case len(req.PlainText) > maxData:
		return nil, invalid("plain_text must be 1 to 4096 bytes")
	}
	if err := symmetricOnly(req.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	ec, err := req.context()
	if err != nil {
		return nil, err
	}
	pt := []byte(req.PlainText)
	defer clear(pt)
	r, err := h.svc.Encrypt(ctx, c, &kms.EncryptRequest{KeyID: req.KeyID, Plaintext: pt, EncryptionContext: ec})
	if err != nil {
		return nil, err
	}
	return ok(struct {
		KeyID      string `json:"key_id"`
		CipherText string `json:"cipher_text"`
	}{r.KeyID, base64.StdEncoding.EncodeToString(r.CiphertextBlob)})
}

// decryptData decrypts encrypt-data's ciphertext: plain_text is the text,
// plain_text_base64 its bytes (the one to trust when they are not UTF-8).
func decryptData(h *opCall, ctx context.Context, c *kms.Call, req *struct {
	CipherText          string `json:"cipher_text"`
	EncryptionAlgorithm string `json:"encryption_algorithm"`
	KeyID               string `json:"key_id"`
	aadField
	common
}) (*result, error) {
	if req.KeyID != "" {
		if err := keyID("key_id", req.KeyID); err != nil {
			return nil, err
		}
	}
	blob, err := b64("cipher_text", req.CipherText)
	if err != nil {
		return nil, err
	}
	if err := symmetricOnly(req.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	ec, err := req.context()
	if err != nil {
		return nil, err
	}
	r, err := h.svc.Decrypt(ctx, c, &kms.DecryptRequest{CiphertextBlob: blob, KeyID: req.KeyID, EncryptionContext: ec})
	if err != nil {
		return nil, err
	}
	text, enc := newJSONSecret(r.Plaintext), b64Secret(r.Plaintext)
	clear(r.Plaintext)
	return ok(struct {
		KeyID           string     `json:"key_id"`
		PlainText       jsonSecret `json:"plain_text"`
		PlainTextBase64 rawString  `json:"plain_text_base64"`
	}{r.KeyID, text, enc}, text, enc)
}

// genRandom returns random_data_length bits (8 to 8192, a multiple of 8) of
// randomness in hex, or wrapped to a recipient.
func genRandom(h *opCall, ctx context.Context, c *kms.Call, req *struct {
	RandomDataLength string `json:"random_data_length"`
	common
}) (*result, error) {
	n, err := bits("random_data_length", req.RandomDataLength, true)
	if err != nil {
		return nil, err
	}
	rcpt, err := req.recipient()
	if err != nil {
		return nil, err
	}
	r, err := h.svc.GenerateRandom(ctx, c, &kms.GenerateRandomRequest{NumberOfBytes: int32(n), Recipient: rcpt})
	if err != nil {
		return nil, err
	}
	if r.CiphertextForRecipient != nil {
		return ok(recipientAnswer(r.CiphertextForRecipient, r.AnswerSignature, ""))
	}
	rd := hexSecret(r.Plaintext)
	clear(r.Plaintext)
	return ok(struct {
		RandomData rawString `json:"random_data"`
	}{rd}, rd)
}

// getPublicKey returns a key's public key as PEM ("PUBLIC KEY", DER
// SubjectPublicKeyInfo): its base64 body is what derive-shared-secret's
// public_key takes.
func getPublicKey(h *opCall, ctx context.Context, c *kms.Call, req *keyIDRequest) (*result, error) {
	if err := keyID("key_id", req.KeyID); err != nil {
		return nil, err
	}
	r, err := h.svc.GetPublicKey(ctx, c, &kms.GetPublicKeyRequest{KeyID: req.KeyID})
	if err != nil {
		return nil, err
	}
	return ok(struct {
		KeyID     string `json:"key_id"`
		PublicKey string `json:"public_key"`
	}{r.KeyID, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: r.PublicKey}))})
}

// deriveSharedSecret is ECDH between a KEY_AGREEMENT key and the peer's
// public_key (base64 of a DER SubjectPublicKeyInfo). shared_secret is base64
// of the raw x-coordinate; with a recipient it is absent and
// ciphertext_recipient carries it, as Huawei's API reference documents.
func deriveSharedSecret(h *opCall, ctx context.Context, c *kms.Call, req *struct {
	KeyID                 string `json:"key_id"`
	KeyAgreementAlgorithm string `json:"key_agreement_algorithm"`
	PublicKey             string `json:"public_key"`
	common
}) (*result, error) {
	if err := keyID("key_id", req.KeyID); err != nil {
		return nil, err
	}
	switch req.KeyAgreementAlgorithm {
	case "":
		return nil, missing("key_agreement_algorithm")
	case kms.AlgECDH:
	default:
		return nil, invalid("key_agreement_algorithm " + req.KeyAgreementAlgorithm + " is not supported: only ECDH")
	}
	pub, err := b64("public_key", req.PublicKey)
	if err != nil {
		return nil, err
	}
	rcpt, err := req.recipient()
	if err != nil {
		return nil, err
	}
	r, err := h.svc.DeriveSharedSecret(ctx, c, &kms.DeriveSharedSecretRequest{KeyID: req.KeyID, KeyAgreementAlgorithm: kms.AlgECDH, PublicKey: pub, Recipient: rcpt})
	if err != nil {
		return nil, err
	}
	if r.CiphertextForRecipient != nil {
		return ok(struct {
			KeyID                 string `json:"key_id"`
			KeyAgreementAlgorithm string `json:"key_agreement_algorithm"`
			ciphertextRecipient
		}{r.KeyID, r.KeyAgreementAlgorithm, recipientAnswer(r.CiphertextForRecipient, r.AnswerSignature, r.KeyARN)})
	}
	ss := b64Secret(r.SharedSecret)
	clear(r.SharedSecret)
	return ok(struct {
		KeyID                 string    `json:"key_id"`
		KeyAgreementAlgorithm string    `json:"key_agreement_algorithm"`
		SharedSecret          rawString `json:"shared_secret"`
	}{r.KeyID, r.KeyAgreementAlgorithm, ss}, ss)
}

// rawString is secretjson.RawString: hex or base64, zeroed after sending.
type rawString = secretjson.RawString
