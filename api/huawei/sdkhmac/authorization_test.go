package sdkhmac_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/api/huawei/sdkhmac"
	"github.com/attestkms/attestkms/internal/httpsig"
)

const goodSig = "5239719a1057a36b035a47879a2539e0226ddfb92387ca5595f735e466a1fa99"

var goodAuth = "SDK-HMAC-SHA256 Access=" + testAK + ", SignedHeaders=user-agent;x-project-id;x-sdk-date, Signature=" + goodSig

// malformedAuthorizations are refused by ParseAuthorization, each for its
// own reason (and are the fuzz target's seeds).
var malformedAuthorizations = map[string]string{
	"empty":                  "",
	"algorithm only":         "SDK-HMAC-SHA256",
	"sm3":                    strings.Replace(goodAuth, "SDK-HMAC-SHA256", "SDK-HMAC-SM3", 1),
	"ecdsa":                  strings.Replace(goodAuth, "SDK-HMAC-SHA256", "SDK-ECDSA-P256-SHA256", 1),
	"derived":                strings.Replace(goodAuth, "SDK-HMAC-SHA256", "V11-HMAC-SHA256", 1),
	"aws":                    "AWS4-HMAC-SHA256 Credential=AKID/20240314/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + goodSig,
	"lower-case algorithm":   strings.Replace(goodAuth, "SDK-HMAC-SHA256", "sdk-hmac-sha256", 1),
	"tab":                    strings.Replace(goodAuth, " ", "\t", 1),
	"no access":              "SDK-HMAC-SHA256 SignedHeaders=x-sdk-date, Signature=" + goodSig,
	"no signed headers":      "SDK-HMAC-SHA256 Access=AK, Signature=" + goodSig,
	"no signature":           "SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date",
	"duplicate access":       strings.Replace(goodAuth, "SignedHeaders", "Access=B, SignedHeaders", 1),
	"duplicate signature":    goodAuth + ", Signature=" + goodSig,
	"unknown part":           goodAuth + ", Region=cn-north-4",
	"lower-case part":        strings.Replace(goodAuth, "Access=", "access=", 1),
	"empty part":             strings.Replace(goodAuth, ", SignedHeaders", ",, SignedHeaders", 1),
	"trailing comma":         goodAuth + ",",
	"space before equals":    strings.Replace(goodAuth, "Access=", "Access =", 1),
	"empty access":           strings.Replace(goodAuth, "Access="+testAK, "Access=", 1),
	"access with slash":      strings.Replace(goodAuth, testAK, testAK+"/x", 1),
	"access too long":        strings.Replace(goodAuth, testAK, strings.Repeat("A", 129), 1),
	"date not signed":        strings.Replace(goodAuth, ";x-sdk-date", "", 1),
	"authorization signed":   strings.Replace(goodAuth, "user-agent;", "authorization;user-agent;", 1),
	"unsorted headers":       strings.Replace(goodAuth, "user-agent;x-project-id", "x-project-id;user-agent", 1),
	"duplicate header":       strings.Replace(goodAuth, "user-agent;", "user-agent;user-agent;", 1),
	"upper-case header":      strings.Replace(goodAuth, "user-agent", "User-Agent", 1),
	"header with space":      strings.Replace(goodAuth, "user-agent", "user agent", 1),
	"empty header name":      strings.Replace(goodAuth, "user-agent;", ";", 1),
	"trailing semicolon":     strings.Replace(goodAuth, "x-sdk-date,", "x-sdk-date;,", 1),
	"65 headers":             strings.Replace(goodAuth, "user-agent;", manyHeaders(64), 1),
	"signature 63":           goodAuth[:len(goodAuth)-1],
	"signature 65":           goodAuth + "0",
	"signature upper-case":   strings.Replace(goodAuth, goodSig, strings.ToUpper(goodSig), 1),
	"signature base64":       strings.Replace(goodAuth, goodSig, "UjlxmhBXo2sDWkeHmiU54CJt35I6/8pVlfc15GahrZk=", 1),
	"signature not hex":      strings.Replace(goodAuth, goodSig[:2], "zz", 1),
	"huge":                   goodAuth + strings.Repeat(" ", 4096),
	"newline in access":      strings.Replace(goodAuth, testAK, testAK+"\n", 1),
	"semicolon separators":   strings.ReplaceAll(goodAuth, ", ", "; "),
	"algorithm and no space": "SDK-HMAC-SHA256Access=" + testAK,
}

func manyHeaders(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString("a" + strings.Repeat("0", 3-len(itoa(i))) + itoa(i) + ";")
	}
	return b.String()
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestParseAuthorization(t *testing.T) {
	a, err := sdkhmac.ParseAuthorization(goodAuth)
	if err != nil {
		t.Fatal(err)
	}
	if a.AccessKeyID != testAK || strings.Join(a.SignedHeaders, ";") != "user-agent;x-project-id;x-sdk-date" || len(a.Signature) != 32 {
		t.Fatalf("%+v", a)
	}
	if a.String() != goodAuth {
		t.Fatalf("String() = %q", a.String())
	}
	// Spacing and order are free, as long as each part comes once.
	for _, h := range []string{
		"SDK-HMAC-SHA256 Signature=" + goodSig + ",SignedHeaders=user-agent;x-project-id;x-sdk-date,Access=" + testAK,
		"SDK-HMAC-SHA256   Access=" + testAK + " ,  SignedHeaders=user-agent;x-project-id;x-sdk-date ,Signature=" + goodSig + " ",
	} {
		b, err := sdkhmac.ParseAuthorization(h)
		if err != nil || b.String() != goodAuth {
			t.Errorf("%q: %v", h, err)
		}
	}
	// 64 signed headers are the bound, and fine.
	if _, err := sdkhmac.ParseAuthorization(strings.Replace(goodAuth, "user-agent;x-project-id;", manyHeaders(63), 1)); err != nil {
		t.Errorf("64 headers: %v", err)
	}
	for name, h := range malformedAuthorizations {
		a, err := sdkhmac.ParseAuthorization(h)
		if a != nil || !errors.Is(err, httpsig.ErrMalformed) {
			t.Errorf("%s: %v, %v", name, a, err)
		}
	}
}
