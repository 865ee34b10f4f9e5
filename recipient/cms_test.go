package recipient

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, key := range []*rsa.PrivateKey{key2048(t), key3072(t), key4096(t)} {
		for _, n := range []int{1, 15, 16, 17, 32, 999, 1000, 1024, 2400, 4096, maxCMSSecret} {
			t.Run(fmt.Sprintf("RSA-%d/%d", key.N.BitLen(), n), func(t *testing.T) {
				secret := secretOf(n)
				ct, err := WrapCMS(&key.PublicKey, spkiOf(t, &key.PublicKey), secret, nil)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(ct, secret[:min(n, 16)]) && n >= 16 {
					t.Fatal("the envelope contains the secret")
				}
				got, err := UnwrapCMS(key, ct)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, secret) {
					t.Fatalf("unwrapped %d bytes, want %d", len(got), n)
				}
			})
		}
	}
}

func TestWrapCMSSecretSize(t *testing.T) {
	pub := &key2048(t).PublicKey
	for _, n := range []int{0, maxCMSSecret + 1} {
		ct, err := WrapCMS(pub, nil, make([]byte, n), nil)
		if !errors.Is(err, ErrSecretSize) || ct != nil {
			t.Errorf("WrapCMS of %d bytes: %v, want ErrSecretSize", n, err)
		}
	}
	if _, err := WrapCMS(pub, nil, nil, nil); !errors.Is(err, ErrSecretSize) {
		t.Errorf("WrapCMS of nil: %v, want ErrSecretSize", err)
	}
}

