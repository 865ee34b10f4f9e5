package strictjson

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// sdkBodies records the bodies the client sends, and sends none.
type sdkBodies [][]byte

func (s *sdkBodies) Do(r *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(r.Body)
	*s = append(*s, b)
	return nil, errors.Join(err, errors.New("recorded, not sent"))
}

// TestFastPathTakesSDKBodies: what the AWS SDK for Go v2 itself serializes
// for an attested DeriveSharedSecret and GenerateDataKey takes the fast path
// (the bodies of TestFastPathHandlesRealShapes are written after them).
func TestFastPathTakesSDKBodies(t *testing.T) {
	var sent sdkBodies
	client := kms.New(kms.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://kms.invalid"), HTTPClient: &sent, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
	doc, err := base64.StdEncoding.DecodeString(attestationDocB64)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := base64.StdEncoding.DecodeString(publicKeyB64)
	rcpt := &types.RecipientInfo{KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256, AttestationDocument: doc}
	ctx := context.Background()
	client.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{
		KeyId: aws.String("alias/x"), KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: pub, Recipient: rcpt,
	})
	client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId: aws.String("alias/x"), NumberOfBytes: aws.Int32(32), EncryptionContext: map[string]string{"purpose": "test", "tenant": "ü-42"},
		GrantTokens: []string{"g1", "g2"}, Recipient: rcpt,
	})
	if len(sent) != 2 {
		t.Fatalf("%d bodies recorded", len(sent))
	}
	var d awsDeriveSharedSecret
	if !decodeFast(sent[0], &d, awsOptions) || d.Recipient == nil || d.Recipient.AttestationDocument != attestationDocB64 {
		t.Errorf("the SDK's DeriveSharedSecret declined: %.200s", sent[0])
	}
	var g awsGenerateDataKey
	if !decodeFast(sent[1], &g, awsOptions) || g.Recipient == nil || g.EncryptionContext["tenant"] != "ü-42" {
		t.Errorf("the SDK's GenerateDataKey declined: %.200s", sent[1])
	}
	for _, b := range sent {
		checkFastPath(t, b)
	}
}
