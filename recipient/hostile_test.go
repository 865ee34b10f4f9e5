package recipient

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// checkRefused fails the test unless UnwrapCMS refuses b with kind (any
// kind if nil), returns no secret, and wraps exactly one kind.
func checkRefused(t *testing.T, name string, priv *rsa.PrivateKey, b []byte, kind error) error {
	t.Helper()
	got, err := UnwrapCMS(priv, b)
	switch {
	case err == nil:
		t.Errorf("%s: accepted, %d bytes", name, len(got))
	case got != nil:
		t.Errorf("%s: error %v with a secret", name, err)
	case !isKind(err):
		t.Errorf("%s: %v wraps no single kind", name, err)
	case kind != nil && !errors.Is(err, kind):
		t.Errorf("%s: %v, want %v", name, err, kind)
	}
	return err
}

// TestFlips flips every byte of an envelope in three ways. Outside the IV
// and the encrypted content every flip is refused; inside them a flip may
// pass the padding check, but never yields the original secret.
func TestFlips(t *testing.T) {
	key := key2048(t)
	secret := secretOf(32)
	ct := mustWrap(t, &key.PublicKey, secret)
	env, err := parseEnvelope(ct)
	if err != nil {
		t.Fatal(err)
	}
	ivAt, contentAt := bytes.Index(ct, env.iv), bytes.Index(ct, env.content)
	malleable := func(i int) bool {
		return i >= ivAt && i < ivAt+len(env.iv) || i >= contentAt && i < contentAt+len(env.content)
	}
	garbled := 0
	for i := range ct {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(ct)
			bad[i] ^= mask
			got, err := UnwrapCMS(key, bad)
			switch {
			case err == nil && bytes.Equal(got, secret):
				t.Fatalf("flip %02x at %d: the original secret", mask, i)
			case err == nil && !malleable(i):
				t.Errorf("flip %02x at %d (outside IV and content): accepted", mask, i)
			case err == nil:
				garbled++
			case got != nil || !isKind(err):
				t.Errorf("flip %02x at %d: %x, %v", mask, i, got, err)
			}
		}
	}
	t.Logf("%d bytes, %d flips in the IV or content decrypted to garbage", len(ct), garbled)
}

// TestFlipsAWSVector: the same on the real AWS response, every byte outside
// the encrypted key and content, and every seventh inside them (each costs
// an RSA-4096 decryption).
func TestFlipsAWSVector(t *testing.T) {
	key := key4096(t)
	ct := testdata(t, "kms_cfr_batgo.ber")
	want := testdata(t, "kms_cfr_batgo_plaintext.bin")
	env, _ := parseEnvelope(ct)
	ekAt, contentAt := bytes.Index(ct, env.encryptedKey), bytes.Index(ct, env.content)
	ivAt := bytes.Index(ct, env.iv)
	for i := range ct {
		inEK := i >= ekAt && i < ekAt+len(env.encryptedKey)
		inContent := i >= contentAt && i < contentAt+len(env.content)
		if (inEK || inContent) && i%7 != 0 {
			continue
		}
		bad := bytes.Clone(ct)
		bad[i] ^= 0xff
		got, err := UnwrapCMS(key, bad)
		switch {
		case err == nil && bytes.Equal(got, want):
			t.Fatalf("flip at %d: the original secret", i)
		case err == nil && !inContent && !(i >= ivAt && i < ivAt+16):
			t.Errorf("flip at %d: accepted", i)
		case err != nil && (got != nil || !isKind(err)):
			t.Errorf("flip at %d: %x, %v", i, got, err)
		}
	}
}

func TestTruncations(t *testing.T) {
	key := key2048(t)
	for name, ct := range map[string][]byte{
		"ours": mustWrap(t, &key.PublicKey, secretOf(2100)), // three chunks
		"AWS":  testdata(t, "kms_cfr_batgo.ber"),
	} {
		for n := range len(ct) {
			checkRefused(t, fmt.Sprintf("%s truncated to %d", name, n), key, ct[:n], ErrMalformed)
		}
	}
}

