package tc3_test

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	tckms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/kms/v20190118"

	"github.com/attestkms/attestkms/api/tencent/tc3"
	"github.com/attestkms/attestkms/internal/httpsig"
)

var testTime = time.Date(2024, 3, 14, 15, 9, 26, 0, time.UTC)

// signed is a request as the SDK builds it, signed by Sign at testTime and
// received by a server; prepare may change it before signing.
func signed(t testing.TB, prepare func(r *http.Request), extra ...string) (*http.Request, []byte) {
	t.Helper()
	r, err := http.NewRequest("POST", "https://kms.tencentcloudapi.com/", strings.NewReader(testBody))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-TC-Action", "Encrypt")
	r.Header.Set("X-TC-Version", "2019-01-18")
	r.Header.Set("X-TC-Region", "ap-guangzhou")
	r.Header.Set("X-TC-RequestClient", "SDK_GO_1.3.210")
	r.Header.Set("X-TC-Language", "zh-CN")
	if prepare != nil {
		prepare(r)
	}
	if err := tc3.Sign(r, []byte(testBody), testID, []byte(testSecret), "kms", testTime, extra...); err != nil {
		t.Fatal(err)
	}
	return receive(t, r, []byte(testBody))
}

// checkErr asserts err is of kind want, Verify's contract for errors, and
// that the message is lower-case and holds no secret.
func checkErr(t *testing.T, name string, res *tc3.Result, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v; want %v", name, err, want)
		return
	}
	if res != nil {
		t.Errorf("%s: result %+v beside error %v", name, res, err)
	}
	msg := err.Error()
	if r := []rune(msg); unicode.IsUpper(r[0]) || strings.HasSuffix(msg, ".") {
		t.Errorf("%s: message %q: want lower-case, no final period", name, msg)
	}
	if strings.Contains(msg, testSecret) {
		t.Errorf("%s: message %q holds the secret", name, msg)
	}
}

