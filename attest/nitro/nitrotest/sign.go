package nitrotest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Document is what to sign. Its first fields are the document's claims; the
// rest are knobs, each breaking one thing, whose zero values make a genuine
// document in the shape the NSM makes today (untagged, indefinite-length
// payload map, keys in the NSM's order).
type Document struct {
	ModuleID  string         // "" means "i-0123456789abcdef0-enc0123456789abcdef"
	Digest    string         // "" means "SHA384"; QingTian also "SHA256" (ES256) and "SHA512" (ES512); anything else is written as is and signed with ES384
	Timestamp time.Time      // required; written in milliseconds
	PCRs      map[int][]byte // nil means PCR0 to PCR15 all zero (a debug-mode enclave); written as given, any index and size
	PublicKey []byte         // DER SubjectPublicKeyInfo of the enclave's key; nil is written as null
	UserData  []byte         // nil is written as null
	Nonce     []byte         // nil is written as null

	// NitroTPM makes an AWS NitroTPM document (what nitro-tpm-attest
	// returns): the registers are written as "nitrotpm_pcrs", ModuleID ""
	// means "i-0123456789abcdef0-tpm0123456789abcdef", PCRs nil means 24
	// distinct SHA-384 registers (NitroTPMPCRs), and PublicKey may be any
	// key (real ones bind EC P-256).
	NitroTPM bool

	// The envelope.
	Tagged         bool  // COSE_Sign1_Tagged (0xD2); the NSM's documents are untagged
	HeaderAlg      int64 // if not 0, the protected header says this alg (e.g. -7, ES256) whatever key signs
	ExtraHeader    bool  // a content type (3) beside alg in the protected header
	UnprotectedKID bool  // a kid (4) in the unprotected header, which must be empty

	// The payload.
	DefiniteLength bool                  // a definite-length payload map, as the NSM made them before 2025
	KeyName        string                // "" means "public_key"; QingTian's documentation says "pubkey"
	BothKeyNames   bool                  // the key under both "public_key" and "pubkey"
	DuplicateKey   string                // this payload key twice
	UnknownField   bool                  // an extra field, "vendor_data"
	TrailingBytes  bool                  // a byte after the payload map, inside the signed payload
	Edit           func([]Field) []Field // last word on the payload's fields before they are encoded

	// The certificates.
	ExpiredLeaf      bool // a leaf that expired an hour before Timestamp
	LeafImpostor     bool // a leaf naming the intermediate as issuer, signed by another key
	OmitIntermediate bool // cabundle holds the root only
	ForeignRoot      bool // cabundle[0] is a stranger's root; the chain itself is this CA's
	ForeignCA        bool // the whole chain, cabundle[0] included, is a stranger's: a document that brings its own root
	PadCABundle      int  // this many more copies of the intermediate in cabundle

	// The signature.
	SignWithOtherKey bool // signed by a key other than the leaf's
	FlipSignature    bool // one bit of the signature flipped
	TamperPayload    bool // one byte of module_id changed after signing
}

// Field is one key and value of the payload map. Value is encoded with
// github.com/fxamacker/cbor; a cbor.RawMessage is written as is.
type Field struct {
	Key   any
	Value any
}

