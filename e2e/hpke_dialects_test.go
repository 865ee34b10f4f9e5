package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/def"
	sdkerr "github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	hwkms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	hwmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/enclave"
	"github.com/attestkms/attestkms/internal/testserver"
	"github.com/attestkms/attestkms/recipient"
)

// HPKE through the Huawei and Tencent SDKs (issue 15). Which operations take
// a Recipient in each dialect:
//
//	                     AWS                  Huawei                                   Tencent
//	GenerateDataKey      Recipient            create-datakey, recipient (extension)    GenerateDataKey, Recipient (extension)
//	Decrypt              Recipient            decrypt-datakey, recipient (extension)   Decrypt, Recipient (extension)
//	GenerateDataKeyPair  Recipient            create-ec/rsa-datakey-pair, recipient (extension)  — (not in Tencent's API)
//	GenerateRandom       Recipient            gen-random, recipient (extension)        GenerateRandom, Recipient (extension)
//	DeriveSharedSecret   Recipient            derive-shared-secret, recipient (Huawei's) — (not in Tencent's API)
//
// Neither SDK's request types carry the ML-KEM key (Huawei's Recipient model
// has attestation_document and key_encryption_algorithm only, and only on
// derive-shared-secret, though its key pair answers have ciphertext_recipient; Tencent's types have no Recipient). Both SDKs
// serialize the request value they are given before they sign it, so the
// tests give them the SDK's own request type with the member added
// (huaweiRecipientCall, tcGenerateDataKey, tcDecrypt, tcGenerateRandom): the SDK builds,
// signs, sends and decodes, and reports errors in its own types.

// hwRecipient is Huawei's recipient member with attestkms's public_key.
type hwRecipient struct {
	AttestationDocument    string `json:"attestation_document"`
	KeyEncryptionAlgorithm string `json:"key_encryption_algorithm"`
	PublicKey              string `json:"public_key,omitempty"`
}

// The Huawei SDK's request bodies with the recipient member.
type (
	hwCreateDatakeyBody struct {
		hwmodel.CreateDatakeyRequestBody
		Recipient *hwRecipient `json:"recipient,omitempty"`
	}
	hwDecryptDatakeyBody struct {
		hwmodel.DecryptDatakeyRequestBody
		Recipient *hwRecipient `json:"recipient,omitempty"`
	}
	hwGenRandomBody struct {
		hwmodel.GenRandomRequestBody
		Recipient *hwRecipient `json:"recipient,omitempty"`
	}
	hwDeriveSharedSecretBody struct {
		hwmodel.DeriveSharedSecretRequestBody
		Recipient *hwRecipient `json:"recipient,omitempty"`
	}
	hwEcPairBody struct {
		hwmodel.CreateEcDatakeyPairRequestBody
		Recipient *hwRecipient `json:"recipient,omitempty"`
	}
	hwRsaPairBody struct {
		hwmodel.CreateRsaDatakeyPairRequestBody
		Recipient *hwRecipient `json:"recipient,omitempty"`
	}
)

// The Huawei SDK's answers with ciphertext_recipient (its
// DeriveSharedSecretResponse and key pair responses have it already).
type (
	hwCreateDatakeyAnswer struct {
		hwmodel.CreateDatakeyResponse
		CiphertextRecipient *string `json:"ciphertext_recipient,omitempty"`
	}
	hwDecryptDatakeyAnswer struct {
		hwmodel.DecryptDatakeyResponse
		CiphertextRecipient *string `json:"ciphertext_recipient,omitempty"`
	}
	hwGenRandomAnswer struct {
		hwmodel.CreateRandomResponse
		CiphertextRecipient *string `json:"ciphertext_recipient,omitempty"`
	}
)

// huaweiRecipientCall sends body to the operation reqDef names (one of the
// SDK's own request definitions: method, path, content type) through the
// SDK's own client, c.HcClient, which serializes body, signs it with the
// SDK's AK/SK signer, sends it, turns an error answer into
// *sdkerr.ServiceResponseError, and decodes a success into a new R.
func huaweiRecipientCall[R, B any](c *hwkms.KmsClient, reqDef func() *def.HttpRequestDef, body *B) (*R, error) {
	d := reqDef()
	d.Response = new(R)
	out, err := c.HcClient.Sync(&struct {
		Body *B `json:"body,omitempty"`
	}{body}, d)
	if err != nil {
		return nil, err
	}
	return out.(*R), nil
}

// hwRecipientOf is the recipient member for doc, alg and (ML-KEM) pub.
func hwRecipientOf(doc []byte, alg string, pub []byte) *hwRecipient {
	r := &hwRecipient{AttestationDocument: base64.StdEncoding.EncodeToString(doc), KeyEncryptionAlgorithm: alg}
	if pub != nil {
		r.PublicKey = base64.StdEncoding.EncodeToString(pub)
	}
	return r
}

// tcRecipient is attestkms's Recipient member of Tencent's dialect.
type tcRecipient struct {
	AttestationDocument    string
	KeyEncryptionAlgorithm string
	PublicKey              string `json:",omitempty"`
}

func tcRecipientOf(doc []byte, alg string, pub []byte) *tcRecipient {
	r := &tcRecipient{AttestationDocument: base64.StdEncoding.EncodeToString(doc), KeyEncryptionAlgorithm: alg}
	if pub != nil {
		r.PublicKey = base64.StdEncoding.EncodeToString(pub)
	}
	return r
}

// Tencent's typed requests with the Recipient member. The SDK's client
// (Client.Send) marshals the value it is given as the body and signs that
// body (TC3 signs its SHA-256), so the member is signed like any other.
type (
	tcGenerateDataKey struct {
		*tckms.GenerateDataKeyRequest
		Recipient *tcRecipient `json:",omitempty"`
	}
	tcDecrypt struct {
		*tckms.DecryptRequest
		Recipient *tcRecipient `json:",omitempty"`
	}
	tcGenerateRandom struct {
		*tckms.GenerateRandomRequest
		Recipient *tcRecipient `json:",omitempty"`
	}
)

