package jsonappend

import (
	"encoding/json"
	"testing"
)

// FuzzString: String writes what json.Marshal writes, for any string.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "a", "arn:aws:kms:us-east-1:123456789012:key/0b7c", "<script>&", "quote\" back\\slash",
		"ctl\x00\x1f\x7f", "é ✓ \u2028\u2029", "bad \xff\xfe utf-8"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := String(nil, s); string(got) != string(want) {
			t.Fatalf("String(%q) = %s, json.Marshal %s", s, got, want)
		}
		if got := Member([]byte("{"), "n", s, true); s != "" && string(got) != `{,"n":`+string(want) || s == "" && string(got) != "{" {
			t.Fatalf("Member(%q) = %s", s, got)
		}
	})
}
