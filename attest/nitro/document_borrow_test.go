package nitro

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// parseDocument borrows its fields from the payload (rawItem,
// byteContents); parseDocumentBefore (document_before_test.go) copied each
// one out. These tests hold the two to the same decision, the same message
// and the same document, field by field (reflect.DeepEqual tells an empty
// field from a null one), for each format's profile.

var profiles = []*profile{&nitroProfile, &qingtianProfile, &nitroTPMProfile}

func sameDocument(t *testing.T, name string, payload []byte) {
	t.Helper()
	orig := bytes.Clone(payload)
	for _, p := range profiles {
		d, err := parseDocument(payload, p)
		want, werr := parseDocumentBefore(payload, p)
		switch {
		case (err == nil) != (werr == nil):
			t.Fatalf("%s, %s: parseDocument says %v, before %v", name, p.format, err, werr)
		case err != nil && !sameMessage(err.Error(), werr.Error()):
			t.Fatalf("%s, %s: message %q, before %q", name, p.format, err, werr)
		case err != nil && d != nil:
			t.Fatalf("%s, %s: refused with a document", name, p.format)
		case !reflect.DeepEqual(d, want):
			t.Fatalf("%s, %s: document\n %+v\nbefore\n %+v", name, p.format, d, want)
		}
		if d != nil {
			for _, b := range documentBytes(d) {
				if cap(b) != len(b) {
					t.Fatalf("%s, %s: a borrowed field is not capped (len %d, cap %d)", name, p.format, len(b), cap(b))
				}
			}
		}
	}
	if !bytes.Equal(payload, orig) {
		t.Fatalf("%s: parsing modified the payload", name)
	}
}

var (
	quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`) // a %q string, escapes and all
	number = regexp.MustCompile(`[0-9]+`)
)

// sameSentence is a message with its quoted strings and numbers blanked
// when they may differ between two runs of one parser: which of several
// unknown fields, or of several bad PCRs, a parser names first depends on
// Go's map order.
func sameSentence(msg string) string {
	if strings.Contains(msg, "unknown field") || strings.Contains(msg, "pcr") {
		return number.ReplaceAllString(quoted.ReplaceAllString(msg, `""`), "N")
	}
	return msg
}

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

func TestParseDocumentMatchesBefore(t *testing.T) {
	payloads := vectorPayloads(t)
	for name, payload := range payloads {
		sameDocument(t, name, payload)
	}
	// Every byte of the real document's payload, changed two ways:
	// lengths, types, keys, PCRs and certificates all get hit.
	for name, payload := range payloads {
		if name != "nitro_doc_2024-01-24_debug_rsa2048.cose" && name != "nitrotpm_ok.cose" {
			continue
		}
		for i := range payload {
			for _, x := range []byte{0x01, 0x80, 0x1f} {
				p := bytes.Clone(payload)
				p[i] ^= x
				sameDocument(t, name+" flipped", p)
			}
		}
		for n := range len(payload) {
			if n%7 == 0 {
				sameDocument(t, name+" truncated", payload[:n])
			}
		}
	}
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

// FuzzParseDocument: parseDocument, borrowing, decides as
// parseDocumentBefore, copying, did: same acceptance, message and document
// for each profile; the payload is not modified and every borrowed field is
// capped at its end. Seeds (testdata/fuzz/FuzzParseDocument) are the
// payloads of the vectors.
func FuzzParseDocument(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		sameDocument(t, "fuzz", payload)
	})
}

// BenchmarkParseDocument decodes the real document's payload (4.5 KB, 16
// PCRs, 4 certificates); "reflect" is fxamacker/cbor's Unmarshal into
// rawItems as it used to be, "before" copies each field out as it did
// before that.
func BenchmarkParseDocument(b *testing.B) {
	payload := vectorPayloads(b)["nitro_doc_2024-01-24_debug_rsa2048.cose"]
	for _, f := range []struct {
		name  string
		parse func([]byte, *profile) (*document, error)
	}{{"now", parseDocument}, {"reflect", parseDocumentReflect}, {"before", parseDocumentBefore}} {
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