// hpkeKeys are the data key and the key-agreement key the dialect tests
// use, made through the AWS SDK (keys are shared by the dialects), with a
// peer's public key and the secret ECDH with it gives.
type hpkeKeys struct {
	sym, ka       *awstypes.KeyMetadata
	peerDER, want []byte
}

func (e *hpkeEnv) keys(t *testing.T) hpkeKeys {
	t.Helper()
	ctx := context.Background()
	sym, err := e.c.aws.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	ka, err := e.c.aws.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: awstypes.KeySpecEccNistP256, KeyUsage: awstypes.KeyUsageTypeKeyAgreement})
	if err != nil {
		t.Fatal(err)
	}
	gp, err := e.c.aws.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: ka.KeyMetadata.KeyId})
	if err != nil {
		t.Fatal(err)
	}
	kmsPub, err := x509.ParsePKIXPublicKey(gp.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := kmsPub.(interface {
		ECDH() (*ecdh.PublicKey, error)
	}).ECDH()
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	want, _ := peer.ECDH(kp)
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	return hpkeKeys{sym: sym.KeyMetadata, ka: ka.KeyMetadata, peerDER: peerDER, want: want}
}

// hpkeOpen opens cfr, which must be an HPKE frame of k's algorithm, as the
// answer to op on keyARN for doc.
func hpkeOpen(t *testing.T, k *enclave.Key, doc []byte, op, keyARN string, cfr []byte) []byte {
	t.Helper()
	f, err := recipient.ParseHPKEFrame(cfr)
	if err != nil || f.Algorithm != k.Algorithm() {
		t.Fatalf("%s: the answer is not an HPKE frame of %s: %v", op, k.Algorithm(), err)
	}
	pt, err := k.Unwrap(op, keyARN, doc, cfr)
	if err != nil {
		t.Fatalf("%s: the answer does not open: %v", op, err)
	}
	return pt
}

func b64Decode(t *testing.T, what string, s *string) []byte {
	t.Helper()
	if s == nil {
		t.Fatalf("%s: absent", what)
	}
	b, err := base64.StdEncoding.DecodeString(*s)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return b
}

// TestHPKERecipientsHuawei: through the official Huawei SDK, create-datakey,
// decrypt-datakey, gen-random and derive-shared-secret with each HPKE
// algorithm (the recipient, with public_key for ML-KEM, added to the SDK's
// request bodies; the SDK signs it). ciphertext_recipient is an HPKE frame
// that package enclave opens, under the key's ARN and the operation's AWS
// name, to what the plaintext path gives: decrypt-datakey of the same
// cipher_text, derive-shared-secret without a recipient, and the length
// asked of gen-random. The plaintext members are absent. Documents are
// Nitro's and Qingtian's.
// create-ec-datakey-pair and create-rsa-datakey-pair (extension) give the
// private key only in ciphertext_recipient, opened as GenerateDataKeyPair's
// to the private key of public_key, which private_key_cipher_text decrypts
// to through the AWS dialect; without a recipient, the SDK's own
// CreateEcDatakeyPair gives it in private_key_plain_text.
// create-datakey-without-plaintext refuses a recipient.
func TestHPKERecipientsHuawei(t *testing.T) { testserver.Stores(t, testHPKERecipientsHuawei) }

func testHPKERecipientsHuawei(t *testing.T, store string) {
	// Huawei's own enclaves are Qingtian's; Nitro documents are taken too.
	for _, f := range []attest.Format{attest.FormatNitro, attest.FormatQingtian} {
		t.Run(string(f), func(t *testing.T) { testHPKERecipientsHuaweiOf(t, newHPKEEnvOf(t, store, f)) })
	}
}

