package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/attestkms/attestkms/attest"
)

// envelopeSeeds are the shapes FuzzDecodeEnvelope starts from: both formats,
// with and without their optional fields.
func envelopeSeeds(tb testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	for _, e := range []*Envelope{snpEnvelope(), tpmEnvelope()} {
		b, err := e.Marshal()
		if err != nil {
			tb.Fatal(err)
		}
		seeds[string(e.Format)] = b
		e.Nonce, e.UserData = []byte("nonce"), []byte("user data")
		if e.Format == attest.FormatSEVSNP {
			e.ASK, e.ARK = []byte{0x30}, []byte{0x30}
		} else {
			e.AKCert, e.AKChain = []byte{0x30}, [][]byte{{0x30}}
		}
		if b, err = e.Marshal(); err != nil {
			tb.Fatal(err)
		}
		seeds[string(e.Format)+"-full"] = b
	}
	return seeds
}

// FuzzDecodeEnvelope: no panic; an error is attest.ErrMalformed and nil; an
// accepted envelope re-encodes (deterministically) to bytes that decode to
// the same envelope; the input is not modified. Seeds: envelopeSeeds and
// testdata/fuzz/FuzzDecodeEnvelope (TestWriteFuzzSeeds).
func FuzzDecodeEnvelope(f *testing.F) {
	for _, b := range envelopeSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		e, err := Decode(b)
		if !bytes.Equal(in, b) {
			t.Fatal("input modified")
		}
		if err != nil {
			if e != nil || !errors.Is(err, attest.ErrMalformed) {
				t.Fatalf("error %v with envelope %v", err, e)
			}
			return
		}
		again, err := e.Marshal()
		if err != nil {
			t.Fatalf("an accepted envelope does not re-encode: %v", err)
		}
		e2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded envelope refused: %v", err)
		}
		if third, _ := e2.Marshal(); !bytes.Equal(third, again) {
			t.Fatal("encoding is not deterministic")
		}
	})
}

// TestWriteFuzzSeeds rewrites testdata/fuzz/FuzzDecodeEnvelope from
// envelopeSeeds when ATTEST_WRITE_FUZZ_SEEDS=1; crashers beside them are kept.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("ATTEST_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set ATTEST_WRITE_FUZZ_SEEDS=1 to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeEnvelope")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range envelopeSeeds(t) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
