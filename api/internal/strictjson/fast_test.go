package strictjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// The request types below copy the dialects' (their types are unexported
// and mostly anonymous): the shapes the fast path must handle, embedding
// included.

type recipientField struct {
	Recipient *struct {
		AttestationDocument    string
		KeyEncryptionAlgorithm string
		PublicKey              string
	}
}

// awsDeriveSharedSecret is api/aws's deriveSharedSecret request.
type awsDeriveSharedSecret struct {
	KeyId                 string
	KeyAgreementAlgorithm string
	PublicKey             string
	DryRun                bool
	GrantTokens           []string
	recipientField
}

type encryptionContext map[string]string // kms.EncryptionContext

// awsGenerateDataKey is api/aws's generateDataKeyRequest.
type awsGenerateDataKey struct {
	KeyId             string
	KeySpec           string
	NumberOfBytes     *int32
	EncryptionContext encryptionContext
	DryRun            bool
	GrantTokens       []string
	recipientField
}

type kmsTag struct {
	TagKey   string `json:"TagKey"`
	TagValue string `json:"TagValue"`
}

// awsCreateKey is api/aws's createKeyRequest, in part.
type awsCreateKey struct {
	BypassPolicyLockoutSafetyCheck bool
	Description                    string
	MultiRegion                    bool
	Tags                           []kmsTag
}

type wrapFields struct {
	EncryptionPublicKey string
	EncryptionAlgorithm string
	recipientField
}

// tencentGenerateDataKey is api/tencent's generateDataKey request (Exact).
type tencentGenerateDataKey struct {
	KeyId             string
	KeySpec           string
	NumberOfBytes     *int64
	EncryptionContext string
	wrapFields
	IsHostedByKms *int64
	DataKeyName   string
	Description   string
	HsmClusterId  string
}

type tagParam struct{ TagKey, TagValue *string }

// tencentCreateKey is api/tencent's createKeyRequest, in part (Exact).
type tencentCreateKey struct {
	Alias       string
	Description string
	Type        *int64
	Tags        []tagParam
}

type huaweiCommon struct {
	Sequence  string `json:"sequence"`
	Recipient *struct {
		AttestationDocument    string `json:"attestation_document"`
		KeyEncryptionAlgorithm string `json:"key_encryption_algorithm"`
		PublicKey              string `json:"public_key"`
	} `json:"recipient"`
}

// huaweiDeriveSharedSecret is api/huawei's deriveSharedSecret request.
type huaweiDeriveSharedSecret struct {
	KeyID                 string `json:"key_id"`
	KeyAgreementAlgorithm string `json:"key_agreement_algorithm"`
	PublicKey             string `json:"public_key"`
	WithPlainText         *bool  `json:"with_plain_text"`
	huaweiCommon
}

// custom decodes itself: the fast path must leave it to encoding/json.
type custom struct{ S string }

func (c *custom) UnmarshalJSON(b []byte) error { c.S = "custom:" + string(b); return nil }

type textual string

func (t *textual) UnmarshalText(b []byte) error { *t = textual("text:" + string(b)); return nil }

// kinds holds every kind the fast path plans, and some it does not.
type kinds struct {
	S     string
	B     bool
	I     int
	I8    int8
	I32   int32
	I64   int64
	PI32  *int32
	PS    *string
	Blob  []byte
	List  []string
	Map   map[string]string
	Tag   string `json:"tagged,omitempty"`
	Skip  string `json:"-"`
	F     float64
	U     uint64
	Raw   json.RawMessage
	Any   any
	Num   json.Number
	C     custom
	PC    *custom
	T     textual
	TMap  map[textual]string
	IMap  map[string]int
	Ints  []int64
	Nest  *kinds
	Inner struct{ A, a string }
	lower string
}

// odd has tags the fast path does not emulate: it declines the type.
type odd struct {
	S     string
	Dash  string `json:"-,"`
	Quote int    `json:",string"`
}

// embeddedPtr embeds by pointer, which the fast path does not emulate
// (encoding/json cannot set an unexported one).
type embeddedPtr struct {
	KeyId string
	*recipientField
}

// The dialects' options.
var (
	awsOptions    = Options{Integer: "a number"}
	tencentOption = Options{Exact: true, Integer: "an integer", FractionIsType: true}
)

type target struct {
	name string
	new  func() any
	o    Options
}

