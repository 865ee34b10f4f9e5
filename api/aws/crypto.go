package aws

import (
	"context"

	"github.com/attestkms/attestkms/api/internal/secretjson"
	"github.com/attestkms/attestkms/kms"
)

// Cryptographic operations. Secrets in an answer (Plaintext, data keys,
// shared secrets) are listed in its result so the handler zeroes them once
// the answer is written.

// recipientField is the Recipient member of the operations that take one:
// the secret then comes back only as CiphertextForRecipient. PublicKey is
// attestkms's extension (base64 of the 1216-byte ML-KEM-768+X25519 key for
// HPKE_MLKEM768X25519_SHA256_AES256GCM, docs/hpke.md); AWS has no such member.
type recipientField struct {
	Recipient *struct {
		AttestationDocument    string
		KeyEncryptionAlgorithm string
		PublicKey              string
	}
}

func (r recipientField) recipient() (*kms.Recipient, error) {
	if r.Recipient == nil {
		return nil, nil
	}
	doc, err := blob("Recipient.AttestationDocument", r.Recipient.AttestationDocument)
	if err != nil {
		return nil, err
	}
	var pub []byte
	if r.Recipient.PublicKey != "" {
		if pub, err = blob("Recipient.PublicKey", r.Recipient.PublicKey); err != nil {
			return nil, err
		}
	}
	return &kms.Recipient{AttestationDocument: doc, KeyEncryptionAlgorithm: r.Recipient.KeyEncryptionAlgorithm, PublicKey: pub}, nil
}

func encrypt(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	KeyId               string
	Plaintext           string
	EncryptionContext   kms.EncryptionContext
	EncryptionAlgorithm string
	DryRun              bool
	GrantTokens         []string
}) (*result, error) {
	pt, err := blob("Plaintext", req.Plaintext)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	r, err := h.svc.Encrypt(ctx, c, &kms.EncryptRequest{
		KeyID: req.KeyId, Plaintext: pt, EncryptionContext: req.EncryptionContext,
		EncryptionAlgorithm: req.EncryptionAlgorithm, DryRun: req.DryRun,
	})
	if err != nil {
		return nil, err
	}
	return ok(struct{ CiphertextBlob, EncryptionAlgorithm, KeyId string }{b64(r.CiphertextBlob), r.EncryptionAlgorithm, r.KeyARN})
}

func decrypt(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	CiphertextBlob      string
	KeyId               string
	EncryptionContext   kms.EncryptionContext
	EncryptionAlgorithm string
	DryRun              bool
	GrantTokens         []string
	recipientField
}) (*result, error) {
	rcpt, err := req.recipient()
	if err != nil {
		return nil, err
	}
	ct, err := blob("CiphertextBlob", req.CiphertextBlob)
	if err != nil {
		return nil, err
	}
	r, err := h.svc.Decrypt(ctx, c, &kms.DecryptRequest{
		CiphertextBlob: ct, KeyID: req.KeyId, EncryptionContext: req.EncryptionContext,
		EncryptionAlgorithm: req.EncryptionAlgorithm, Recipient: rcpt, DryRun: req.DryRun,
	})
	if err != nil {
		return nil, err
	}
	if r.CiphertextForRecipient != nil {
		return ok(struct {
			CiphertextForRecipient, EncryptionAlgorithm, KeyId string
			AttestKMSAnswerSignature                           *answerSignature `json:",omitempty"`
		}{b64(r.CiphertextForRecipient), r.EncryptionAlgorithm, r.KeyARN, wireSignature(r.AnswerSignature)})
	}
	enc := secretjson.Base64(r.Plaintext)
	clear(r.Plaintext)
	return ok(struct {
		EncryptionAlgorithm string
		KeyId               string
		Plaintext           rawString
	}{r.EncryptionAlgorithm, r.KeyARN, enc}, enc)
}

