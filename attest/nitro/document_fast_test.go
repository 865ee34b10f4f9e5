package nitro

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/attestkms/attestkms/attest"
)

// parseDocument reads the payload by hand; parseDocumentReflect
// (document_reflect_test.go) is the version it replaced, fxamacker/cbor's
// Unmarshal by reflection. These tests hold the two to the same decisions
// for each format's profile: the same acceptance; on refusal, errors that
// wrap attest.ErrMalformed and say the same thing (sameMessage: word for
// word, but for the decoder's Unmarshal's words, which the walker puts in
// its own, and the refusals whose choice is map order's); on acceptance the
// same document, whose byte strings are the same sub-slices of the
// payload, capped alike.

func sameAsReflect(t *testing.T, name string, payload []byte) {
	t.Helper()
	orig := bytes.Clone(payload)
	for _, p := range profiles {
		d, err := parseDocument(payload, p)
		want, werr := parseDocumentReflect(payload, p)
		switch {
		case (err == nil) != (werr == nil):
			t.Fatalf("%s, %s: parseDocument says %v, the reflective one %v", name, p.format, err, werr)
		case err != nil && (d != nil || !errors.Is(err, attest.ErrMalformed)):
			t.Fatalf("%s, %s: refused with a document, or not as malformed: %v", name, p.format, err)
		case err != nil && !sameMessage(err, werr):
			t.Fatalf("%s, %s: message %q, the reflective one %q", name, p.format, err, werr)
		case !reflect.DeepEqual(d, want):
			t.Fatalf("%s, %s: document\n %+v\nthe reflective one\n %+v", name, p.format, d, want)
		}
		if d != nil {
			got, exp := documentBytes(d), documentBytes(want)
			slices.SortFunc(got, compareSlices)
			slices.SortFunc(exp, compareSlices)
			for i := range got {
				if unsafe.SliceData(got[i]) != unsafe.SliceData(exp[i]) || cap(got[i]) != cap(exp[i]) || cap(got[i]) != len(got[i]) {
					t.Fatalf("%s, %s: a field borrows other bytes (cap %d, len %d) than the reflective one's (cap %d)", name, p.format, cap(got[i]), len(got[i]), cap(exp[i]))
				}
			}
		}
	}
	if !bytes.Equal(payload, orig) {
		t.Fatalf("%s: parsing modified the payload", name)
	}
}

