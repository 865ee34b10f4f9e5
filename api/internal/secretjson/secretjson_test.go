package secretjson

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

func TestRawString(t *testing.T) {
	for _, tc := range []struct {
		r    RawString
		want string
	}{{Base64([]byte("ABC")), `{"s":"QUJD"}`}, {Hex([]byte{0xab, 1}), `{"s":"ab01"}`}, {Base64(nil), `{"s":""}`},
		{Text([]byte("k+/9=")), `{"s":"k+/9="}`}, {Text([]byte("a\"\\\n\xff")), `{"s":"a\u0022\u005c\u000a\u00ff"}`}, {Text(nil), `{"s":""}`}} {
		var buf bytes.Buffer
		Write(httptestRecorder{&buf}, 200, "application/json", struct {
			S RawString `json:"s"`
		}{tc.r})
		if got := strings.TrimSpace(buf.String()); got != tc.want {
			t.Fatalf("%s; want %s", got, tc.want)
		}
		// MarshalJSON hands out the buffer itself: wiping it leaves no copy.
		b, _ := tc.r.MarshalJSON()
		if len(b) > 0 && &b[0] != &tc.r[0] {
			t.Fatal("MarshalJSON returned a copy")
		}
	}
}

type httptestRecorder struct{ w *bytes.Buffer }

func (r httptestRecorder) Header() http.Header         { return http.Header{} }
func (r httptestRecorder) Write(b []byte) (int, error) { return r.w.Write(b) }
func (r httptestRecorder) WriteHeader(int)             {}