func testHPKERecipientsHuaweiOf(t *testing.T, e *hpkeEnv) {
	ks := e.keys(t)
	hw := e.c.huawei
	symID, kaID := *ks.sym.KeyId, *ks.ka.KeyId

	for _, typ := range []string{enclave.KeyTypeP256, enclave.KeyTypeMLKEM768X25519} {
		t.Run(typ, func(t *testing.T) {
			k, err := enclave.NewKeyOfType(typ, 0)
			if err != nil {
				t.Fatal(err)
			}
			doc := e.doc(t, k.PublicKeyDER())
			rcpt := hwRecipientOf(doc, k.Algorithm(), k.RecipientPublicKey())

			gdk, err := huaweiRecipientCall[hwCreateDatakeyAnswer](hw, hwkms.GenReqDefForCreateDatakey, &hwCreateDatakeyBody{
				CreateDatakeyRequestBody: hwmodel.CreateDatakeyRequestBody{KeyId: symID, DatakeyLength: str("256")}, Recipient: rcpt})
			if err != nil {
				t.Fatalf("create-datakey: %v", err)
			}
			if gdk.PlainText != nil || gdk.CipherText == nil || *gdk.KeyId != symID {
				t.Fatalf("create-datakey: %+v", gdk)
			}
			dk := hpkeOpen(t, k, doc, "GenerateDataKey", *ks.sym.Arn, b64Decode(t, "ciphertext_recipient", gdk.CiphertextRecipient))
			plain, err := hw.DecryptDatakey(&hwmodel.DecryptDatakeyRequest{Body: &hwmodel.DecryptDatakeyRequestBody{KeyId: symID, CipherText: *gdk.CipherText, DatakeyCipherLength: "32"}})
			if err != nil || *plain.DataKey != hex.EncodeToString(dk) || len(dk) != 32 {
				t.Fatalf("create-datakey's wrapped key is not decrypt-datakey's: %v", err)
			}
			// An answer opens only for its operation.
			if _, err := k.Unwrap("Decrypt", *ks.sym.Arn, doc, b64Decode(t, "ciphertext_recipient", gdk.CiphertextRecipient)); !errors.Is(err, recipient.ErrDecrypt) {
				t.Fatalf("create-datakey's answer opened as Decrypt: %v", err)
			}

			dec, err := huaweiRecipientCall[hwDecryptDatakeyAnswer](hw, hwkms.GenReqDefForDecryptDatakey, &hwDecryptDatakeyBody{
				DecryptDatakeyRequestBody: hwmodel.DecryptDatakeyRequestBody{KeyId: symID, CipherText: *gdk.CipherText, DatakeyCipherLength: "32"}, Recipient: rcpt})
			if err != nil {
				t.Fatalf("decrypt-datakey: %v", err)
			}
			if dec.DataKey != nil || !bytes.Equal(hpkeOpen(t, k, doc, "Decrypt", *ks.sym.Arn, b64Decode(t, "ciphertext_recipient", dec.CiphertextRecipient)), dk) {
				t.Fatal("decrypt-datakey for the recipient is not the data key")
			}

			for _, bits := range []string{"512", "8192"} {
				rnd, err := huaweiRecipientCall[hwGenRandomAnswer](hw, hwkms.GenReqDefForCreateRandom, &hwGenRandomBody{
					GenRandomRequestBody: hwmodel.GenRandomRequestBody{RandomDataLength: bits}, Recipient: rcpt})
				if err != nil {
					t.Fatalf("gen-random %s: %v", bits, err)
				}
				n := len(hpkeOpen(t, k, doc, "GenerateRandom", "", b64Decode(t, "ciphertext_recipient", rnd.CiphertextRecipient)))
				if rnd.RandomData != nil || strconv.Itoa(8*n) != bits {
					t.Fatalf("gen-random %s for the recipient: %d bytes, or random_data given too", bits, n)
				}
			}

			peer := base64.StdEncoding.EncodeToString(ks.peerDER)
			inClear, err := hw.DeriveSharedSecret(deriveRequest(kaID, peer))
			if err != nil || inClear.SharedSecret == nil {
				t.Fatalf("derive-shared-secret: %v", err)
			}
			if k.RecipientPublicKey() == nil {
				// The SDK's own Recipient model, unchanged, is enough for P-256.
				docB64, alg := base64.StdEncoding.EncodeToString(doc), k.Algorithm()
				req := deriveRequest(kaID, peer)
				req.Body.Recipient = &hwmodel.Recipient{AttestationDocument: &docB64, KeyEncryptionAlgorithm: &alg}
				ds, err := hw.DeriveSharedSecret(req)
				if err != nil || ds.SharedSecret != nil || !bytes.Equal(hpkeOpen(t, k, doc, "DeriveSharedSecret", *ks.ka.Arn, b64Decode(t, "ciphertext_recipient", ds.CiphertextRecipient)), ks.want) {
					t.Fatalf("derive-shared-secret with the SDK's Recipient: %v", err)
				}
			}
			ds, err := huaweiRecipientCall[hwmodel.DeriveSharedSecretResponse](hw, hwkms.GenReqDefForDeriveSharedSecret, &hwDeriveSharedSecretBody{
				DeriveSharedSecretRequestBody: *deriveRequest(kaID, peer).Body, Recipient: rcpt})
			if err != nil {
				t.Fatalf("derive-shared-secret for the recipient: %v", err)
			}
			got := hpkeOpen(t, k, doc, "DeriveSharedSecret", *ks.ka.Arn, b64Decode(t, "ciphertext_recipient", ds.CiphertextRecipient))
			if ds.SharedSecret != nil || !bytes.Equal(got, b64Decode(t, "shared_secret", inClear.SharedSecret)) || !bytes.Equal(got, ks.want) {
				t.Fatal("derive-shared-secret for the recipient is not the plaintext path's secret")
			}

			// The key pairs: the private key only in ciphertext_recipient,
			// opened as GenerateDataKeyPair's; it is public_key's, and
			// private_key_cipher_text decrypts to it through the AWS dialect.
			ecPair, err := huaweiRecipientCall[hwmodel.CreateEcDatakeyPairResponse](hw, hwkms.GenReqDefForCreateEcDatakeyPair, &hwEcPairBody{
				CreateEcDatakeyPairRequestBody: hwmodel.CreateEcDatakeyPairRequestBody{KeyId: symID, KeySpec: hwmodel.GetCreateEcDatakeyPairRequestBodyKeySpecEnum().ECC_NIST_P256}, Recipient: rcpt})
			if err != nil || ecPair.PrivateKeyPlainText != nil {
				t.Fatalf("create-ec-datakey-pair for the recipient: %v", err)
			}
			checkHuaweiPair(t, e, hpkeOpen(t, k, doc, "GenerateDataKeyPair", *ks.sym.Arn, b64Decode(t, "ciphertext_recipient", ecPair.CiphertextRecipient)), ecPair.PublicKey, ecPair.PrivateKeyCipherText)
			rsaPair, err := huaweiRecipientCall[hwmodel.CreateRsaDatakeyPairResponse](hw, hwkms.GenReqDefForCreateRsaDatakeyPair, &hwRsaPairBody{
				CreateRsaDatakeyPairRequestBody: hwmodel.CreateRsaDatakeyPairRequestBody{KeyId: symID, KeySpec: hwmodel.GetCreateRsaDatakeyPairRequestBodyKeySpecEnum().RSA_2048}, Recipient: rcpt})
			if err != nil || rsaPair.PrivateKeyPlainText != nil {
				t.Fatalf("create-rsa-datakey-pair for the recipient: %v", err)
			}
			checkHuaweiPair(t, e, hpkeOpen(t, k, doc, "GenerateDataKeyPair", *ks.sym.Arn, b64Decode(t, "ciphertext_recipient", rsaPair.CiphertextRecipient)), rsaPair.PublicKey, rsaPair.PrivateKeyCipherText)
		})
	}

	// create-datakey-without-plaintext takes no recipient: refused, not
	// answered in the clear.
	k, _ := enclave.NewKeyOfType(enclave.KeyTypeP256, 0)
	wp, err := huaweiRecipientCall[hwCreateDatakeyAnswer](hw, hwkms.GenReqDefForCreateDatakeyWithoutPlaintext, &hwCreateDatakeyBody{
		CreateDatakeyRequestBody: hwmodel.CreateDatakeyRequestBody{KeyId: symID}, Recipient: hwRecipientOf(e.doc(t, k.PublicKeyDER()), k.Algorithm(), nil)})
	var se *sdkerr.ServiceResponseError
	if !errors.As(err, &se) || se.StatusCode != 400 || se.ErrorCode != "KMS.0308" || !strings.Contains(se.ErrorMessage, "recipient is not accepted") || wp != nil {
		t.Fatalf("create-datakey-without-plaintext with a recipient: %v", err)
	}

	// The key pair in plaintext through the SDK's own CreateEcDatakeyPair:
	// the same checks on private_key_plain_text.
	pair, err := hw.CreateEcDatakeyPair(&hwmodel.CreateEcDatakeyPairRequest{Body: &hwmodel.CreateEcDatakeyPairRequestBody{
		KeyId: symID, KeySpec: hwmodel.GetCreateEcDatakeyPairRequestBodyKeySpecEnum().ECC_NIST_P256}})
	if err != nil || pair.CiphertextRecipient != nil {
		t.Fatalf("create-ec-datakey-pair: %v", err)
	}
	checkHuaweiPair(t, e, b64Decode(t, "private_key_plain_text", pair.PrivateKeyPlainText), pair.PublicKey, pair.PrivateKeyCipherText)
}

