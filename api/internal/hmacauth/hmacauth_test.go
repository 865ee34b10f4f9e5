package hmacauth

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"
)

var names = [3]string{"Credential", "SignedHeaders", "Signature"}

func TestParseAuthorization(t *testing.T) {
	good := "ALG Credential=c, SignedHeaders=a;b, Signature=s"
	if v, err := ParseAuthorization(good, "ALG", 100, names); err != nil || v != [3]string{"c", "a;b", "s"} {
		t.Fatalf("%q: %q, %v", good, v, err)
	}
	if v, err := ParseAuthorization("ALG Signature=s,Credential=c,SignedHeaders=h", "ALG", 100, names); err != nil || v != [3]string{"c", "h", "s"} {
		t.Fatalf("reordered: %q, %v", v, err)
	}
	for h, want := range map[string]string{
		"":                             "empty",
		good + strings.Repeat(" ", 60): "longer than",
		"ALG":                          "algorithm",
		"alg Credential=c, SignedHeaders=a, Signature=s":               "algorithm",
		"ALG Credential=c, SignedHeaders=a, Signature=s, Credential=d": "duplicate Credential",
		"ALG Credential=c, SignedHeaders=a, Signature=s, Extra=x":      "unknown",
		"ALG Credential=c, SignedHeaders=a, Signature=":                "empty or incomplete",
		"ALG Credential=c, SignedHeaders=a":                            "no Signature",
		"ALG Credential=c, SignedHeaders=a, Signature=s,":              "empty or incomplete",
		"ALG Credential=c,\tSignedHeaders=a, Signature=s":              "unknown",
	} {
		if _, err := ParseAuthorization(h, "ALG", 100, names); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", h, err, want)
		}
	}
}

func TestParseSignedHeaders(t *testing.T) {
	for s, ok := range map[string]bool{
		"a;b;c": true, "host": true, "a;a": false, "b;a": false, "A": false, "a;": false, "": false,
		"a;b;c;d": false, strings.Repeat("x", 9): false,
	} {
		if _, err := ParseSignedHeaders(s, 3, 8); (err == nil) != ok {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func TestParseSignature(t *testing.T) {
	good := strings.Repeat("0a", 32)
	if b, err := ParseSignature(good); err != nil || len(b) != 32 {
		t.Fatalf("%v", err)
	}
	for _, s := range []string{strings.ToUpper(good), good[:62], good + "00", strings.Repeat("0g", 32)} {
		if _, err := ParseSignature(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestMatch(t *testing.T) {
	secret := []byte("secret")
	sign := func(s []byte) [sha256.Size]byte { return sha256.Sum256(s) }
	right := sign(secret)
	lookup := func(id string) ([]byte, bool) { return secret, id == "known" }
	if !Match(lookup, "known", right[:], sign) {
		t.Fatal("right signature refused")
	}
	if Match(lookup, "known", make([]byte, 32), sign) {
		t.Fatal("wrong signature accepted")
	}
	// An unknown id is refused even with the signature of the dummy secret,
	// and still costs the signing work.
	calls := 0
	dummy := sign(dummySecret)
	if Match(func(string) ([]byte, bool) { return nil, false }, "unknown", dummy[:], func(s []byte) [sha256.Size]byte { calls++; return sign(s) }) || calls != 1 {
		t.Fatalf("unknown id: %d signing calls", calls)
	}
}

func TestSignedValues(t *testing.T) {
	r, _ := http.NewRequest("POST", "http://h.example/", nil)
	r.Header["X-A"] = []string{"1", "2"}
	r.Header["x-b"] = []string{"v"}
	vs, err := SignedValues(r, []string{"host", "x-a", "x-b"}, 64, false, nil)
	if err != nil || vs[0][0] != "h.example" || len(vs[1]) != 2 || vs[2][0] != "v" {
		t.Fatalf("%q, %v", vs, err)
	}
	for name, mutate := range map[string]func(h http.Header){
		"two values":    func(h http.Header) {},
		"two spellings": func(h http.Header) { h["X-B"] = []string{"w"} },
		"line feed":     func(h http.Header) { h["x-b"] = []string{"v\nx-c:1"} },
		"absent":        func(h http.Header) { delete(h, "x-b") },
	} {
		r, _ := http.NewRequest("POST", "http://h.example/", nil)
		r.Header["X-A"] = []string{"1", "2"}
		r.Header["x-b"] = []string{"v"}
		mutate(r.Header)
		if _, err := SignedValues(r, []string{"host", "x-a", "x-b"}, 64, true, nil); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	r.Host = "h x"
	if _, err := SignedValues(r, []string{"host"}, 64, false, nil); err == nil {
		t.Error("host with a space accepted")
	}
}