var targets = []target{
	{"aws DeriveSharedSecret", func() any { return new(awsDeriveSharedSecret) }, awsOptions},
	{"aws GenerateDataKey", func() any { return new(awsGenerateDataKey) }, awsOptions},
	{"aws CreateKey", func() any { return new(awsCreateKey) }, awsOptions},
	{"tencent GenerateDataKey", func() any { return new(tencentGenerateDataKey) }, tencentOption},
	{"tencent CreateKey", func() any { return new(tencentCreateKey) }, tencentOption},
	{"huawei DeriveSharedSecret", func() any { return new(huaweiDeriveSharedSecret) }, awsOptions},
	{"kinds", func() any { return new(kinds) }, awsOptions},
	{"kinds exact", func() any { return new(kinds) }, tencentOption},
	{"req exact", func() any { return new(req) }, tencentOption},
	{"odd", func() any { return new(odd) }, awsOptions},
	{"embedded pointer", func() any { return new(embeddedPtr) }, awsOptions},
}

// checkFastPath holds the fast path to encoding/json for body into each
// target: what it handles, decodeJSON accepts into a DeepEqual value; what it
// declines, it left zero; and Decode's result is decodeJSON's.
func checkFastPath(t *testing.T, body []byte) {
	t.Helper()
	for _, tg := range targets {
		fast, slow, both := tg.new(), tg.new(), tg.new()
		handled := decodeFast(body, fast, tg.o)
		slowErr := decodeJSON(body, slow, tg.o)
		if handled {
			if slowErr != nil {
				t.Fatalf("%s: %q: the fast path accepts, encoding/json refuses: %v", tg.name, body, slowErr)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("%s: %q: the fast path gives %+v, encoding/json %+v", tg.name, body, fast, slow)
			}
		} else if !reflect.ValueOf(fast).Elem().IsZero() {
			t.Fatalf("%s: %q: declined, but wrote %+v", tg.name, body, fast)
		}
		err := Decode(body, both, tg.o)
		if !sameError(err, slowErr) || slowErr == nil && !reflect.DeepEqual(both, slow) {
			t.Fatalf("%s: %q: Decode %v %+v, encoding/json %v %+v", tg.name, body, err, both, slowErr, slow)
		}
	}
}

func sameError(a, b error) bool {
	var ea, eb *Error
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return errors.As(a, &ea) && errors.As(b, &eb) && *ea == *eb
}

// Real bodies, as SDKs send them, and their parts.
var (
	attestationDocB64 = func() string {
		b := make([]byte, 5900) // an ≈6 KB attestation document: ≈8 KB base64
		for i := range b {
			b[i] = byte(i * 7)
		}
		return base64.StdEncoding.EncodeToString(b)
	}()
	publicKeyB64 = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x30, 0x59, 0x13}, 30))

	// What the AWS SDK for Go v2 sends (members in its order, alphabetical;
	// it escapes only '"', '\\' and control bytes).
	sdkDeriveSharedSecret = `{"KeyAgreementAlgorithm":"ECDH","KeyId":"alias/x","PublicKey":"` + publicKeyB64 +
		`","Recipient":{"AttestationDocument":"` + attestationDocB64 + `","KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`
	sdkGenerateDataKey = `{"EncryptionContext":{"purpose":"test","tenant":"ü-42"},"GrantTokens":["g1","g2"],` +
		`"KeyId":"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab","NumberOfBytes":32,` +
		`"Recipient":{"AttestationDocument":"` + attestationDocB64 + `","KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`
)

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// realBodies are json.Marshal of filled requests, with attestationDoc as
// their attestation document.
func realBodies(attestationDoc string) [][]byte {
	var d awsDeriveSharedSecret
	d.KeyId, d.KeyAgreementAlgorithm, d.PublicKey, d.GrantTokens = "alias/x", "ECDH", publicKeyB64, []string{"t"}
	d.Recipient = &struct{ AttestationDocument, KeyEncryptionAlgorithm, PublicKey string }{attestationDoc, "RSAES_OAEP_SHA_256", ""}
	g := awsGenerateDataKey{KeyId: "k", KeySpec: "AES_256", NumberOfBytes: ptr(int32(-2147483648)), DryRun: true,
		EncryptionContext: encryptionContext{"a": "b", "": ""}, GrantTokens: []string{}, recipientField: d.recipientField}
	var tc tencentGenerateDataKey
	tc.KeyId, tc.NumberOfBytes, tc.IsHostedByKms, tc.EncryptionContext = "k", ptr(int64(9223372036854775807)), ptr(int64(0)), ""
	tc.EncryptionPublicKey = publicKeyB64
	tc.Recipient = d.Recipient
	var h huaweiDeriveSharedSecret
	h.KeyID, h.WithPlainText, h.Sequence = "0d0466b0-e727-4d9c-b35d-f84bb474a37f", ptr(false), "919c82d4-8046-4722-9094-35c3c6524cff"
	h.Recipient = &struct {
		AttestationDocument    string `json:"attestation_document"`
		KeyEncryptionAlgorithm string `json:"key_encryption_algorithm"`
		PublicKey              string `json:"public_key"`
	}{attestationDoc, "RSAES_OAEP_SHA_256", publicKeyB64}
	return [][]byte{
		[]byte(strings.ReplaceAll(sdkDeriveSharedSecret, attestationDocB64, attestationDoc)),
		[]byte(strings.ReplaceAll(sdkGenerateDataKey, attestationDocB64, attestationDoc)), marshal(d), marshal(g), marshal(tc), marshal(h),
		marshal(awsCreateKey{Description: "d", Tags: []kmsTag{{"a", "b"}, {}}}),
		marshal(tencentCreateKey{Alias: "a", Type: ptr(int64(4)), Tags: []tagParam{{ptr("k"), ptr("v")}}}),
		[]byte(`{"S":"x","B":true,"I":-7,"I8":127,"I32":2147483647,"I64":-9,"PI32":0,"PS":"","Blob":"AAEC",` +
			`"List":["a",""],"Map":{"k":"v"},"tagged":"t","Ints":[1,2],"Inner":{"A":"z"}}`),
		[]byte(" \t\r\n{ \"KeyId\" : \"k\" , \"GrantTokens\" : [ \"a\" , \"b\" ] } \n"),
	}
}