// compareSlices orders byte strings by where they start in memory (nil
// first), so that two documents' fields pair up whatever the map order.
func compareSlices(a, b []byte) int {
	pa, pb := uintptr(unsafe.Pointer(unsafe.SliceData(a))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	switch {
	case pa < pb:
		return -1
	case pa > pb:
		return 1
	}
	return len(a) - len(b)
}

// sameMessage: the walker's refusal got says what the reference's want
// says. Word for word, with two exceptions. Where the reference found more
// than one refusal (oneOf), got must be one of them. Where want quotes the
// decoder's Unmarshal (Wellformed's messages the walker quotes itself, so
// they must be the same), decoderSays gives the walker's words for it, and
// got must be those: a key or an index of the same CBOR type (the decoder
// says only "primitives" for a boolean, a float or a simple value), the
// same duplicate key or index, invalid UTF-8 in the same field.
func sameMessage(got, want error) bool {
	var alternatives oneOf
	if errors.As(want, &alternatives) {
		for _, w := range alternatives {
			if got.Error() == w.Error() {
				return true
			}
		}
		return false
	}
	if say, ok := decoderSays(want.Error()); ok {
		return walkerSays(got.Error()) == say
	}
	return got.Error() == want.Error()
}

// The messages of the decoder's Unmarshal that the walker puts in its own
// words, each with the field (or "payload") it is about.
var (
	decoderType  = regexp.MustCompile(`^(malformed evidence: [a-z_]+): cbor: cannot unmarshal (.+) into Go value of type (string|uint64)$`)
	decoderUTF8  = regexp.MustCompile(`^(malformed evidence: [a-z_]+): cbor: invalid UTF-8 string$`)
	decoderDup   = regexp.MustCompile(`^(malformed evidence: [a-z_]+): cbor: found duplicate map key (.+) at map element index [0-9]+$`)
	walkerKey    = regexp.MustCompile(`^(malformed evidence: payload): a key is (.+), not a text string$`)
	walkerIndex  = regexp.MustCompile(`^(malformed evidence: [a-z_]+): an index is (.+), not an unsigned integer$`)
	walkerDupKey = regexp.MustCompile(`^(malformed evidence: payload): duplicate key (".*")$`)
	walkerDupIdx = regexp.MustCompile(`^(malformed evidence: [a-z_]+): index ([0-9]+) is repeated$`)
)

// decoderSays is what the walker must say where the reference says msg,
// in walkerSays's form; false if msg is not one of Unmarshal's messages
// the walker words otherwise.
func decoderSays(msg string) (string, bool) {
	if m := decoderType.FindStringSubmatch(msg); m != nil {
		return m[1] + ": type " + m[2] + " for " + m[3], true
	}
	if m := decoderUTF8.FindStringSubmatch(msg); m != nil {
		switch m[1] {
		case "malformed evidence: payload":
			return m[1] + ": a key is not valid UTF-8", true
		case "malformed evidence: pcrs", "malformed evidence: nitrotpm_pcrs":
			// A text string as an index: decoding it into a uint64, the
			// decoder checks its UTF-8 before its type.
			return m[1] + ": type UTF-8 text string for uint64", true
		}
		return m[1] + ": not valid UTF-8", true
	}
	if m := decoderDup.FindStringSubmatch(msg); m != nil {
		// The key as fmt's %#v wrote it: a quoted string (a payload key,
		// which the walker quotes with %.40q), or a uint64 in hex (an index).
		if s, err := strconv.Unquote(m[2]); err == nil {
			return m[1] + ": duplicate " + strconv.Quote(firstRunes(s, 40)), true
		}
		if n, err := strconv.ParseUint(m[2], 0, 64); err == nil {
			return m[1] + ": duplicate " + strconv.FormatUint(n, 10), true
		}
	}
	return "", false
}

// walkerSays is the walker's msg in decoderSays's form: a key's or an
// index's type named as the decoder names CBOR types, a duplicate by its
// key or index alone. Any other message is itself.
func walkerSays(msg string) string {
	if m := walkerKey.FindStringSubmatch(msg); m != nil {
		return m[1] + ": type " + decoderTypeName(m[2]) + " for string"
	}
	if m := walkerIndex.FindStringSubmatch(msg); m != nil {
		return m[1] + ": type " + decoderTypeName(m[2]) + " for uint64"
	}
	if m := walkerDupKey.FindStringSubmatch(msg); m != nil {
		if s, err := strconv.Unquote(m[2]); err == nil {
			return m[1] + ": duplicate " + strconv.Quote(s)
		}
	}
	if m := walkerDupIdx.FindStringSubmatch(msg); m != nil {
		return m[1] + ": duplicate " + m[2]
	}
	return msg
}

// decoderTypeName is the decoder's name (its cborType's) of the CBOR type
// typeName names.
func decoderTypeName(t string) string {
	switch t {
	case "an unsigned integer":
		return "positive integer"
	case "a negative integer":
		return "negative integer"
	case "a byte string":
		return "byte string"
	case "a text string":
		return "UTF-8 text string"
	case "an array":
		return "array"
	case "a map":
		return "map"
	case "a tag":
		return "tag"
	case "a boolean", "null", "undefined", "a float":
		return "primitives"
	}
	if strings.HasPrefix(t, "simple value ") {
		return "primitives"
	}
	return "unknown type " + t
}

// firstRunes is s cut as fmt's precision cuts a string: n runes, each
// invalid byte one.
func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

func TestParseDocumentMatchesReflect(t *testing.T) {
	payloads := vectorPayloads(t)
	for name, payload := range payloads {
		sameAsReflect(t, name, payload)
	}
	for name, payload := range payloads {
		if name != "nitro_doc_2024-01-24_debug_rsa2048.cose" && name != "nitrotpm_ok.cose" && name != "qingtian_ok_sha256.cose" {
			continue
		}
		for i := range payload {
			for _, x := range []byte{0x01, 0x80, 0x1f, 0x20, 0xff} {
				p := bytes.Clone(payload)
				p[i] ^= x
				sameAsReflect(t, fmt.Sprintf("%s, byte %d ^ %#x", name, i, x), p)
			}
		}
		for n := range len(payload) {
			sameAsReflect(t, fmt.Sprintf("%s, %d bytes", name, n), payload[:n])
		}
	}
	for _, c := range hostilePayloads(t) {
		sameAsReflect(t, c.name, c.payload)
	}
}

// TestReadersAlone: the readers, given payloads Wellformed refuses, refuse
// them or read them, and do not panic.
func TestReadersAlone(t *testing.T) {
	for _, c := range hostilePayloads(t) {
		readersAlone(c.payload)
		for n := range len(c.payload) {
			readersAlone(c.payload[:n])
		}
	}
	for _, p := range [][]byte{
		{0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00},                     // 2^64-1 pairs
		{0xa1, 0x64, 'p', 'c', 'r', 's', 0xbf, 0x00, 0x9f, 0x9f, 0x9f, 0x9f, 0x9f, 0x9f}, // deep, unterminated
		{0xa1, 0x64, 'p', 'c', 'r', 's', 0xb8, 40},                                       // 40 pairs, none there
		{0xa1, 0x68, 'c', 'a', 'b', 'u', 'n', 'd', 'l', 'e', 0x98, 40},                   // 40 elements, none there
		{0xa1, 0x7f, 0x61, 'a', 0x41, 'b', 0xff, 0x00},                                   // a key of mixed chunks
		{0xa1, 0x7f, 0x61, 'a', 0x7f, 0xff, 0xff, 0x00},                                  // a nested indefinite chunk
		{0xa1, 0xc0, 0x00, 0x00},                                                         // a tagged key
		{0xa2, 0x66, 'd', 'i', 'g', 'e', 's', 't', 0xff, 0x00, 0x00},                     // a break as a value
	} {
		readersAlone(p)
	}
	deep := []byte{0xa1, 0x64, 'p', 'c', 'r', 's'}
	for range 100000 {
		deep = append(deep, 0x81)
	}
	readersAlone(append(deep, 0x00))
}

// TestParseDocumentHostileDecisions pins what the reflective decoder
// decided for the encodings a hand-written reader is likeliest to get
// wrong, so that a change to both cannot pass unseen.
func TestParseDocumentHostileDecisions(t *testing.T) {
	accepted := map[string]bool{
		"base":                                   true,
		"definite map":                           true,
		"non-minimal map head":                   true,
		"indefinite key":                         true,
		"non-minimal key head":                   true,
		"non-minimal timestamp":                  true,
		"small timestamp, 1 byte":                true,
		"non-minimal pcr head":                   true,
		"indefinite pcrs":                        true,
		"indefinite cabundle":                    true,
		"pcr key simple value 5":                 true,
		"pcr key null, no pcr0":                  true,
		"pcr key undefined, no pcr0":             true,
		"pcr key simple value 0, no 0":           true,
		"public_key null":                        true,
		"user_data empty":                        true,
		"keys reordered":                         true,
		"both key names":                         true, // profile.check refuses them, for Nitro
		"pubkey only":                            true, // idem
		"digest non-minimal":                     true,
		"nitrotpm: base":                         true,
		"nitrotpm: all 24 rebuilt":               true,
		"nitrotpm: register 0 as null":           true,
		"nitrotpm: register 5 as a simple value": true,
		"nitrotpm: nitrotpm_pcrs indefinite":     true,
	}
	for _, c := range hostilePayloads(t) {
		_, err := parseDocument(c.payload, &nitroProfile)
		if (err == nil) != accepted[c.name] {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

type hostile struct {
	name    string
	payload []byte
}

// pair is one key and value of a payload, encoded.
type pair struct{ k, v []byte }

// payloadPairs splits a payload map into its pairs, as encoded.
func payloadPairs(t testing.TB, payload []byte) []pair {
	m, ok := openSeq(payload, 0)
	if !ok {
		t.Fatal("not a map")
	}
	var out []pair
	for m.next() {
		k, ok1 := m.item()
		v, ok2 := m.item()
		if !ok1 || !ok2 {
			t.Fatal("malformed payload")
		}
		out = append(out, pair{k, v})
	}
	return out
}

// encodeMap encodes pairs as a map, of indefinite length or not.
func encodeMap(indef bool, pairs []pair) []byte {
	var b []byte
	if indef {
		b = append(b, 0xbf)
	} else {
		b = append(b, 0xa0|byte(len(pairs)))
	}
	for _, p := range pairs {
		b = append(b, p.k...)
		b = append(b, p.v...)
	}
	if indef {
		b = append(b, 0xff)
	}
	return b
}

func textKey(s string) []byte { return append([]byte{0x60 | byte(len(s))}, s...) }

// with returns pairs with key's value replaced by v (or added at the end).
func with(pairs []pair, key string, v []byte) []pair {
	out := slices.Clone(pairs)
	for i, p := range out {
		if bytes.Equal(p.k, textKey(key)) {
			out[i].v = v
			return out
		}
	}
	return append(out, pair{textKey(key), v})
}

func without(pairs []pair, key string) []pair {
	return slices.DeleteFunc(slices.Clone(pairs), func(p pair) bool { return bytes.Equal(p.k, textKey(key)) })
}

func value(pairs []pair, key string) []byte {
	for _, p := range pairs {
		if bytes.Equal(p.k, textKey(key)) {
			return p.v
		}
	}
	return nil
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// hostilePayloads are the generated Nitro and NitroTPM documents' payloads,
// changed in the ways the brief of the hand-written reader lists.
func hostilePayloads(t testing.TB) []hostile {
	vectors := vectorPayloads(t)
	base := payloadPairs(t, vectors["nitro_ok.cose"])
	tpm := payloadPairs(t, vectors["nitrotpm_ok.cose"])
	pcr := bytes.Repeat([]byte{0xaa}, 48)
	pcrOf := func(head ...byte) []byte { return cat(head, pcr) }
	pcrs := func(entries ...[]byte) []byte { return cat([]byte{0xa0 | byte(len(entries)/2)}, cat(entries...)) }
	cert := value(base, "certificate")
	var out []hostile
	add := func(name string, pairs []pair) { out = append(out, hostile{name, encodeMap(true, pairs)}) }
	add("base", base)
	out = append(out, hostile{"definite map", encodeMap(false, base)})
	out = append(out, hostile{"non-minimal map head", cat([]byte{0xb8, byte(len(base))}, encodeMap(false, base)[1:])})
	out = append(out, hostile{"trailing byte", cat(encodeMap(true, base), []byte{0x00})})
	out = append(out, hostile{"two maps", cat(encodeMap(true, base), encodeMap(true, base))})
	out = append(out, hostile{"empty", nil})
	out = append(out, hostile{"empty map", []byte{0xa0}})
	out = append(out, hostile{"truncated map", encodeMap(true, base)[:40]})
	add("keys reordered", append(slices.Clone(base[3:]), base[:3]...))
	add("duplicate key", append(slices.Clone(base), pair{textKey("nonce"), []byte{0x40}}))
	add("duplicate key, non-minimal", append(slices.Clone(base), pair{cat([]byte{0x78, 5}, []byte("nonce")), []byte{0x40}}))
	add("duplicate key, indefinite", append(slices.Clone(base), pair{cat([]byte{0x7f, 0x62}, []byte("no"), []byte{0x63}, []byte("nce"), []byte{0xff}), []byte{0x40}}))
	add("indefinite key", append(without(base, "module_id"), pair{cat([]byte{0x7f, 0x63}, []byte("mod"), []byte{0x66}, []byte("ule_id"), []byte{0xff}), value(base, "module_id")}))
	add("indefinite key, long", append(slices.Clone(base), pair{cat([]byte{0x7f, 0x71}, []byte("nitrotpm_pcrs____"), []byte{0x61, 'x'}, []byte{0xff}), []byte{0x40}}))
	add("indefinite key, invalid UTF-8 chunk", append(slices.Clone(base), pair{cat([]byte{0x7f, 0x61, 0xc3, 0x61, 0xa9, 0xff}), []byte{0x40}}))
	add("indefinite key, byte chunk", append(slices.Clone(base), pair{cat([]byte{0x7f, 0x41, 'a', 0xff}), []byte{0x40}}))
	add("non-minimal key head", append(without(base, "digest"), pair{cat([]byte{0x79, 0, 6}, []byte("digest")), value(base, "digest")}))
	add("unknown key", append(slices.Clone(base), pair{textKey("extra"), []byte{0x40}}))
	add("two unknown keys", append(slices.Clone(base), pair{textKey("extra"), []byte{0x40}}, pair{textKey("other"), []byte{0x40}}))
	add("unknown key twice", append(slices.Clone(base), pair{textKey("extra"), []byte{0x40}}, pair{cat([]byte{0x78, 5}, []byte("extra")), []byte{0x40}}))
	add("unknown key, UTF-8", append(slices.Clone(base), pair{cat([]byte{0x62, 0xc3, 0xa9}), []byte{0x40}}))
	add("invalid UTF-8 key", append(slices.Clone(base), pair{cat([]byte{0x62, 0xc3, 0x28}), []byte{0x40}}))
	add("invalid UTF-8 key, long", append(slices.Clone(base), pair{cat([]byte{0x78, 30}, bytes.Repeat([]byte{0xff}, 30)), []byte{0x40}}))
	add("empty key", append(slices.Clone(base), pair{[]byte{0x60}, []byte{0x40}}))
	add("null key", append(slices.Clone(base), pair{[]byte{0xf6}, []byte{0x40}}))
	add("null key and empty key", append(slices.Clone(base), pair{[]byte{0xf6}, []byte{0x40}}, pair{[]byte{0x60}, []byte{0x40}}))
	add("undefined key", append(slices.Clone(base), pair{[]byte{0xf7}, []byte{0x40}}))
	add("integer key", append(slices.Clone(base), pair{[]byte{0x01}, []byte{0x40}}))
	add("byte string key", append(without(base, "nonce"), pair{cat([]byte{0x45}, []byte("nonce")), []byte{0x40}}))
	add("array key", append(slices.Clone(base), pair{[]byte{0x81, 0x01}, []byte{0x40}}))
	add("false key", append(slices.Clone(base), pair{[]byte{0xf4}, []byte{0x40}}))
	add("integer key, then duplicate", append(slices.Clone(base), pair{[]byte{0x01}, []byte{0x40}}, pair{textKey("nonce"), []byte{0x40}}))
	add("integer key, then unknown key twice", append(slices.Clone(base), pair{[]byte{0x01}, []byte{0x40}}, pair{textKey("extra"), []byte{0x40}}, pair{textKey("extra"), []byte{0x40}}))
	add("unknown key twice, then duplicate", append(slices.Clone(base), pair{textKey("extra"), []byte{0x40}}, pair{textKey("extra"), []byte{0x40}}, pair{textKey("nonce"), []byte{0x40}}))
	add("integer key, null key, empty key", append(slices.Clone(base), pair{[]byte{0x20}, []byte{0x40}}, pair{[]byte{0xf6}, []byte{0x40}}, pair{[]byte{0x60}, []byte{0x40}}))
	add("both key names", with(base, "pubkey", value(base, "public_key")))
	add("pubkey only", append(without(base, "public_key"), pair{textKey("pubkey"), value(base, "public_key")}))
	add("public_key null", with(base, "public_key", []byte{0xf6}))
	add("public_key undefined", with(base, "public_key", []byte{0xf7}))
	add("user_data empty", with(base, "user_data", []byte{0x40}))
	add("user_data text", with(base, "user_data", []byte{0x61, 'a'}))
	add("user_data indefinite", with(base, "user_data", []byte{0x5f, 0x41, 1, 0xff}))
	add("user_data nested", with(base, "user_data", []byte{0x81, 0x81, 0x81, 0x81, 0x01}))
	add("user_data deeper", with(base, "user_data", []byte{0x81, 0x81, 0x81, 0x01}))
	add("user_data 17 elements", with(base, "user_data", cat([]byte{0x91}, make([]byte, 17))))
	add("user_data tagged", with(base, "user_data", []byte{0xc2, 0x41, 1}))
	add("user_data simple 1-byte < 32", with(base, "user_data", []byte{0xf8, 0x10}))
	add("user_data huge length", with(base, "user_data", []byte{0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}))
	add("user_data huge length 2", with(base, "user_data", []byte{0x5b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}))
	add("user_data reserved head", with(base, "user_data", []byte{0x5c}))
	add("user_data break", with(base, "user_data", []byte{0xff}))
	add("module_id indefinite", with(base, "module_id", []byte{0x7f, 0x61, 'i', 0xff}))
	add("module_id invalid UTF-8", with(base, "module_id", []byte{0x62, 0xc3, 0x28}))
	add("module_id empty", with(base, "module_id", []byte{0x60}))
	add("module_id 129 bytes", with(base, "module_id", cat([]byte{0x78, 129}, bytes.Repeat([]byte{'a'}, 129))))
	add("module_id bytes", with(base, "module_id", []byte{0x41, 'a'}))
	add("module_id missing", without(base, "module_id"))
	add("digest SHA1", with(base, "digest", cat([]byte{0x64}, []byte("SHA1"))))
	add("digest 17 bytes", with(base, "digest", cat([]byte{0x71}, bytes.Repeat([]byte{'S'}, 17))))
	add("digest non-minimal", with(base, "digest", cat([]byte{0x78, 6}, []byte("SHA384"))))
	add("timestamp negative", with(base, "timestamp", []byte{0x20}))
	add("timestamp float", with(base, "timestamp", []byte{0xfb, 0x42, 0x78, 0, 0, 0, 0, 0, 0}))
	add("timestamp zero", with(base, "timestamp", []byte{0x00}))
	add("timestamp max", with(base, "timestamp", []byte{0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}))
	add("non-minimal timestamp", with(base, "timestamp", cat([]byte{0x1b, 0, 0, 0}, value(base, "timestamp")[4:])))
	add("small timestamp, 1 byte", with(base, "timestamp", []byte{0x18, 0x05}))
	add("timestamp tagged", with(base, "timestamp", cat([]byte{0xc1}, value(base, "timestamp"))))
	add("timestamp text", with(base, "timestamp", []byte{0x61, '1'}))
	add("pcr index 32", with(base, "pcrs", pcrs([]byte{0x18, 32}, pcrOf(0x58, 48))))
	add("pcr index huge", with(base, "pcrs", pcrs([]byte{0x1b, 1, 0, 0, 0, 0, 0, 0, 0}, pcrOf(0x58, 48))))
	add("pcr of 47 bytes", with(base, "pcrs", pcrs([]byte{0x00}, cat([]byte{0x58, 47}, pcr[:47]))))
	add("pcr of 49 bytes", with(base, "pcrs", pcrs([]byte{0x00}, cat([]byte{0x58, 49}, pcr, []byte{0}))))
	add("pcr 5 of 47 bytes", with(base, "pcrs", pcrs([]byte{0x00}, pcrOf(0x58, 48), []byte{0x05}, cat([]byte{0x58, 47}, pcr[:47]))))
	add("two bad pcrs", with(base, "pcrs", pcrs([]byte{0x00}, pcrOf(0x58, 48), []byte{0x03}, []byte{0x41, 0}, []byte{0x18, 40}, pcrOf(0x58, 48), []byte{0x07}, []byte{0xf6})))
	add("non-minimal pcr head", with(base, "pcrs", pcrs([]byte{0x00}, pcrOf(0x59, 0, 48), []byte{0x19, 0, 1}, pcrOf(0x5a, 0, 0, 0, 48))))
	add("pcr indefinite", with(base, "pcrs", pcrs([]byte{0x00}, cat([]byte{0x5f, 0x58, 48}, pcr, []byte{0xff}))))
	add("pcr text", with(base, "pcrs", pcrs([]byte{0x00}, cat([]byte{0x78, 48}, pcr))))
	add("pcr null", with(base, "pcrs", pcrs([]byte{0x00}, []byte{0xf6})))
	add("indefinite pcrs", with(base, "pcrs", cat([]byte{0xbf, 0x00}, pcrOf(0x58, 48), []byte{0x01}, pcrOf(0x58, 48), []byte{0xff})))
	add("pcrs empty", with(base, "pcrs", []byte{0xa0}))
	add("pcrs empty indefinite", with(base, "pcrs", []byte{0xbf, 0xff}))
	add("pcrs array", with(base, "pcrs", cat([]byte{0x81}, pcrOf(0x58, 48))))
	add("pcr key duplicate", with(base, "pcrs", pcrs([]byte{0x01}, pcrOf(0x58, 48), []byte{0x18, 0x01}, pcrOf(0x58, 48))))
	add("pcr key duplicate, out of range", with(base, "pcrs", pcrs([]byte{0x18, 40}, pcrOf(0x58, 48), []byte{0x18, 40}, pcrOf(0x58, 48))))
	add("pcr key negative", with(base, "pcrs", pcrs([]byte{0x20}, pcrOf(0x58, 48))))
	add("pcr key text", with(base, "pcrs", pcrs([]byte{0x61, '0'}, pcrOf(0x58, 48))))
	add("pcr key float", with(base, "pcrs", pcrs([]byte{0xf9, 0, 0}, pcrOf(0x58, 48))))
	add("pcr key false", with(base, "pcrs", pcrs([]byte{0xf4}, pcrOf(0x58, 48))))
	add("pcr key simple value 5", with(base, "pcrs", pcrs([]byte{0x00}, pcrOf(0x58, 48), []byte{0xe5}, pcrOf(0x58, 48))))
	add("pcr key simple value 32", with(base, "pcrs", pcrs([]byte{0xf8, 32}, pcrOf(0x58, 48))))
	add("pcr key simple value 0, no 0", with(base, "pcrs", pcrs([]byte{0xe0}, pcrOf(0x58, 48))))
	add("pcr key null", with(base, "pcrs", pcrs([]byte{0x00}, pcrOf(0x58, 48), []byte{0xf6}, pcrOf(0x58, 48))))
	add("pcr key null, no pcr0", with(base, "pcrs", pcrs([]byte{0xf6}, pcrOf(0x58, 48), []byte{0x01}, pcrOf(0x58, 48))))
	add("pcr key undefined, no pcr0", with(base, "pcrs", pcrs([]byte{0xf7}, pcrOf(0x58, 48))))
	add("pcr key negative, then duplicate", with(base, "pcrs", pcrs([]byte{0x20}, pcrOf(0x58, 48), []byte{0x01}, pcrOf(0x58, 48), []byte{0x01}, pcrOf(0x58, 48))))
	add("pcr key tagged", with(base, "pcrs", pcrs([]byte{0xc0, 0x00}, pcrOf(0x58, 48))))
	add("pcrs 33", with(base, "pcrs", cat([]byte{0xb8, 33}, bytes.Repeat(cat([]byte{0x00}, pcrOf(0x58, 48)), 33))))
	add("pcrs 33 indefinite", with(base, "pcrs", cat([]byte{0xbf}, bytes.Repeat(cat([]byte{0x00}, pcrOf(0x58, 48)), 33), []byte{0xff})))
	add("pcrs and nitrotpm_pcrs", with(base, "nitrotpm_pcrs", value(tpm, "nitrotpm_pcrs")))
	add("cabundle empty", with(base, "cabundle", []byte{0x80}))
	add("cabundle empty indefinite", with(base, "cabundle", []byte{0x9f, 0xff}))
	add("indefinite cabundle", with(base, "cabundle", cat([]byte{0x9f}, value(base, "cabundle")[1:], []byte{0xff})))
	add("cabundle 9", with(base, "cabundle", cat([]byte{0x89}, bytes.Repeat(cert, 9))))
	add("cabundle 9 of garbage", with(base, "cabundle", cat([]byte{0x89}, bytes.Repeat([]byte{0xa1, 0x01, 0x02}, 9))))
	add("cabundle 9 indefinite", with(base, "cabundle", cat([]byte{0x9f}, bytes.Repeat([]byte{0xf6}, 9), []byte{0xff})))
	add("cabundle 17", with(base, "cabundle", cat([]byte{0x91}, bytes.Repeat(cert, 17))))
	add("cabundle null element", with(base, "cabundle", []byte{0x81, 0xf6}))
	add("cabundle empty element", with(base, "cabundle", []byte{0x81, 0x40}))
	add("cabundle indefinite element", with(base, "cabundle", []byte{0x81, 0x5f, 0x41, 0x30, 0xff}))
	add("certificate array", with(base, "certificate", cat([]byte{0x81}, cert)))
	add("certificate 2049 bytes", with(base, "certificate", cat([]byte{0x59, 0x08, 0x01}, make([]byte, 2049))))
	add("certificate missing", without(base, "certificate"))

	addTPM := func(name string, pairs []pair) {
		out = append(out, hostile{"nitrotpm: " + name, encodeMap(true, pairs)})
	}
	tpmPCRs := func(skipIndex int, extra ...[]byte) []byte {
		var b []byte
		n := 0
		for i := range nitroTPMPCRs {
			if i == skipIndex {
				continue
			}
			b = append(b, byte(i))
			b = append(b, pcrOf(0x58, 48)...)
			n++
		}
		return cat([]byte{0xb8, byte(n + len(extra)/2)}, b, cat(extra...))
	}
	addTPM("base", tpm)
	addTPM("all 24 rebuilt", with(tpm, "nitrotpm_pcrs", tpmPCRs(-1)))
	addTPM("register 0 as null", with(tpm, "nitrotpm_pcrs", tpmPCRs(0, []byte{0xf6}, pcrOf(0x58, 48))))
	addTPM("register 5 as a simple value", with(tpm, "nitrotpm_pcrs", tpmPCRs(5, []byte{0xe5}, pcrOf(0x58, 48))))
	addTPM("register 23 missing", with(tpm, "nitrotpm_pcrs", tpmPCRs(23)))
	addTPM("register 24", with(tpm, "nitrotpm_pcrs", tpmPCRs(-1, []byte{0x18, 24}, pcrOf(0x58, 48))))
	addTPM("register 0 twice", with(tpm, "nitrotpm_pcrs", tpmPCRs(-1, []byte{0xf6}, pcrOf(0x58, 48))))
	addTPM("two bad registers", with(tpm, "nitrotpm_pcrs", tpmPCRs(3, []byte{0x03}, cat([]byte{0x58, 32}, pcr[:32]), []byte{0x18, 30}, pcrOf(0x58, 48))))
	addTPM("register of 32 bytes", with(tpm, "nitrotpm_pcrs", tpmPCRs(3, []byte{0x03}, cat([]byte{0x58, 32}, pcr[:32]))))
	addTPM("nitrotpm_pcrs empty", with(tpm, "nitrotpm_pcrs", []byte{0xa0}))
	addTPM("nitrotpm_pcrs array", with(tpm, "nitrotpm_pcrs", []byte{0x80}))
	addTPM("nitrotpm_pcrs null", with(tpm, "nitrotpm_pcrs", []byte{0xf6}))
	addTPM("nitrotpm_pcrs indefinite", with(tpm, "nitrotpm_pcrs", cat([]byte{0xbf}, tpmPCRs(-1)[2:], []byte{0xff})))
	addTPM("with pcrs", with(tpm, "pcrs", value(base, "pcrs")))
	addTPM("enclave module id", with(tpm, "module_id", value(base, "module_id")))
	addTPM("SHA256", with(tpm, "digest", cat([]byte{0x66}, []byte("SHA256"))))
	return out
}

// FuzzParseDocumentFast: parseDocument decides as parseDocumentReflect
// did, for each profile (sameAsReflect). Seeds: testdata/fuzz/
// FuzzParseDocumentFast (the vectors' payloads, hostilePayloads, and the
// corpus of FuzzParseDocument, which held the borrowing parser to the
// copying one before and is folded in here).
func FuzzParseDocumentFast(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		sameAsReflect(t, "fuzz", payload)
		readersAlone(payload)
	})
}

// readersAlone runs the readers on payload without the Wellformed check
// before them: they check every head and length they read themselves, so
// whatever they are given they refuse or read, and never panic or loop.
func readersAlone(payload []byte) {
	var raw fields
	if len(payload) == 0 || payload[0]>>5 != cborMap || decodeFields(payload, &raw) != nil {
		return
	}
	var regs [maxMapPairs]register
	for _, v := range raw {
		text("field", v, maxModuleID)
		timestamp(v)
		registers("field", v, &regs)
		cabundle(v, &qingtianProfile)
		optionalBytes("field", v, attest.MaxEvidence)
	}
}

// TestWriteFastSeeds writes FuzzParseDocumentFast's seeds when
// ATTESTKMS_WRITE_SEEDS is set.
func TestWriteFastSeeds(t *testing.T) {
	if os.Getenv("ATTESTKMS_WRITE_SEEDS") == "" {
		t.Skip("ATTESTKMS_WRITE_SEEDS is not set")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParseDocumentFast")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		name = strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
				return r
			}
			return '_'
		}, strings.ToLower(name))
		if err := os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, p := range vectorPayloads(t) {
		write(strings.TrimSuffix(name, ".cose"), p)
	}
	for _, c := range hostilePayloads(t) {
		write("hostile_"+c.name, c.payload)
	}
}