// checkHuaweiPair: priv (DER PKCS #8) is the private key of public_key, and
// private_key_cipher_text (no additional_authenticated_data) decrypts to it
// through the AWS dialect.
func checkHuaweiPair(t *testing.T, e *hpkeEnv, priv []byte, pub, ct *string) {
	t.Helper()
	k, err := x509.ParsePKCS8PrivateKey(priv)
	if err != nil {
		t.Fatalf("the private key: %v", err)
	}
	der, err := x509.MarshalPKIXPublicKey(k.(crypto.Signer).Public())
	if err != nil || !bytes.Equal(der, b64Decode(t, "public_key", pub)) {
		t.Fatalf("public_key is not the private key's (%v)", err)
	}
	d, err := e.c.aws.Decrypt(context.Background(), &awskms.DecryptInput{CiphertextBlob: b64Decode(t, "private_key_cipher_text", ct)})
	if err != nil || !bytes.Equal(d.Plaintext, priv) {
		t.Fatalf("private_key_cipher_text does not decrypt to the private key: %v", err)
	}
}

func deriveRequest(id, peer string) *hwmodel.DeriveSharedSecretRequest {
	return &hwmodel.DeriveSharedSecretRequest{Body: &hwmodel.DeriveSharedSecretRequestBody{
		KeyId: id, KeyAgreementAlgorithm: hwmodel.GetDeriveSharedSecretRequestBodyKeyAgreementAlgorithmEnum().ECDH, PublicKey: peer}}
}

// TestHPKERecipientsTencentSDK: through the official Tencent SDK's typed
// requests (the Recipient member added; the SDK signs it), GenerateDataKey,
// Decrypt and GenerateRandom with each HPKE algorithm: Plaintext is then an HPKE frame that
// package enclave opens, under the key's ARN, to what Decrypt without a
// Recipient gives; and GenerateRandom, whose Plaintext opens as
// GenerateRandom's (under no key) to the length asked. Tencent's API has no
// GenerateDataKeyPair or DeriveSharedSecret, and neither is an action here.
func TestHPKERecipientsTencentSDK(t *testing.T) { testserver.Stores(t, testHPKERecipientsTencentSDK) }

