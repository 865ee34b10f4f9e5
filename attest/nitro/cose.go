package nitro

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	_ "crypto/sha256" // the suites' hashes
	_ "crypto/sha512"
	"encoding/binary"
	"fmt"

	"github.com/attestkms/attestkms/attest"
	"github.com/veraison/go-cose"
)

// suite is one way a document may be signed: the COSE algorithm, the curve
// of the leaf key that signs with it, the digest the document then names and
// the size of its PCRs. Nitro documents use ES384 only; QingTian documents
// any of the three.
type suite struct {
	alg    cose.Algorithm
	name   string // "ES384"
	digest string // the payload's "digest": "SHA384"
	curve  elliptic.Curve
	hash   crypto.Hash // the signature's: SHA-384 for ES384
	pcrLen int
	// protected is the protected header, exactly: the byte string holding
	// the map {1: alg}. Nothing else is allowed in it.
	protected []byte
}

var (
	es256 = &suite{cose.AlgorithmES256, "ES256", "SHA256", elliptic.P256(), crypto.SHA256, 32, []byte{0x43, 0xa1, 0x01, 0x26}}
	es384 = &suite{cose.AlgorithmES384, "ES384", "SHA384", elliptic.P384(), crypto.SHA384, 48, []byte{0x44, 0xa1, 0x01, 0x38, 0x22}}
	es512 = &suite{cose.AlgorithmES512, "ES512", "SHA512", elliptic.P521(), crypto.SHA512, 64, []byte{0x44, 0xa1, 0x01, 0x38, 0x23}}

	suites = []*suite{es256, es384, es512}
)

// signatureLen is the length of a COSE ECDSA signature, r || s.
func (s *suite) signatureLen() int { return 2 * ((s.curve.Params().BitSize + 7) / 8) }

// emptyMap is the only unprotected header a document may have.
var emptyMap = []byte{0xa0}

// envelope is a COSE_Sign1 document, parsed but NOT verified: its payload
// says nothing until verify has succeeded.
type envelope struct {
	suite     *suite
	payload   []byte // the verifier's own copy
	signature []byte // r || s
}

// parseEnvelope parses a COSE_Sign1 document, untagged (0x84, as the devices
// return it) or tagged (0xD2 0x84), and checks its headers. A document of
// the one shape the devices write (exactShape) is read in place; any other
// goes through go-cose (parseEnvelopeCOSE), which either refuses it, saying
// why, or reads the same envelope. Either way the payload is copied once,
// and the document (the caller's) is not retained.
func parseEnvelope(doc []byte) (*envelope, error) {
	if e := exactShape(doc); e != nil {
		e.payload = bytes.Clone(e.payload)
		return e, nil
	}
	return parseEnvelopeCOSE(doc)
}

// exactShape reads doc if it is [protected, {}, payload, signature],
// untagged or tagged 18, with protected exactly one of the suites', the
// unprotected header the empty map, the payload a non-empty definite-length
// byte string and the signature one of the suite's length, nothing after
// it; else nil. payload and signature are sub-slices of doc. Whatever it
// takes, go-cose reads the same way (TestParseEnvelopeMatchesCOSE and
// FuzzParseEnvelope hold it to that).
func exactShape(doc []byte) *envelope {
	b := doc
	if len(b) > 0 && b[0] == 0xd2 { // tag 18, COSE_Sign1
		b = b[1:]
	}
	if len(b) == 0 || b[0] != 0x84 { // an array of four
		return nil
	}
	b = b[1:]
	var s *suite
	for _, c := range suites {
		if bytes.HasPrefix(b, c.protected) {
			s = c
		}
	}
	if s == nil {
		return nil
	}
	b = b[len(s.protected):]
	if len(b) == 0 || b[0] != emptyMap[0] {
		return nil
	}
	payload, b, ok := cutByteString(b[1:])
	if !ok || len(payload) == 0 {
		return nil
	}
	signature, b, ok := cutByteString(b)
	if !ok || len(b) != 0 || len(signature) != s.signatureLen() {
		return nil
	}
	return &envelope{suite: s, payload: payload, signature: signature}
}

// cutByteString splits b after its first item if that is a definite-length
// byte string, returning the string's contents and the rest.
func cutByteString(b []byte) (contents, rest []byte, ok bool) {
	n, head, ok := byteStringHead(b)
	if !ok || head == 9 || n > uint64(len(b)-head) { // 8-byte lengths: longer than any evidence
		return nil, nil, false
	}
	end := head + int(n)
	return b[head:end:end], b[end:], true
}