// rawString is secretjson.RawString: a secret's encoding, zeroed after sending.
type rawString = secretjson.RawString

func reEncrypt(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	CiphertextBlob                 string
	SourceKeyId                    string
	SourceEncryptionContext        kms.EncryptionContext
	SourceEncryptionAlgorithm      string
	DestinationKeyId               string
	DestinationEncryptionContext   kms.EncryptionContext
	DestinationEncryptionAlgorithm string
	DryRun                         bool
	GrantTokens                    []string
}) (*result, error) {
	ct, err := blob("CiphertextBlob", req.CiphertextBlob)
	if err != nil {
		return nil, err
	}
	r, err := h.svc.ReEncrypt(ctx, c, &kms.ReEncryptRequest{
		CiphertextBlob: ct, SourceKeyID: req.SourceKeyId, SourceEncryptionContext: req.SourceEncryptionContext,
		SourceEncryptionAlgorithm: req.SourceEncryptionAlgorithm, DestinationKeyID: req.DestinationKeyId,
		DestinationEncryptionContext: req.DestinationEncryptionContext, DestinationEncryptionAlgorithm: req.DestinationEncryptionAlgorithm,
		DryRun: req.DryRun,
	})
	if err != nil {
		return nil, err
	}
	return ok(struct {
		CiphertextBlob, DestinationEncryptionAlgorithm, KeyId, SourceEncryptionAlgorithm, SourceKeyId string
	}{b64(r.CiphertextBlob), r.DestinationEncryptionAlgorithm, r.KeyARN, r.SourceEncryptionAlgorithm, r.SourceKeyARN})
}

type generateDataKeyRequest struct {
	KeyId             string
	KeySpec           string
	NumberOfBytes     *int32
	EncryptionContext kms.EncryptionContext
	DryRun            bool
	GrantTokens       []string
	recipientField
}

func (req *generateDataKeyRequest) toKMS() (*kms.GenerateDataKeyRequest, error) {
	n := int32(0)
	if req.NumberOfBytes != nil {
		if n = *req.NumberOfBytes; n == 0 {
			return nil, validation("NumberOfBytes must be between 1 and 1024")
		}
	}
	rcpt, err := req.recipient()
	if err != nil {
		return nil, err
	}
	return &kms.GenerateDataKeyRequest{KeyID: req.KeyId, KeySpec: req.KeySpec, NumberOfBytes: n, EncryptionContext: req.EncryptionContext, Recipient: rcpt, DryRun: req.DryRun}, nil
}

func generateDataKey(h *dialect, ctx context.Context, c *kms.Call, req *generateDataKeyRequest) (*result, error) {
	kreq, err := req.toKMS()
	if err != nil {
		return nil, err
	}
	r, err := h.svc.GenerateDataKey(ctx, c, kreq)
	if err != nil {
		return nil, err
	}
	if r.CiphertextForRecipient != nil {
		return ok(struct {
			CiphertextBlob, CiphertextForRecipient, KeyId string
			AttestKMSAnswerSignature                      *answerSignature `json:",omitempty"`
		}{b64(r.CiphertextBlob), b64(r.CiphertextForRecipient), r.KeyARN, wireSignature(r.AnswerSignature)})
	}
	enc := secretjson.Base64(r.Plaintext)
	clear(r.Plaintext)
	return ok(struct {
		CiphertextBlob string
		KeyId          string
		Plaintext      rawString
	}{b64(r.CiphertextBlob), r.KeyARN, enc}, enc)
}

// errRecipientRefused answers a Recipient sent to an operation that returns
// no secret to wrap: the wire request shares GenerateDataKey's (or
// GenerateDataKeyPair's) members, but kms's request has no Recipient.
func errRecipientRefused(op string) error {
	return validation("Recipient is not accepted by " + op)
}

