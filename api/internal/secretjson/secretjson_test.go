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

// TestPooledBufferHoldsNoSecret: the buffer Write puts back holds nothing
// of the answer it sent. An answer of 3 KB grows the pooled buffer past its
// 1 KiB start, which tells it from a new one when the pool hands it out.
func TestPooledBufferHoldsNoSecret(t *testing.T) {
	secret := bytes.Repeat([]byte("s3cr3t!"), 300)
	for range 100 {
		var out bytes.Buffer
		if err := Write(httptestRecorder{&out}, 200, "application/json", struct {
			P RawString `json:"p"`
		}{Base64(secret)}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "czNjcjN0I") {
			t.Fatal("the answer does not hold the secret: the test is broken")
		}
		b := buffers.Get().(*bytes.Buffer)
		if b.Cap() <= 1024 {
			continue // another buffer: try again
		}
		if all := b.Bytes()[:b.Cap()]; bytes.ContainsFunc(all, func(r rune) bool { return r != 0 }) {
			t.Fatalf("the pooled buffer holds %q", bytes.Trim(all, "\x00"))
		}
		return
	}
	t.Fatal("the pool never gave back the buffer Write used")
}