func TestDeepNesting(t *testing.T) {
	key := key2048(t)
	const levels = 10000
	// levels SEQUENCEs around an empty OCTET STRING, headers built inside out.
	var headers [][]byte
	n := 2
	for range levels {
		h := appendHeader(nil, tagSequence, n)
		headers = append(headers, h)
		n += len(h)
	}
	definite := make([]byte, 0, n)
	for i := len(headers) - 1; i >= 0; i-- {
		definite = append(definite, headers[i]...)
	}
	definite = append(definite, tagOctetString, 0)
	spec := newSpec(t, &key.PublicKey, secretOf(40))
	spec.content = append(bytes.Repeat([]byte{tagContext0C, 0x80}, levels), bytes.Repeat([]byte{0, 0}, levels)...)
	for name, b := range map[string][]byte{
		"indefinite, unterminated": bytes.Repeat([]byte{tagSequence, 0x80}, levels),
		"indefinite, terminated":   append(bytes.Repeat([]byte{tagSequence, 0x80}, levels), bytes.Repeat([]byte{0, 0}, levels)...),
		"definite":                 definite,
		"in encryptedContent":      spec.encode(),
	} {
		start := time.Now()
		err := checkRefused(t, name, key, b, ErrMalformed)
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: refused after %v", name, d)
		}
		t.Logf("%s (%d bytes): %v", name, len(b), err)
	}
	// The reader itself, on the whole input: it stops at maxDepth.
	if _, _, err := readElement(bytes.Repeat([]byte{tagSequence, 0x80}, levels), 0); !errors.Is(err, errDepth) {
		t.Errorf("readElement: %v, want errDepth", err)
	}
	ok := append(bytes.Repeat([]byte{tagSequence, 0x80}, maxDepth+1), bytes.Repeat([]byte{0, 0}, maxDepth+1)...)
	if _, _, err := readElement(ok, 0); err != nil {
		t.Errorf("readElement at exactly maxDepth: %v", err)
	}
}