func TestHostileRequests(t *testing.T) {
	good, body := signed(t, nil)
	if _, err := testVerifier().Verify(good, body, testTime); err != nil {
		t.Fatal(err)
	}
	auth := good.Header.Get("Authorization")
	replaceAuth := func(old, new string) func(r *http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", strings.Replace(auth, old, new, 1)) }
	}
	setHeader := func(k, v string) func(r *http.Request) { return func(r *http.Request) { r.Header.Set(k, v) } }
	addHeader := func(k, v string) func(r *http.Request) { return func(r *http.Request) { r.Header.Add(k, v) } }

	for _, tc := range []struct {
		name   string
		mutate func(r *http.Request)
		body   string // replaces the body when set
		now    time.Time
		want   error
	}{
		{"no authorization", func(r *http.Request) { r.Header.Del("Authorization") }, "", testTime, httpsig.ErrMissing},
		{"two authorizations", addHeader("Authorization", auth), "", testTime, httpsig.ErrMalformed},
		{"SKIP (the SDK's unsigned mode)", setHeader("Authorization", "SKIP"), "", testTime, httpsig.ErrMalformed},
		{"another service", replaceAuth("/kms/", "/cvm/"), "", testTime, httpsig.ErrMalformed},
		{"scope date another day", replaceAuth("2024-03-14", "2024-03-13"), "", testTime, httpsig.ErrMalformed},
		{"no host signed", replaceAuth("content-type;host", "content-type"), "", testTime, httpsig.ErrMalformed},
		{"no content-type signed", replaceAuth("content-type;host", "host"), "", testTime, httpsig.ErrMalformed},
		{"signed header absent", replaceAuth("content-type;host", "content-type;host;x-tc-nothing"), "", testTime, httpsig.ErrMalformed},
		{"unsorted signed headers", replaceAuth("content-type;host", "host;content-type"), "", testTime, httpsig.ErrMalformed},
		{"upper-case signature", func(r *http.Request) {
			r.Header.Set("Authorization", auth[:len(auth)-64]+strings.ToUpper(auth[len(auth)-64:]))
		}, "", testTime, httpsig.ErrMalformed},
		{"hmac-sha256 v1", replaceAuth("TC3-HMAC-SHA256", "HmacSHA256"), "", testTime, httpsig.ErrMalformed},
		{"no timestamp", func(r *http.Request) { r.Header.Del("X-TC-Timestamp") }, "", testTime, httpsig.ErrMalformed},
		{"two timestamps", addHeader("X-TC-Timestamp", "1710428966"), "", testTime, httpsig.ErrMalformed},
		{"timestamp with a sign", setHeader("X-TC-Timestamp", "+1710428966"), "", testTime, httpsig.ErrMalformed},
		{"timestamp with a leading zero", setHeader("X-TC-Timestamp", "01710428966"), "", testTime, httpsig.ErrMalformed},
		{"timestamp in milliseconds", setHeader("X-TC-Timestamp", "1710428966000"), "", testTime, httpsig.ErrMalformed},
		{"timestamp as a date", setHeader("X-TC-Timestamp", "2024-03-14T15:09:26Z"), "", testTime, httpsig.ErrMalformed},
		{"timestamp one second later", setHeader("X-TC-Timestamp", "1710428967"), "", testTime, httpsig.ErrSignature},
		{"5m01s fast", nil, "", testTime.Add(-5*time.Minute - time.Second), httpsig.ErrExpired},
		{"5m01s slow", nil, "", testTime.Add(5*time.Minute + time.Second), httpsig.ErrExpired},
		{"a day late", nil, "", testTime.Add(24 * time.Hour), httpsig.ErrExpired},
		{"GET", func(r *http.Request) { r.Method = "GET" }, "", testTime, httpsig.ErrMalformed},
		{"PUT", func(r *http.Request) { r.Method = "PUT" }, "", testTime, httpsig.ErrMalformed},
		{"another path", func(r *http.Request) { r.URL.Path = "/v1.0/x" }, "", testTime, httpsig.ErrMalformed},
		{"a query", func(r *http.Request) { r.URL.RawQuery = "Action=ScheduleKeyDeletion" }, "", testTime, httpsig.ErrMalformed},
		{"unsigned payload", setHeader("X-TC-Content-SHA256", "UNSIGNED-PAYLOAD"), "", testTime, httpsig.ErrMalformed},
		{"temporary credentials", setHeader("X-TC-Token", "token"), "", testTime, httpsig.ErrMalformed},
		{"two content types", addHeader("Content-Type", "application/json"), "", testTime, httpsig.ErrMalformed},
		{"host header beside the host", addHeader("Host", "kms.tencentcloudapi.com"), "", testTime, httpsig.ErrMalformed},
		{"control character in content type", setHeader("Content-Type", "application/json\x01"), "", testTime, httpsig.ErrMalformed},
		{"non-ascii content type", setHeader("Content-Type", "application/jsön"), "", testTime, httpsig.ErrMalformed},
		{"overlong content type", setHeader("Content-Type", "application/json; x="+strings.Repeat("a", 600)), "", testTime, httpsig.ErrMalformed},
		{"changed body", nil, `{"KeyId":"93866e69-9755-11ef-8e65-52540089bc41","Plaintext":"aGVsbG9="}`, testTime, httpsig.ErrSignature},
		{"empty body", nil, " ", testTime, httpsig.ErrSignature},
		{"changed host", func(r *http.Request) { r.Host = "kms.evil.example" }, "", testTime, httpsig.ErrSignature},
		{"changed content type", setHeader("Content-Type", "text/plain"), "", testTime, httpsig.ErrSignature},
		{"unknown secret id", replaceAuth(testID, "AKIDUNKNOWNUNKNOWNUNKNOWNUNKNOWN0000"), "", testTime, httpsig.ErrSignature},
		{"signature of another request", func(r *http.Request) {
			other, _ := signed(t, func(r *http.Request) { r.Header.Set("X-TC-Language", "en-US"); r.Host = "other.example" })
			r.Header.Set("Authorization", other.Header.Get("Authorization"))
		}, "", testTime, httpsig.ErrSignature},
	} {
		r, _ := signed(t, nil)
		b := body
		if tc.body != "" {
			b = []byte(tc.body)
		}
		if tc.mutate != nil {
			tc.mutate(r)
		}
		header, host, u := r.Header.Clone(), r.Host, *r.URL
		res, err := testVerifier().Verify(r, b, tc.now)
		checkErr(t, tc.name, res, err, tc.want)
		if !reflect.DeepEqual(header, r.Header) || host != r.Host || u != *r.URL {
			t.Errorf("%s: Verify modified the request", tc.name)
		}
	}
}

