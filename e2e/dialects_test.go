package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	sdkerr "github.com/huaweicloud/huaweicloud-sdk-go-v3/core/sdkerr"
	hwkms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	hwmodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/attestkms/attestkms/internal/testserver"
)

type clients struct {
	aws     *awskms.Client
	huawei  *hwkms.KmsClient
	tencent *tckms.Client
}

// threeSDKs points the three official SDKs, unchanged, at one server with
// one access key pair. The AWS SDK signs for the server's region, as it must;
// Tencent's names its own region, which does not matter.
func threeSDKs(t *testing.T, srv *testserver.Server) clients {
	t.Helper()
	return threeSDKsAs(t, srv, srv.AccessKey, srv.Secret)
}

// threeSDKsAs is threeSDKs with the access key pair ak, sk.
func threeSDKsAs(t *testing.T, srv *testserver.Server, ak, sk string) clients {
	t.Helper()
	a := awskms.New(awskms.Options{
		Region: srv.Region, BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(ak, sk, ""),
	})
	auth, err := basic.NewCredentialsBuilder().WithAk(ak).WithSk(sk).WithProjectId(srv.Account.ProjectID).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := hwkms.KmsClientBuilder().WithEndpoints([]string{srv.URL}).WithCredential(auth).
		WithHttpConfig(config.DefaultHttpConfig().WithTimeout(30 * time.Second)).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = strings.TrimPrefix(srv.URL, "http://")
	cpf.HttpProfile.Scheme = "HTTP"
	tc, err := tckms.NewClient(common.NewCredential(ak, sk), "ap-guangzhou", cpf)
	if err != nil {
		t.Fatal(err)
	}
	return clients{a, hwkms.NewKmsClient(hc), tc}
}

func str(s string) *string { return &s }

// TestOneKeyThreeDialects: keys made through one dialect are used through
// the others, with the same access key pair, and a state change made through
// one is seen by all. The server is in eu-west-1, and that is the region of
// the key's ARN whichever dialect asks.
func TestOneKeyThreeDialects(t *testing.T) { testserver.Stores(t, testOneKeyThreeDialects) }