func generateDataKeyWithoutPlaintext(h *dialect, ctx context.Context, c *kms.Call, req *generateDataKeyRequest) (*result, error) {
	kreq, err := req.toKMS()
	if err != nil {
		return nil, err
	}
	if kreq.Recipient != nil {
		return nil, errRecipientRefused("GenerateDataKeyWithoutPlaintext")
	}
	r, err := h.svc.GenerateDataKeyWithoutPlaintext(ctx, c, &kms.GenerateDataKeyWithoutPlaintextRequest{
		KeyID: kreq.KeyID, KeySpec: kreq.KeySpec, NumberOfBytes: kreq.NumberOfBytes, EncryptionContext: kreq.EncryptionContext, DryRun: kreq.DryRun,
	})
	if err != nil {
		return nil, err
	}
	return ok(struct{ CiphertextBlob, KeyId string }{b64(r.CiphertextBlob), r.KeyARN})
}

type generateDataKeyPairRequest struct {
	KeyId             string
	KeyPairSpec       string
	EncryptionContext kms.EncryptionContext
	DryRun            bool
	GrantTokens       []string
	recipientField
}

func (req *generateDataKeyPairRequest) toKMS() (*kms.GenerateDataKeyPairRequest, error) {
	rcpt, err := req.recipient()
	if err != nil {
		return nil, err
	}
	return &kms.GenerateDataKeyPairRequest{KeyID: req.KeyId, KeyPairSpec: kms.DataKeyPairSpec(req.KeyPairSpec), EncryptionContext: req.EncryptionContext, Recipient: rcpt, DryRun: req.DryRun}, nil
}

func generateDataKeyPair(h *dialect, ctx context.Context, c *kms.Call, req *generateDataKeyPairRequest) (*result, error) {
	kreq, err := req.toKMS()
	if err != nil {
		return nil, err
	}
	r, err := h.svc.GenerateDataKeyPair(ctx, c, kreq)
	if err != nil {
		return nil, err
	}
	if r.CiphertextForRecipient != nil {
		return ok(struct {
			CiphertextForRecipient, KeyId, KeyPairSpec, PrivateKeyCiphertextBlob, PublicKey string
			AttestKMSAnswerSignature                                                        *answerSignature `json:",omitempty"`
		}{b64(r.CiphertextForRecipient), r.KeyARN, string(r.KeyPairSpec), b64(r.PrivateKeyCiphertextBlob), b64(r.PublicKey), wireSignature(r.AnswerSignature)})
	}
	enc := secretjson.Base64(r.PrivateKeyPlaintext)
	clear(r.PrivateKeyPlaintext)
	return ok(struct {
		KeyId                    string
		KeyPairSpec              string
		PrivateKeyCiphertextBlob string
		PrivateKeyPlaintext      rawString
		PublicKey                string
	}{r.KeyARN, string(r.KeyPairSpec), b64(r.PrivateKeyCiphertextBlob), enc, b64(r.PublicKey)}, enc)
}

func generateDataKeyPairWithoutPlaintext(h *dialect, ctx context.Context, c *kms.Call, req *generateDataKeyPairRequest) (*result, error) {
	kreq, err := req.toKMS()
	if err != nil {
		return nil, err
	}
	if kreq.Recipient != nil {
		return nil, errRecipientRefused("GenerateDataKeyPairWithoutPlaintext")
	}
	r, err := h.svc.GenerateDataKeyPairWithoutPlaintext(ctx, c, &kms.GenerateDataKeyPairWithoutPlaintextRequest{
		KeyID: kreq.KeyID, KeyPairSpec: kreq.KeyPairSpec, EncryptionContext: kreq.EncryptionContext, DryRun: kreq.DryRun,
	})
	if err != nil {
		return nil, err
	}
	return ok(struct {
		KeyId, KeyPairSpec, PrivateKeyCiphertextBlob, PublicKey string
	}{r.KeyARN, string(r.KeyPairSpec), b64(r.PrivateKeyCiphertextBlob), b64(r.PublicKey)})
}