// TestWrapCMSFresh: every wrap draws a new key and IV, so two envelopes of
// one secret share nothing but their structure.
func TestWrapCMSFresh(t *testing.T) {
	key := key2048(t)
	a, b := mustWrap(t, &key.PublicKey, secretOf(64)), mustWrap(t, &key.PublicKey, secretOf(64))
	ea, _ := parseEnvelope(a)
	eb, _ := parseEnvelope(b)
	if bytes.Equal(ea.encryptedKey, eb.encryptedKey) || bytes.Equal(ea.iv, eb.iv) || bytes.Equal(ea.content, eb.content) {
		t.Fatal("two wraps share an encrypted key, IV or content")
	}
	cekA, err := rsa.DecryptOAEP(sha256.New(), nil, key, ea.encryptedKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	cekB, _ := rsa.DecryptOAEP(sha256.New(), nil, key, eb.encryptedKey, nil)
	if len(cekA) != 32 || bytes.Equal(cekA, cekB) {
		t.Fatalf("content-encryption keys %x and %x", cekA, cekB)
	}
}

func TestWrapCMSKeyChecks(t *testing.T) {
	key, other := key2048(t), key3072(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	spki := spkiOf(t, &key.PublicKey)
	for _, tc := range []struct {
		name string
		pub  *rsa.PublicKey
		spki []byte
	}{
		{"nil key", nil, nil},
		{"empty key", &rsa.PublicKey{}, nil},
		{"RSA-1024", &small.PublicKey, nil},
		{"SPKI of another key", &key.PublicKey, spkiOf(t, &other.PublicKey)},
		{"SPKI not DER", &key.PublicKey, spki[:len(spki)-1]},
		{"SPKI trailing byte", &key.PublicKey, append(bytes.Clone(spki), 0)},
		{"empty SPKI", &key.PublicKey, []byte{}},
	} {
		ct, err := WrapCMS(tc.pub, tc.spki, secretOf(32), nil)
		if !errors.Is(err, ErrKey) || ct != nil {
			t.Errorf("%s: %v, want ErrKey", tc.name, err)
		}
	}
	// nil SPKI is the key's own DER encoding: the same SKI.
	a, _ := parseEnvelope(mustWrap(t, &key.PublicKey, secretOf(32)))
	b, err := WrapCMS(&key.PublicKey, spki, secretOf(32), nil)
	if err != nil {
		t.Fatal(err)
	}
	eb, _ := parseEnvelope(b)
	if want := sha256.Sum256(spki); !bytes.Equal(a.ski, want[:]) || !bytes.Equal(eb.ski, want[:]) {
		t.Fatalf("SKIs %x, %x; want %x", a.ski, eb.ski, want)
	}
}

type failingReader struct{ after int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.after <= 0 {
		return 0, errors.New("entropy source failed")
	}
	n := min(len(p), r.after)
	rand.Read(p[:n])
	r.after -= n
	return n, nil
}

func TestWrapRandomFailure(t *testing.T) {
	pub := &key2048(t).PublicKey
	for _, after := range []int{0, 16, 40, 48} { // before the key, in it, in the IV, at OAEP's seed
		ct, err := WrapCMS(pub, nil, secretOf(32), &failingReader{after})
		if err == nil || ct != nil {
			t.Errorf("WrapCMS with randomness failing after %d bytes: %x, %v", after, ct, err)
		}
		raw, err := WrapRaw(pub, secretOf(32), &failingReader{after})
		if after < 32 && (err == nil || raw != nil) {
			t.Errorf("WrapRaw with randomness failing after %d bytes: %x, %v", after, raw, err)
		}
	}
}

// recordingReader is crypto/rand that keeps the buffers it filled: the
// first one WrapCMS hands it is its content-encryption key.
type recordingReader struct{ bufs [][]byte }

func (r *recordingReader) Read(p []byte) (int, error) {
	r.bufs = append(r.bufs, p)
	return rand.Read(p)
}

func TestWrapCMSZeroesKey(t *testing.T) {
	key := key2048(t)
	r := &recordingReader{}
	ct, err := WrapCMS(&key.PublicKey, nil, secretOf(32), r)
	if err != nil {
		t.Fatal(err)
	}
	cekBuf := r.bufs[0]
	if len(cekBuf) != 32 {
		t.Fatalf("first read of %d bytes, want the 32-byte key", len(cekBuf))
	}
	if !bytes.Equal(cekBuf, make([]byte, 32)) {
		t.Fatalf("the content-encryption key is still in memory after WrapCMS: %x", cekBuf)
	}
	// And the key that was there is the one in the envelope (the test
	// watched the right buffer): it decrypts to 32 bytes.
	env, _ := parseEnvelope(ct)
	if cek, err := rsa.DecryptOAEP(sha256.New(), nil, key, env.encryptedKey, nil); err != nil || len(cek) != 32 {
		t.Fatalf("envelope key: %v", err)
	}
}

func TestWrapCMSLeavesSecretAlone(t *testing.T) {
	secret := secretOf(100)
	orig := bytes.Clone(secret)
	mustWrap(t, &key2048(t).PublicKey, secret)
	if !bytes.Equal(secret, orig) {
		t.Fatal("WrapCMS modified its input")
	}
}

// TestShape walks our envelope with the package's reader: indefinite
// lengths at exactly the five elements AWS makes indefinite, definite
// everywhere else, the SKI SHA-256 of the SPKI, the OAEP parameters
// explicit and AWS's.
func TestShape(t *testing.T) {
	key := key2048(t)
	spki := spkiOf(t, &key.PublicKey)
	for _, n := range []int{1, 32, 4096} {
		ct, err := WrapCMS(&key.PublicKey, spki, secretOf(n), nil)
		if err != nil {
			t.Fatal(err)
		}
		type place struct {
			depth int
			tag   byte
		}
		wantIndefinite := []place{
			{0, tagSequence},  // ContentInfo
			{1, tagContext0C}, // [0] EXPLICIT
			{2, tagSequence},  // EnvelopedData
			{3, tagSequence},  // EncryptedContentInfo
			{4, tagContext0C}, // encryptedContent
		}
		var got []place
		chunks, inContent := 0, false
		for _, nd := range walk(t, ct) {
			if nd.indefinite {
				got = append(got, place{nd.depth, nd.tag})
			}
			inContent = inContent && nd.depth == 5 || nd.depth == 4 && nd.tag == tagContext0C
			if inContent && nd.depth == 5 {
				chunks++
				if nd.tag != tagOctetString || nd.n > contentChunk || nd.n == 0 {
					t.Errorf("content chunk %+v", nd)
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(wantIndefinite) {
			t.Errorf("indefinite elements (depth, tag) %x, want %x", got, wantIndefinite)
		}
		if want := ((n/16+1)*16 + contentChunk - 1) / contentChunk; chunks != want {
			t.Errorf("%d content chunks for %d bytes", chunks, n)
		}

		env, err := parseEnvelope(ct)
		if err != nil {
			t.Fatal(err)
		}
		if want := sha256.Sum256(spki); !bytes.Equal(env.ski, want[:]) {
			t.Errorf("SKI %x, want SHA-256(SPKI) %x", env.ski, want)
		}
		const awsOAEP = "303c06092a864886f70d010107302fa00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500"
		if !bytes.Contains(ct, unhexT(t, awsOAEP)) {
			t.Error("the keyEncryptionAlgorithm is not AWS's explicit OAEP-SHA-256/MGF1-SHA-256")
		}
		if len(env.encryptedKey) != key.Size() || len(env.iv) != 16 || len(env.content) != (n/16+1)*16 {
			t.Errorf("encryptedKey %d, iv %d, content %d bytes", len(env.encryptedKey), len(env.iv), len(env.content))
		}
	}
}

// TestLayoutMatchesAWS wraps a secret as long as the real AWS response's
// to the same RSA-4096 key: the two must be equal byte for byte, but for
// the encrypted key, the IV and the encrypted content, which are random.
func TestLayoutMatchesAWS(t *testing.T) {
	aws := testdata(t, "kms_cfr_batgo.ber")
	plain := testdata(t, "kms_cfr_batgo_plaintext.bin")
	key := key4096(t)
	ours, err := WrapCMS(&key.PublicKey, nil, bytes.Repeat([]byte{'x'}, len(plain)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ours) != len(aws) {
		t.Fatalf("%d bytes, AWS's %d", len(ours), len(aws))
	}
	na, no := walk(t, aws), walk(t, ours)
	if fmt.Sprint(na) != fmt.Sprint(no) {
		t.Fatalf("element trees differ:\nAWS  %v\nours %v", na, no)
	}
	ea, _ := parseEnvelope(aws)
	random := [][]byte{ea.encryptedKey, ea.iv, aws[len(aws)-10-len(ea.content) : len(aws)-10]}
	if !bytes.Equal(random[2], ea.content) {
		t.Fatal("test bug: content is not where expected")
	}
	mask := func(b []byte) []byte {
		b = bytes.Clone(b)
		for _, r := range random {
			off := bytes.Index(aws, r)
			clear(b[off : off+len(r)])
		}
		return b
	}
	if ma, mo := mask(aws), mask(ours); !bytes.Equal(ma, mo) {
		for i := range ma {
			if ma[i] != mo[i] {
				t.Fatalf("first difference at offset %d: AWS %02x, ours %02x", i, ma[i], mo[i])
			}
		}
	}
}

// kmstoolParse reads an envelope the way the Nitro Enclaves SDK's kmstool
// does (aws-nitro-enclaves-sdk-c source/cms.c, aws_cms_parse_enveloped_data),
// step for step: it steps over the header of an indefinite element and into
// it, and reads a definite element whole. It is how an enclave built on that
// SDK will read what WrapCMS makes.
func kmstoolParse(b []byte) (encryptedKey, iv, content []byte, err error) {
	fail := func(step string) error { return fmt.Errorf("kmstool would fail at %s", step) }
	// anyBER is CBS_get_any_ber_asn1_element: the header only of an
	// indefinite element, else the whole element.
	anyBER := func() (tag byte, elem []byte, ok bool) {
		if len(b) >= 2 && b[1] == 0x80 {
			tag, elem, b = b[0], b[:2], b[2:]
			return tag, elem, true
		}
		e, rest, err := readElement(b, 0)
		if err != nil || e.indefinite {
			return 0, nil, false
		}
		elem, b = b[:len(b)-len(rest)], rest
		return e.tag, elem, true
	}
	// getDER is CBS_get_asn1: a definite element with this tag, its body.
	getDER := func(in *[]byte, tag byte) ([]byte, bool) {
		if len(*in) >= 2 && (*in)[1] == 0x80 {
			return nil, false
		}
		e, rest, err := readElement(*in, 0)
		if err != nil || e.tag != tag {
			return nil, false
		}
		*in = rest
		return e.body, true
	}
	if tag, _, ok := anyBER(); !ok || tag != tagSequence {
		return nil, nil, nil, fail("contentInfo")
	}
	if oid, ok := getDER(&b, tagOID); !ok || !bytes.Equal(oid, oidEnvelopedData) {
		return nil, nil, nil, fail("contentType")
	}
	if _, _, ok := anyBER(); !ok {
		return nil, nil, nil, fail("[0]")
	}
	if tag, _, ok := anyBER(); !ok || tag != tagSequence {
		return nil, nil, nil, fail("envelopedData")
	}
	if v, ok := getDER(&b, tagInteger); !ok || len(v) != 1 || v[0] != 2 {
		return nil, nil, nil, fail("version")
	}
	tag, set, ok := anyBER()
	if !ok || tag != tagSet {
		return nil, nil, nil, fail("recipientInfos")
	}
	ris, ok := getDER(&set, tagSet)
	if !ok {
		return nil, nil, nil, fail("recipientInfos body")
	}
	ktri, ok := getDER(&ris, tagSequence)
	if !ok {
		return nil, nil, nil, fail("recipientInfo")
	}
	if _, ok := getDER(&ktri, tagInteger); !ok {
		return nil, nil, nil, fail("recipientInfo version")
	}
	if e, rest, err := readElement(ktri, 0); err != nil || e.indefinite {
		return nil, nil, nil, fail("rid")
	} else {
		ktri = rest
	}
	if _, ok := getDER(&ktri, tagSequence); !ok {
		return nil, nil, nil, fail("keyEncryptionAlgorithm")
	}
	if encryptedKey, ok = getDER(&ktri, tagOctetString); !ok {
		return nil, nil, nil, fail("encryptedKey")
	}
	if tag, _, ok := anyBER(); !ok || tag != tagSequence {
		return nil, nil, nil, fail("encryptedContentInfo")
	}
	if oid, ok := getDER(&b, tagOID); !ok || !bytes.Equal(oid, oidData) {
		return nil, nil, nil, fail("encryptedContentInfo contentType")
	}
	tag, alg, ok := anyBER()
	if !ok || tag != tagSequence {
		return nil, nil, nil, fail("contentEncryptionAlgorithm")
	}
	algBody, _ := getDER(&alg, tagSequence)
	if oid, ok := getDER(&algBody, tagOID); !ok || !bytes.Equal(oid, oidAES256CBC) {
		return nil, nil, nil, fail("aes256-CBC")
	}
	if iv, ok = getDER(&algBody, tagOctetString); !ok {
		return nil, nil, nil, fail("IV")
	}
	if len(b) > 0 && b[0] == tagContext0 { // primitive [0]: every definite element that follows
		for len(b) > 0 && b[0] != 0 {
			body, ok := getDER(&b, b[0])
			if !ok {
				break
			}
			content = append(content, body...)
		}
	} else { // step into the [0], then take OCTET STRINGs until something else
		if _, _, ok := anyBER(); !ok {
			return nil, nil, nil, fail("encryptedContent")
		}
		for len(b) > 0 && b[0] == tagOctetString {
			body, ok := getDER(&b, tagOctetString)
			if !ok {
				return nil, nil, nil, fail("content chunk")
			}
			content = append(content, body...)
		}
	}
	return encryptedKey, iv, content, nil
}

func TestKmstoolReadsOurs(t *testing.T) {
	inputs := map[string][]byte{
		"AWS":        testdata(t, "kms_cfr_batgo.ber"),
		"sdkc indef": testdata(t, "kms_cfr_sdkc_indef_content.ber"),
		"sdkc prim":  testdata(t, "kms_cfr_sdkc_prim_content.ber"),
	}
	for _, n := range []int{1, 223, 1000, 4096} {
		inputs[fmt.Sprint("ours ", n)] = mustWrap(t, &key2048(t).PublicKey, secretOf(n))
	}
	for name, b := range inputs {
		ek, iv, content, err := kmstoolParse(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		env, err := parseEnvelope(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.Equal(ek, env.encryptedKey) || !bytes.Equal(iv, env.iv) || !bytes.Equal(content, env.content) {
			t.Errorf("%s: kmstool reads a different envelope", name)
		}
	}
	// And it does depend on the indefinite lengths: the same envelope in
	// DER, which OpenSSL and UnwrapCMS both read, defeats it.
	if _, _, _, err := kmstoolParse(derEnvelope(t, inputs["ours 223"])); err == nil {
		t.Error("kmstool reads a definite-length envelope: the emulation is too lenient")
	}
}

// derEnvelope re-encodes a WrapCMS envelope with definite lengths only.
func derEnvelope(t *testing.T, b []byte) []byte {
	t.Helper()
	var rec func(b []byte, depth int) []byte
	rec = func(b []byte, depth int) []byte {
		var out []byte
		for len(b) > 0 {
			e, rest, err := readElement(b, depth)
			if err != nil {
				t.Fatal(err)
			}
			body := e.body
			if e.tag&tagConstructed != 0 {
				body = rec(e.body, depth+1)
			}
			out = appendDER(out, e.tag, body)
			b = rest
		}
		return out
	}
	out := rec(b, 0)
	if _, err := parseEnvelope(out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDefiniteLengthsAccepted(t *testing.T) {
	key := key2048(t)
	secret := secretOf(3000)
	got, err := UnwrapCMS(key, derEnvelope(t, mustWrap(t, &key.PublicKey, secret)))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("definite-length envelope: %v", err)
	}
}

// TestSpecMatchesEncoder keeps the hostile tests' builder honest: with no
// knob turned, it encodes what marshalEnvelope does.
func TestSpecMatchesEncoder(t *testing.T) {
	s := newSpec(t, &key2048(t).PublicKey, secretOf(2500))
	env, err := parseEnvelope(s.encode())
	if err != nil {
		t.Fatal(err)
	}
	if want := marshalEnvelope(s.ktri.rid[2:], s.ktri.encryptedKey, env.iv, env.content); !bytes.Equal(s.encode(), want) {
		t.Fatal("spec.encode and marshalEnvelope differ")
	}
	got, err := UnwrapCMS(key2048(t), s.encode())
	if err != nil || !bytes.Equal(got, secretOf(2500)) {
		t.Fatalf("UnwrapCMS(spec) = %v", err)
	}
}

// TestMarshalEnvelopeMatchesSpec: marshalEnvelope, which writes every
// length before its contents, encodes byte for byte what spec.encode builds
// element by element, for each key size and across the content's chunk
// boundary and every length form.
func TestMarshalEnvelopeMatchesSpec(t *testing.T) {
	for _, key := range []*rsa.PrivateKey{key2048(t), key3072(t), key4096(t)} {
		for _, n := range []int{1, 15, 16, 17, 100, 111, 112, 239, 240, 991, 992, 1000, 1024, 2500, 4096, 16 << 10} {
			s := newSpec(t, &key.PublicKey, secretOf(n))
			if got := marshalEnvelope(s.ktri.rid[2:], s.ktri.encryptedKey, s.iv, s.ciphertext); !bytes.Equal(got, s.encode()) {
				t.Fatalf("RSA-%d, %d-byte secret: marshalEnvelope\n %x\nspec\n %x", key.N.BitLen(), n, got, s.encode())
			}
		}
	}
}

func TestUnpad(t *testing.T) {
	block := func(tail ...byte) []byte {
		b := bytes.Repeat([]byte{0xee}, 32)
		copy(b[32-len(tail):], tail)
		return b
	}
	for _, tc := range []struct {
		b    []byte
		n    int
		good bool
	}{
		{block(1), 31, true},
		{block(2, 2), 30, true},
		{block(16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16), 16, true},
		{block(0), 0, false},
		{block(17), 0, false},
		{block(0xff), 0, false},
		{block(3, 2, 2), 30, true}, // 0x03 before the pad is data
		{block(2, 1, 2), 0, false},
		{block(3, 3, 2, 3), 0, false},
		{block(5, 4, 4, 4, 4), 28, true},
		{block(4, 5, 4, 4, 4), 0, false},
		{block(15, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16), 0, false},
		{bytes.Repeat([]byte{16}, 16), 0, true},
	} {
		n, good := unpad(tc.b)
		if good != tc.good || (good && n != tc.n) {
			t.Errorf("unpad(...%x) = %d, %v; want %d, %v", tc.b[16:], n, good, tc.n, tc.good)
		}
	}
}

func TestUnwrapNilKey(t *testing.T) {
	ct := mustWrap(t, &key2048(t).PublicKey, secretOf(10))
	for _, priv := range []*rsa.PrivateKey{nil, {}} {
		if got, err := UnwrapCMS(priv, ct); !errors.Is(err, ErrKey) || got != nil {
			t.Errorf("UnwrapCMS(%v): %v, want ErrKey", priv, err)
		}
		if got, err := UnwrapRaw(priv, ct); !errors.Is(err, ErrKey) || got != nil {
			t.Errorf("UnwrapRaw(%v): %v, want ErrKey", priv, err)
		}
	}
}

var _ io.Reader = (*failingReader)(nil)