// TestUnknownSecretIDLikeWrongSecret: an unknown SecretId and a wrong secret
// get the same error, and the lookup is asked either way.
func TestUnknownSecretIDLikeWrongSecret(t *testing.T) {
	r, body := signed(t, nil)
	wrong := &tc3.Verifier{Service: "kms", Lookup: func(string) ([]byte, bool) { return []byte(testSecret + "x"), true }}
	asked := false
	unknown := &tc3.Verifier{Service: "kms", Lookup: func(string) ([]byte, bool) { asked = true; return nil, false }}
	_, e1 := wrong.Verify(r, body, testTime)
	_, e2 := unknown.Verify(r, body, testTime)
	if e1 == nil || e2 == nil || e1.Error() != e2.Error() || !errors.Is(e1, httpsig.ErrSignature) || !errors.Is(e2, httpsig.ErrSignature) || !asked {
		t.Fatalf("wrong secret: %v; unknown id: %v", e1, e2)
	}
}

func TestSkewBoundary(t *testing.T) {
	r, body := signed(t, nil)
	for _, d := range []time.Duration{-5 * time.Minute, 5 * time.Minute, 0} {
		if _, err := testVerifier().Verify(r, body, testTime.Add(d)); err != nil {
			t.Errorf("skew %v: %v", d, err)
		}
	}
	v := &tc3.Verifier{Service: "kms", Lookup: testLookup, MaxSkew: time.Minute}
	if _, err := v.Verify(r, body, testTime.Add(61*time.Second)); !errors.Is(err, httpsig.ErrExpired) {
		t.Fatalf("MaxSkew 1m at 61s: %v", err)
	}
}

func TestVerifierConfig(t *testing.T) {
	r, body := signed(t, nil)
	for name, v := range map[string]*tc3.Verifier{
		"no service":    {Lookup: testLookup},
		"no lookup":     {Service: "kms"},
		"negative skew": {Service: "kms", Lookup: testLookup, MaxSkew: -time.Second},
	} {
		res, err := v.Verify(r, body, testTime)
		checkErr(t, name, res, err, httpsig.ErrConfig)
	}
	res, err := testVerifier().Verify(r, body, time.Time{})
	checkErr(t, "zero clock", res, err, httpsig.ErrConfig)
	res, err = testVerifier().Verify(nil, body, testTime)
	checkErr(t, "nil request", res, err, httpsig.ErrMalformed)
}