// hostileBodies are what the fast path must decline (each is checked to be
// declined for some target, and agreed on for all).
var hostileBodies = []string{
	``, ` `, `null`, `[]`, `"x"`, `1`, `{`, `{"KeyId":"k"`, `{"KeyId":"k",}`, `{,}`, `{"KeyId"}`,
	`{"KeyId":"\u0041"}`, `{"KeyId":"a\"b"}`, `{"KeyId":"\\"}`, `{"KeyId":"\u0000"}`, "{\"KeyId\":\"a\x00\"}",
	"{\"KeyId\":\"a\tb\"}", `{"\u004beyId":"k"}`, "{\"PublicKey\":\"AAAA\nAAAA\"}", "{\"Blob\":\"AAAA\nAAAA\"}",
	"{\"Blob\":\"AAAA\rAAAA\"}", `{"Blob":"AAA"}`, `{"Blob":"AA=A"}`, `{"Blob":[1,2]}`, `{"Nest":{}}`,
	`{"keyid":"k"}`, `{"KEYID":"k"}`, `{"KeyId":"k","KeyId":"l"}`, `{"KeyId":"k","keyId":"l"}`,
	`{"KeyId":null}`, `{"Recipient":null}`, `{"GrantTokens":null}`, `{"GrantTokens":[null]}`,
	`{"NumberOfBytes":1e3}`, `{"NumberOfBytes":1.0}`, `{"NumberOfBytes":-0}`, `{"NumberOfBytes":01}`,
	`{"NumberOfBytes":99999999999999999999}`, `{"NumberOfBytes":10000000000000000000}`, `{"I64":-9223372036854775809}`,
	`{"NumberOfBytes":"5"}`, `{"NumberOfBytes":-}`, `{"NumberOfBytes":+1}`, `{"I8":128}`, `{"I64":9223372036854775808}`,
	`{"KeyId":"k"} x`, `{"KeyId":"k"}{}`, `{"KeyId":"k"}null`, "{\"KeyId\":\"k\"}\x00", "{\"KeyId\":\"k\"}\v",
	"\v{}", "\ufeff{}", `{"Recipient":{"AttestationDocument":"AA==","Other":1}}`, `{"Other":{"deep":[1,{"x":null}]}}`,
	`{"Inner":{"a":"x"}}`, `{"Inner":{"A":"x","A":"y"}}`, `{"Map":{"k":"v","k":"w"}}`, `{"Map":{"k":1}}`,
	"{\"KeyId\":\"\xff\"}", "{\"KeyId\":\"\xed\xa0\x80\"}", "{\"Map\":{\"\xff\":\"v\"}}", "{\"KeyId\xc3\xa9\":\"k\"}",
	`{"DryRun":tru}`, `{"DryRun":truex}`, `{"DryRun":"true"}`, `{"DryRun":1}`, `{"KeyId":1}`, `{"S":"x"}{"S":"y"}`,
	`{"F":1.5}`, `{"U":1}`, `{"Raw":[1]}`, `{"Any":"x"}`, `{"Num":"1"}`, `{"C":"x"}`, `{"PC":{}}`, `{"T":"x"}`,
	`{"TMap":{"k":"v"}}`, `{"IMap":{"k":1}}`, `{"Quote":"1"}`, `{"Skip":"x"}`, `{"-":"x"}`, `{"lower":"x"}`,
	`{"sequence":"s","Sequence":"t"}`, `{"recipient":{"attestation_document":"AA==","AttestationDocument":"x"}}`,
	`{"EncryptionContext":{"a":"b"},"EncryptionContext":{"c":"d"}}`, `{"Tags":[{"TagKey":"a","tagkey":"b"}]}`,
	`{"Tags":[{"TagKey":"a","X":"b"}]}`, `{"Type":4.0}`, `{"Type":null}`, `{"S":"x","Dash":"y"}`,
}