func testHPKERecipientsTencentSDK(t *testing.T, store string) {
	e := newHPKEEnv(t, store)
	ks := e.keys(t)
	tc := e.c.tencent

	for _, typ := range []string{enclave.KeyTypeP256, enclave.KeyTypeMLKEM768X25519} {
		t.Run(typ, func(t *testing.T) {
			k, err := enclave.NewKeyOfType(typ, 0)
			if err != nil {
				t.Fatal(err)
			}
			doc := e.doc(t, k.PublicKeyDER())
			rcpt := tcRecipientOf(doc, k.Algorithm(), k.RecipientPublicKey())

			greq := tckms.NewGenerateDataKeyRequest()
			greq.KeyId, greq.KeySpec = ks.sym.KeyId, str("AES_256")
			gdk := tckms.NewGenerateDataKeyResponse()
			if err := tc.Send(&tcGenerateDataKey{greq, rcpt}, gdk); err != nil {
				t.Fatalf("GenerateDataKey: %v", err)
			}
			if *gdk.Response.KeyId != *ks.sym.KeyId {
				t.Fatalf("GenerateDataKey: KeyId %s", *gdk.Response.KeyId)
			}
			dk := hpkeOpen(t, k, doc, "GenerateDataKey", *ks.sym.Arn, b64Decode(t, "Plaintext", gdk.Response.Plaintext))

			dreq := tckms.NewDecryptRequest()
			dreq.CiphertextBlob = gdk.Response.CiphertextBlob
			plain, err := tc.Decrypt(dreq)
			if err != nil || !bytes.Equal(b64Decode(t, "Plaintext", plain.Response.Plaintext), dk) || len(dk) != 32 {
				t.Fatalf("GenerateDataKey's wrapped key is not Decrypt's: %v", err)
			}

			dreq = tckms.NewDecryptRequest()
			dreq.CiphertextBlob = gdk.Response.CiphertextBlob
			dec := tckms.NewDecryptResponse()
			if err := tc.Send(&tcDecrypt{dreq, rcpt}, dec); err != nil {
				t.Fatalf("Decrypt for the recipient: %v", err)
			}
			if !bytes.Equal(hpkeOpen(t, k, doc, "Decrypt", *ks.sym.Arn, b64Decode(t, "Plaintext", dec.Response.Plaintext)), dk) {
				t.Fatal("Decrypt for the recipient is not the data key")
			}

			// Plaintext holds more than raw RSA-OAEP could (190 bytes for
			// RSA-2048): a 1024-byte data key, a 4096-byte Encrypt plaintext.
			greq = tckms.NewGenerateDataKeyRequest()
			greq.KeyId, greq.NumberOfBytes = ks.sym.KeyId, new(uint64)
			*greq.NumberOfBytes = 1024
			big := tckms.NewGenerateDataKeyResponse()
			if err := tc.Send(&tcGenerateDataKey{greq, rcpt}, big); err != nil {
				t.Fatalf("GenerateDataKey of 1024 bytes: %v", err)
			}
			if len(hpkeOpen(t, k, doc, "GenerateDataKey", *ks.sym.Arn, b64Decode(t, "Plaintext", big.Response.Plaintext))) != 1024 {
				t.Fatal("GenerateDataKey of 1024 bytes: not 1024 bytes")
			}
			msg := make([]byte, 4096)
			rand.Read(msg)
			ereq := tckms.NewEncryptRequest()
			ereq.KeyId, ereq.Plaintext = ks.sym.KeyId, str(base64.StdEncoding.EncodeToString(msg))
			enc, err := tc.Encrypt(ereq)
			if err != nil {
				t.Fatal(err)
			}
			dreq = tckms.NewDecryptRequest()
			dreq.CiphertextBlob = enc.Response.CiphertextBlob
			dec = tckms.NewDecryptResponse()
			if err := tc.Send(&tcDecrypt{dreq, rcpt}, dec); err != nil {
				t.Fatalf("Decrypt of 4096 bytes for the recipient: %v", err)
			}
			if !bytes.Equal(hpkeOpen(t, k, doc, "Decrypt", *ks.sym.Arn, b64Decode(t, "Plaintext", dec.Response.Plaintext)), msg) {
				t.Fatal("Decrypt of 4096 bytes for the recipient is not Encrypt's plaintext")
			}

			for _, n := range []uint64{64, 1024} {
				rreq := tckms.NewGenerateRandomRequest()
				rreq.NumberOfBytes = new(uint64)
				*rreq.NumberOfBytes = n
				rnd := tckms.NewGenerateRandomResponse()
				if err := tc.Send(&tcGenerateRandom{rreq, rcpt}, rnd); err != nil {
					t.Fatalf("GenerateRandom %d for the recipient: %v", n, err)
				}
				if got := hpkeOpen(t, k, doc, "GenerateRandom", "", b64Decode(t, "Plaintext", rnd.Response.Plaintext)); uint64(len(got)) != n {
					t.Fatalf("GenerateRandom %d for the recipient: %d bytes", n, len(got))
				}
			}
		})
	}

	for _, action := range []string{"GenerateDataKeyPair", "DeriveSharedSecret"} {
		k, _ := enclave.NewKeyOfType(enclave.KeyTypeP256, 0)
		resp, err := tencentCommon(e.srv, action, map[string]any{"KeyId": *ks.ka.KeyId,
			"Recipient": tcRecipientOf(e.doc(t, k.PublicKeyDER()), k.Algorithm(), nil)})
		var te *tcerr.TencentCloudSDKError
		if !errors.As(err, &te) || te.Code != "InvalidAction" || !strings.Contains(te.Message, action+" does not exist") || resp != nil {
			t.Fatalf("Tencent %s: %v %v", action, resp, err)
		}
	}
}

// hpkeRefusal is one request each dialect must refuse as invalid: the
// document binds doc's key, the Recipient names alg and carries pub; the
// error message says want, or tencentWant through Tencent if it is set.
type hpkeRefusal struct {
	name, alg         string
	doc, pub          []byte
	want, tencentWant string
}

