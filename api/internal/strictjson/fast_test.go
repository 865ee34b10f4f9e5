package strictjson

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// The dialects' real request types are held to encoding/json by their own
// tests (strictjsontest, over every operation's type); the types below are
// shapes the fast path must handle, embedding included, and some it must
// decline.

type recipient struct {
	AttestationDocument    string
	KeyEncryptionAlgorithm string
	PublicKey              string
}

type recipientField struct{ Recipient *recipient }

type stringMap map[string]string

// attested is shaped as an attested request: strings, a pointer integer, a
// named map, a list, and an embedded struct holding a pointer to a struct.
type attested struct {
	KeyId         string
	PublicKey     string
	NumberOfBytes *int32
	Context       stringMap
	DryRun        bool
	GrantTokens   []string
	recipientField
}

type tagPair struct{ TagKey, TagValue *string }

type wrap struct {
	EncryptionPublicKey string
	recipientField
}

// deep embeds two deep, with tagged names and a list of structs.
type deep struct {
	KeyID string `json:"key_id"`
	wrap
	Tags []tagPair `json:"tags,omitempty"`
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
	{"attested", func() any { return new(attested) }, awsOptions},
	{"attested exact", func() any { return new(attested) }, tencentOption},
	{"deep", func() any { return new(deep) }, awsOptions},
	{"deep exact", func() any { return new(deep) }, tencentOption},
	{"kinds", func() any { return new(kinds) }, awsOptions},
	{"kinds exact", func() any { return new(kinds) }, tencentOption},
	{"req exact", func() any { return new(req) }, tencentOption},
	{"odd", func() any { return new(odd) }, awsOptions},
	{"embedded pointer", func() any { return new(embeddedPtr) }, awsOptions},
}

// checkFastPath holds the fast path to encoding/json for body into each
// target (CheckFastPath).
func checkFastPath(t *testing.T, body []byte) {
	t.Helper()
	for _, tg := range targets {
		if _, err := CheckFastPath(body, tg.new, tg.o); err != nil {
			t.Fatalf("%s: %v", tg.name, err)
		}
	}
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

	// As the AWS SDK for Go v2 writes a body (members in its order,
	// alphabetical; it escapes only '"', '\\' and control bytes): the real
	// ones are checked in api/aws.
	attestedBody = `{"Context":{"purpose":"test","tenant":"ü-42"},"GrantTokens":["g1","g2"],"KeyId":"alias/x","NumberOfBytes":32,` +
		`"PublicKey":"` + publicKeyB64 + `","Recipient":{"AttestationDocument":"` + attestationDocB64 + `","KeyEncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}`
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
	r := &recipient{attestationDoc, "RSAES_OAEP_SHA_256", publicKeyB64}
	a := attested{KeyId: "k", PublicKey: publicKeyB64, NumberOfBytes: ptr(int32(-2147483648)), DryRun: true,
		Context: stringMap{"a": "b", "": ""}, GrantTokens: []string{}, recipientField: recipientField{r}}
	d := deep{KeyID: "0d0466b0-e727-4d9c-b35d-f84bb474a37f", Tags: []tagPair{{ptr("k"), ptr("v")}, {ptr(""), ptr("")}}}
	d.EncryptionPublicKey, d.Recipient = publicKeyB64, r
	return [][]byte{
		[]byte(strings.ReplaceAll(attestedBody, attestationDocB64, attestationDoc)), marshal(a), marshal(d),
		marshal(deep{KeyID: "k", wrap: wrap{recipientField: recipientField{&recipient{}}}}),
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
	"attested":       {`{"NumberOfBytes":2147483648}`, `{"NumberOfBytes":-2147483649}`},
	"attested exact": {`{"NumberOfBytes":2147483648}`, `{"Context":{"a":"b"},"Context":{"c":"d"}}`},
	// A member that is JSON in a string (as Tencent's EncryptionContext) is
	// escaped, so declined.
	"deep exact":       {`{"key_id":"k","EncryptionPublicKey":"{\"k\":\"v\"}"}`, `{"Recipient":{"X":"y"}}`},
	"deep":             {`{"tags":[{"TagKey":"a","tagkey":"b"}]}`, `{"key_id":"k","KEY_ID":"l"}`},
	"odd":              {`{"S":"x"}`, `{}`},
	"embedded pointer": {`{"KeyId":"k"}`, `{"Recipient":{}}`},
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

// TestFastPathHandlesRealShapes: bodies shaped as SDKs send them take the
// fast path, into the values they say; a plan that declined them would pass
// the agreement test and speed nothing. (Each dialect's tests do the same
// with its real types and SDK.)
func TestFastPathHandlesRealShapes(t *testing.T) {
	var a attested
	if !decodeFast([]byte(attestedBody), &a, awsOptions) {
		t.Fatal("an attested body declined")
	}
	if a.KeyId != "alias/x" || a.PublicKey != publicKeyB64 || a.NumberOfBytes == nil || *a.NumberOfBytes != 32 ||
		len(a.GrantTokens) != 2 || a.Context["tenant"] != "ü-42" || a.Recipient == nil ||
		a.Recipient.AttestationDocument != attestationDocB64 || a.Recipient.KeyEncryptionAlgorithm != "RSAES_OAEP_SHA_256" {
		t.Errorf("attested body decoded as %+v", a)
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
	// Exact, and tagged names embedded two deep.
	var d deep
	body := `{"key_id":"k","EncryptionPublicKey":"AA==","Recipient":{"AttestationDocument":"AA=="},"tags":[{"TagKey":"a"}]}`
	if !decodeFast([]byte(body), &d, tencentOption) || d.Recipient == nil || d.EncryptionPublicKey != "AA==" || *d.Tags[0].TagKey != "a" {
		t.Errorf("deep, Exact: %+v", d)
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
	a := attested{KeyId: "set"}
	if decodeFast([]byte(`{"PublicKey":"AA=="}`), &a, awsOptions) {
		t.Error("decoded into a non-zero value")
	}
	// Exact refuses at any depth what the fast path must then decline.
	if decodeFast([]byte(`{"Recipient":{"X":"y"}}`), new(deep), tencentOption) {
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

// BenchmarkDecodeRecipient: an attested body (≈8 KB, most of it the
// attestation document), by Decode and by encoding/json alone.
func BenchmarkDecodeRecipient(b *testing.B) {
	body := []byte(attestedBody)
	for _, bc := range []struct {
		name   string
		decode func([]byte, any, Options) error
	}{{"Decode", Decode}, {"encoding-json", decodeJSON}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var v attested
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
