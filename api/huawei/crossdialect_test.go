package huawei_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	hwkms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

	"github.com/attestkms/attestkms/internal/testserver"
	"github.com/attestkms/attestkms/kms"
)

// TestSameKeyThroughAWS: a key made through Huawei's SDK is the AWS SDK's
// key (its key_alias an alias), and ciphertexts cross both ways with the
// same access key pair; additional_authenticated_data is the encryption
// context {"additional_authenticated_data": aad}.
func TestSameKeyThroughAWS(t *testing.T) {
	ctx := context.Background()
	srv := testserver.Start(t, testserver.Options{})
	hw := newClient(t, srv)
	aw := awskms.New(awskms.Options{
		Region: srv.Region, Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.Secret, ""),
		BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
	})
	id := createKey(t, hw, "shared", "", "")
	d, err := aw.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/shared")})
	if err != nil || *d.KeyMetadata.KeyId != id {
		t.Fatalf("AWS DescribeKey alias/shared: %v", err)
	}

	aad := "tenant=acme"
	ec := map[string]string{"additional_authenticated_data": aad}
	e, err := hw.EncryptData(&model.EncryptDataRequest{Body: &model.EncryptDataRequestBody{KeyId: id, PlainText: "from huawei", AdditionalAuthenticatedData: &aad}})
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := base64.StdEncoding.DecodeString(*e.CipherText)
	if back, err := aw.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec}); err != nil || string(back.Plaintext) != "from huawei" {
		t.Fatalf("AWS Decrypt of encrypt-data: %v", err)
	}

	// Bytes that are not text: plain_text_base64 carries them exactly.
	bin := []byte{0xff, 0xfe, 0, 'a', 0x80}
	enc, err := aw.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: bin, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	dd, err := hw.DecryptData(&model.DecryptDataRequest{Body: &model.DecryptDataRequestBody{CipherText: base64.StdEncoding.EncodeToString(enc.CiphertextBlob), AdditionalAuthenticatedData: &aad}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := base64.StdEncoding.DecodeString(*dd.PlainTextBase64); !bytes.Equal(got, bin) || *dd.PlainText != "\ufffd\ufffd\x00a\ufffd" {
		t.Fatalf("decrypt-data of binary: %q %q", *dd.PlainText, *dd.PlainTextBase64)
	}

	// An AWS data key decrypts through decrypt-datakey, and back.
	dk, err := aw.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: types.DataKeySpecAes256})
	if err != nil {
		t.Fatal(err)
	}
	dr, err := hw.DecryptDatakey(&model.DecryptDatakeyRequest{Body: &model.DecryptDatakeyRequestBody{KeyId: id, CipherText: hex.EncodeToString(dk.CiphertextBlob), DatakeyCipherLength: "32"}})
	if err != nil || *dr.DataKey != hex.EncodeToString(dk.Plaintext) {
		t.Fatalf("decrypt-datakey of an AWS data key: %v", err)
	}
	cd, err := hw.CreateDatakey(&model.CreateDatakeyRequest{Body: &model.CreateDatakeyRequestBody{KeyId: id}})
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := hex.DecodeString(*cd.CipherText)
	if back, err := aw.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: ct}); err != nil || hex.EncodeToString(back.Plaintext) != *cd.PlainText {
		t.Fatalf("AWS Decrypt of create-datakey: %v", err)
	}

	// A key made through AWS, state changes through either.
	ak, err := aw.CreateKey(ctx, &awskms.CreateKeyInput{KeySpec: types.KeySpecEccNistP521, KeyUsage: types.KeyUsageTypeKeyAgreement})
	if err != nil {
		t.Fatal(err)
	}
	if d := describe(t, hw, *ak.KeyMetadata.KeyId); d.KeySpec.Value() != "EC_P521" || d.KeyUsage.Value() != "KEY_AGREEMENT" || *d.KeyAlias != "" {
		t.Fatalf("describe-key of an AWS key: %s", d)
	}
	if _, err := hw.DisableKey(&model.DisableKeyRequest{Body: &model.OperateKeyRequestBody{KeyId: id}}); err != nil {
		t.Fatal(err)
	}
	if d, _ := aw.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)}); d.KeyMetadata.KeyState != types.KeyStateDisabled {
		t.Fatalf("AWS sees %s", d.KeyMetadata.KeyState)
	}
}

