package sigv4_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/attestkms/attestkms/api/aws/sigv4"
	"github.com/attestkms/attestkms/internal/httpsig"
)

const (
	goodCred   = "Credential=AKIAIOSFODNN7EXAMPLE/20240314/us-east-1/kms/aws4_request"
	goodSigned = "SignedHeaders=content-type;host;x-amz-date;x-amz-target"
	goodSig    = "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
	goodAuth   = "AWS4-HMAC-SHA256 " + goodCred + ", " + goodSigned + ", " + goodSig
)

// malformedAuthorizations are header values ParseAuthorization must refuse,
// each for one reason. The fuzz seed corpus holds them too.
var malformedAuthorizations = map[string]string{
	"empty":                   "",
	"algorithm only":          "AWS4-HMAC-SHA256",
	"algorithm and space":     "AWS4-HMAC-SHA256 ",
	"lower-case algorithm":    strings.Replace(goodAuth, "AWS4-HMAC-SHA256", "aws4-hmac-sha256", 1),
	"sigv4a":                  strings.Replace(goodAuth, "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1),
	"sha512":                  strings.Replace(goodAuth, "SHA256", "SHA512", 1),
	"sigv2":                   "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
	"no space":                "AWS4-HMAC-SHA256" + goodCred + ", " + goodSigned + ", " + goodSig,
	"tab":                     "AWS4-HMAC-SHA256\t" + goodCred + ",\t" + goodSigned + ", " + goodSig,
	"four-part scope":         strings.Replace(goodAuth, "/aws4_request", "", 1),
	"six-part scope":          strings.Replace(goodAuth, "/kms/", "/kms/x/", 1),
	"wrong terminator":        strings.Replace(goodAuth, "aws4_request", "aws4_requests", 1),
	"scope date short":        strings.Replace(goodAuth, "/20240314/", "/2024314/", 1),
	"scope date dashes":       strings.Replace(goodAuth, "/20240314/", "/2024-03-14/", 1),
	"scope date invalid":      strings.Replace(goodAuth, "/20240314/", "/20240230/", 1),
	"upper-case region":       strings.Replace(goodAuth, "us-east-1", "US-EAST-1", 1),
	"empty region":            strings.Replace(goodAuth, "us-east-1", "", 1),
	"long region":             strings.Replace(goodAuth, "us-east-1", strings.Repeat("a", 33), 1),
	"region with dot":         strings.Replace(goodAuth, "us-east-1", "us.east-1", 1),
	"empty service":           strings.Replace(goodAuth, "/kms/", "//", 1),
	"empty access key":        strings.Replace(goodAuth, "AKIAIOSFODNN7EXAMPLE", "", 1),
	"access key hyphen":       strings.Replace(goodAuth, "AKIAIOSFODNN7EXAMPLE", "AKIA-EXAMPLE", 1),
	"long access key":         strings.Replace(goodAuth, "AKIAIOSFODNN7EXAMPLE", strings.Repeat("A", 129), 1),
	"unsorted headers":        strings.Replace(goodAuth, "content-type;host", "host;content-type", 1),
	"duplicate header":        strings.Replace(goodAuth, "host;", "host;host;", 1),
	"upper-case header":       strings.Replace(goodAuth, "host", "Host", 1),
	"empty header name":       strings.Replace(goodAuth, "host;", "host;;", 1),
	"trailing semicolon":      strings.Replace(goodAuth, "x-amz-target,", "x-amz-target;,", 1),
	"header with space":       strings.Replace(goodAuth, "x-amz-target", "x-amz target", 1),
	"signature 63":            goodAuth[:len(goodAuth)-1],
	"signature 65":            goodAuth + "0",
	"signature upper-case":    strings.Replace(goodAuth, "5d672d79c1", "5D672D79C1", 1),
	"signature not hex":       strings.Replace(goodAuth, "5d672d79c1", "5d672d79cg", 1),
	"signature base64":        "AWS4-HMAC-SHA256 " + goodCred + ", " + goodSigned + ", Signature=XWctecFbExYtknmwhVz7pniajttMgsQA4Ga1kkpvK10=",
	"duplicate credential":    goodAuth + ", " + goodCred,
	"duplicate signature":     goodAuth + ", " + goodSig,
	"duplicate signedheaders": goodAuth + ", " + goodSigned,
	"unknown part":            goodAuth + ", Foo=bar",
	"lower-case part name":    strings.Replace(goodAuth, "Credential=", "credential=", 1),
	"space before equals":     strings.Replace(goodAuth, "Credential=", "Credential =", 1),
	"no credential":           "AWS4-HMAC-SHA256 " + goodSigned + ", " + goodSig,
	"no signedheaders":        "AWS4-HMAC-SHA256 " + goodCred + ", " + goodSig,
	"no signature":            "AWS4-HMAC-SHA256 " + goodCred + ", " + goodSigned,
	"empty signature":         "AWS4-HMAC-SHA256 " + goodCred + ", " + goodSigned + ", Signature=",
	"trailing comma":          goodAuth + ",",
	"empty part":              "AWS4-HMAC-SHA256 " + goodCred + ", , " + goodSigned + ", " + goodSig,
	"semicolon separators":    "AWS4-HMAC-SHA256 " + goodCred + "; " + goodSigned + "; " + goodSig,
	"huge":                    goodAuth + strings.Repeat(" ", 4096),
	"65 headers":              "AWS4-HMAC-SHA256 " + goodCred + ", SignedHeaders=" + manyHeaders(65) + ", " + goodSig,
}

func manyHeaders(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = "h" + string(rune('a'+i/26)) + string(rune('a'+i%26))
	}
	return strings.Join(names, ";")
}

