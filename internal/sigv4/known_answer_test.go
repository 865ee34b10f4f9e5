package sigv4

import (
	"encoding/hex"
	"strings"
	"testing"
)

// TestKnownAnswer checks the canonicalisation against the worked example of
// AWS's documentation ("Create a signed AWS API request", IAM ListUsers),
// independently of the SDK the other tests compare with.
func TestKnownAnswer(t *testing.T) {
	const (
		secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
		date   = "20150830T123600Z"
		empty  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	)
	query, err := CanonicalQuery("Version=2010-05-08&Action=ListUsers")
	if err != nil {
		t.Fatal(err)
	}
	cr := CanonicalRequest{
		Method:      "GET",
		URI:         CanonicalURI(""),
		Query:       query,
		Headers:     []string{"content-type", "host", "x-amz-date"},
		Values:      [][]string{{"application/x-www-form-urlencoded; charset=utf-8"}, {"iam.amazonaws.com"}, {date}},
		PayloadHash: []byte(empty),
	}
	want := strings.Join([]string{
		"GET",
		"/",
		"Action=ListUsers&Version=2010-05-08",
		"content-type:application/x-www-form-urlencoded; charset=utf-8",
		"host:iam.amazonaws.com",
		"x-amz-date:20150830T123600Z",
		"",
		"content-type;host;x-amz-date",
		empty,
	}, "\n")
	if got := cr.String(); got != want {
		t.Fatalf("canonical request\n%s\nwant\n%s", got, want)
	}
	if got := string(cr.Hash()); got != "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59" {
		t.Fatalf("canonical request hash %s", got)
	}
	sig := Signature([]byte(secret), "20150830", "us-east-1", "iam", StringToSign(date, "20150830/us-east-1/iam/aws4_request", cr.Hash()))
	if got := hex.EncodeToString(sig[:]); got != "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7" {
		t.Fatalf("signature %s", got)
	}
}

func TestHeaderValue(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"   ":               "",
		"a":                 "a",
		"  a   b  c ":       "a b c",
		"\t tabbed \t":      "tabbed",
		"a\t\tb":            "a\t\tb",
		"attempt=1; max=3":  "attempt=1; max=3",
		" x \t ":            "x",
		"a \u00a0":          "a",
		"TrentService.Sign": "TrentService.Sign",
	} {
		if got := string(appendHeaderValue([]byte("k:"), in)); got != "k:"+want {
			t.Errorf("value %q: %q, want %q", in, got, "k:"+want)
		}
	}
}

func TestCanonicalURI(t *testing.T) {
	for in, want := range map[string]string{
		"":                "/",
		"/":               "/",
		"/a%20b":          "/a%2520b",
		"/c%2Fd":          "/c%252Fd",
		"/~u_v.w-z":       "/~u_v.w-z",
		"/!$&'()*,;=:@+":  "/%21%24%26%27%28%29%2A%2C%3B%3D%3A%40%2B",
		"/%C3%A9":         "/%25C3%25A9",
		"/a/./b/../c//d/": "/a/./b/../c//d/",
	} {
		if got := CanonicalURI(in); got != want {
			t.Errorf("uri %q: %q, want %q", in, got, want)
		}
	}
}
