package aws

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/attestkms/attestkms/api/internal/strictjson/strictjsontest"
)

// requests are the request types of every operation, with the dialect's
// options.
func requests(t testing.TB) []strictjsontest.Request {
	if len(requestTypes) < len(operations) {
		t.Fatalf("%d request types for %d operations", len(requestTypes), len(operations))
	}
	return strictjsontest.Requests(requestTypes, decodeOptions)
}

// requestOf is the request type of a typed operation.
func requestOf(fn any) strictjsontest.Request {
	return strictjsontest.Request{Type: reflect.TypeOf(fn).In(3).Elem(), Options: decodeOptions}
}

// recordedBodies records the bodies the client sends, and sends none.
type recordedBodies [][]byte

func (s *recordedBodies) Do(r *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(r.Body)
	*s = append(*s, b)
	return nil, errors.Join(err, errors.New("recorded, not sent"))
}

// attestationDoc stands for an ≈6 KB attestation document (≈8 KB base64).
var attestationDoc = func() []byte {
	b := make([]byte, 5900)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}()

// sdkBodies are what the AWS SDK for Go v2 itself serializes, by operation.
func sdkBodies(t testing.TB) map[string][]byte {
	var sent recordedBodies
	client := awskms.New(awskms.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://kms.invalid"), HTTPClient: &sent, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
	pub := bytes.Repeat([]byte{0x30, 0x59, 0x13}, 30)
	rcpt := &types.RecipientInfo{KeyEncryptionAlgorithm: types.KeyEncryptionMechanismRsaesOaepSha256, AttestationDocument: attestationDoc}
	ctx := context.Background()
	key := aws.String("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
	ec := map[string]string{"purpose": "test", "tenant": "ü-42"}
	names := []string{"DeriveSharedSecret", "GenerateDataKey", "GenerateDataKeyPair", "Decrypt", "Encrypt", "ReEncrypt",
		"CreateKey", "TagResource", "ListAliases", "GenerateRandom", "ScheduleKeyDeletion", "PutKeyPolicy"}
	client.DeriveSharedSecret(ctx, &awskms.DeriveSharedSecretInput{
		KeyId: aws.String("alias/x"), KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: pub, Recipient: rcpt,
	})
	client.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{
		KeyId: key, NumberOfBytes: aws.Int32(32), EncryptionContext: ec, GrantTokens: []string{"g1", "g2"}, Recipient: rcpt,
	})
	client.GenerateDataKeyPair(ctx, &awskms.GenerateDataKeyPairInput{
		KeyId: key, KeyPairSpec: types.DataKeyPairSpecEccNistP256, EncryptionContext: ec, Recipient: rcpt, DryRun: aws.Bool(true),
	})
	client.Decrypt(ctx, &awskms.DecryptInput{
		CiphertextBlob: []byte("ciphertext"), KeyId: key, EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
		EncryptionContext: ec, Recipient: rcpt,
	})
	client.Encrypt(ctx, &awskms.EncryptInput{KeyId: key, Plaintext: []byte("plain"), EncryptionContext: ec})
	client.ReEncrypt(ctx, &awskms.ReEncryptInput{
		CiphertextBlob: []byte("ct"), DestinationKeyId: aws.String("alias/y"), SourceEncryptionContext: ec, DestinationEncryptionContext: map[string]string{},
	})
	client.CreateKey(ctx, &awskms.CreateKeyInput{
		Description: aws.String("d"), KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeKeyAgreement,
		Tags: []types.Tag{{TagKey: aws.String("a"), TagValue: aws.String("b")}}, MultiRegion: aws.Bool(false),
	})
	client.TagResource(ctx, &awskms.TagResourceInput{KeyId: key, Tags: []types.Tag{{TagKey: aws.String("a"), TagValue: aws.String("")}}})
	client.ListAliases(ctx, &awskms.ListAliasesInput{KeyId: key, Limit: aws.Int32(100), Marker: aws.String("m")})
	client.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(1024), Recipient: rcpt})
	client.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: key, PendingWindowInDays: aws.Int32(7)})
	client.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: key, Policy: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
	if len(sent) != len(names) {
		t.Fatalf("%d bodies recorded for %d calls", len(sent), len(names))
	}
	out := map[string][]byte{}
	for i, n := range names {
		out[n] = sent[i]
	}
	return out
}

// handBodies are bodies as the docs and other clients write them.
var handBodies = []string{
	`{}`, ` `, `{"KeyId":"alias/x"}`, " \t\r\n{ \"KeyId\" : \"k\" , \"GrantTokens\" : [ \"a\" , \"b\" ] } \n",
	`{"KeyId":"k","NumberOfBytes":-2147483648,"EncryptionContext":{"":""},"GrantTokens":[]}`,
	`{"Recipient":{"AttestationDocument":"` + base64.StdEncoding.EncodeToString(attestationDoc[:96]) + `","KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256","PublicKey":"AA=="}}`,
	`{"Tags":[{"TagKey":"a","TagValue":"b"},{}]}`, `{"EncryptionContext":{"quote":"a\"b\\c\u00e9"}}`, `{"Limit":1,"Marker":"AA"}`, `{"NumberOfBytes":2147483648}`,
}

// TestFastPathRequests: strictjson's fast path decodes every request type
// of every operation as encoding/json does (strictjsontest): the bodies the
// SDK sends, FuzzRequest's corpus, each type with every member given, and
// that body's mutants.
func TestFastPathRequests(t *testing.T) {
	var bodies [][]byte
	for _, b := range sdkBodies(t) {
		bodies = append(bodies, b)
	}
	for _, b := range handBodies {
		bodies = append(bodies, []byte(b))
	}
	strictjsontest.CheckAll(t, requests(t), append(bodies, strictjsontest.CorpusBodies(t, "FuzzRequest")...))
}

// TestFastPathTakesSDKBodies: what the SDK sends for the attested
// operations takes the fast path into their request types (a path that
// declined them would agree with encoding/json and speed nothing).
func TestFastPathTakesSDKBodies(t *testing.T) {
	sent := sdkBodies(t)
	for name, fn := range map[string]any{
		"DeriveSharedSecret": deriveSharedSecret, "GenerateDataKey": generateDataKey,
		"GenerateDataKeyPair": generateDataKeyPair, "GenerateRandom": generateRandom, "CreateKey": createKey,
		"TagResource": tagResource, "ListAliases": listAliases, "ScheduleKeyDeletion": scheduleKeyDeletion,
	} {
		if !strictjsontest.Check(t, requestOf(fn), sent[name]) {
			t.Errorf("%s: the SDK's body declined: %.200s", name, sent[name])
		}
	}
}

// FuzzFastPath: for any body and request type, the fast path agrees with
// encoding/json (strictjsontest.Check). Seeds hold a short attestation
// document: long ones slow the fuzzer and change nothing in the scan.
func FuzzFastPath(f *testing.F) {
	var seeds [][]byte
	for _, b := range handBodies {
		seeds = append(seeds, []byte(b))
	}
	short := base64.StdEncoding.EncodeToString(attestationDoc[:96])
	for _, b := range sdkBodies(f) {
		seeds = append(seeds, bytes.ReplaceAll(b, []byte(base64.StdEncoding.EncodeToString(attestationDoc)), []byte(short)))
	}
	strictjsontest.Fuzz(f, requests(f), seeds)
}
