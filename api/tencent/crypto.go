package tencent

import (
	"context"
	"fmt"

	"github.com/attestkms/attestkms/api/internal/secretjson"
	"github.com/attestkms/attestkms/kms"
)

// Cryptographic actions. Secrets in an answer (Plaintext) are listed in its
// result so the handler zeroes them once the answer is written.

const (
	// maxPlaintext is Tencent's Encrypt bound ("原文最大长度支持4K") and kms's.
	maxPlaintext = 4096
	// maxRandom bounds NumberOfBytes of GenerateDataKey and GenerateRandom.
	maxRandom = 1024
	// maxPublicKeyPEM bounds EncryptionPublicKey before kms parses it: an
	// RSA-4096 key's PEM has about 800 bytes.
	maxPublicKeyPEM = 8192
)

// rawString is secretjson.RawString: a secret's encoding, zeroed after sending.
type rawString = secretjson.RawString

// recipientField is attestkms's Recipient member, an extension of
// Decrypt, GenerateDataKey and GenerateRandom: the secret comes back in
// Plaintext wrapped to the attested enclave's key.
type recipientField struct {
	Recipient *struct {
		AttestationDocument    string
		KeyEncryptionAlgorithm string
		PublicKey              string // base64 ML-KEM-768+X25519 key for HPKE_MLKEM768X25519_SHA256_AES256GCM (docs/hpke.md)
	}
}

// recipient turns the member into kms's (nil for none): it wants raw
// RSAES-OAEP-SHA-256 (Tencent's Plaintext holds one ciphertext, not CMS).
// Which keys and algorithms are acceptable is kms's to judge.
func (f *recipientField) recipient() (*kms.Recipient, error) {
	if f.Recipient == nil {
		return nil, nil
	}
	if f.Recipient.AttestationDocument == "" {
		return nil, missing("Recipient.AttestationDocument")
	}
	doc, err := blob("Recipient.AttestationDocument", codeInvalidValue, f.Recipient.AttestationDocument)
	if err != nil {
		return nil, err
	}
	var pub []byte
	if f.Recipient.PublicKey != "" {
		if pub, err = blob("Recipient.PublicKey", codeInvalidValue, f.Recipient.PublicKey); err != nil {
			return nil, err
		}
	}
	// Raw applies to RSA only: an HPKE Recipient gets its frame.
	return &kms.Recipient{AttestationDocument: doc, KeyEncryptionAlgorithm: f.Recipient.KeyEncryptionAlgorithm, PublicKey: pub, Raw: true}, nil
}

// wrapFields are the members of Decrypt and GenerateDataKey that ask for the
// secret encrypted rather than in the clear: Tencent's EncryptionPublicKey
// and EncryptionAlgorithm, and attestkms's Recipient.
type wrapFields struct {
	EncryptionPublicKey string
	EncryptionAlgorithm string
	recipientField
}

// targets turns the members into kms's. Which public keys and algorithms
// are acceptable is kms's to judge.
func (w *wrapFields) targets() (*kms.Recipient, *kms.PublicKeyWrap, error) {
	r, err := w.recipient()
	if err != nil {
		return nil, nil, err
	}
	var pw *kms.PublicKeyWrap
	switch {
	case len(w.EncryptionPublicKey) > maxPublicKeyPEM:
		return nil, nil, invalidValue(fmt.Sprintf("EncryptionPublicKey is longer than %d bytes", maxPublicKeyPEM))
	case w.EncryptionPublicKey != "":
		pw = &kms.PublicKeyWrap{PublicKey: []byte(w.EncryptionPublicKey), Algorithm: w.EncryptionAlgorithm}
	case w.EncryptionAlgorithm != "":
		return nil, nil, invalidParameter("EncryptionAlgorithm is given without EncryptionPublicKey")
	}
	if r != nil && pw != nil {
		return nil, nil, invalidParameter("give Recipient or EncryptionPublicKey, not both")
	}
	return r, pw, nil
}

// plaintext is Tencent's Plaintext member: the base64 of the secret, or of
// its encryption to the caller's public key or enclave. It returns the
// encoding, and zeroes the secret.
func plaintext(secret, wrapped []byte) rawString {
	src := secret
	if wrapped != nil {
		src = wrapped
	}
	// Encoded straight into a buffer the handler zeroes, never through a
	// string, which could not be.
	enc := secretjson.Base64(src)
	clear(secret)
	return enc
}

func encrypt(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	KeyId             string
	Plaintext         string
	EncryptionContext string
}) (*result, error) {
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	if req.Plaintext == "" {
		return nil, missing("Plaintext")
	}
	pt, err := blob("Plaintext", codeInvalidPlaintext, req.Plaintext)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	if len(pt) > maxPlaintext {
		return nil, errorf(codeInvalidPlaintext, fmt.Sprintf("Plaintext is longer than %d bytes", maxPlaintext))
	}
	ec, err := encryptionContext(req.EncryptionContext)
	if err != nil {
		return nil, err
	}
	r, err := h.svc.Encrypt(ctx, c, &kms.EncryptRequest{KeyID: id, Plaintext: pt, EncryptionContext: ec})
	if err != nil {
		return nil, err
	}
	return ok(&struct {
		CiphertextBlob string
		KeyId          string
		meta
	}{CiphertextBlob: b64(r.CiphertextBlob), KeyId: r.KeyID})
}

