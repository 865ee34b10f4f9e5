package recipient

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// pinned are the SHA-256 of the files in testdata, as testdata/README.md
// lists them: a changed vector fails here, not in some confusing way later.
var pinned = map[string]string{
	"kms_cfr_batgo.ber":               "e9ef07997042cad353849a2c610b4d1cb454e83d1b97a86d6d57125ab107a6f8",
	"kms_cfr_batgo_rsa4096.pkcs1.der": "290e562ff49640e795ca343a76f88cc34cbffb0d22715d53e107c743c8e63726",
	"kms_cfr_batgo_plaintext.bin":     "c40ebab162120b31a4f241f37573c4ac29501417e501d247c4cd4ccc91602b40",
	"kms_cfr_sdkc_indef_content.ber":  "755b9cddf708f37db12124de6b030aa0a9ca64639cfb6126f95045b41e1a431a",
	"kms_cfr_sdkc_prim_content.ber":   "93df87f14fb0259d321f501dbe7ecae29cfd4564a68c9fb4fb797ed115b7153b",
	"rsa2048_test.pkcs1.der":          "cd8bd3d9eaa90a74438d1bfd75d1fd3794daeb352630d1618a7e752c5db969aa",
	"rsa3072_test.pkcs1.der":          "fc8947c541acd3dabb289efbca0a7c66381d5ed19bc8c6d531a6046039cb44d5",
}

func testdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	want, ok := pinned[name]
	if !ok {
		tb.Fatalf("%s is not pinned", name)
	}
	if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != want {
		tb.Fatalf("%s: sha256 %x, pinned %s", name, got, want)
	}
	return b
}

var keys sync.Map // file name -> *rsa.PrivateKey