var encoder = func() cbor.EncMode {
	em, err := cbor.EncOptions{Sort: cbor.SortCoreDeterministic}.EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// suite is a signing algorithm as a document names it.
type suite struct {
	alg    int64 // COSE
	digest string
	curve  elliptic.Curve
	hash   crypto.Hash
}

var suites = []suite{
	{-7, "SHA256", elliptic.P256(), crypto.SHA256},
	{-35, "SHA384", elliptic.P384(), crypto.SHA384},
	{-36, "SHA512", elliptic.P521(), crypto.SHA512},
}

// Sign signs doc as the CA's enclave doc.ModuleID, issuing (or reusing) its
// leaf certificate.
func (ca *CA) Sign(doc Document) ([]byte, error) {
	if doc.Timestamp.IsZero() {
		return nil, errors.New("nitrotest: Document.Timestamp is required")
	}
	if doc.ModuleID == "" {
		doc.ModuleID = defaultNitroModuleID
		if doc.NitroTPM {
			doc.ModuleID = DefaultNitroTPMModuleID
		}
	}
	if doc.NitroTPM && doc.PCRs == nil {
		doc.PCRs = NitroTPMPCRs()
	}
	if doc.Digest == "" {
		doc.Digest = "SHA384"
	}
	s := suites[1]
	for _, c := range suites {
		if c.digest == doc.Digest {
			s = c
		}
	}
	if doc.PCRs == nil {
		doc.PCRs = make(map[int][]byte, 16)
		for i := range 16 {
			doc.PCRs[i] = make([]byte, s.hash.Size())
		}
	}

	l, bundle, err := ca.chainFor(doc, s)
	if err != nil {
		return nil, err
	}
	payload, err := encodePayload(doc, l.cert.Raw, bundle)
	if err != nil {
		return nil, err
	}

	alg := s.alg
	if doc.HeaderAlg != 0 {
		alg = doc.HeaderAlg
	}
	hdr := []Field{{1, alg}}
	if doc.ExtraHeader {
		hdr = append(hdr, Field{3, "application/cbor"})
	}
	protectedMap, err := encodeMap(hdr, true)
	if err != nil {
		return nil, err
	}
	protected, _ := encoder.Marshal(protectedMap)
	unprotected := []byte{0xa0}
	if doc.UnprotectedKID {
		unprotected = []byte{0xa1, 0x04, 0x41, 0x01}
	}

	signer := l.key
	if doc.SignWithOtherKey {
		if signer, err = newKey(s.curve, ca.rand); err != nil {
			return nil, err
		}
	}
	sig, err := signCOSE(signer, s, protectedMap, payload)
	if err != nil {
		return nil, err
	}
	if doc.FlipSignature {
		sig[len(sig)/4] ^= 0x01
	}
	if doc.TamperPayload {
		i := bytes.Index(payload, []byte(doc.ModuleID))
		if i < 0 {
			return nil, errors.New("nitrotest: TamperPayload: module_id not found in the payload")
		}
		payload[i+len(doc.ModuleID)-1] ^= 0x01 // still ASCII, still valid UTF-8
	}

	var out bytes.Buffer
	if doc.Tagged {
		out.WriteByte(0xd2) // tag 18, COSE_Sign1
	}
	out.WriteByte(0x84)
	out.Write(protected)
	out.Write(unprotected)
	b, _ := encoder.Marshal(payload)
	out.Write(b)
	b, _ = encoder.Marshal(sig)
	out.Write(b)
	return out.Bytes(), nil
}

// chainFor returns the leaf that signs doc and the cabundle to send with it.
func (ca *CA) chainFor(doc Document, s suite) (*leaf, [][]byte, error) {
	root, inter, interKey := ca.Root, ca.Intermediate, ca.key
	if doc.ForeignCA {
		stranger, err := NewTestCA(ca.Format, ca.rand)
		if err != nil {
			return nil, nil, err
		}
		root, inter, interKey = stranger.Root, stranger.Intermediate, stranger.key
	}
	start := doc.Timestamp.Truncate(time.Second).Add(-leafBackdate)
	var l *leaf
	var err error
	switch {
	case doc.ExpiredLeaf:
		l, err = ca.newLeaf(doc.ModuleID, s.curve, start.Add(-leafLifetime), doc.Timestamp.Add(-time.Hour), inter, interKey)
	case doc.LeafImpostor:
		impostor, kerr := newKey(elliptic.P384(), ca.rand)
		if kerr != nil {
			return nil, nil, kerr
		}
		// The intermediate's name and key id, another key.
		fake := &x509.Certificate{RawSubject: inter.RawSubject, SubjectKeyId: inter.SubjectKeyId, PublicKey: &impostor.PublicKey}
		l, err = ca.newLeaf(doc.ModuleID, s.curve, start, start.Add(leafLifetime), fake, impostor)
	case doc.ForeignCA:
		l, err = ca.newLeaf(doc.ModuleID, s.curve, start, start.Add(leafLifetime), inter, interKey)
	default:
		l, err = ca.leafFor(doc.ModuleID, s.curve, doc.Timestamp)
	}
	if err != nil {
		return nil, nil, err
	}
	bundle := [][]byte{root.Raw}
	if doc.ForeignRoot {
		stranger, err := NewTestCA(ca.Format, ca.rand)
		if err != nil {
			return nil, nil, err
		}
		bundle[0] = stranger.Root.Raw
	}
	if !doc.OmitIntermediate {
		bundle = append(bundle, inter.Raw)
	}
	for range doc.PadCABundle {
		bundle = append(bundle, inter.Raw)
	}
	return l, bundle, nil
}

// encodePayload writes the payload map in the NSM's key order.
func encodePayload(doc Document, leafDER []byte, bundle [][]byte) ([]byte, error) {
	keyName := doc.KeyName
	if keyName == "" {
		keyName = "public_key"
	}
	pcrsName := "pcrs"
	if doc.NitroTPM {
		pcrsName = "nitrotpm_pcrs"
	}
	fields := []Field{
		{"module_id", doc.ModuleID},
		{"digest", doc.Digest},
		{"timestamp", uint64(doc.Timestamp.UnixMilli())},
		{pcrsName, doc.PCRs},
		{"certificate", leafDER},
		{"cabundle", bundle},
		{keyName, doc.PublicKey},
	}
	if doc.BothKeyNames {
		other := "pubkey"
		if keyName == "pubkey" {
			other = "public_key"
		}
		fields = append(fields, Field{other, doc.PublicKey})
	}
	fields = append(fields, Field{"user_data", doc.UserData}, Field{"nonce", doc.Nonce})
	if doc.DuplicateKey != "" {
		found := false
		for _, f := range fields {
			if f.Key == doc.DuplicateKey {
				fields, found = append(fields, f), true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("nitrotest: DuplicateKey %q is not a payload key", doc.DuplicateKey)
		}
	}
	if doc.UnknownField {
		fields = append(fields, Field{"vendor_data", []byte{0}})
	}
	if doc.Edit != nil {
		fields = doc.Edit(fields)
	}
	b, err := encodeMap(fields, doc.DefiniteLength)
	if err != nil {
		return nil, err
	}
	if doc.TrailingBytes {
		b = append(b, 0x00)
	}
	return b, nil
}

// encodeMap writes fields as a CBOR map, in their order, with definite or
// indefinite length.
func encodeMap(fields []Field, definite bool) ([]byte, error) {
	var b bytes.Buffer
	if definite {
		b.Write(head(5, uint64(len(fields))))
	} else {
		b.WriteByte(0xbf)
	}
	for _, f := range fields {
		for _, v := range []any{f.Key, f.Value} {
			e, err := encoder.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("nitrotest: encoding %v: %w", f.Key, err)
			}
			b.Write(e)
		}
	}
	if !definite {
		b.WriteByte(0xff)
	}
	return b.Bytes(), nil
}

// head is a CBOR item's initial bytes: major type and argument.
func head(major byte, n uint64) []byte {
	switch {
	case n < 24:
		return []byte{major<<5 | byte(n)}
	case n <= 0xff:
		return []byte{major<<5 | 24, byte(n)}
	case n <= 0xffff:
		return []byte{major<<5 | 25, byte(n >> 8), byte(n)}
	default:
		return []byte{major<<5 | 26, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
}

// signCOSE signs the COSE_Sign1 Sig_structure ["Signature1", protected,
// h”, payload] and returns r || s, deterministically (RFC 6979).
func signCOSE(key *ecdsa.PrivateKey, s suite, protectedMap, payload []byte) ([]byte, error) {
	tbs, err := encoder.Marshal([]any{"Signature1", protectedMap, []byte{}, payload})
	if err != nil {
		return nil, err
	}
	h := s.hash.New()
	h.Write(tbs)
	der, err := key.Sign(nil, h.Sum(nil), s.hash)
	if err != nil {
		return nil, fmt.Errorf("nitrotest: %w", err)
	}
	var rs struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &rs); err != nil {
		return nil, fmt.Errorf("nitrotest: %w", err)
	}
	n := (key.Curve.Params().BitSize + 7) / 8
	sig := make([]byte, 2*n)
	rs.R.FillBytes(sig[:n])
	rs.S.FillBytes(sig[n:])
	return sig, nil
}

// DefaultNitroTPMModuleID is a NitroTPM document's module id when
// Document.ModuleID is "".
const DefaultNitroTPMModuleID = "i-0123456789abcdef0-tpm0123456789abcdef"

// NitroTPMPCRs are 24 distinct SHA-384 registers, register i being
// SHA-384("nitrotest nitrotpm pcr i"): the default of a NitroTPM Document.
func NitroTPMPCRs() map[int][]byte {
	m := make(map[int][]byte, 24)
	for i := range 24 {
		h := sha512.Sum384(fmt.Appendf(nil, "nitrotest nitrotpm pcr %d", i))
		m[i] = h[:]
	}
	return m
}