// TestSDKUnsignedPayloadRefused: the SDK's UnsignedPayload profile leaves
// the body unsigned; such a request is refused, not verified.
func TestSDKUnsignedPayloadRefused(t *testing.T) {
	c := &capture{}
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = "kms.tencentcloudapi.com"
	cpf.UnsignedPayload = true
	client, _ := tckms.NewClient(common.NewCredential(testID, testSecret), "ap-guangzhou", cpf)
	client.WithHttpTransport(c)
	if _, err := client.GenerateRandom(&tckms.GenerateRandomRequest{BaseRequest: tckms.NewGenerateRandomRequest().BaseRequest}); err != nil {
		t.Fatal(err)
	}
	r, body := receive(t, c.req, c.body)
	res, err := testVerifier().Verify(r, body, timestampOf(t, r))
	checkErr(t, "unsigned payload", res, err, httpsig.ErrMalformed)

	// The v1 signature methods put the signature in form parameters: no
	// Authorization header at all.
	cpf = profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = "kms.tencentcloudapi.com"
	cpf.SignMethod = "HmacSHA256"
	client, _ = tckms.NewClient(common.NewCredential(testID, testSecret), "ap-guangzhou", cpf)
	client.WithHttpTransport(c)
	client.GenerateRandom(&tckms.GenerateRandomRequest{BaseRequest: tckms.NewGenerateRandomRequest().BaseRequest})
	r, body = receive(t, c.req, c.body)
	res, err = testVerifier().Verify(r, body, time.Now())
	checkErr(t, "signature v1", res, err, httpsig.ErrMissing)
}