// hpkeRefusals are the cases of TestHPKERefusalsHuawei and Tencent.
func (e *hpkeEnv) hpkeRefusals(t *testing.T) []hpkeRefusal {
	t.Helper()
	p256, _ := enclave.NewKeyOfType(enclave.KeyTypeP256, 0)
	mlkem, _ := enclave.NewKeyOfType(enclave.KeyTypeMLKEM768X25519, 0)
	otherMLKEM, _ := enclave.NewKeyOfType(enclave.KeyTypeMLKEM768X25519, 0)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	p256Doc, mlkemDoc, rsaDoc := e.doc(t, p256.PublicKeyDER()), e.doc(t, mlkem.PublicKeyDER()), e.doc(t, rsaDER)
	return []hpkeRefusal{
		{"ML-KEM key not bound", recipient.AlgHPKEMLKEM768X25519, mlkemDoc, otherMLKEM.RecipientPublicKey(), "does not bind Recipient.PublicKey", ""},
		{"ML-KEM key missing", recipient.AlgHPKEMLKEM768X25519, mlkemDoc, nil, "Recipient.PublicKey is required", ""},
		{"P-256 document, RSA algorithm", recipient.KeyEncryptionAlgorithm, p256Doc, nil, "EC P-256 key, which cannot receive a secret with RSAES_OAEP_SHA_256; use HPKE_P256_SHA256_AES256GCM", ""},
		{"RSA document, P-256 algorithm", recipient.AlgHPKEP256, rsaDoc, nil, "RSA-2048 key, which cannot receive a secret with HPKE_P256_SHA256_AES256GCM; use RSAES_OAEP_SHA_256", ""},
		{"RSA document, ML-KEM algorithm", recipient.AlgHPKEMLKEM768X25519, rsaDoc, mlkem.RecipientPublicKey(), "use RSAES_OAEP_SHA_256", ""},
		{"ML-KEM key on a P-256 document", recipient.AlgHPKEMLKEM768X25519, p256Doc, mlkem.RecipientPublicKey(), "binds an EC P-256 key", ""},
		{"digest document, P-256 algorithm", recipient.AlgHPKEP256, mlkemDoc, nil, "use HPKE_MLKEM768X25519_SHA256_AES256GCM with Recipient.PublicKey", ""},
		{"PublicKey with P-256", recipient.AlgHPKEP256, p256Doc, mlkem.RecipientPublicKey(), "Recipient.PublicKey is only for", ""},
		{"ML-KEM key cut short", recipient.AlgHPKEMLKEM768X25519, mlkemDoc, mlkem.RecipientPublicKey()[:1215], "Recipient.PublicKey is 1215 bytes; an ML-KEM-768+X25519 public key is 1216", ""},
		// Huawei's key_encryption_algorithm defaults to RSAES_OAEP_SHA_256
		// (its API's only value); Tencent's extension, as the AWS dialect,
		// requires one.
		{"no algorithm, P-256 document", "", p256Doc, nil, "EC P-256 key, which cannot receive a secret with RSAES_OAEP_SHA_256; use HPKE_P256_SHA256_AES256GCM",
			"unsupported key encryption algorithm: none given; use RSAES_OAEP_SHA_256, HPKE_P256_SHA256_AES256GCM or HPKE_MLKEM768X25519_SHA256_AES256GCM"},
		{"unknown algorithm", "HPKE_P384_SHA384_AES256GCM", p256Doc, nil, `unsupported key encryption algorithm "HPKE_P384_SHA384_AES256GCM"`, ""},
		{"algorithm in lower case", strings.ToLower(recipient.AlgHPKEP256), p256Doc, nil, `unsupported key encryption algorithm "hpke_p256_sha256_aes256gcm"`, ""},
	}
}

// auditSeq is the number of lines in srv's audit log.
func auditSeq(t *testing.T, srv *testserver.Server) int { return len(gateAuditLines(t, srv.DataDir)) }

// checkRefusedSince: every audit line of srv after the first from ones
// records a refusal of dialect with code, and there are want of them:
// nothing was released.
func checkRefusedSince(t *testing.T, srv *testserver.Server, from int, dialect, code string, want int) {
	t.Helper()
	lines := gateAuditLines(t, srv.DataDir)[from:]
	for _, l := range lines {
		if l["dialect"] != dialect || l["outcome"] != "error" || l["error_code"] != code {
			t.Errorf("audit: %v; want a %s refusal %s", l, dialect, code)
		}
	}
	if len(lines) != want {
		t.Errorf("audit: %d lines after the refusals began, want %d", len(lines), want)
	}
}

// TestHPKERefusalsHuawei: through the Huawei SDK, on every operation that
// takes a recipient, an ML-KEM key whose hash the document does not bind,
// the ML-KEM suite without the key, a P-256 document with
// RSAES_OAEP_SHA_256, an RSA document with either HPKE suite, and an
// unknown algorithm are each a 400 KMS.0308 saying what is wrong, with no
// answer, and audited as that refusal: nothing is released.
func TestHPKERefusalsHuawei(t *testing.T) {
	e := newHPKEEnv(t, testserver.Bolt)
	ks := e.keys(t)
	hw := e.c.huawei
	symID := *ks.sym.KeyId
	plain, err := hw.CreateDatakey(&hwmodel.CreateDatakeyRequest{Body: &hwmodel.CreateDatakeyRequestBody{KeyId: symID, DatakeyLength: str("256")}})
	if err != nil {
		t.Fatal(err)
	}
	peer := base64.StdEncoding.EncodeToString(ks.peerDER)
	cases := e.hpkeRefusals(t)
	from := auditSeq(t, e.srv)
	for _, tc := range cases {
		r := hwRecipientOf(tc.doc, tc.alg, tc.pub)
		// Each call says whether it got an answer, and its error.
		for op, call := range map[string]func() (bool, error){
			"create-datakey": func() (bool, error) {
				out, err := huaweiRecipientCall[hwCreateDatakeyAnswer](hw, hwkms.GenReqDefForCreateDatakey, &hwCreateDatakeyBody{
					CreateDatakeyRequestBody: hwmodel.CreateDatakeyRequestBody{KeyId: symID, DatakeyLength: str("256")}, Recipient: r})
				return out != nil, err
			},
			"decrypt-datakey": func() (bool, error) {
				out, err := huaweiRecipientCall[hwDecryptDatakeyAnswer](hw, hwkms.GenReqDefForDecryptDatakey, &hwDecryptDatakeyBody{
					DecryptDatakeyRequestBody: hwmodel.DecryptDatakeyRequestBody{KeyId: symID, CipherText: *plain.CipherText, DatakeyCipherLength: "32"}, Recipient: r})
				return out != nil, err
			},
			"gen-random": func() (bool, error) {
				out, err := huaweiRecipientCall[hwGenRandomAnswer](hw, hwkms.GenReqDefForCreateRandom, &hwGenRandomBody{
					GenRandomRequestBody: hwmodel.GenRandomRequestBody{RandomDataLength: "256"}, Recipient: r})
				return out != nil, err
			},
			"derive-shared-secret": func() (bool, error) {
				out, err := huaweiRecipientCall[hwmodel.DeriveSharedSecretResponse](hw, hwkms.GenReqDefForDeriveSharedSecret, &hwDeriveSharedSecretBody{
					DeriveSharedSecretRequestBody: *deriveRequest(*ks.ka.KeyId, peer).Body, Recipient: r})
				return out != nil, err
			},
			"create-ec-datakey-pair": func() (bool, error) {
				out, err := huaweiRecipientCall[hwmodel.CreateEcDatakeyPairResponse](hw, hwkms.GenReqDefForCreateEcDatakeyPair, &hwEcPairBody{
					CreateEcDatakeyPairRequestBody: hwmodel.CreateEcDatakeyPairRequestBody{KeyId: symID, KeySpec: hwmodel.GetCreateEcDatakeyPairRequestBodyKeySpecEnum().ECC_NIST_P256}, Recipient: r})
				return out != nil, err
			},
			"create-rsa-datakey-pair": func() (bool, error) {
				out, err := huaweiRecipientCall[hwmodel.CreateRsaDatakeyPairResponse](hw, hwkms.GenReqDefForCreateRsaDatakeyPair, &hwRsaPairBody{
					CreateRsaDatakeyPairRequestBody: hwmodel.CreateRsaDatakeyPairRequestBody{KeyId: symID, KeySpec: hwmodel.GetCreateRsaDatakeyPairRequestBodyKeySpecEnum().RSA_2048}, Recipient: r})
				return out != nil, err
			},
		} {
			answered, err := call()
			var se *sdkerr.ServiceResponseError
			if !errors.As(err, &se) || se.StatusCode != 400 || se.ErrorCode != "KMS.0308" || !strings.Contains(se.ErrorMessage, tc.want) {
				t.Errorf("%s, %s: %v; want a 400 KMS.0308 saying %q", op, tc.name, err, tc.want)
			}
			if answered {
				t.Errorf("%s, %s: an answer with the error", op, tc.name)
			}
		}
	}
	checkRefusedSince(t, e.srv, from, "huawei", "KMS.0308", 6*len(cases))
}

