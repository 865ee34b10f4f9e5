package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	sdkerr "github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	hwmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/attestkms/attestkms/attest"
	"github.com/attestkms/attestkms/attest/nitro"
	"github.com/attestkms/attestkms/attest/nitro/nitrotest"
	"github.com/attestkms/attestkms/internal/testserver"
	"github.com/attestkms/attestkms/recipient"
)

// The attestation gate end to end: a ciphertext of an attestation-bound key
// stays closed to every dialect's way of opening it without a Recipient,
// however open the key's policy; and the shipped binaries hold the same line.

// gateAdminActions are what a safe enclave-only policy allows without evidence.
const gateAdminActions = `"kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","kms:RotateKeyOnDemand","kms:Encrypt"`

// gateAuditLines reads the audit log of a data directory.
func gateAuditLines(t *testing.T, dataDir string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("audit line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// opensSecrets are the operations, in every dialect's spelling, that hand
// out a plaintext of a key, or re-encrypt one.
var opensSecrets = map[string]bool{
	"Decrypt": true, "ReEncrypt": true, "GenerateDataKey": true, "GenerateDataKeyPair": true, "DeriveSharedSecret": true,
	"decrypt-datakey": true, "decrypt-data": true, "create-datakey": true, "derive-shared-secret": true,
}

// TestGateAcrossDialects: a bound key whose policy allows the account
// kms:* (forced on with BypassPolicyLockoutSafetyCheck). A ciphertext made
// through AWS cannot be opened without a Recipient through AWS Decrypt, AWS
// ReEncrypt to the caller's own key, Huawei's decrypt-datakey and
// decrypt-data, or Tencent's Decrypt (in the clear or to a public key the
// caller holds); each refusal is in its dialect's shape and audited. An
// attested enclave opens it through AWS and Tencent. Every secret the key
// gave out is audited with the attestation it was given to.
func TestGateAcrossDialects(t *testing.T) { testserver.Stores(t, testGateAcrossDialects) }

func testGateAcrossDialects(t *testing.T, store string) {
	ca, err := nitrotest.NewTestCA(attest.FormatNitro, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := nitro.New(nitro.Options{Roots: ca.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	srv := testserver.Start(t, testserver.Options{Store: store, Attestation: &attest.Set{COSE: []attest.Verifier{v}}})
	c := threeSDKs(t, srv)
	ctx := context.Background()
	enclave, _ := rsa.GenerateKey(rand.Reader, 2048)
	enclaveDER, _ := x509.MarshalPKIXPublicKey(&enclave.PublicKey)
	pcrs := map[int][]byte{0: bytes.Repeat([]byte{0x42}, 48), 1: make([]byte, 48), 2: make([]byte, 48)}
	doc := func() []byte {
		d, err := ca.Sign(nitrotest.Document{Timestamp: time.Now(), PCRs: pcrs, PublicKey: enclaveDER})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	root := "arn:aws:iam::" + srv.Account.AccountID + ":root"
	pol := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"everything","Effect":"Allow","Principal":{"AWS":"` + root + `"},"Action":"kms:*","Resource":"*"},
	 {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"` + root + `"},"Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + hex.EncodeToString(pcrs[0]) + `"}}}]}`
	_, err = c.aws.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pol)})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "MalformedPolicyDocumentException" {
		t.Fatalf("the open bound policy: %v; want MalformedPolicyDocumentException", err)
	}
	k, err := c.aws.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(pol), BypassPolicyLockoutSafetyCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	id := *k.KeyMetadata.KeyId
	mine, err := c.aws.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef") // 32 bytes: a data key, for decrypt-datakey
	enc, err := c.aws.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: secret})
	if err != nil {
		t.Fatal(err)
	}
	ct := enc.CiphertextBlob

	wantAWS := func(what string, answered bool, err error) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" || !strings.Contains(ae.ErrorMessage(), "is attestation-bound") {
			t.Errorf("AWS %s: %v; want AccessDeniedException from the attestation gate", what, err)
		}
		if answered {
			t.Errorf("AWS %s answered beside its error", what)
		}
	}
	dec, err := c.aws.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: ct})
	wantAWS("Decrypt", dec != nil, err)
	re, err := c.aws.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: ct, DestinationKeyId: mine.KeyMetadata.KeyId})
	wantAWS("ReEncrypt to the caller's own key", re != nil, err)

	wantHuawei := func(what string, err error) {
		t.Helper()
		var se *sdkerr.ServiceResponseError
		if !errors.As(err, &se) || se.ErrorCode != "KMS.0306" || se.StatusCode != 403 || !strings.Contains(se.ErrorMessage, "is attestation-bound") {
			t.Errorf("Huawei %s: %v; want 403 KMS.0306 from the attestation gate", what, err)
		}
	}
	hdk, err := c.huawei.DecryptDatakey(&hwmodel.DecryptDatakeyRequest{Body: &hwmodel.DecryptDatakeyRequestBody{KeyId: id, CipherText: hex.EncodeToString(ct), DatakeyCipherLength: "32"}})
	wantHuawei("decrypt-datakey", err)
	if hdk != nil && hdk.DataKey != nil {
		t.Error("Huawei decrypt-datakey answered a data key")
	}
	hdd, err := c.huawei.DecryptData(&hwmodel.DecryptDataRequest{Body: &hwmodel.DecryptDataRequestBody{CipherText: base64.StdEncoding.EncodeToString(ct)}})
	wantHuawei("decrypt-data", err)
	if hdd != nil && (hdd.PlainText != nil || hdd.PlainTextBase64 != nil) {
		t.Error("Huawei decrypt-data answered a plaintext")
	}

	wantTencent := func(what string, out *tckms.DecryptResponse, err error) {
		t.Helper()
		var te *tcerr.TencentCloudSDKError
		if !errors.As(err, &te) || te.Code != "UnauthorizedOperation" || !strings.Contains(te.Message, "is attestation-bound") {
			t.Errorf("Tencent %s: %v; want UnauthorizedOperation from the attestation gate", what, err)
		}
		if out != nil && out.Response != nil && out.Response.Plaintext != nil {
			t.Errorf("Tencent %s answered a plaintext", what)
		}
	}
	td := tckms.NewDecryptRequest()
	td.CiphertextBlob = str(base64.StdEncoding.EncodeToString(ct))
	tout, err := c.tencent.Decrypt(td)
	wantTencent("Decrypt", tout, err)
	attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
	attackerDER, _ := x509.MarshalPKIXPublicKey(&attacker.PublicKey)
	td = tckms.NewDecryptRequest()
	td.CiphertextBlob = str(base64.StdEncoding.EncodeToString(ct))
	td.EncryptionPublicKey = str(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: attackerDER})))
	td.EncryptionAlgorithm = str("RSAES_OAEP_SHA_256")
	tout, err = c.tencent.Decrypt(td)
	wantTencent("Decrypt to an EncryptionPublicKey", tout, err)

	// The attested enclave opens it, through AWS (CMS) and Tencent (raw OAEP).
	ad, err := c.aws.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: ct,
		Recipient: &awstypes.RecipientInfo{AttestationDocument: doc(), KeyEncryptionAlgorithm: awstypes.KeyEncryptionMechanismRsaesOaepSha256}})
	if err != nil || ad.Plaintext != nil {
		t.Fatalf("AWS Decrypt with a Recipient: %v", err)
	}
	if got, err := recipient.UnwrapCMS(enclave, ad.CiphertextForRecipient); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("AWS CiphertextForRecipient: %v", err)
	}
	tr, err := tencentCommon(srv, "Decrypt", map[string]any{"CiphertextBlob": base64.StdEncoding.EncodeToString(ct),
		"Recipient": map[string]any{"AttestationDocument": base64.StdEncoding.EncodeToString(doc()), "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}})
	if err != nil {
		t.Fatalf("Tencent Decrypt with a Recipient: %v", err)
	}
	wrapped, _ := base64.StdEncoding.DecodeString(tr["Plaintext"].(string))
	if got, err := rsa.DecryptOAEP(sha256.New(), nil, enclave, wrapped, nil); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Tencent Plaintext does not unwrap to the secret: %v", err)
	}

	// The log: every refusal above, in its dialect; every secret of the key
	// that went out went to a verified attestation.
	keyARN := *k.KeyMetadata.Arn
	refused := map[string]int{}
	for _, l := range gateAuditLines(t, srv.DataDir) {
		op, _ := l["operation"].(string)
		arn, _ := l["key_arn"].(string)
		src, _ := l["source_key_arn"].(string)
		if !opensSecrets[op] || (!strings.HasSuffix(arn, id) && !strings.HasSuffix(src, id)) {
			continue
		}
		if l["outcome"] == "ok" && l["attestation"] == nil {
			t.Errorf("%s %s on the bound key succeeded without an attestation: %v", l["dialect"], op, l)
		}
		if l["outcome"] == "error" {
			refused[l["dialect"].(string)]++
		}
	}
	if refused["aws"] < 2 || refused["huawei"] < 2 || refused["tencent"] < 2 {
		t.Errorf("refusals audited per dialect: %v; want at least 2 each (key %s)", refused, keyARN)
	}
}

// TestGateQuickStart: the shipped binaries. attestkms serve refuses the
// README's old NotAction policy; forced on, the bypass is in the audit log,
// the simulated enclave still gets its data key through enclavetool, and a
// plain SDK caller gets neither a Decrypt of it nor a data key pair.
func TestGateQuickStart(t *testing.T) {
	q := newQuickStart(t)
	q.run("attestsim", "nitro-ca", "--out", "ca")
	q.start("--nitro-roots", "ca/root.pem")
	ctx := context.Background()

	first, err := q.sdk.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	acct := *first.KeyMetadata.AWSAccountId
	image := sha512.Sum384([]byte("attestkms simulated enclave")) // enclavetool --attestor sim's default PCR0
	old := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"manage","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"NotAction":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*"},
	 {"Sid":"enclave","Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"*",
	  "Condition":{"StringEquals":{"kms:RecipientAttestation:ImageSha384":"` + hex.EncodeToString(image[:]) + `"}}}]}`
	var ae smithy.APIError
	_, err = q.sdk.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(old)})
	if !errors.As(err, &ae) || ae.ErrorCode() != "MalformedPolicyDocumentException" || !strings.Contains(ae.ErrorMessage(), `statement 0 (Sid "manage")`) {
		t.Fatalf("the old README policy: %v; want MalformedPolicyDocumentException naming the manage statement", err)
	}
	k, err := q.sdk.CreateKey(ctx, &awskms.CreateKeyInput{Policy: aws.String(old), BypassPolicyLockoutSafetyCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.sdk.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/enclave"), TargetKeyId: k.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	bypassedLines := 0
	for _, l := range gateAuditLines(t, filepath.Join(q.work, "attestkms-data")) {
		if l["operation"] == "CreateKey" && l["outcome"] == "ok" {
			if b, _ := l["bypassed_checks"].([]any); len(b) == 1 && b[0] == "attestation-safety" {
				bypassedLines++
			}
		}
	}
	if bypassedLines != 1 {
		t.Fatalf("%d audited bypasses; want 1", bypassedLines)
	}

	dk := q.tool("generate-data-key", "--key-id", "alias/enclave", "--attestor", "sim", "--sim-ca", "ca")
	if len(dk["PLAINTEXT"]) != 32 || len(dk["CIPHERTEXT"]) == 0 {
		t.Fatalf("the enclave's generate-data-key printed %v", dk)
	}
	_, err = q.sdk.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: dk["CIPHERTEXT"]})
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" || !strings.Contains(ae.ErrorMessage(), "is attestation-bound") {
		t.Fatalf("SDK Decrypt of the enclave's data key: %v; want the attestation gate", err)
	}
	_, err = q.sdk.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{KeyId: aws.String("alias/enclave"), KeyPairSpec: awstypes.DataKeyPairSpecEccNistP256})
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" || !strings.Contains(ae.ErrorMessage(), "is attestation-bound") {
		t.Fatalf("SDK GenerateDataKeyPair through the old policy's NotAction: %v; want the attestation gate", err)
	}
	back := q.tool("decrypt", "--ciphertext", base64.StdEncoding.EncodeToString(dk["CIPHERTEXT"]), "--attestor", "sim", "--sim-ca", "ca")
	if !bytes.Equal(back["PLAINTEXT"], dk["PLAINTEXT"]) {
		t.Fatal("the enclave cannot decrypt its own data key")
	}
}
