package tencent

import (
	"reflect"
	"testing"

	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/attestkms/attestkms/api/internal/strictjson/strictjsontest"
)

// requests are the request types of every action, with the dialect's
// options.
func requests(t testing.TB) []strictjsontest.Request {
	if len(requestTypes) < len(actions) {
		t.Fatalf("%d request types for %d actions", len(requestTypes), len(actions))
	}
	return strictjsontest.Requests(requestTypes, decodeOptions)
}

// requestOf is the request type of a typed action.
func requestOf(fn any) strictjsontest.Request {
	return strictjsontest.Request{Type: reflect.TypeOf(fn).In(3).Elem(), Options: decodeOptions}
}

const sdkKeyID = "00000000-0000-4000-8000-000000000000"

// sdkBodies are what Tencent's SDK for Go serializes (its requests' JSON, as
// it sends them), by action.
func sdkBodies() map[string][]byte {
	s := func(v string) *string { return &v }
	u := func(v uint64) *uint64 { return &v }
	gdk := tckms.NewGenerateDataKeyRequest()
	gdk.KeyId, gdk.KeySpec, gdk.NumberOfBytes = s(sdkKeyID), s("AES_256"), u(32)
	enc := tckms.NewEncryptRequest()
	enc.KeyId, enc.Plaintext, enc.EncryptionContext = s(sdkKeyID), s("cGxhaW4="), s(`{"a":"b"}`)
	dec := tckms.NewDecryptRequest()
	dec.CiphertextBlob, dec.EncryptionPublicKey, dec.EncryptionAlgorithm = s("AQ=="), s("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"), s("SM2")
	ck := tckms.NewCreateKeyRequest()
	ck.Alias, ck.Description, ck.KeyUsage, ck.Type = s("orders"), s("order data"), s("ENCRYPT_DECRYPT"), u(1)
	ck.Tags = []*tckms.Tag{{TagKey: s("a"), TagValue: s("b")}}
	lk := tckms.NewListKeysRequest()
	lk.Offset, lk.Limit, lk.Role = u(0), u(200), u(0)
	gr := tckms.NewGenerateRandomRequest()
	gr.NumberOfBytes = u(1024)
	sd := tckms.NewScheduleKeyDeletionRequest()
	sd.KeyId, sd.PendingWindowInDays = s(sdkKeyID), u(7)
	dk := tckms.NewDescribeKeyRequest()
	dk.KeyId = s(sdkKeyID)
	gp := tckms.NewGetPublicKeyRequest()
	gp.KeyId = s(sdkKeyID)
	out := map[string][]byte{}
	for name, r := range map[string]interface{ ToJsonString() string }{
		"GenerateDataKey": gdk, "Encrypt": enc, "Decrypt": dec, "CreateKey": ck, "ListKeys": lk,
		"GenerateRandom": gr, "ScheduleKeyDeletion": sd, "DescribeKey": dk, "GetPublicKey": gp,
	} {
		out[name] = []byte(r.ToJsonString())
	}
	return out
}

// handBodies are bodies as Tencent's docs and attestkms's clients write them.
var handBodies = []string{
	`{}`, ` `, `{"KeyId":"alias/x"}`, `{"Offset":1,"Limit":200,"Role":0}`, `{"KeyId":"x","PendingWindowInDays":7}`,
	`{"KeyId":"alias/x","KeySpec":"AES_256","NumberOfBytes":9223372036854775807,"IsHostedByKms":0,` +
		`"Recipient":{"AttestationDocument":"hA==","KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256","PublicKey":"AA=="}}`,
	`{"Alias":"a","Type":4,"Tags":[{"TagKey":"k","TagValue":"v"}]}`, `{"Type":4.0}`, `{"Type":null}`,
	`{"KeyId":"k","EncryptionContext":"{\"k\":\"v\"}"}`, `{"Tags":[{"TagKey":"a","tagkey":"b"}]}`,
	`{"Recipient":{"AttestationDocument":"AA==","Other":1}}`, `{"keyid":"k"}`, `{"KeyId":"k","KeyId":"l"}`,
}

// TestFastPathRequests: strictjson's fast path decodes every request type
// of every action as encoding/json does (strictjsontest): the bodies the
// SDK sends, FuzzRequest's corpus, each type with every member given, and
// that body's mutants.
func TestFastPathRequests(t *testing.T) {
	var bodies [][]byte
	for _, b := range sdkBodies() {
		bodies = append(bodies, b)
	}
	for _, b := range handBodies {
		bodies = append(bodies, []byte(b))
	}
	strictjsontest.CheckAll(t, requests(t), append(bodies, strictjsontest.CorpusBodies(t, "FuzzRequest")...))
}

// TestFastPathTakesSDKBodies: what the SDK sends without an escape takes the
// fast path into the actions' request types (a path that declined them
// would agree with encoding/json and speed nothing).
func TestFastPathTakesSDKBodies(t *testing.T) {
	sent := sdkBodies()
	for name, fn := range map[string]any{
		"GenerateDataKey": generateDataKey, "CreateKey": createKey, "ListKeys": listKeys, "GenerateRandom": generateRandom,
		"ScheduleKeyDeletion": scheduleKeyDeletion, "DescribeKey": describeKey, "GetPublicKey": getPublicKey,
	} {
		if !strictjsontest.Check(t, requestOf(fn), sent[name]) {
			t.Errorf("%s: the SDK's body declined: %.200s", name, sent[name])
		}
	}
}

// FuzzFastPath: for any body and request type, the fast path agrees with
// encoding/json under Exact (strictjsontest.Check).
func FuzzFastPath(f *testing.F) {
	var seeds [][]byte
	for _, b := range handBodies {
		seeds = append(seeds, []byte(b))
	}
	for _, b := range sdkBodies() {
		seeds = append(seeds, b)
	}
	strictjsontest.Fuzz(f, requests(f), seeds)
}