// TestHugeLength: a length of 2^31 (and more) is refused before anything is
// allocated for it.
func TestHugeLength(t *testing.T) {
	key := key2048(t)
	ct := mustWrap(t, &key.PublicKey, secretOf(32))
	setAt := bytes.Index(ct, []byte{tagSet, 0x82})
	inputs := map[string][]byte{
		"outermost 2^31":   {tagSequence, 0x84, 0x80, 0, 0, 0, 6, 1, 0},
		"outermost 2^32-1": {tagSequence, 0x84, 0xff, 0xff, 0xff, 0xff, 6, 1, 0},
		"SET 2^31":         append(append(bytes.Clone(ct[:setAt]), tagSet, 0x84, 0x80, 0, 0, 0), ct[setAt+4:]...),
	}
	for name, b := range inputs {
		checkRefused(t, name, key, b, ErrMalformed)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range 100 {
			UnwrapCMS(key, b)
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / 100; per > 16<<10 {
			t.Errorf("%s: %d bytes allocated per call", name, per)
		}
	}
}

func TestTooLarge(t *testing.T) {
	key := key2048(t)
	s := newSpec(t, &key.PublicKey, secretOf(16))
	s.trailing = make([]byte, maxEnvelope)
	checkRefused(t, "over maxEnvelope", key, s.encode(), ErrMalformed)
}

// TestSchema turns each knob of an envelope and expects its outcome.
func TestSchema(t *testing.T) {
	key, other := key2048(t), key3072(t)
	secret := secretOf(40)
	oid := func(b ...byte) []byte { return der(tagOID, b) }
	sha1ID := der(tagSequence, oid(0x2b, 0x0e, 0x03, 0x02, 0x1a), der(tagNull))
	sha384ID := der(tagSequence, oid(0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02), der(tagNull))
	sha256Bare := der(tagSequence, der(tagOID, oidSHA256))
	oaep := func(params ...[]byte) []byte {
		return der(tagSequence, der(tagOID, oidRSAESOAEP), der(tagSequence, params...))
	}
	hashP := func(id []byte) []byte { return der(tagContext0C, id) }
	mgfP := func(id []byte) []byte { return der(tagContext1C, der(tagSequence, der(tagOID, oidMGF1), id)) }
	pSpecifiedEmpty := der(0xa2, der(tagSequence, oid(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x09), der(tagOctetString)))
	otherSKI := sha256.Sum256(spkiOf(t, &other.PublicKey))
	ivOf := func(s *spec) []byte { return s.iv }
	reseal := func(s *spec, padded []byte) { s.content = chunked(cbcSeal(s.cek, s.iv, padded), contentChunk) }
	padded := func(tail ...byte) []byte { return append(secretOf(48-len(tail)), tail...) }
	replace := func(old, new []byte) func([]byte) []byte {
		return func(b []byte) []byte {
			if !bytes.Contains(b, old) {
				panic(fmt.Sprintf("test bug: %x not found", old))
			}
			return bytes.Replace(b, old, new, 1)
		}
	}
	encryptTo := func(pub *rsa.PublicKey, msg []byte) []byte {
		ek, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, msg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ek
	}

	for _, tc := range []struct {
		name string
		edit func(s *spec)
		raw  func(b []byte) []byte
		kind error  // nil: must unwrap to the secret
		text string // in the error
	}{
		{name: "as built"},
		// ContentInfo and EnvelopedData.
		{name: "signedData", edit: func(s *spec) { s.contentType = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02} }, kind: ErrMalformed, text: "envelopedData"},
		{name: "version 0", edit: func(s *spec) { s.version = 0 }, kind: ErrMalformed, text: "version 0"},
		{name: "version 3", edit: func(s *spec) { s.version = 3 }, kind: ErrMalformed, text: "version 3"},
		{name: "version not minimal", raw: replace([]byte{tagInteger, 1, 2, tagSet}, []byte{tagInteger, 2, 0, 2, tagSet}), kind: ErrMalformed},
		{name: "originatorInfo", edit: func(s *spec) { s.originatorInfo = der(tagContext0C) }, kind: ErrMalformed, text: "originatorInfo"},
		{name: "unprotectedAttrs", edit: func(s *spec) { s.unprotected = der(tagContext1C, der(tagSequence)) }, kind: ErrMalformed, text: "unprotectedAttrs"},
		{name: "no recipientInfo", edit: func(s *spec) { s.recipientInfos = [][]byte{} }, kind: ErrMalformed},
		{name: "two recipientInfos", edit: func(s *spec) { s.recipientInfos = [][]byte{s.ktri.encode(), s.ktri.encode()} }, kind: ErrMalformed, text: "more than one"},
		{name: "kekri", edit: func(s *spec) { s.recipientInfos = [][]byte{der(0xa2, der(tagInteger, []byte{4}))} }, kind: ErrMalformed},
		// KeyTransRecipientInfo.
		{name: "ktri version 0", edit: func(s *spec) { s.ktri.version = 0 }, kind: ErrMalformed, text: "version 0"},
		{name: "ktri version 3", edit: func(s *spec) { s.ktri.version = 3 }, kind: ErrMalformed},
		{name: "issuerAndSerialNumber", edit: func(s *spec) {
			s.version, s.ktri.version = 0, 0
			s.ktri.rid = der(tagSequence, der(tagSequence), der(tagInteger, []byte{1}))
		}, kind: ErrMalformed, text: "issuerAndSerialNumber"},
		{name: "rid constructed", edit: func(s *spec) { s.ktri.rid = der(tagContext0C, der(tagOctetString, s.ktri.rid[2:])) }, kind: ErrMalformed},
		{name: "SKI of another key", edit: func(s *spec) { s.ktri.rid = der(tagContext0, otherSKI[:]) }, kind: ErrWrongKey},
		{name: "SKI short", edit: func(s *spec) { s.ktri.rid = der(tagContext0, s.ktri.rid[2:33]) }, kind: ErrWrongKey},
		{name: "SKI empty", edit: func(s *spec) { s.ktri.rid = der(tagContext0) }, kind: ErrWrongKey},
		{name: "rsaEncryption", edit: func(s *spec) {
			s.ktri.keyAlg = der(tagSequence, oid(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01), der(tagNull))
		}, kind: ErrMalformed, text: "id-RSAES-OAEP"},
		{name: "OAEP without parameters", edit: func(s *spec) { s.ktri.keyAlg = der(tagSequence, der(tagOID, oidRSAESOAEP)) }, kind: ErrMalformed, text: "SHA-1"},
		{name: "OAEP with NULL parameters", edit: func(s *spec) { s.ktri.keyAlg = der(tagSequence, der(tagOID, oidRSAESOAEP), der(tagNull)) }, kind: ErrMalformed},
		{name: "OAEP defaults", edit: func(s *spec) { s.ktri.keyAlg = oaep() }, kind: ErrMalformed, text: "SHA-1"},
		{name: "OAEP SHA-1", edit: func(s *spec) { s.ktri.keyAlg = oaep(hashP(sha1ID), mgfP(sha256AlgorithmID)) }, kind: ErrMalformed, text: "sha256"},
		{name: "OAEP SHA-384", edit: func(s *spec) { s.ktri.keyAlg = oaep(hashP(sha384ID), mgfP(sha256AlgorithmID)) }, kind: ErrMalformed},
		{name: "MGF1 SHA-1", edit: func(s *spec) { s.ktri.keyAlg = oaep(hashP(sha256AlgorithmID), mgfP(sha1ID)) }, kind: ErrMalformed},
		{name: "MGF1 default", edit: func(s *spec) { s.ktri.keyAlg = oaep(hashP(sha256AlgorithmID)) }, kind: ErrMalformed, text: "MGF1-SHA-1"},
		{name: "mask not MGF1", edit: func(s *spec) {
			s.ktri.keyAlg = oaep(hashP(sha256AlgorithmID), der(tagContext1C, der(tagSequence, der(tagOID, oidSHA256), sha256AlgorithmID)))
		}, kind: ErrMalformed, text: "mgf1"},
		{name: "pSource empty label", edit: func(s *spec) {
			s.ktri.keyAlg = oaep(hashP(sha256AlgorithmID), mgfP(sha256AlgorithmID), pSpecifiedEmpty)
		}, kind: ErrMalformed, text: "pSource"},
		{name: "OAEP params out of order", edit: func(s *spec) { s.ktri.keyAlg = oaep(mgfP(sha256AlgorithmID), hashP(sha256AlgorithmID)) }, kind: ErrMalformed},
		{name: "hash twice", edit: func(s *spec) {
			s.ktri.keyAlg = oaep(der(tagContext0C, sha256AlgorithmID, sha256AlgorithmID), mgfP(sha256AlgorithmID))
		}, kind: ErrMalformed},
		{name: "SHA-256 without NULL (OpenSSL)", edit: func(s *spec) { s.ktri.keyAlg = oaep(hashP(sha256Bare), mgfP(sha256Bare)) }},
		{name: "NULL with contents", edit: func(s *spec) {
			s.ktri.keyAlg = oaep(hashP(der(tagSequence, der(tagOID, oidSHA256), der(tagNull, []byte{0}))), mgfP(sha256AlgorithmID))
		}, kind: ErrMalformed, text: "NULL"},
		{name: "hash parameters not NULL", edit: func(s *spec) {
			s.ktri.keyAlg = oaep(hashP(der(tagSequence, der(tagOID, oidSHA256), der(tagOctetString))), mgfP(sha256AlgorithmID))
		}, kind: ErrMalformed},
		{name: "element after encryptedKey", edit: func(s *spec) {
			s.recipientInfos = [][]byte{der(tagSequence, der(tagInteger, []byte{2}), s.ktri.rid, s.ktri.keyAlg, der(tagOctetString, s.ktri.encryptedKey), der(tagNull))}
		}, kind: ErrMalformed},
		{name: "encryptedKey empty", edit: func(s *spec) { s.ktri.encryptedKey = nil }, kind: ErrMalformed},
		{name: "encryptedKey short", edit: func(s *spec) { s.ktri.encryptedKey = s.ktri.encryptedKey[1:] }, kind: ErrMalformed, text: "block"},
		{name: "encryptedKey to another key", edit: func(s *spec) { s.ktri.encryptedKey = encryptTo(&other.PublicKey, s.cek) }, kind: ErrMalformed},
		{name: "encryptedKey garbage", edit: func(s *spec) { rand.Read(s.ktri.encryptedKey[1:]) }, kind: ErrDecrypt},
		{name: "encryptedKey of a 16-byte key", edit: func(s *spec) { s.ktri.encryptedKey = encryptTo(&key.PublicKey, s.cek[:16]) }, kind: ErrDecrypt},
		// EncryptedContentInfo.
		{name: "content type not data", edit: func(s *spec) { s.eciType = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x06} }, kind: ErrMalformed},
		{name: "AES-128-CBC", edit: func(s *spec) {
			s.contentAlg = der(tagSequence, oid(0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02), der(tagOctetString, ivOf(s)))
		}, kind: ErrMalformed, text: "aes256-CBC"},
		{name: "AES-256-GCM", edit: func(s *spec) {
			s.contentAlg = der(tagSequence, oid(0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2e), der(tagOctetString, ivOf(s)))
		}, kind: ErrMalformed},
		{name: "IV short", edit: func(s *spec) {
			s.contentAlg = der(tagSequence, der(tagOID, oidAES256CBC), der(tagOctetString, s.iv[:8]))
		}, kind: ErrMalformed, text: "IV"},
		{name: "IV long", edit: func(s *spec) {
			s.contentAlg = der(tagSequence, der(tagOID, oidAES256CBC), der(tagOctetString, append(s.iv, 0)))
		}, kind: ErrMalformed, text: "IV"},
		{name: "IV missing", edit: func(s *spec) { s.contentAlg = der(tagSequence, der(tagOID, oidAES256CBC)) }, kind: ErrMalformed},
		{name: "IV constructed", edit: func(s *spec) {
			s.contentAlg = der(tagSequence, der(tagOID, oidAES256CBC), der(0x24, der(tagOctetString, s.iv)))
		}, kind: ErrMalformed},
		{name: "IV then more", edit: func(s *spec) {
			s.contentAlg = der(tagSequence, der(tagOID, oidAES256CBC), der(tagOctetString, s.iv), der(tagNull))
		}, kind: ErrMalformed},
		{name: "content absent", edit: func(s *spec) { s.content = nil }, kind: ErrMalformed, text: "encryptedContent"},
		{name: "content [1]", edit: func(s *spec) { s.content[0] = tagContext1C }, kind: ErrMalformed},
		{name: "content primitive", edit: func(s *spec) { s.content = der(tagContext0, s.ciphertext) }},
		{name: "content constructed definite", edit: func(s *spec) { s.content = der(tagContext0C, der(tagOctetString, s.ciphertext)) }},
		{name: "content in 1-byte chunks", edit: func(s *spec) { s.content = chunked(s.ciphertext, 1) }},
		{name: "content with an empty chunk", edit: func(s *spec) {
			s.content = der(tagContext0C, der(tagOctetString, s.ciphertext[:16]), der(tagOctetString), der(tagOctetString, s.ciphertext[16:]))
		}},
		{name: "content chunk constructed", edit: func(s *spec) {
			s.content = der(tagContext0C, der(0x24, der(tagOctetString, s.ciphertext)))
		}, kind: ErrMalformed},
		{name: "content chunk not OCTET STRING", edit: func(s *spec) { s.content = der(tagContext0C, der(tagContext0, s.ciphertext)) }, kind: ErrMalformed},
		{name: "content empty", edit: func(s *spec) { s.content = chunked(nil, 1) }, kind: ErrMalformed, text: "multiple of 16"},
		{name: "content not whole blocks", edit: func(s *spec) { s.content = chunked(s.ciphertext[1:], 1000) }, kind: ErrMalformed, text: "multiple of 16"},
		{name: "content too many chunks", edit: func(s *spec) {
			s.content = chunked(make([]byte, 16*(maxContentChunks+1)), 16)
		}, kind: ErrMalformed, text: "chunks"},
		{name: "content then more", edit: func(s *spec) { s.content = append(s.content, der(tagNull)...) }, kind: ErrMalformed},
		{name: "padding zero", edit: func(s *spec) { reseal(s, padded(0)) }, kind: ErrDecrypt, text: "padding"},
		{name: "padding 17", edit: func(s *spec) { reseal(s, padded(bytes.Repeat([]byte{17}, 17)...)) }, kind: ErrDecrypt, text: "padding"},
		{name: "padding inconsistent", edit: func(s *spec) { reseal(s, padded(3, 4, 3)) }, kind: ErrDecrypt, text: "padding"},
		// Encoding.
		{name: "trailing byte", edit: func(s *spec) { s.trailing = []byte{0} }, kind: ErrMalformed, text: "after"},
		{name: "trailing EOC", edit: func(s *spec) { s.trailing = []byte{0, 0} }, kind: ErrMalformed, text: "after"},
		{name: "length not minimal", raw: replace([]byte{tagOID, 9}, []byte{tagOID, 0x81, 9}), kind: ErrMalformed, text: "minimally"},
		{name: "length with leading zero", raw: replace([]byte{tagSet, 0x82}, []byte{tagSet, 0x83, 0}), kind: ErrMalformed, text: "minimally"},
		{name: "length of 5 bytes", raw: replace([]byte{tagSet, 0x82}, []byte{tagSet, 0x85, 0, 0, 0}), kind: ErrMalformed},
		{name: "length 0xff", raw: replace([]byte{tagSet, 0x82}, []byte{tagSet, 0xff}), kind: ErrMalformed},
		{name: "SET length past the end", raw: replace([]byte{tagSet, 0x82, 0x01}, []byte{tagSet, 0x82, 0xf1}), kind: ErrMalformed, text: "exceeds"},
		{name: "SET length one more", raw: replace([]byte{tagSet, 0x82, 0x01, 0x6b}, []byte{tagSet, 0x82, 0x01, 0x6c}), kind: ErrMalformed},
		{name: "SET length one less", raw: replace([]byte{tagSet, 0x82, 0x01, 0x6b}, []byte{tagSet, 0x82, 0x01, 0x6a}), kind: ErrMalformed},
		{name: "KTRI length one less", raw: replace([]byte{tagSequence, 0x82, 0x01, 0x67}, []byte{tagSequence, 0x82, 0x01, 0x66}), kind: ErrMalformed},
		{name: "high tag number", raw: replace([]byte{tagContext0C, 0x80, tagOctetString}, []byte{0xbf, 0x80, tagOctetString}), kind: ErrMalformed, text: "high tag"},
		{name: "indefinite primitive", raw: replace([]byte{tagContext0C, 0x80, tagOctetString, 0x30}, []byte{tagContext0C, 0x80, tagOctetString, 0x80}), kind: ErrMalformed},
		{name: "end-of-contents malformed", raw: func(b []byte) []byte { b[len(b)-1] = 1; return b }, kind: ErrMalformed, text: "end-of-contents"},
		{name: "end-of-contents missing", raw: func(b []byte) []byte { return b[:len(b)-2] }, kind: ErrMalformed, text: "end-of-contents"},
		{name: "end-of-contents in a definite element", edit: func(s *spec) {
			s.contentAlg = der(tagSequence, der(tagOID, oidAES256CBC), der(tagOctetString, s.iv), []byte{0, 0})
		}, kind: ErrMalformed, text: "unexpected element 0x00"},
		{name: "definite ContentInfo around indefinite", raw: func(b []byte) []byte {
			return der(tagSequence, b[2:len(b)-2])
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSpec(t, &key.PublicKey, secret)
			if tc.edit != nil {
				tc.edit(s)
			}
			b := s.encode()
			if tc.raw != nil {
				b = tc.raw(b)
			}
			if tc.kind == nil {
				got, err := UnwrapCMS(key, b)
				if err != nil || !bytes.Equal(got, secret) {
					t.Fatalf("%x, %v; want the secret", got, err)
				}
				return
			}
			err := checkRefused(t, tc.name, key, b, tc.kind)
			if err != nil && !strings.Contains(err.Error(), tc.text) {
				t.Errorf("%v does not say %q", err, tc.text)
			}
		})
	}
}
