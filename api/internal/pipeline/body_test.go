package pipeline

import (
	"bytes"
	"io"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func TestRequestID(t *testing.T) {
	uuid4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		id := RequestID()
		if !uuid4.MatchString(id) || seen[id] {
			t.Fatalf("%q: not a fresh version 4 UUID", id)
		}
		seen[id] = true
	}
}

// TestReadAll: whatever the declared size, readAll returns the bytes read.
func TestReadAll(t *testing.T) {
	body := []byte(strings.Repeat("0123456789", 1000))
	for _, size := range []int64{-1, 0, 1, 512, int64(len(body)) - 1, int64(len(body)), int64(len(body)) + 100} {
		for name, r := range map[string]io.Reader{
			"whole":    bytes.NewReader(body),
			"one byte": iotest.OneByteReader(bytes.NewReader(body)),
			"half":     iotest.HalfReader(bytes.NewReader(body)),
		} {
			got, err := readAll(r, size, nil)
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("size %d, %s: %d bytes, %v", size, name, len(got), err)
			}
		}
	}
	if _, err := readAll(iotest.ErrReader(io.ErrUnexpectedEOF), 10, nil); err != io.ErrUnexpectedEOF {
		t.Fatalf("error: %v", err)
	}
}

// stalling returns n bytes, then an error: a client that declared a body
// and sent a few bytes of it before it stalled (until ReadTimeout, 30 s)
// or went away.
type stalling struct{ n int }

func (s *stalling) Read(p []byte) (int, error) {
	if s.n == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	k := min(len(p), s.n)
	s.n -= k
	return k, nil
}

// TestReadAllAllocatesWhatArrives: the memory a request's body costs before
// it is authenticated is proportional to the bytes the client sent, not to
// the Content-Length it declared. A client that declares 1 MiB and sends 10
// bytes must not make the server allocate (and, while it stalls, hold) 1 MiB:
// headers of ~200 bytes on each of many connections would otherwise pin a
// MiB each for ReadTimeout (cmd/attestkms/serve.go: 30 s; the connection
// bounds, 512 a source and 10,000 in all by default, would still let that
// pin 10 GiB), before any budget (the per-source one counts failures only).
func TestReadAllAllocatesWhatArrives(t *testing.T) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b, err := readAll(&stalling{n: 10}, MaxBody, nil)
	runtime.ReadMemStats(&after)
	if err == nil || len(b) != 10 {
		t.Fatalf("read %d bytes, %v", len(b), err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
		t.Fatalf("10 bytes of a body declared %d bytes long allocated %d bytes before it was authenticated", MaxBody, got)
	}
}

// TestReadAllGrowsGeometrically (review 2, a4f7f8b): a body larger than
// firstRead is read into a buffer grown by append one byte at a time past
// each full buffer, so by Go's growth factor for large slices (≈1.25×, not
// 2×): a 1 MiB body that arrives whole and as declared allocates ≈5.4 MiB
// (16 buffers, each copied into the next), where one buffer of its size was
// allocated before. Every request, authenticated or not (any source with
// budget left, or a spent one naming a known access key id), gets that
// allocation and copying for the bytes it sends. Growing by doubling,
// capped at the declared size+1, keeps what arrives proportional (≤2×)
// and allocates at most ≈2× the body in all.
func TestReadAllGrowsGeometrically(t *testing.T) {
	body := bytes.Repeat([]byte("a"), MaxBody)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b, err := readAll(bytes.NewReader(body), MaxBody, nil)
	runtime.ReadMemStats(&after)
	if err != nil || !bytes.Equal(b, body) {
		t.Fatalf("read %d bytes, %v", len(b), err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 5*MaxBody/2 {
		t.Fatalf("a body of %d bytes, declared as such, allocated %d bytes (%.1f×)", MaxBody, got, float64(got)/MaxBody)
	}
}
