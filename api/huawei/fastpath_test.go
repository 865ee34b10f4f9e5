package huawei

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	hwkms "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/kms/v2/model"

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

func (s *recordedBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	var b []byte
	var err error
	if r.Body != nil {
		b, err = io.ReadAll(r.Body)
	}
	*s = append(*s, b)
	return nil, errors.Join(err, errors.New("recorded, not sent"))
}

// attestationDoc stands for an ≈6 KB attestation document (≈8 KB base64).
var attestationDoc = func() string {
	b := make([]byte, 5900)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return base64.StdEncoding.EncodeToString(b)
}()

const (
	sdkKeyID    = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
	sdkSequence = "919c82d4-8046-4722-9094-35c3c6524cff"
)

// sdkBodies are what Huawei's SDK for Go itself serializes, by operation.
func sdkBodies(t testing.TB) map[string][]byte {
	var sent recordedBodies
	auth, err := basic.NewCredentialsBuilder().WithAk("AK").WithSk("SK").WithProjectId("project").SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := hwkms.KmsClientBuilder().WithEndpoints([]string{"https://kms.invalid"}).WithCredential(auth).
		WithHttpConfig(config.DefaultHttpConfig().WithHttpRoundTripper(&sent).WithRetries(0)).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	c := hwkms.NewKmsClient(hc)
	s := func(v string) *string { return &v }
	pub := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\x30\x59\x13", 30)))
	names := []string{"derive-shared-secret", "create-datakey", "decrypt-datakey", "encrypt-data", "gen-random", "list-keys",
		"schedule-key-deletion", "create-key", "describe-key"}
	c.DeriveSharedSecret(&model.DeriveSharedSecretRequest{Body: &model.DeriveSharedSecretRequestBody{
		KeyId: sdkKeyID, KeyAgreementAlgorithm: model.GetDeriveSharedSecretRequestBodyKeyAgreementAlgorithmEnum().ECDH, PublicKey: pub,
		Recipient: &model.Recipient{AttestationDocument: s(attestationDoc), KeyEncryptionAlgorithm: s("RSAES_OAEP_SHA_256")},
	}})
	spec := model.GetCreateDatakeyRequestBodyKeySpecEnum().AES_256
	c.CreateDatakey(&model.CreateDatakeyRequest{Body: &model.CreateDatakeyRequestBody{
		KeyId: sdkKeyID, KeySpec: &spec, DatakeyLength: s("256"), AdditionalAuthenticatedData: s("aad"), Sequence: s(sdkSequence),
	}})
	c.DecryptDatakey(&model.DecryptDatakeyRequest{Body: &model.DecryptDatakeyRequestBody{
		KeyId: sdkKeyID, CipherText: "00ff", DatakeyCipherLength: "32", Sequence: s(sdkSequence),
	}})
	c.EncryptData(&model.EncryptDataRequest{Body: &model.EncryptDataRequestBody{KeyId: sdkKeyID, PlainText: "plain ü"}})
	c.CreateRandom(&model.CreateRandomRequest{Body: &model.GenRandomRequestBody{RandomDataLength: "512"}})
	c.ListKeys(&model.ListKeysRequest{Body: &model.ListKeysRequestBody{Limit: s("10"), Marker: s("1"), KeyState: s("2"), EnterpriseProjectId: s("0")}})
	c.DeleteKey(&model.DeleteKeyRequest{Body: &model.ScheduleKeyDeletionRequestBody{KeyId: sdkKeyID, PendingDays: "7"}})
	c.CreateKey(&model.CreateKeyRequest{Body: &model.CreateKeyRequestBody{KeyAlias: "orders", KeyDescription: s("order data"), EnterpriseProjectId: s("0")}})
	c.ListKeyDetail(&model.ListKeyDetailRequest{Body: &model.OperateKeyRequestBody{KeyId: sdkKeyID, Sequence: s(sdkSequence)}})
	if len(sent) != len(names) {
		t.Fatalf("%d bodies recorded for %d calls", len(sent), len(names))
	}
	out := map[string][]byte{}
	for i, n := range names {
		out[n] = sent[i]
	}
	return out
}

// handBodies are bodies as Huawei's docs and other clients write them.
var handBodies = []string{
	`{}`, ` `, `{"key_id":"` + sdkKeyID + `","sequence":"` + sdkSequence + `"}`,
	`{"key_id":"k","public_key":"AA==","recipient":{"attestation_document":"AA==","public_key":"AA=="},"with_plain_text":false}`,
	`{"key_alias":"a","key_spec":"EC_P256","key_usage":"KEY_AGREEMENT"}`, `{"limit":"1","marker":"AA","key_spec":"ALL","key_state":"2"}`,
	`{"recipient":null,"Recipient":{}}`, `{"additional_authenticated_data":"\u0000"}`, `{"sequence":"s","Sequence":"t"}`,
	`{"recipient":{"attestation_document":"AA==","AttestationDocument":"x"}}`,
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

// TestFastPathTakesSDKBodies: what the SDK sends takes the fast path into
// the operations' request types (a path that declined them would agree with
// encoding/json and speed nothing).
func TestFastPathTakesSDKBodies(t *testing.T) {
	sent := sdkBodies(t)
	for name, fn := range map[string]any{
		"derive-shared-secret": deriveSharedSecret, "create-datakey": createDatakey, "decrypt-datakey": decryptDatakey,
		"encrypt-data": encryptData, "gen-random": genRandom, "list-keys": listKeys,
		"schedule-key-deletion": scheduleKeyDeletion, "create-key": createKey, "describe-key": describeKey,
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
	for _, b := range sdkBodies(f) {
		seeds = append(seeds, []byte(strings.ReplaceAll(string(b), attestationDoc, attestationDoc[:128])))
	}
	strictjsontest.Fuzz(f, requests(f), seeds)
}
