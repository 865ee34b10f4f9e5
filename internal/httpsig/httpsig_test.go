package httpsig

import "testing"

func TestASCIILower(t *testing.T) {
	for in, want := range map[string]string{"X-Amz-Date": "x-amz-date", "host": "host", "\u212a": "\u212a"} {
		if got := ASCIILower(in); got != want {
			t.Errorf("%q: %q", in, got)
		}
	}
}
