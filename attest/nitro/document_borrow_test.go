package nitro

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// parseDocument borrows its fields from the payload (rawItem,
// byteContents): document_fast_test.go holds it to the reflective reader
// (sameAsReflect), slices and caps included. Here: the helpers both use,
// and byteContents.

var profiles = []*profile{&nitroProfile, &qingtianProfile, &nitroTPMProfile}

// documentBytes lists every byte string of d.
func documentBytes(d *document) [][]byte {
	out := [][]byte{d.certificate, d.publicKey, d.userData, d.nonce}
	out = append(out, d.cabundle...)
	for _, m := range []map[int][]byte{d.pcrs, d.tpmPCRs} {
		for _, b := range m {
			out = append(out, b)
		}
	}
	return out
}

// vectorPayloads are the payloads of every document in testvectors/nitro
// and of FuzzVerify's seeds, by name.
func vectorPayloads(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	var paths []string
	for _, pattern := range []string{"../../testvectors/nitro/*.cose", "../../testvectors/nitro/generated/*.cose"} {
		m, _ := filepath.Glob(pattern)
		paths = append(paths, m...)
	}
	for _, path := range paths {
		doc, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if env, err := parseEnvelope(doc); err == nil {
			out[filepath.Base(path)] = env.payload
		}
	}
	if len(out) < 10 {
		t.Fatalf("only %d vector payloads", len(out))
	}
	return out
}

func TestByteContents(t *testing.T) {
	for _, c := range []struct {
		raw  []byte
		want []byte
		ok   bool
	}{
		{[]byte{0x40}, []byte{}, true},
		{[]byte{0x43, 1, 2, 3}, []byte{1, 2, 3}, true},
		{[]byte{0x58, 2, 1, 2}, []byte{1, 2}, true},                // not minimal: the decoder takes it, so do we
		{[]byte{0x59, 0, 2, 1, 2}, []byte{1, 2}, true},             // idem
		{[]byte{0x5a, 0, 0, 0, 1, 9}, []byte{9}, true},             // idem
		{[]byte{0x5b, 0, 0, 0, 0, 0, 0, 0, 1, 9}, []byte{9}, true}, // idem
		{[]byte{0x43, 1, 2}, nil, false},                           // short
		{[]byte{0x42, 1, 2, 3}, nil, false},                        // long
		{[]byte{0x5f, 0x41, 1, 0xff}, nil, false},                  // indefinite
		{[]byte{0x5c, 0}, nil, false},                              // reserved
		{[]byte{0x58}, nil, false},                                 // truncated head
		{[]byte{0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, nil, false},
		{[]byte{0x63, 'a', 'b', 'c'}, nil, false}, // text
		{nil, nil, false},
	} {
		got, ok := byteContents(c.raw)
		if ok != c.ok || ok && !bytes.Equal(got, c.want) {
			t.Errorf("byteContents(%x) = %x, %v; want %x, %v", c.raw, got, ok, c.want, c.ok)
		}
	}
}

// BenchmarkParseDocument decodes the real document's payload (4.5 KB, 16
// PCRs, 4 certificates); "reflect" is fxamacker/cbor's Unmarshal into
// rawItems as it used to be.
func BenchmarkParseDocument(b *testing.B) {
	payload := vectorPayloads(b)["nitro_doc_2024-01-24_debug_rsa2048.cose"]
	for _, f := range []struct {
		name  string
		parse func([]byte, *profile) (*document, error)
	}{{"now", parseDocument}, {"reflect", parseDocumentReflect}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.parse(payload, &nitroProfile); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