func generateRandom(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	NumberOfBytes    *int32
	CustomKeyStoreId string
	recipientField
}) (*result, error) {
	rcpt, err := req.recipient()
	if err != nil {
		return nil, err
	}
	if req.NumberOfBytes == nil {
		return nil, validation("NumberOfBytes is required")
	}
	r, err := h.svc.GenerateRandom(ctx, c, &kms.GenerateRandomRequest{NumberOfBytes: *req.NumberOfBytes, CustomKeyStoreID: req.CustomKeyStoreId, Recipient: rcpt})
	if err != nil {
		return nil, err
	}
	if r.CiphertextForRecipient != nil {
		return ok(struct {
			CiphertextForRecipient   string
			AttestKMSAnswerSignature *answerSignature `json:",omitempty"`
		}{b64(r.CiphertextForRecipient), wireSignature(r.AnswerSignature)})
	}
	enc := secretjson.Base64(r.Plaintext)
	clear(r.Plaintext)
	return ok(struct{ Plaintext rawString }{enc}, enc)
}

func getPublicKey(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	KeyId       string
	GrantTokens []string
}) (*result, error) {
	r, err := h.svc.GetPublicKey(ctx, c, &kms.GetPublicKeyRequest{KeyID: req.KeyId})
	if err != nil {
		return nil, err
	}
	return ok(struct {
		CustomerMasterKeySpec  string
		KeyAgreementAlgorithms []string `json:",omitempty"`
		KeyId                  string
		KeySpec                string
		KeyUsage               string
		PublicKey              string
	}{string(r.KeySpec), r.KeyAgreementAlgorithms, r.KeyARN, string(r.KeySpec), string(r.KeyUsage), b64(r.PublicKey)})
}

func deriveSharedSecret(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	KeyId                 string
	KeyAgreementAlgorithm string
	PublicKey             string
	DryRun                bool
	GrantTokens           []string
	recipientField
}) (*result, error) {
	rcpt, err := req.recipient()
	if err != nil {
		return nil, err
	}
	pub, err := blob("PublicKey", req.PublicKey)
	if err != nil {
		return nil, err
	}
	r, err := h.svc.DeriveSharedSecret(ctx, c, &kms.DeriveSharedSecretRequest{
		KeyID: req.KeyId, KeyAgreementAlgorithm: req.KeyAgreementAlgorithm, PublicKey: pub, Recipient: rcpt, DryRun: req.DryRun,
	})
	if err != nil {
		return nil, err
	}
	if r.CiphertextForRecipient != nil {
		return ok(struct {
			CiphertextForRecipient, KeyAgreementAlgorithm, KeyId, KeyOrigin string
			AttestKMSAnswerSignature                                        *answerSignature `json:",omitempty"`
		}{b64(r.CiphertextForRecipient), r.KeyAgreementAlgorithm, r.KeyARN, r.KeyOrigin, wireSignature(r.AnswerSignature)})
	}
	enc := secretjson.Base64(r.SharedSecret)
	clear(r.SharedSecret)
	return ok(struct {
		KeyAgreementAlgorithm string
		KeyId                 string
		KeyOrigin             string
		SharedSecret          rawString
	}{r.KeyAgreementAlgorithm, r.KeyARN, r.KeyOrigin, enc}, enc)
}

// answerSignature is an answer's kms.AnswerSignature as this dialect's
// extension member AttestKMSAnswerSignature (docs/answers.md): the official
// SDKs skip members they do not know, so their callers see the answer they
// expect. Binary values are base64, as every AWS blob.
type answerSignature struct {
	KeyId, PublicKey, Signature string
}

// wireSignature is sig as the member; nil (member omitted) for nil.
func wireSignature(sig *kms.AnswerSignature) *answerSignature {
	if sig == nil {
		return nil
	}
	return &answerSignature{KeyId: sig.KeyID, PublicKey: b64(sig.PublicKey), Signature: b64(sig.Signature)}
}
