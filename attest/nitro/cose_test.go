package nitro

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/veraison/go-cose"
)

// parseEnvelope reads a document of the devices' one shape in place
// (exactShape) and verify hashes the Sig_structure as it goes; go-cose did
// both before. These tests hold exactShape to go-cose's reading
// (parseEnvelopeCOSE, the path of every other document) and verify to
// go-cose's Sign1Message.Verify.

// vectorDocs are the documents of testvectors/nitro, by name.
func vectorDocs(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for _, pattern := range []string{"../../testvectors/nitro/*.cose", "../../testvectors/nitro/generated/*.cose"} {
		paths, _ := filepath.Glob(pattern)
		for _, path := range paths {
			doc, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			out[filepath.Base(path)] = doc
		}
	}
	if len(out) < 10 {
		t.Fatalf("only %d vector documents", len(out))
	}
	return out
}

// sameEnvelope fails t if exactShape takes doc and go-cose does not read
// the same suite, payload and signature, or if parseEnvelope and
// parseEnvelopeCOSE disagree.
func sameEnvelope(t *testing.T, name string, doc []byte) *envelope {
	t.Helper()
	if len(doc) == 0 {
		return nil
	}
	orig := bytes.Clone(doc)
	fast := exactShape(doc)
	e, err := parseEnvelope(doc)
	ref, rerr := parseEnvelopeCOSE(doc)
	switch {
	case fast != nil && rerr != nil:
		t.Fatalf("%s: exactShape took a document go-cose refuses: %v", name, rerr)
	case (err == nil) != (rerr == nil) || err != nil && err.Error() != rerr.Error():
		t.Fatalf("%s: parseEnvelope says %v, go-cose %v", name, err, rerr)
	case err == nil && (e.suite != ref.suite || !bytes.Equal(e.payload, ref.payload) || !bytes.Equal(e.signature, ref.signature)):
		t.Fatalf("%s: parseEnvelope read %s, %d-byte payload, signature %x; go-cose %s, %d bytes, %x", name, e.suite.name, len(e.payload), e.signature, ref.suite.name, len(ref.payload), ref.signature)
	}
	if fast != nil && len(fast.payload) > 0 && &e.payload[0] == &fast.payload[0] {
		t.Fatalf("%s: the envelope's payload is the caller's document, not a copy", name)
	}
	if !bytes.Equal(doc, orig) {
		t.Fatalf("%s: parsing modified the document", name)
	}
	return e
}

// sameVerdict fails t unless verify and go-cose agree on doc's signature
// under key.
func sameVerdict(t *testing.T, name string, doc []byte, key *ecdsa.PublicKey) {
	t.Helper()
	e, err := parseEnvelope(doc)
	if err != nil {
		return
	}
	s := suiteOf(key)
	if s == nil {
		t.Fatalf("%s: key on no suite's curve", name)
	}
	got := e.verify(&chainEntry{leafSuite: s, leafKey: key, leafName: "leaf"}) == nil

	var msg cose.Sign1Message
	if doc[0] == 0xd2 {
		err = msg.UnmarshalCBOR(doc)
	} else {
		err = (*cose.UntaggedSign1Message)(&msg).UnmarshalCBOR(doc)
	}
	if err != nil {
		t.Fatalf("%s: go-cose does not read an envelope parseEnvelope took: %v", name, err)
	}
	want := false
	if e.suite == s {
		v, err := cose.NewVerifier(s.alg, key)
		if err != nil {
			t.Fatal(err)
		}
		want = msg.Verify(nil, v) == nil
	}
	if got != want {
		t.Fatalf("%s: verify says %v, go-cose %v", name, got, want)
	}
}

func suiteOf(key *ecdsa.PublicKey) *suite {
	for _, s := range suites {
		if s.curve == key.Curve {
			return s
		}
	}
	return nil
}

// leafKey is the key of doc's certificate, if it has one on a suite's curve.
func leafKey(t testing.TB, doc []byte) *ecdsa.PublicKey {
	e, err := parseEnvelope(doc)
	if err != nil {
		return nil
	}
	var d *document
	for _, p := range profiles {
		if d, err = parseDocument(e.payload, p); err == nil {
			break
		}
	}
	if d == nil {
		return nil
	}
	cert, err := x509.ParseCertificate(d.certificate)
	if err != nil {
		return nil
	}
	k, _ := cert.PublicKey.(*ecdsa.PublicKey)
	if k == nil || suiteOf(k) == nil {
		return nil
	}
	return k
}

// withPayloadHead re-encodes an untagged document's payload head with ai
// (25, 26 or 27: non-minimal), which go-cose reads, and hashes minimally.
func withPayloadHead(t testing.TB, doc []byte, ai byte) []byte {
	e := exactShape(doc)
	if e == nil || doc[0] != 0x84 {
		t.Fatal("not an untagged document of the devices' shape")
	}
	out := append([]byte{0x84}, e.suite.protected...)
	out = append(out, 0xa0, cborBytes<<5|ai)
	switch ai {
	case 25:
		out = binary.BigEndian.AppendUint16(out, uint16(len(e.payload)))
	case 26:
		out = binary.BigEndian.AppendUint32(out, uint32(len(e.payload)))
	case 27:
		out = binary.BigEndian.AppendUint64(out, uint64(len(e.payload)))
	}
	out = append(out, e.payload...)
	out = appendBytesHead(out, len(e.signature))
	return append(out, e.signature...)
}