// parseEnvelopeCOSE is parseEnvelope for any document, by go-cose: the
// general path, which says what is wrong with a document exactShape does
// not take.
func parseEnvelopeCOSE(doc []byte) (*envelope, error) {
	var msg cose.Sign1Message
	var err error
	switch doc[0] {
	case 0x84:
		err = (*cose.UntaggedSign1Message)(&msg).UnmarshalCBOR(doc)
	case 0xd2:
		err = msg.UnmarshalCBOR(doc)
	default:
		return nil, fmt.Errorf("%w: not a COSE_Sign1 document: first byte is 0x%02x, want 0x84 (untagged) or 0xd2 (tagged)", attest.ErrMalformed, doc[0])
	}
	if err != nil {
		return nil, fmt.Errorf("%w: COSE_Sign1: %v", attest.ErrMalformed, err)
	}
	e := new(envelope)
	for _, s := range suites {
		if bytes.Equal(msg.Headers.RawProtected, s.protected) {
			e.suite = s
		}
	}
	if e.suite == nil {
		return nil, fmt.Errorf("%w: protected header is %s; want exactly {1: alg}, alg ES256, ES384 or ES512", attest.ErrMalformed, brief(msg.Headers.RawProtected))
	}
	if !bytes.Equal(msg.Headers.RawUnprotected, emptyMap) {
		return nil, fmt.Errorf("%w: unprotected header is %s; want an empty map", attest.ErrMalformed, brief(msg.Headers.RawUnprotected))
	}
	if msg.Payload == nil {
		return nil, fmt.Errorf("%w: COSE_Sign1 payload is detached (null)", attest.ErrMalformed)
	}
	if n := len(msg.Signature); n != e.suite.signatureLen() {
		return nil, fmt.Errorf("%w: signature is %d bytes; %s signatures are %d", attest.ErrMalformed, n, e.suite.name, e.suite.signatureLen())
	}
	e.payload, e.signature = msg.Payload, msg.Signature // go-cose's copies
	return e, nil
}

// sigStructurePrefix is the Sig_structure (RFC 9052, 4.4) up to its
// protected header: an array of four, the text "Signature1".
var sigStructurePrefix = []byte{0x84, 0x6a, 'S', 'i', 'g', 'n', 'a', 't', 'u', 'r', 'e', '1'}

// verify checks the document's signature, with no external data, with the
// key of the chain's leaf certificate. It hashes the Sig_structure
// ["Signature1", protected, empty external_aad, payload] as it goes, as go-cose would
// encode it (minimal lengths), instead of building it: the payload is the
// bulk of the document.
func (e *envelope) verify(c *chainEntry) error {
	if c.leafSuite != e.suite {
		return fmt.Errorf("%w: document is signed with %s, but the leaf certificate's key is %s", attest.ErrSignature, e.suite.name, c.leafKeyName)
	}
	h := e.suite.hash.New()
	h.Write(sigStructurePrefix)
	h.Write(e.suite.protected)
	var head [1 + 1 + 9]byte // external_aad h'', then the payload's head
	head[0] = 0x40
	h.Write(appendBytesHead(head[:1], len(e.payload)))
	h.Write(e.payload)
	var sum [64]byte
	digest := h.Sum(sum[:0])
	var sig [2*(3+66) + 3]byte // P-521's r and s, as DER INTEGERs in a SEQUENCE
	if !ecdsa.VerifyASN1(c.leafKey, digest, asn1Signature(sig[:0], e.signature)) {
		return fmt.Errorf("%w: %s signature does not verify with the key of leaf certificate %.64q", attest.ErrSignature, e.suite.name, c.leafName)
	}
	return nil
}

// asn1Signature appends the DER Ecdsa-Sig-Value of a COSE signature r || s
// (RFC 9053, 2.1: each big-endian, the curve's size): what go-cose handed
// ecdsa.Verify as two big.Ints, without them. A zero r or s is encoded as
// the INTEGER 0, which ecdsa refuses as it refused the big.Int.
func asn1Signature(b, rs []byte) []byte {
	n := len(rs) / 2
	r, s := minimalInteger(rs[:n]), minimalInteger(rs[n:])
	rLen, sLen := 2+len(r)+int(r[0]>>7), 2+len(s)+int(s[0]>>7)
	b = append(b, 0x30)
	if rLen+sLen >= 0x80 {
		b = append(b, 0x81)
	}
	b = append(b, byte(rLen+sLen))
	for _, x := range [][]byte{r, s} {
		b = append(b, 0x02, byte(len(x))+x[0]>>7)
		if x[0]&0x80 != 0 { // a leading zero keeps it positive
			b = append(b, 0)
		}
		b = append(b, x...)
	}
	return b
}

// minimalInteger strips leading zeros from a big-endian unsigned integer,
// leaving one for zero.
func minimalInteger(x []byte) []byte {
	for len(x) > 1 && x[0] == 0 {
		x = x[1:]
	}
	if len(x) == 0 {
		return []byte{0}
	}
	return x
}

// appendBytesHead appends the minimal head of a byte string of n bytes.
func appendBytesHead(b []byte, n int) []byte {
	switch {
	case n < 24:
		return append(b, cborBytes<<5|byte(n))
	case n <= 0xff:
		return append(b, cborBytes<<5|24, byte(n))
	case n <= 0xffff:
		return append(b, cborBytes<<5|25, byte(n>>8), byte(n))
	case uint64(n) <= 0xffffffff:
		return append(b, cborBytes<<5|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return binary.BigEndian.AppendUint64(append(b, cborBytes<<5|27), uint64(n))
}

// brief shows a short attacker-chosen value in an error, and only the size
// of a long one.
func brief(b []byte) string {
	if len(b) > 16 {
		return fmt.Sprintf("%d bytes", len(b))
	}
	return fmt.Sprintf("h'%x'", b)
}
