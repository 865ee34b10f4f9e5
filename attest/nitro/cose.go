package nitro

import (
	"bytes"
	"crypto/elliptic"
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
	pcrLen int
	// protected is the protected header, exactly: the byte string holding
	// the map {1: alg}. Nothing else is allowed in it.
	protected []byte
}

var (
	es256 = &suite{cose.AlgorithmES256, "ES256", "SHA256", elliptic.P256(), 32, []byte{0x43, 0xa1, 0x01, 0x26}}
	es384 = &suite{cose.AlgorithmES384, "ES384", "SHA384", elliptic.P384(), 48, []byte{0x44, 0xa1, 0x01, 0x38, 0x22}}
	es512 = &suite{cose.AlgorithmES512, "ES512", "SHA512", elliptic.P521(), 64, []byte{0x44, 0xa1, 0x01, 0x38, 0x23}}

	suites = []*suite{es256, es384, es512}
)

// signatureLen is the length of a COSE ECDSA signature, r || s.
func (s *suite) signatureLen() int { return 2 * ((s.curve.Params().BitSize + 7) / 8) }

// emptyMap is the only unprotected header a document may have.
var emptyMap = []byte{0xa0}

// envelope is a COSE_Sign1 document, parsed but NOT verified: its payload
// says nothing until verify has succeeded.
type envelope struct {
	msg     cose.Sign1Message
	suite   *suite
	payload []byte
}

// parseEnvelope parses a COSE_Sign1 document, untagged (0x84, as the devices
// return it) or tagged (0xD2 0x84), and checks its headers.
func parseEnvelope(doc []byte) (*envelope, error) {
	e := new(envelope)
	var err error
	switch doc[0] {
	case 0x84:
		err = (*cose.UntaggedSign1Message)(&e.msg).UnmarshalCBOR(doc)
	case 0xd2:
		err = e.msg.UnmarshalCBOR(doc)
	default:
		return nil, fmt.Errorf("%w: not a COSE_Sign1 document: first byte is 0x%02x, want 0x84 (untagged) or 0xd2 (tagged)", attest.ErrMalformed, doc[0])
	}
	if err != nil {
		return nil, fmt.Errorf("%w: COSE_Sign1: %v", attest.ErrMalformed, err)
	}
	for _, s := range suites {
		if bytes.Equal(e.msg.Headers.RawProtected, s.protected) {
			e.suite = s
		}
	}
	if e.suite == nil {
		return nil, fmt.Errorf("%w: protected header is %s; want exactly {1: alg}, alg ES256, ES384 or ES512", attest.ErrMalformed, brief(e.msg.Headers.RawProtected))
	}
	if !bytes.Equal(e.msg.Headers.RawUnprotected, emptyMap) {
		return nil, fmt.Errorf("%w: unprotected header is %s; want an empty map", attest.ErrMalformed, brief(e.msg.Headers.RawUnprotected))
	}
	if e.msg.Payload == nil {
		return nil, fmt.Errorf("%w: COSE_Sign1 payload is detached (null)", attest.ErrMalformed)
	}
	if n := len(e.msg.Signature); n != e.suite.signatureLen() {
		return nil, fmt.Errorf("%w: signature is %d bytes; %s signatures are %d", attest.ErrMalformed, n, e.suite.name, e.suite.signatureLen())
	}
	e.payload = e.msg.Payload
	return e, nil
}

// verify checks the document's signature, with no external data, with the
// key of the chain's leaf certificate.
func (e *envelope) verify(c *chainEntry) error {
	if c.leafSuite != e.suite {
		return fmt.Errorf("%w: document is signed with %s, but the leaf certificate's key is %s", attest.ErrSignature, e.suite.name, c.leafKeyName)
	}
	if err := e.msg.Verify(nil, c.verifier); err != nil {
		return fmt.Errorf("%w: %s signature does not verify with the key of leaf certificate %.64q", attest.ErrSignature, e.suite.name, c.leafName)
	}
	return nil
}

// brief shows a short attacker-chosen value in an error, and only the size
// of a long one.
func brief(b []byte) string {
	if len(b) > 16 {
		return fmt.Sprintf("%d bytes", len(b))
	}
	return fmt.Sprintf("h'%x'", b)
}