func testKey(tb testing.TB, name string) *rsa.PrivateKey {
	tb.Helper()
	if k, ok := keys.Load(name); ok {
		return k.(*rsa.PrivateKey)
	}
	k, err := x509.ParsePKCS1PrivateKey(testdata(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	k.Precompute()
	keys.Store(name, k)
	return k
}

// The test keys: two generated for these tests (testdata/README.md), and
// the enclave key of the real AWS response.
func key2048(tb testing.TB) *rsa.PrivateKey { return testKey(tb, "rsa2048_test.pkcs1.der") }
func key3072(tb testing.TB) *rsa.PrivateKey { return testKey(tb, "rsa3072_test.pkcs1.der") }
func key4096(tb testing.TB) *rsa.PrivateKey { return testKey(tb, "kms_cfr_batgo_rsa4096.pkcs1.der") }

func spkiOf(tb testing.TB, pub *rsa.PublicKey) []byte {
	tb.Helper()
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func unhexT(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func secretOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

func mustWrap(tb testing.TB, pub *rsa.PublicKey, secret []byte) []byte {
	tb.Helper()
	ct, err := WrapCMS(pub, nil, secret, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return ct
}

// isKind reports whether err wraps exactly one of the kinds.
func isKind(err error) bool {
	n := 0
	for _, k := range Kinds {
		if errors.Is(err, k) {
			n++
		}
	}
	return n == 1
}

// node is one element of an envelope, as walk finds it.
type node struct {
	off, depth int
	tag        byte
	indefinite bool
	hdr, n     int // header length, body length (without end-of-contents)
}

// walk lists every element of b, depth first, descending into every
// constructed one, with the package's own reader.
func walk(tb testing.TB, b []byte) []node {
	tb.Helper()
	b = b[:len(b):len(b)]
	var nodes []node
	var rec func(cur []byte, depth int)
	rec = func(cur []byte, depth int) {
		for len(cur) > 0 {
			e, rest, err := readElement(cur, depth)
			if err != nil {
				tb.Fatalf("offset %d: %v", cap(b)-cap(cur), err)
			}
			nodes = append(nodes, node{
				off: cap(b) - cap(cur), depth: depth, tag: e.tag, indefinite: e.indefinite,
				hdr: cap(cur) - cap(e.body), n: len(e.body),
			})
			if e.tag&tagConstructed != 0 {
				rec(e.body, depth+1)
			}
			cur = rest
		}
	}
	rec(b, 0)
	return nodes
}

// spec is an envelope in parts, each a knob for the hostile tests. Its
// encode follows marshalEnvelope step by step; TestSpecMatchesEncoder keeps
// the two equal.
type spec struct {
	contentType    []byte // OID contents
	version        int    // envelopedData
	originatorInfo []byte // an element, or nil
	ktri           ktriSpec
	recipientInfos [][]byte // encoded RecipientInfos; nil means just ktri
	eciType        []byte   // OID contents
	contentAlg     []byte   // encoded AlgorithmIdentifier
	content        []byte   // the encoded encryptedContent element, or nil
	unprotected    []byte   // an element, or nil
	trailing       []byte

	// What made it, for the tests that re-seal.
	cek, iv, ciphertext []byte
}

type ktriSpec struct {
	version      int
	rid          []byte // encoded
	keyAlg       []byte // encoded
	encryptedKey []byte
}

func (k ktriSpec) encode() []byte {
	return der(tagSequence, der(tagInteger, []byte{byte(k.version)}), k.rid, k.keyAlg, der(tagOctetString, k.encryptedKey))
}

func (s *spec) encode() []byte {
	var b []byte
	b = appendIndefinite(b, tagSequence)
	b = appendDER(b, tagOID, s.contentType)
	b = appendIndefinite(b, tagContext0C)
	b = appendIndefinite(b, tagSequence)
	b = appendDER(b, tagInteger, []byte{byte(s.version)})
	b = append(b, s.originatorInfo...)
	ris := s.recipientInfos
	if ris == nil {
		ris = [][]byte{s.ktri.encode()}
	}
	b = appendDER(b, tagSet, ris...)
	b = appendIndefinite(b, tagSequence)
	b = appendDER(b, tagOID, s.eciType)
	b = append(b, s.contentAlg...)
	b = append(b, s.content...)
	b = append(b, endOfContents...)
	b = append(b, s.unprotected...)
	for range 3 {
		b = append(b, endOfContents...)
	}
	return append(b, s.trailing...)
}

// newSpec seals secret to pub the way WrapCMS does, with a known key.
func newSpec(tb testing.TB, pub *rsa.PublicKey, secret []byte) *spec {
	tb.Helper()
	cek, iv := make([]byte, 32), make([]byte, 16)
	rand.Read(cek)
	rand.Read(iv)
	ek, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, cek, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ski := sha256.Sum256(spkiOf(tb, pub))
	s := &spec{
		contentType: oidEnvelopedData,
		version:     2,
		ktri: ktriSpec{
			version: 2, rid: der(tagContext0, ski[:]), keyAlg: oaepAlgorithmID, encryptedKey: ek,
		},
		eciType:    oidData,
		contentAlg: der(tagSequence, der(tagOID, oidAES256CBC), der(tagOctetString, iv)),
		cek:        cek,
		iv:         iv,
	}
	s.ciphertext = cbcSeal(cek, iv, pkcs7(secret))
	s.content = chunked(s.ciphertext, contentChunk)
	return s
}

func pkcs7(b []byte) []byte {
	p := 16 - len(b)%16
	return append(bytes.Clone(b), bytes.Repeat([]byte{byte(p)}, p)...)
}

func cbcSeal(key, iv, padded []byte) []byte {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	out := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(out, padded)
	return out
}

// chunked encodes content as AWS does: a constructed indefinite [0] of
// OCTET STRINGs of at most size bytes.
func chunked(content []byte, size int) []byte {
	b := appendIndefinite(nil, tagContext0C)
	for c := content; len(c) > 0; {
		n := min(len(c), size)
		b = appendDER(b, tagOctetString, c[:n])
		c = c[n:]
	}
	return append(b, endOfContents...)
}