// TestHPKERefusalsTencent: the same through the Tencent SDK's typed
// GenerateDataKey, Decrypt and GenerateRandom with the Recipient member: each
// InvalidParameterValue saying what is wrong, no Plaintext, and audited as
// that refusal: nothing is released.
func TestHPKERefusalsTencent(t *testing.T) {
	e := newHPKEEnv(t, testserver.Bolt)
	ks := e.keys(t)
	tc := e.c.tencent
	ereq := tckms.NewEncryptRequest()
	ereq.KeyId, ereq.Plaintext = ks.sym.KeyId, str(base64.StdEncoding.EncodeToString(make([]byte, 32)))
	blob, err := tc.Encrypt(ereq)
	if err != nil {
		t.Fatal(err)
	}
	cases := e.hpkeRefusals(t)
	from := auditSeq(t, e.srv)
	for _, c := range cases {
		r := tcRecipientOf(c.doc, c.alg, c.pub)
		greq := tckms.NewGenerateDataKeyRequest()
		greq.KeyId, greq.KeySpec = ks.sym.KeyId, str("AES_256")
		gdk := tckms.NewGenerateDataKeyResponse()
		dreq := tckms.NewDecryptRequest()
		dreq.CiphertextBlob = blob.Response.CiphertextBlob
		dec := tckms.NewDecryptResponse()
		rreq := tckms.NewGenerateRandomRequest()
		rreq.NumberOfBytes = new(uint64)
		*rreq.NumberOfBytes = 32
		rnd := tckms.NewGenerateRandomResponse()
		for op, err := range map[string]error{
			"GenerateDataKey": tc.Send(&tcGenerateDataKey{greq, r}, gdk),
			"Decrypt":         tc.Send(&tcDecrypt{dreq, r}, dec),
			"GenerateRandom":  tc.Send(&tcGenerateRandom{rreq, r}, rnd),
		} {
			var te *tcerr.TencentCloudSDKError
			want := c.want
			if c.tencentWant != "" {
				want = c.tencentWant
			}
			if !errors.As(err, &te) || te.Code != "InvalidParameterValue" || !strings.Contains(te.Message, want) {
				t.Errorf("%s, %s: %v; want InvalidParameterValue saying %q", op, c.name, err, want)
			}
		}
		if gdk.Response != nil && gdk.Response.Plaintext != nil || dec.Response != nil && dec.Response.Plaintext != nil || rnd.Response != nil && rnd.Response.Plaintext != nil {
			t.Errorf("%s: a Plaintext with the error", c.name)
		}
	}
	checkRefusedSince(t, e.srv, from, "tencent", "InvalidParameterValue", 3*len(cases))
}

// TestHPKEPolicyDialects: a key's kms:RecipientAttestation condition holds
// whatever the algorithm. Keys that give out secrets only to an image
// (ImageSha384) release them through Huawei (create-datakey, decrypt-datakey,
// derive-shared-secret) and Tencent (GenerateDataKey, Decrypt) to that
// image's P-256 and ML-KEM keys, and refuse, in each dialect's access-denied
// shape (Huawei 403 KMS.0306, Tencent UnauthorizedOperation), the same
// requests from another image.
func TestHPKEPolicyDialects(t *testing.T) { testserver.Stores(t, testHPKEPolicyDialects) }