// hostileFor are what the fast path must decline for one target, though
// another may take them.
var hostileFor = map[string][]string{
	"aws GenerateDataKey": {`{"NumberOfBytes":2147483648}`, `{"NumberOfBytes":-2147483649}`},
	// Tencent's EncryptionContext is JSON in a string: escaped, so declined.
	"tencent GenerateDataKey": {`{"KeyId":"k","EncryptionContext":"{\"k\":\"v\"}"}`},
	"odd":                     {`{"S":"x"}`, `{}`},
	"embedded pointer":        {`{"KeyId":"k"}`, `{"Recipient":{}}`},
}

func TestFastPathAgrees(t *testing.T) {
	for _, b := range realBodies(attestationDocB64) {
		checkFastPath(t, b)
	}
	for _, b := range hostileBodies {
		checkFastPath(t, []byte(b))
	}
	for _, bs := range hostileFor {
		for _, b := range bs {
			checkFastPath(t, []byte(b))
		}
	}
}

// TestFastPathHandlesRealShapes: the bodies SDKs send take the fast path, into
// the values they say; a plan that declined them would pass the agreement
// test and speed nothing.
func TestFastPathHandlesRealShapes(t *testing.T) {
	var d awsDeriveSharedSecret
	if !decodeFast([]byte(sdkDeriveSharedSecret), &d, awsOptions) {
		t.Fatal("the AWS SDK's DeriveSharedSecret with a Recipient declined")
	}
	if d.KeyId != "alias/x" || d.KeyAgreementAlgorithm != "ECDH" || d.PublicKey != publicKeyB64 || d.Recipient == nil ||
		d.Recipient.AttestationDocument != attestationDocB64 || d.Recipient.KeyEncryptionAlgorithm != "RSAES_OAEP_SHA_256" {
		t.Errorf("DeriveSharedSecret decoded as %+v", d)
	}
	var g awsGenerateDataKey
	if !decodeFast([]byte(sdkGenerateDataKey), &g, awsOptions) {
		t.Fatal("the AWS SDK's GenerateDataKey declined")
	}
	if g.NumberOfBytes == nil || *g.NumberOfBytes != 32 || len(g.GrantTokens) != 2 || g.EncryptionContext["tenant"] != "ü-42" ||
		g.Recipient == nil || g.Recipient.AttestationDocument != attestationDocB64 {
		t.Errorf("GenerateDataKey decoded as %+v", g)
	}
	for i, b := range realBodies(attestationDocB64) {
		handled := 0
		for _, tg := range targets {
			if decodeFast(b, tg.new(), tg.o) {
				handled++
			}
		}
		if handled == 0 {
			t.Errorf("real body %d (%.80s…) declined for every type", i, b)
		}
	}
	// Exact (Tencent) and the Huawei names, embedded two deep.
	var tc tencentGenerateDataKey
	body := `{"KeyId":"k","NumberOfBytes":32,"Recipient":{"AttestationDocument":"` + attestationDocB64 + `"}}`
	if !decodeFast([]byte(body), &tc, tencentOption) || tc.Recipient == nil || *tc.NumberOfBytes != 32 {
		t.Errorf("Tencent GenerateDataKey with a Recipient: %+v", tc)
	}
	var h huaweiDeriveSharedSecret
	body = `{"key_id":"k","public_key":"AA==","recipient":{"attestation_document":"AA=="},"sequence":"s"}`
	if !decodeFast([]byte(body), &h, awsOptions) || h.Recipient == nil || h.Sequence != "s" {
		t.Errorf("Huawei derive-shared-secret with a recipient: %+v", h)
	}
}

