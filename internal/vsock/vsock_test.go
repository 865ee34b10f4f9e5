package vsock

import (
	"strings"
	"testing"
)

func TestParseEndpoint(t *testing.T) {
	for in, want := range map[string]Endpoint{
		"vsock://3:8000":  {URL: "http://3:8000", Addr: Addr{3, 8000}},
		"vsock://3:8000/": {URL: "http://3:8000", Addr: Addr{3, 8000}},
		"vsock+https://3:8443?name=kms.example.com":      {URL: "https://kms.example.com", Addr: Addr{3, 8443}, TLS: true},
		"vsock+https://4294967295:1?name=kms.internal:8": {URL: "https://kms.internal:8", Addr: Addr{4294967295, 1}, TLS: true},
	} {
		e, err := ParseEndpoint(in)
		if err != nil || *e != want {
			t.Errorf("%s: %+v, %v; want %+v", in, e, err, want)
		}
	}
	for _, in := range []string{
		"http://3:8000", "vsock://3", "vsock://:8000", "vsock://3:", "vsock://x:8000", "vsock://3:80x",
		"vsock://4294967296:1", "vsock://3:4294967296", "vsock://-1:80", "vsock://03:80", "vsock://3:080",
		"vsock://3:8000/path", "vsock://u@3:8000", "vsock://3:8000#f", "vsock://3:8000?name=a",
		"vsock+https://3:8443", "vsock+https://3:8443?name=", "vsock+https://3:8443?name=a&name=b",
		"vsock+https://3:8443?name=a&x=1", "vsock+https://3:8443?name=a/b", "vsock+https://3:8443?name=a@b",
		"vsock:3:8000",
	} {
		if e, err := ParseEndpoint(in); err == nil {
			t.Errorf("%s: accepted as %+v", in, e)
		} else if !strings.Contains(err.Error(), "vsock") {
			t.Errorf("%s: %v does not say vsock", in, err)
		}
	}
}

func FuzzParseEndpoint(f *testing.F) {
	f.Add("vsock://3:8000")
	f.Add("vsock+https://3:8443?name=kms.example.com")
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEndpoint(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(e.URL, "http://") && !strings.HasPrefix(e.URL, "https://") || e.TLS != strings.HasPrefix(e.URL, "https://") {
			t.Fatalf("%q: %+v", s, e)
		}
	})
}