func TestParseEnvelopeMatchesCOSE(t *testing.T) {
	for name, doc := range vectorDocs(t) {
		sameEnvelope(t, name, doc)
		if doc[0] == 0x84 {
			sameEnvelope(t, name+" tagged", append([]byte{0xd2}, doc...))
		}
		// Every byte of the envelope's framing (the first 16 and the
		// signature's head and contents), and a sample of the payload,
		// changed; truncations; a trailing byte.
		for i := range doc {
			if i >= 16 && i < len(doc)-110 && i%97 != 0 {
				continue
			}
			for _, x := range []byte{0x01, 0x20, 0x80, 0x1f, 0xff} {
				d := bytes.Clone(doc)
				d[i] ^= x
				sameEnvelope(t, name+" changed", d)
			}
		}
		for n := len(doc) - 120; n < len(doc); n++ {
			sameEnvelope(t, name+" truncated", doc[:max(n, 1)])
		}
		sameEnvelope(t, name+" trailing", append(bytes.Clone(doc), 0))
	}
}

func TestVerifyMatchesCOSE(t *testing.T) {
	checked := 0
	for name, doc := range vectorDocs(t) {
		key := leafKey(t, doc)
		if key == nil {
			continue
		}
		checked++
		sameVerdict(t, name, doc, key)
		if doc[0] != 0x84 || exactShape(doc) == nil {
			continue
		}
		sameVerdict(t, name+" tagged", append([]byte{0xd2}, doc...), key)
		for _, ai := range []byte{25, 26, 27} {
			d := withPayloadHead(t, doc, ai)
			sameEnvelope(t, name+" long head", d)
			sameVerdict(t, name+" long head", d, key)
		}
		if name != "nitro_doc_2024-01-24_debug_rsa2048.cose" && name != "nitro_ok.cose" {
			continue
		}
		for _, i := range []int{20, 100, 1000, len(doc) / 2, len(doc) - 97, len(doc) - 96, len(doc) - 50, len(doc) - 1} {
			d := bytes.Clone(doc)
			d[i] ^= 0x01
			sameVerdict(t, name+" changed", d, key)
		}
		// r or s zero, or both; r with its top byte zero.
		n := es384.signatureLen()
		for _, zero := range [][2]int{{0, n / 2}, {n / 2, n}, {0, n}, {0, 1}} {
			d := bytes.Clone(doc)
			clear(d[len(d)-n+zero[0] : len(d)-n+zero[1]])
			sameVerdict(t, name+" zeroed signature", d, key)
		}
	}
	if checked < 5 {
		t.Fatalf("only %d documents with a leaf key", checked)
	}
}

// FuzzParseEnvelope: whatever document exactShape reads in place, go-cose
// reads the same; parseEnvelope decides, says and reads as go-cose did; and
// verify agrees with go-cose's Sign1Message.Verify under the key of the
// real document's leaf. Seeds: testdata/fuzz/FuzzParseEnvelope.
func FuzzParseEnvelope(f *testing.F) {
	real := vectorDocs(f)["nitro_doc_2024-01-24_debug_rsa2048.cose"]
	key := leafKey(f, real)
	f.Fuzz(func(t *testing.T, doc []byte) {
		if e := sameEnvelope(t, "fuzz", doc); e != nil && e.suite == es384 {
			sameVerdict(t, "fuzz", doc, key)
		}
	})
}

// BenchmarkParseEnvelope reads the real document's envelope; "go-cose" is
// how it was read before.
func BenchmarkParseEnvelope(b *testing.B) {
	doc := vectorDocs(b)["nitro_doc_2024-01-24_debug_rsa2048.cose"]
	for _, f := range []struct {
		name  string
		parse func([]byte) (*envelope, error)
	}{{"now", parseEnvelope}, {"go-cose", parseEnvelopeCOSE}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.parse(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestASN1Signature: asn1Signature encodes r || s as encoding/asn1 encodes
// the two integers (what ecdsa.Verify builds from its big.Ints), for each
// suite's size, at the edges: zero, leading zeros, the top bit set.
func TestASN1Signature(t *testing.T) {
	for _, s := range suites {
		n := s.signatureLen() / 2
		edges := [][]byte{
			make([]byte, n),
			append(make([]byte, n-1), 1),
			append([]byte{0x80}, make([]byte, n-1)...),
			bytes.Repeat([]byte{0xff}, n),
			append([]byte{0, 0x80}, bytes.Repeat([]byte{1}, n-2)...),
			append([]byte{0, 0x7f}, bytes.Repeat([]byte{1}, n-2)...),
		}
		for range 50 {
			x := make([]byte, n)
			rand.Read(x)
			x[0] &= byte(mrand.Int())
			edges = append(edges, x)
		}
		for _, r := range edges {
			for _, sv := range edges[:8] {
				var buf [2*(3+66) + 3]byte
				got := asn1Signature(buf[:0], append(bytes.Clone(r), sv...))
				want, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(r), new(big.Int).SetBytes(sv)})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%s: asn1Signature(%x, %x) = %x, want %x", s.name, r, sv, got, want)
				}
			}
		}
	}
}