// TestRegionDenyHolds: Huawei requests name no region; their keys are the
// server's, under the same ARN as through the other dialects (in the
// server's region, whichever it is), so a Deny on that ARN holds for
// create-datakey, and the audit log names it.
func TestRegionDenyHolds(t *testing.T) {
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		t.Run(region, func(t *testing.T) {
			ctx := context.Background()
			srv := testserver.Start(t, testserver.Options{Region: region})
			acct := srv.Account.AccountID
			aw := awskms.New(awskms.Options{
				Region: region, Credentials: credentials.NewStaticCredentialsProvider(srv.AccessKey, srv.Secret, ""),
				BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
			})
			hw := newClient(t, srv)
			id := createKey(t, hw, "denied", "", "")
			arn := "arn:aws:kms:" + region + ":" + acct + ":key/" + id
			deny := `{"Version":"2012-10-17","Statement":[
			  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:*","Resource":"*"},
			  {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"kms:GenerateDataKey","Resource":"` + arn + `"}]}`
			if _, err := aw.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: &id, Policy: &deny}); err != nil {
				t.Fatal(err)
			}
			out, err := hw.CreateDatakey(&model.CreateDatakeyRequest{Body: &model.CreateDatakeyRequestBody{KeyId: id}})
			wantCode(t, err, "KMS.0306", 403)
			if out != nil && out.PlainText != nil {
				t.Fatal("create-datakey returned a data key")
			}
			log, _ := os.ReadFile(filepath.Join(srv.DataDir, "audit.log"))
			if !bytes.Contains(log, []byte(`"dialect":"huawei","operation":"GenerateDataKey","key_arn":"`+arn+`"`)) {
				t.Fatalf("the Huawei create-datakey audit line does not name %s:\n%s", arn, log)
			}
		})
	}
}

// TestIdentityPolicyThroughHuawei: a credential's identity policy binds it
// in every dialect, not only AWS's: limited to decrypting under alias/ci, it
// decrypts there through Huawei's SDK and may not encrypt, nor decrypt
// under another key.
func TestIdentityPolicyThroughHuawei(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	admin := newClient(t, srv)
	ci := createKey(t, admin, "ci", "", "")
	other := createKey(t, admin, "other", "", "")
	resp, err := srv.Service.Admin().CreateCredential(context.Background(), &kms.CreateCredentialRequest{Name: "ci", IdentityPolicy: `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/ci"}}}]}`})
	if err != nil {
		t.Fatal(err)
	}
	hw := newClientFor(t, srv.URL, resp.AccessKeyID, string(resp.SecretAccessKey), srv.Account.ProjectID)
	encrypt := func(c *hwkms.KmsClient, id string) (*model.EncryptDataResponse, error) {
		return c.EncryptData(&model.EncryptDataRequest{Body: &model.EncryptDataRequestBody{KeyId: id, PlainText: "build secret"}})
	}
	mine, err := encrypt(admin, ci)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := encrypt(admin, other)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := hw.DecryptData(&model.DecryptDataRequest{Body: &model.DecryptDataRequestBody{CipherText: *mine.CipherText}}); err != nil || *d.PlainText != "build secret" {
		t.Fatalf("decrypt-data under alias/ci: %v", err)
	}
	_, err = hw.DecryptData(&model.DecryptDataRequest{Body: &model.DecryptDataRequestBody{CipherText: *theirs.CipherText}})
	wantCode(t, err, "KMS.0306", 403)
	_, err = encrypt(hw, ci)
	wantCode(t, err, "KMS.0306", 403)
}