func testHPKEPolicyDialects(t *testing.T, store string) {
	e := newHPKEEnv(t, store)
	ctx := context.Background()
	pol := attestedPolicy("arn:aws:iam::"+e.srv.Account.AccountID+":root", `{"kms:RecipientAttestation:ImageSha384":"`+strings.Repeat("42", 48)+`"}`)
	sym, err := e.c.aws.CreateKey(ctx, &awskms.CreateKeyInput{Policy: &pol})
	if err != nil {
		t.Fatal(err)
	}
	ka, err := e.c.aws.CreateKey(ctx, &awskms.CreateKeyInput{Policy: &pol, KeySpec: awstypes.KeySpecEccNistP256, KeyUsage: awstypes.KeyUsageTypeKeyAgreement})
	if err != nil {
		t.Fatal(err)
	}
	symID, kaID := *sym.KeyMetadata.KeyId, *ka.KeyMetadata.KeyId
	enc, err := e.c.aws.Encrypt(ctx, &awskms.EncryptInput{KeyId: &symID, Plaintext: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	hexCT := hex.EncodeToString(enc.CiphertextBlob) // Huawei's cipher_text
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	peerDER, _ := x509.MarshalPKIXPublicKey(peer.PublicKey())
	peerB64 := base64.StdEncoding.EncodeToString(peerDER)
	hw, tc := e.c.huawei, e.c.tencent

	for _, typ := range []string{enclave.KeyTypeP256, enclave.KeyTypeMLKEM768X25519} {
		t.Run(typ, func(t *testing.T) {
			k, err := enclave.NewKeyOfType(typ, 0)
			if err != nil {
				t.Fatal(err)
			}
			good := e.doc(t, k.PublicKeyDER())
			pcrs := map[int][]byte{0: bytes.Repeat([]byte{0x43}, 48), 1: make([]byte, 48), 2: make([]byte, 48)}
			bad, err := e.ca.Sign(nitrotest.Document{Timestamp: time.Now(), PCRs: pcrs, PublicKey: k.PublicKeyDER(), Nonce: []byte("hpke nonce")})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range []struct {
				name    string
				doc     []byte
				allowed bool
			}{{"the image", good, true}, {"another image", bad, false}} {
				hr := hwRecipientOf(d.doc, k.Algorithm(), k.RecipientPublicKey())
				tr := tcRecipientOf(d.doc, k.Algorithm(), k.RecipientPublicKey())
				type answer struct {
					op, arn string
					cfr     *string
					err     error
				}
				var answers []answer
				gdk, err := huaweiRecipientCall[hwCreateDatakeyAnswer](hw, hwkms.GenReqDefForCreateDatakey, &hwCreateDatakeyBody{
					CreateDatakeyRequestBody: hwmodel.CreateDatakeyRequestBody{KeyId: symID}, Recipient: hr})
				a := answer{"GenerateDataKey", *sym.KeyMetadata.Arn, nil, err}
				if gdk != nil {
					a.cfr = gdk.CiphertextRecipient
				}
				answers = append(answers, a)
				dec, err := huaweiRecipientCall[hwDecryptDatakeyAnswer](hw, hwkms.GenReqDefForDecryptDatakey, &hwDecryptDatakeyBody{
					DecryptDatakeyRequestBody: hwmodel.DecryptDatakeyRequestBody{KeyId: symID, CipherText: hexCT, DatakeyCipherLength: "32"}, Recipient: hr})
				a = answer{"Decrypt", *sym.KeyMetadata.Arn, nil, err}
				if dec != nil {
					a.cfr = dec.CiphertextRecipient
				}
				answers = append(answers, a)
				ds, err := huaweiRecipientCall[hwmodel.DeriveSharedSecretResponse](hw, hwkms.GenReqDefForDeriveSharedSecret, &hwDeriveSharedSecretBody{
					DeriveSharedSecretRequestBody: *deriveRequest(kaID, peerB64).Body, Recipient: hr})
				a = answer{"DeriveSharedSecret", *ka.KeyMetadata.Arn, nil, err}
				if ds != nil {
					a.cfr = ds.CiphertextRecipient
				}
				answers = append(answers, a)
				for _, a := range answers {
					if !d.allowed {
						var se *sdkerr.ServiceResponseError
						if !errors.As(a.err, &se) || se.StatusCode != 403 || se.ErrorCode != "KMS.0306" || a.cfr != nil {
							t.Errorf("Huawei %s for %s: %v; want 403 KMS.0306", a.op, d.name, a.err)
						}
						continue
					}
					if a.err != nil {
						t.Fatalf("Huawei %s for %s: %v", a.op, d.name, a.err)
					}
					hpkeOpen(t, k, d.doc, a.op, a.arn, b64Decode(t, "ciphertext_recipient", a.cfr))
				}

				greq := tckms.NewGenerateDataKeyRequest()
				greq.KeyId, greq.KeySpec = &symID, str("AES_256")
				tg := tckms.NewGenerateDataKeyResponse()
				dreq := tckms.NewDecryptRequest()
				dreq.CiphertextBlob = str(base64.StdEncoding.EncodeToString(enc.CiphertextBlob))
				td := tckms.NewDecryptResponse()
				for _, a := range []struct {
					op  string
					err error
					pt  func() *string
				}{
					{"GenerateDataKey", tc.Send(&tcGenerateDataKey{greq, tr}, tg), func() *string { return tg.Response.Plaintext }},
					{"Decrypt", tc.Send(&tcDecrypt{dreq, tr}, td), func() *string { return td.Response.Plaintext }},
				} {
					if !d.allowed {
						var te *tcerr.TencentCloudSDKError
						if !errors.As(a.err, &te) || te.Code != "UnauthorizedOperation" {
							t.Errorf("Tencent %s for %s: %v; want UnauthorizedOperation", a.op, d.name, a.err)
						}
						continue
					}
					if a.err != nil {
						t.Fatalf("Tencent %s for %s: %v", a.op, d.name, a.err)
					}
					pt := hpkeOpen(t, k, d.doc, a.op, *sym.KeyMetadata.Arn, b64Decode(t, "Plaintext", a.pt()))
					if a.op == "Decrypt" && !bytes.Equal(pt, bytes.Repeat([]byte{7}, 32)) {
						t.Fatal("Tencent Decrypt for the image: not the plaintext")
					}
				}
			}
		})
	}
}