func decrypt(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	CiphertextBlob    string
	EncryptionContext string
	wrapFields
}) (*result, error) {
	if req.CiphertextBlob == "" {
		return nil, missing("CiphertextBlob")
	}
	ct, err := blob("CiphertextBlob", codeInvalidCiphertext, req.CiphertextBlob)
	if err != nil {
		return nil, err
	}
	ec, err := encryptionContext(req.EncryptionContext)
	if err != nil {
		return nil, err
	}
	rcpt, pw, err := req.targets()
	if err != nil {
		return nil, err
	}
	r, err := h.svc.Decrypt(ctx, c, &kms.DecryptRequest{CiphertextBlob: ct, EncryptionContext: ec, Recipient: rcpt, EncryptTo: pw})
	if err != nil {
		return nil, err
	}
	pt := plaintext(r.Plaintext, r.CiphertextForRecipient)
	return ok(&struct {
		KeyId                    string
		Plaintext                rawString
		AttestKMSAnswerSignature *answerSignature `json:",omitempty"`
		meta
	}{KeyId: r.KeyID, Plaintext: pt, AttestKMSAnswerSignature: wireSignature(r.AnswerSignature, r.KeyARN)}, pt)
}

func generateDataKey(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	KeyId             string
	KeySpec           string
	NumberOfBytes     *int64
	EncryptionContext string
	wrapFields
	// Members of Tencent's hosted data keys, which attestkms does not keep.
	IsHostedByKms *int64
	DataKeyName   string
	Description   string
	HsmClusterId  string
}) (*result, error) {
	id, err := keyID(req.KeyId)
	if err != nil {
		return nil, err
	}
	spec, n := req.KeySpec, int32(0)
	switch {
	case req.NumberOfBytes != nil:
		// "同时指定NumberOfBytes和KeySpec时，以NumberOfBytes为准"
		if v := *req.NumberOfBytes; v < 1 || v > maxRandom {
			return nil, invalidValue(fmt.Sprintf("NumberOfBytes must be between 1 and %d", maxRandom))
		}
		spec, n = "", int32(*req.NumberOfBytes)
	case spec == "":
		return nil, missing("KeySpec or NumberOfBytes")
	}
	switch {
	case req.IsHostedByKms != nil && *req.IsHostedByKms == 1 || req.DataKeyName != "" || req.Description != "":
		return nil, errorf(codeUnsupported, "data keys hosted by KMS (IsHostedByKms 1, DataKeyName, Description) are not supported: keep the CiphertextBlob yourself")
	case req.IsHostedByKms != nil && *req.IsHostedByKms != 0:
		return nil, invalidValue("IsHostedByKms must be 0 or 1")
	case req.HsmClusterId != "":
		return nil, errorf(codeInvalidHsmClusterID, "there are no HSM clusters here: leave HsmClusterId out")
	}
	ec, err := encryptionContext(req.EncryptionContext)
	if err != nil {
		return nil, err
	}
	rcpt, pw, err := req.targets()
	if err != nil {
		return nil, err
	}
	r, err := h.svc.GenerateDataKey(ctx, c, &kms.GenerateDataKeyRequest{
		KeyID: id, KeySpec: spec, NumberOfBytes: n, EncryptionContext: ec, Recipient: rcpt, EncryptTo: pw,
	})
	if err != nil {
		return nil, err
	}
	pt := plaintext(r.Plaintext, r.CiphertextForRecipient)
	return ok(&struct {
		KeyId                    string
		Plaintext                rawString
		CiphertextBlob           string
		AttestKMSAnswerSignature *answerSignature `json:",omitempty"`
		meta
	}{KeyId: r.KeyID, Plaintext: pt, CiphertextBlob: b64(r.CiphertextBlob), AttestKMSAnswerSignature: wireSignature(r.AnswerSignature, r.KeyARN)}, pt)
}

// generateRandom returns NumberOfBytes random bytes in Plaintext, or with
// attestkms's Recipient wrapped to the enclave in Plaintext, as
// GenerateDataKey does, with AttestKMSAnswerSignature. Tencent's
// GenerateRandom has no EncryptionPublicKey: it stays an unknown parameter.
func generateRandom(h *dialect, ctx context.Context, c *kms.Call, req *struct {
	NumberOfBytes *int64
	recipientField
}) (*result, error) {
	if req.NumberOfBytes == nil {
		return nil, missing("NumberOfBytes")
	}
	if v := *req.NumberOfBytes; v < 1 || v > maxRandom {
		return nil, invalidValue(fmt.Sprintf("NumberOfBytes must be between 1 and %d", maxRandom))
	}
	rcpt, err := req.recipient()
	if err != nil {
		return nil, err
	}
	r, err := h.svc.GenerateRandom(ctx, c, &kms.GenerateRandomRequest{NumberOfBytes: int32(*req.NumberOfBytes), Recipient: rcpt})
	if err != nil {
		return nil, err
	}
	pt := plaintext(r.Plaintext, r.CiphertextForRecipient)
	return ok(&struct {
		Plaintext                rawString
		AttestKMSAnswerSignature *answerSignature `json:",omitempty"`
		meta
	}{Plaintext: pt, AttestKMSAnswerSignature: wireSignature(r.AnswerSignature, "")}, pt)
}

// answerSignature is kms's AnswerSignature (docs/answers.md) as this
// dialect's extension member AttestKMSAnswerSignature, which Tencent's SDKs
// skip. KeyArn is the key ARN it signs, which this dialect's answers do not
// otherwise name (KeyId is the bare id). The signed CiphertextForRecipient
// is the Plaintext member's bytes, base64-decoded.
type answerSignature struct {
	KeyId, PublicKey, Signature, KeyArn string
}

// wireSignature is sig as the member; nil (member omitted) for nil.
func wireSignature(sig *kms.AnswerSignature, keyARN string) *answerSignature {
	if sig == nil {
		return nil
	}
	return &answerSignature{KeyId: sig.KeyID, PublicKey: b64(sig.PublicKey), Signature: b64(sig.Signature), KeyArn: keyARN}
}