func TestSignRefuses(t *testing.T) {
	req := func(method, url string, ct ...string) *http.Request {
		r, _ := http.NewRequest(method, url, nil)
		for _, v := range ct {
			r.Header.Add("Content-Type", v)
		}
		return r
	}
	const u = "https://kms.tencentcloudapi.com/"
	for name, tc := range map[string]struct {
		r       *http.Request
		id      string
		secret  string
		service string
		at      time.Time
		extra   []string
	}{
		"nil request":        {nil, testID, testSecret, "kms", testTime, nil},
		"zero time":          {req("POST", u, "application/json"), testID, testSecret, "kms", time.Time{}, nil},
		"bad secret id":      {req("POST", u, "application/json"), "AKID/x", testSecret, "kms", testTime, nil},
		"empty secret":       {req("POST", u, "application/json"), testID, "", "kms", testTime, nil},
		"upper-case service": {req("POST", u, "application/json"), testID, testSecret, "KMS", testTime, nil},
		"GET":                {req("GET", u, "application/json"), testID, testSecret, "kms", testTime, nil},
		"path":               {req("POST", u+"x", "application/json"), testID, testSecret, "kms", testTime, nil},
		"query":              {req("POST", u+"?a=b", "application/json"), testID, testSecret, "kms", testTime, nil},
		"no content type":    {req("POST", u), testID, testSecret, "kms", testTime, nil},
		"two content types":  {req("POST", u, "application/json", "text/plain"), testID, testSecret, "kms", testTime, nil},
		"host twice":         {req("POST", u, "application/json"), testID, testSecret, "kms", testTime, []string{"host"}},
		"absent extra":       {req("POST", u, "application/json"), testID, testSecret, "kms", testTime, []string{"x-tc-action"}},
		"upper-case extra":   {req("POST", u, "application/json"), testID, testSecret, "kms", testTime, []string{"X-TC-Action"}},
		// net/http drops an IPv6 zone from the Host it sends (RFC 6874):
		// the fuzzer's crasher 72f94fcee7a4c297.
		"ipv6 zone": {req("POST", "https://[fe80::1%25en0]:8443/", "application/json"), testID, testSecret, "kms", testTime, nil},
	} {
		var before http.Header
		if tc.r != nil {
			before = tc.r.Header.Clone()
		}
		err := tc3.Sign(tc.r, nil, tc.id, []byte(tc.secret), tc.service, tc.at, tc.extra...)
		if !errors.Is(err, httpsig.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
		if tc.r != nil && !reflect.DeepEqual(before, tc.r.Header) {
			t.Errorf("%s: Sign changed the request on error", name)
		}
	}
}

// malformedAuthorizations are refused by ParseAuthorization (and seed its
// fuzz target).
var malformedAuthorizations = []string{
	"",
	"TC3-HMAC-SHA256",
	"TC3-HMAC-SHA256 ",
	"tc3-hmac-sha256 Credential=AKID/2024-03-14/kms/tc3_request, SignedHeaders=content-type;host, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/kms/tc3_request, SignedHeaders=content-type;host",
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/kms/tc3_request, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 SignedHeaders=content-type;host, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/kms/tc3_request, SignedHeaders=content-type;host, Signature=" + strings.Repeat("a", 63),
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/kms/tc3_request, SignedHeaders=content-type;host, Signature=" + strings.Repeat("A", 64),
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/kms/tc3_request, SignedHeaders=content-type;host, Signature=" + strings.Repeat("g", 64),
	"TC3-HMAC-SHA256 Credential=AKID/20240314/kms/tc3_request, SignedHeaders=content-type;host, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 Credential=AKID/2024-02-30/kms/tc3_request, SignedHeaders=content-type;host, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/kms/aws4_request, SignedHeaders=content-type;host, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/ap-guangzhou/kms/tc3_request, SignedHeaders=content-type;host, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 Credential=/2024-03-14/kms/tc3_request, SignedHeaders=content-type;host, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 Credential=AK ID/2024-03-14/kms/tc3_request, SignedHeaders=content-type;host, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/KMS/tc3_request, SignedHeaders=content-type;host, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/kms/tc3_request, SignedHeaders=Content-Type;Host, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/kms/tc3_request, SignedHeaders=host;content-type, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/kms/tc3_request, SignedHeaders=content-type;content-type;host, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/kms/tc3_request, SignedHeaders=content-type;;host, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/kms/tc3_request, SignedHeaders=host, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/kms/tc3_request, SignedHeaders=content-type;host, Signature=" + strings.Repeat("a", 64) + ", Timestamp=1710428966",
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/kms/tc3_request, SignedHeaders=content-type;host, Signature=" + strings.Repeat("a", 64) + ",",
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/kms/tc3_request, Credential=AKID/2024-03-14/kms/tc3_request, SignedHeaders=content-type;host, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/kms/tc3_request; SignedHeaders=content-type;host; Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256  Credential = AKID/2024-03-14/kms/tc3_request, SignedHeaders=content-type;host, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256\tCredential=AKID/2024-03-14/kms/tc3_request, SignedHeaders=content-type;host, Signature=" + strings.Repeat("a", 64),
	"AWS4-HMAC-SHA256 Credential=AKID/20240314/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 Credential=AKID/2024-03-14/kms/tc3_request, SignedHeaders=" + strings.Repeat("a;", 20) + "content-type;host, Signature=" + strings.Repeat("a", 64),
	"TC3-HMAC-SHA256 Credential=" + strings.Repeat("A", 2048) + "/2024-03-14/kms/tc3_request, SignedHeaders=content-type;host, Signature=" + strings.Repeat("a", 64),
}

const goodAuth = "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2024-03-14/kms/tc3_request, SignedHeaders=content-type;host, Signature=" +
	"2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"

func TestParseAuthorization(t *testing.T) {
	a, err := tc3.ParseAuthorization(goodAuth)
	if err != nil {
		t.Fatal(err)
	}
	if a.SecretID != testID || a.Date != "2024-03-14" || a.Service != "kms" || len(a.Signature) != 32 ||
		!reflect.DeepEqual(a.SignedHeaders, []string{"content-type", "host"}) || a.String() != goodAuth {
		t.Fatalf("%+v", a)
	}
	// Spaces around parts and any order are accepted, as for SigV4.
	b, err := tc3.ParseAuthorization("TC3-HMAC-SHA256 Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c,SignedHeaders=content-type;host;x-tc-action ,  Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2024-03-14/kms/tc3_request")
	if err != nil || len(b.SignedHeaders) != 3 {
		t.Fatalf("%+v %v", b, err)
	}
	for _, h := range malformedAuthorizations {
		a, err := tc3.ParseAuthorization(h)
		if a != nil || !errors.Is(err, httpsig.ErrMalformed) {
			t.Errorf("%.80q: %+v %v", h, a, err)
		}
	}
}