func testOneKeyThreeDialects(t *testing.T, store string) {
	srv := testserver.Start(t, testserver.Options{Store: store, Region: "eu-west-1"})
	c := threeSDKs(t, srv)
	ctx := context.Background()

	// A symmetric key made through Tencent, found through AWS by its alias.
	ck := tckms.NewCreateKeyRequest()
	ck.Alias = str("shared")
	made, err := c.tencent.CreateKey(ck)
	if err != nil {
		t.Fatal(err)
	}
	id := *made.Response.KeyId
	d, err := c.aws.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/shared")})
	if err != nil || *d.KeyMetadata.KeyId != id {
		t.Fatalf("AWS DescribeKey alias/shared: %v", err)
	}
	if want := "arn:aws:kms:eu-west-1:" + srv.Account.AccountID + ":key/" + id; *d.KeyMetadata.Arn != want {
		t.Fatalf("AWS DescribeKey Arn = %s; want %s", *d.KeyMetadata.Arn, want)
	}
	hd, err := c.huawei.ListKeyDetail(&hwmodel.ListKeyDetailRequest{Body: &hwmodel.OperateKeyRequestBody{KeyId: id}})
	if err != nil || *hd.KeyInfo.KeyId != id || *hd.KeyInfo.KeyState != "2" {
		t.Fatalf("Huawei describe-key: %v", err)
	}

	// A data key from Huawei (hex) opens through AWS and Tencent.
	dk, err := c.huawei.CreateDatakey(&hwmodel.CreateDatakeyRequest{Body: &hwmodel.CreateDatakeyRequestBody{KeyId: id, DatakeyLength: str("256")}})
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := hex.DecodeString(*dk.PlainText)
	blob, _ := hex.DecodeString(*dk.CipherText)
	if back, err := c.aws.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: blob}); err != nil || !bytes.Equal(back.Plaintext, plain) {
		t.Fatalf("AWS Decrypt of a Huawei data key: %v", err)
	}
	tdec := tckms.NewDecryptRequest()
	tdec.CiphertextBlob = str(base64.StdEncoding.EncodeToString(blob))
	if back, err := c.tencent.Decrypt(tdec); err != nil || *back.Response.Plaintext != base64.StdEncoding.EncodeToString(plain) {
		t.Fatalf("Tencent Decrypt of a Huawei data key: %v", err)
	}
	// A ciphertext from AWS opens through Huawei's decrypt-datakey.
	gdk, err := c.aws.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(id), KeySpec: awstypes.DataKeySpecAes256})
	if err != nil {
		t.Fatal(err)
	}
	hdec, err := c.huawei.DecryptDatakey(&hwmodel.DecryptDatakeyRequest{Body: &hwmodel.DecryptDatakeyRequestBody{
		KeyId: id, CipherText: hex.EncodeToString(gdk.CiphertextBlob), DatakeyCipherLength: "32"}})
	if err != nil || *hdec.DataKey != hex.EncodeToString(gdk.Plaintext) {
		t.Fatalf("Huawei decrypt-datakey of an AWS data key: %v", err)
	}

	// Disabled through Tencent: refused through all three, each in its shape.
	dis := tckms.NewDisableKeyRequest()
	dis.KeyId = &id
	if _, err := c.tencent.DisableKey(dis); err != nil {
		t.Fatal(err)
	}
	_, err = c.aws.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	var disabled *awstypes.DisabledException
	if !errors.As(err, &disabled) {
		t.Fatalf("AWS Encrypt on a disabled key: %v", err)
	}
	_, err = c.huawei.CreateDatakey(&hwmodel.CreateDatakeyRequest{Body: &hwmodel.CreateDatakeyRequestBody{KeyId: id, DatakeyLength: str("256")}})
	var se *sdkerr.ServiceResponseError
	if !errors.As(err, &se) || se.ErrorCode != "KMS.0209" {
		t.Fatalf("Huawei create-datakey on a disabled key: %v", err)
	}
	tgdk := tckms.NewGenerateDataKeyRequest()
	tgdk.KeyId, tgdk.KeySpec = &id, str("AES_256")
	_, err = c.tencent.GenerateDataKey(tgdk)
	var te *tcerr.TencentCloudSDKError
	if !errors.As(err, &te) || te.Code != "ResourceUnavailable.CmkDisabled" {
		t.Fatalf("Tencent GenerateDataKey on a disabled key: %v", err)
	}

	// A secp256k1 key-agreement key made through Huawei: AWS and Huawei
	// derive the same secret with a peer, and Tencent returns its public key.
	hk, err := c.huawei.CreateKey(&hwmodel.CreateKeyRequest{Body: &hwmodel.CreateKeyRequestBody{
		KeyAlias: "agreement", KeySpec: enumOf[hwmodel.CreateKeyRequestBodyKeySpec](t, "SECP256K1"),
		KeyUsage: enumOf[hwmodel.CreateKeyRequestBodyKeyUsage](t, "KEY_AGREEMENT")}})
	if err != nil {
		t.Fatal(err)
	}
	kaID := *hk.KeyInfo.KeyId
	gp, err := c.aws.GetPublicKey(ctx, &awskms.GetPublicKeyInput{KeyId: aws.String("alias/agreement")})
	if err != nil || gp.KeySpec != awstypes.KeySpecEccSecgP256k1 {
		t.Fatalf("AWS GetPublicKey: %v", err)
	}
	tgp := tckms.NewGetPublicKeyRequest()
	tgp.KeyId = &kaID
	tpub, err := c.tencent.GetPublicKey(tgp)
	if err != nil || *tpub.Response.PublicKey != base64.StdEncoding.EncodeToString(gp.PublicKey) {
		t.Fatalf("Tencent GetPublicKey differs from AWS's: %v", err)
	}
	prefix, _ := hex.DecodeString("3056301006072a8648ce3d020106052b8104000a034200")
	kmsPub, err := secp256k1.ParsePubKey(gp.PublicKey[len(prefix):])
	if err != nil {
		t.Fatal(err)
	}
	peer, _ := secp256k1.GeneratePrivateKey()
	peerSPKI := append(bytes.Clone(prefix), peer.PubKey().SerializeUncompressed()...)
	want := secp256k1.GenerateSharedSecret(peer, kmsPub)
	ads, err := c.aws.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{KeyId: aws.String(kaID), KeyAgreementAlgorithm: awstypes.KeyAgreementAlgorithmSpecEcdh, PublicKey: peerSPKI})
	if err != nil || !bytes.Equal(ads.SharedSecret, want) {
		t.Fatalf("AWS DeriveSharedSecret: %v", err)
	}
	hds, err := c.huawei.DeriveSharedSecret(&hwmodel.DeriveSharedSecretRequest{Body: &hwmodel.DeriveSharedSecretRequestBody{
		KeyId: kaID, KeyAgreementAlgorithm: hwmodel.GetDeriveSharedSecretRequestBodyKeyAgreementAlgorithmEnum().ECDH,
		PublicKey: base64.StdEncoding.EncodeToString(peerSPKI)}})
	if err != nil || *hds.SharedSecret != base64.StdEncoding.EncodeToString(want) {
		t.Fatalf("Huawei derive-shared-secret: %v", err)
	}
}

// enumOf sets one of the Huawei SDK's enums to any string (its enums carry
// any value; KEY_AGREEMENT is not among the listed ones).
func enumOf[E any, P interface {
	*E
	UnmarshalJSON([]byte) error
}](t *testing.T, v string) *E {
	var e E
	if err := P(&e).UnmarshalJSON([]byte(strconv.Quote(v))); err != nil {
		t.Fatal(err)
	}
	return &e
}