func TestParseAuthorizationRefuses(t *testing.T) {
	for name, h := range malformedAuthorizations {
		a, err := sigv4.ParseAuthorization(h)
		if !errors.Is(err, httpsig.ErrMalformed) || a != nil {
			t.Errorf("%s: %v, %v; want ErrMalformed", name, a, err)
		}
	}
}

// TestMalformedAuthorizationVerify sends each malformed header on a request
// that is otherwise good.
func TestMalformedAuthorizationVerify(t *testing.T) {
	r, body := sdkSigned(t, nil)
	for name, h := range malformedAuthorizations {
		r.Header.Set("Authorization", h)
		res, err := testVerifier().Verify(r, body, testTime)
		if !errors.Is(err, httpsig.ErrMalformed) || res != nil {
			t.Errorf("%s: %v; want ErrMalformed", name, err)
		}
	}
}

func TestParseAuthorizationAccepts(t *testing.T) {
	want := &sigv4.Authorization{
		AccessKeyID:   "AKIAIOSFODNN7EXAMPLE",
		Date:          "20240314",
		Region:        "us-east-1",
		Service:       "kms",
		SignedHeaders: []string{"content-type", "host", "x-amz-date", "x-amz-target"},
		Signature:     []byte{0x5d, 0x67, 0x2d, 0x79, 0xc1, 0x5b, 0x13, 0x16, 0x2d, 0x92, 0x79, 0xb0, 0x85, 0x5c, 0xfb, 0xa6, 0x78, 0x9a, 0x8e, 0xdb, 0x4c, 0x82, 0xc4, 0x00, 0xe0, 0x6b, 0x59, 0x24, 0xa6, 0xf2, 0xb5, 0xd7},
	}
	for name, h := range map[string]string{
		"sdk form":     goodAuth,
		"no spaces":    "AWS4-HMAC-SHA256 " + goodCred + "," + goodSigned + "," + goodSig,
		"extra spaces": "AWS4-HMAC-SHA256   " + goodCred + " ,  " + goodSigned + " , " + goodSig + "  ",
		"reordered":    "AWS4-HMAC-SHA256 " + goodSig + ", " + goodCred + ", " + goodSigned,
	} {
		a, err := sigv4.ParseAuthorization(h)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(a, want) {
			t.Errorf("%s: %+v", name, a)
		}
		if a.String() != goodAuth {
			t.Errorf("%s: String() = %s", name, a)
		}
	}
	// The bounds themselves are allowed.
	max := "AWS4-HMAC-SHA256 " + goodCred + ", SignedHeaders=" + manyHeaders(64) + ", " + goodSig
	if _, err := sigv4.ParseAuthorization(max); err != nil {
		t.Errorf("64 signed headers: %v", err)
	}
}
