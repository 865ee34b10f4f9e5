package httpsig

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestParseTime holds ParseTime to what the verifiers did before it:
// time.Parse, and Format printing the value back as it was.
func TestParseTime(t *testing.T) {
	layouts := []string{"20060102T150405Z", "20060102", "2006-01-02"}
	want := func(layout, s string) (time.Time, bool) {
		tm, err := time.Parse(layout, s)
		return tm, err == nil && tm.Format(layout) == s
	}
	check := func(layout, s string) {
		t.Helper()
		got, ok := ParseTime(layout, s)
		w, wok := want(layout, s)
		if ok != wok || ok && !got.Equal(w) {
			t.Fatalf("%s %q: %v %v, want %v %v", layout, s, got, ok, w, wok)
		}
	}
	for _, s := range []string{
		"20240314T150926Z", "20240229T000000Z", "20230229T000000Z", "20240230T000000Z", "20240431T000000Z",
		"20241301T000000Z", "20240001T000000Z", "20240100T000000Z", "20240101T240000Z", "20240101T236000Z",
		"20240101T235960Z", "20240101T235959Z", "00000101T000000Z", "99991231T235959Z", "2024031T150926Z",
		"20240314T15926Z", "20240314T150926", "20240314T150926ZZ", "20240314t150926Z", "2024-03-14T15:09:26Z",
		"+0240314T150926Z", "2024 314T150926Z", "", "20240314", "2024-03-14", "2024-3-14", "20240314 ",
		"21000229", "20000229", "19000229", "2024-02-29", "2023-02-29", "2024-13-01", "2024-00-10",
	} {
		for _, l := range layouts {
			check(l, s)
		}
	}
	// Random strings of the right shapes, digits anywhere.
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		l := layouts[r.IntN(len(layouts))]
		b := []byte(l)
		for i := range b {
			switch {
			case r.IntN(50) == 0:
				b[i] = byte(r.IntN(128))
			case b[i] >= '0' && b[i] <= '9':
				b[i] = byte('0' + r.IntN(10))
				if r.IntN(2) == 0 && (i == 4 || i == 6 || i == 5 || i == 8 || i == 9 || i == 11 || i == 13) {
					b[i] = byte('0' + r.IntN(4)) // plausible months, days, hours
				}
			}
		}
		check(l, string(b))
	}
}

func BenchmarkParseTime(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ParseTime("20060102T150405Z", "20240314T150926Z")
	}
}

func BenchmarkTimeParseRoundTrip(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		t, _ := time.Parse("20060102T150405Z", "20240314T150926Z")
		_ = t.Format("20060102T150405Z") == "20240314T150926Z"
	}
}