// TestFastPathDeclines: each hostile body is declined for every type that
// names its members (agreement alone would pass a path that, say, took
// "keyid" for KeyId the way encoding/json does).
func TestFastPathDeclines(t *testing.T) {
	for _, b := range hostileBodies {
		for _, tg := range targets {
			if decodeFast([]byte(b), tg.new(), tg.o) {
				t.Errorf("%s: %q handled", tg.name, b)
			}
		}
	}
	for _, tg := range targets {
		for _, b := range hostileFor[tg.name] {
			if decodeFast([]byte(b), tg.new(), tg.o) {
				t.Errorf("%s: %q handled", tg.name, b)
			}
		}
	}
	// A v that is not the zero value: Unmarshal would merge into it.
	g := awsGenerateDataKey{KeyId: "set"}
	if decodeFast([]byte(`{"KeySpec":"AES_256"}`), &g, awsOptions) {
		t.Error("decoded into a non-zero value")
	}
	// Exact refuses at any depth what the fast path must then decline.
	if decodeFast([]byte(`{"Recipient":{"X":"y"}}`), new(tencentGenerateDataKey), tencentOption) {
		t.Error("nested unknown member handled under Exact")
	}
}

// TestScanPlain holds the word-at-a-time scan to a bytewise one, for every
// byte value at every place in a word and at the tail.
func TestScanPlain(t *testing.T) {
	naive := func(s []byte) (bool, bool) {
		non := false
		for _, c := range s {
			if c < 0x20 || c == '\\' {
				return false, false
			}
			non = non || c >= 0x80
		}
		return true, non
	}
	base := []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
	for n := 0; n <= len(base); n++ {
		for i := 0; i < n; i++ {
			for c := 0; c < 256; c++ {
				s := bytes.Clone(base[:n])
				s[i] = byte(c)
				p, a := scanPlain(s)
				if wp, wa := naive(s); p != wp || a != wa {
					t.Fatalf("%q: %v %v, want %v %v", s, p, a, wp, wa)
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		s := make([]byte, r.IntN(40))
		for i := range s {
			s[i] = byte(r.IntN(256))
			if r.IntN(3) > 0 {
				s[i] = 0x20 + byte(r.IntN(0x5f))
			}
		}
		p, a := scanPlain(s)
		if wp, wa := naive(s); p != wp || a != wa {
			t.Fatalf("%q: %v %v, want %v %v", s, p, a, wp, wa)
		}
	}
}

// FuzzFastPath: for any body, the fast path handles it only as encoding/json
// would, and Decode's answer is encoding/json's (checkFastPath).
// Its seeds hold a short attestation document: 8 KB inputs slow the
// fuzzer (its minimizing most), and length changes nothing in the scan.
func FuzzFastPath(f *testing.F) {
	for _, b := range realBodies(attestationDocB64[:96]) {
		f.Add(b)
	}
	for _, b := range hostileBodies {
		f.Add([]byte(b))
	}
	for _, bs := range hostileFor {
		for _, b := range bs {
			f.Add([]byte(b))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkFastPath(t, body)
	})
}

// BenchmarkDecodeRecipient: an attested AWS DeriveSharedSecret (≈8 KB, most
// of it the attestation document), by Decode and by encoding/json alone.
func BenchmarkDecodeRecipient(b *testing.B) {
	body := []byte(sdkDeriveSharedSecret)
	for _, bc := range []struct {
		name   string
		decode func([]byte, any, Options) error
	}{{"Decode", Decode}, {"encoding-json", decodeJSON}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var v awsDeriveSharedSecret
				if err := bc.decode(body, &v, awsOptions); err != nil || v.Recipient == nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Types that contain themselves through a named slice or pointer type.
type (
	selfSlice   []selfSlice
	selfPointer *selfPointer
)

// TestFastPathSelfReferentialTypes (review): a request type holding a named
// slice or pointer type that contains itself is planned without recursing
// forever (a fatal stack overflow, not a panic a handler could recover),
// and the member of that type is left to encoding/json.
func TestFastPathSelfReferentialTypes(t *testing.T) {
	for _, c := range []struct {
		v    any
		body string
	}{
		{&struct{ A selfSlice }{}, `{"A":[[],[[]]]}`},
		{&struct{ P selfPointer }{}, `{"P":null}`},
	} {
		if decodeFast([]byte(`{}`), c.v, Options{}) != true {
			t.Errorf("%T: an empty body was declined", c.v)
		}
		if decodeFast([]byte(c.body), c.v, Options{}) {
			t.Errorf("%T: %s was handled by the fast path", c.v, c.body)
		}
	}
}
